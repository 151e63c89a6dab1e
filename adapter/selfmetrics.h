/* selfmetrics.h - the server's own Prometheus metrics: families declared once, series held as handles. */
#ifndef EM_SELFMETRICS_H
#define EM_SELFMETRICS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter/util/strbuf.h"

/* A family (one metric name, its help and type) is declared once, as data,
 * by the file that owns it:
 *
 *   static struct em_sm_family fam_errors =
 *       EM_SM_FAMILY(EM_SM_COUNTER, "extmetrics_scaler_fetch_errors_total", "Failed scaler fetches.");
 *
 * A series (one label set of a family) is a handle: looked up once, then
 * updated in O(1) with atomics, without any lock. Lookups and creations take
 * the family's own lock, never a global one; /metrics reads each family under
 * its lock in shared mode, so updates never wait for a render. */
enum em_sm_type { EM_SM_COUNTER, EM_SM_GAUGE, EM_SM_HISTOGRAM };

struct em_sm_series;

struct em_sm_family {
	const char *name;              /* counters end in _total */
	const char *help;
	enum em_sm_type type;
	/* private to selfmetrics.c */
	pthread_rwlock_t lock;         /* guards the series index and list */
	atomic_bool linked;            /* on the rendered list of families */
	struct em_sm_family *next;
	struct em_sm_series **index;   /* hash of label sets */
	size_t nindex, nseries;
	struct em_sm_series *head, *tail;
};

#define EM_SM_FAMILY(type_, name_, help_) \
	{.name = (name_), .help = (help_), .type = (type_), .lock = PTHREAD_RWLOCK_INITIALIZER}

/* The series of f with labels (preformatted text without braces, e.g.
 * `code="200",handler="discovery"`; "" or NULL for none), created on first
 * use and kept for the life of the process: for label sets that are few and
 * fixed. NULL only when out of memory (updates accept NULL). */
struct em_sm_series *em_sm_series(struct em_sm_family *f, const char *labels);

/* The same, counted: a series held by something that goes away (a metric's
 * instance), created at its load and deleted from /metrics when the last
 * holder releases it. Two holders of the same labels (an instance and its
 * replacement during a reload) share one series. Release is NULL-safe. */
struct em_sm_series *em_sm_acquire(struct em_sm_family *f, const char *labels);
void em_sm_release(struct em_sm_series *s);

/* Updates: O(1), lock-free, NULL-safe. A series appears on /metrics once it
 * has been updated (a gauge set, a counter added to, even by 0). */
void em_sm_add(struct em_sm_series *s, double delta);          /* counters */
void em_sm_set(struct em_sm_series *s, double value);          /* gauges */
void em_sm_observe(struct em_sm_series *s, double value);      /* histograms (seconds buckets) */
double em_sm_value(const struct em_sm_series *s);              /* tests; histogram: the sum */
/* Adds 1 to f's series result="RESULT" (connection attempts, queries, decisions by result). */
void em_sm_count_result(struct em_sm_family *f, const char *result);

/* Escapes a label value for the text format into out (", \, newline). */
void em_label_escape(const char *in, char *out, size_t cap);

/* Renders every family, plus process_* metrics, in text format 0.0.4. */
void em_selfmetrics_render(struct em_strbuf *out);

/* Tests: every series back to "never updated" (handles stay valid). */
void em_selfmetrics_reset(void);

#endif
