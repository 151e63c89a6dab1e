/* aws_cloudwatch.h - the aws-cloudwatch scaler's pure window arithmetic, for tests. */
#ifndef EM_AWS_CLOUDWATCH_H
#define EM_AWS_CLOUDWATCH_H

#include <stdint.h>

/* KEDA's computeQueryWindow: end = Truncate(now - offset, period), counted
 * from Go's zero time as time.Truncate does; start = end - collection.
 * Unix seconds out; now in Unix ms. */
void em_cw_window(int64_t now_ms, int64_t period_s, int64_t offset_s, int64_t collection_s, int64_t *start_s,
		  int64_t *end_s);

#endif
