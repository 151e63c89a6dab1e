/* fuzz_redis.c - libFuzzer target: Redis replies through the bounded reader and every value read from them; addresses. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scalers/redis/redis_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rds_reply *r[2] = {NULL, NULL};
	struct em_err err;
	struct rds_addr a;
	enum rds_lag_source src;
	long long v;
	bool ask;

	rds_split_hostport((const char *)data, size, &a);
	if (rds_parse_replies((const char *)data, size, 2, r, &err) != 0 &&
	    rds_parse_replies((const char *)data, size, 1, r, &err) != 0)
		return 0;
	rds_reply_int(r[0], "EVAL", &v, &err);
	rds_xpending_count(r[0], &v, &err);
	rds_stream_lag(r[0], r[1], "g", &v, &src, &err);
	rds_stream_lag(r[0], r[0], "", &v, &src, &err);
	rds_redirect(r[0], &ask, &a);
	rds_reply_free(r[0]);
	rds_reply_free(r[1]);
	return 0;
}
