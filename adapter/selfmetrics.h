/* selfmetrics.h - the server's own Prometheus metrics: counters, gauges and histograms. */
#ifndef EM_SELFMETRICS_H
#define EM_SELFMETRICS_H

#include <stddef.h>

#include "adapter/util/strbuf.h"

/* Adds delta to counter `name` (must end in _total) with the label set
 * `labels`, preformatted Prometheus text without braces, e.g.
 * `service="sqs",operation="GetQueueAttributes",code="200"` ("" for none).
 * The family is created on first use with `help`. Thread-safe, cheap. */
void em_counter_add(const char *name, const char *help, const char *labels, double delta);

/* Sets a gauge (same conventions). em_gauge_del removes one series. */
void em_gauge_set(const char *name, const char *help, const char *labels, double value);
void em_gauge_del(const char *name, const char *labels);

/* Observes a value into histogram `name` (seconds buckets). */
void em_histogram_observe(const char *name, const char *help, const char *labels, double value);

/* Escapes a label value for the text format into out (", \, newline). */
void em_label_escape(const char *in, char *out, size_t cap);

/* Renders every family, plus process_* metrics, in text format 0.0.4. */
void em_selfmetrics_render(struct em_strbuf *out);

void em_selfmetrics_reset(void); /* tests */

#endif
