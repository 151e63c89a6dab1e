/* registry.h - configured metrics, their scaler instances, polling and config reload. */
#ifndef EM_REGISTRY_H
#define EM_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "cache.h"
#include "config.h"

struct em_registry;
struct em_snapshot;

/* Creates the registry for cfg (taking ownership) and, when poll is true,
 * starts the poller (non-templated metrics are polled from start-up). */
struct em_registry *em_registry_new(struct em_config *cfg, bool poll, struct em_err *err);
/* Stops polling and frees everything. In-flight fetches are abandoned after
 * their timeout. NULL-safe. */
void em_registry_free(struct em_registry *r);

/* Swaps in a new config (taking ownership). Metrics whose definition did not
 * change keep their instances and cached values. */
void em_registry_reload(struct em_registry *r, struct em_config *cfg);

/* The answer to one metric request. */
struct em_lookup {
	struct em_snapshot *snap;          /* keeps def alive */
	const struct em_metric_def *def;
	struct em_served served;
};

/* Serves ns/metric for a request whose labelSelector has the equality
 * requirements sel_eq: finds the metric (EM_E_NOTFOUND when unknown or the
 * namespace is not allowed), finds or creates the instance for templated
 * metrics (EM_E_TOOMANY past maxInstances), and reads its cache, waiting up
 * to the metric's timeout for a very first sample. Without a poller (the
 * `get` command) it fetches synchronously. On 0, release with
 * em_lookup_release(). */
int em_registry_get(struct em_registry *r, const char *ns, const char *metric, const struct em_kvlist *sel_eq,
		    struct em_lookup *out, struct em_err *err);
void em_lookup_release(struct em_registry *r, struct em_lookup *l);

/* Milliseconds clocks; overridable for tests is not needed: cache.c takes
 * times as arguments. */
int64_t em_now_ms(void);      /* wall clock, Unix ms */
int64_t em_mono_ms(void);     /* monotonic */

#endif
