/* registry.h - configured metrics, their scaler instances, polling and config reload. */
#ifndef EM_REGISTRY_H
#define EM_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "cache.h"
#include "config.h"

struct em_registry;
struct em_snapshot;
struct em_instance;

/* Creates the registry for cfg (taking ownership) and, when poll is true,
 * starts the poller (non-templated metrics are polled from start-up). */
struct em_registry *em_registry_new(struct em_config *cfg, bool poll, struct em_err *err);
/* Stops polling and frees everything. In-flight fetches are abandoned after
 * their timeout. NULL-safe. */
void em_registry_free(struct em_registry *r);

/* Swaps in a new config (taking ownership). Metrics whose definition did not
 * change keep their instances and cached values. */
void em_registry_reload(struct em_registry *r, struct em_config *cfg);

/* A request waiting for a metric's very first sample without holding a
 * thread: em_registry_get() returns EM_REG_WAIT, the caller parks the request
 * (libmicrohttpd: suspends the connection) and calls em_registry_wait_arm();
 * wake(arg) is then called exactly once, from another thread, when the
 * sample arrives, the deadline passes or the server stops, and the caller
 * asks em_registry_get() again with the same waiter. Zero it before the
 * first call; it must stay valid until wake() has been called. */
struct em_waiter {
	struct em_waiter *next;
	void (*wake)(void *arg);
	void *arg;
	int64_t deadline_ms;               /* em_mono_ms() time; set by the first call */
	struct em_instance *inst;          /* registry-private */
};

#define EM_REG_WAIT 1

/* The answer to one metric request. */
struct em_lookup {
	struct em_snapshot *snap;          /* keeps def alive */
	const struct em_metric_def *def;
	struct em_served served;
};

/* Serves ns/metric for a request whose labelSelector has the equality
 * requirements sel_eq: finds the metric (EM_E_NOTFOUND when unknown or the
 * namespace is not allowed), finds or creates the instance for templated
 * metrics (EM_E_TOOMANY past maxInstances), and reads its cache. A very
 * first sample is waited for up to the metric's timeout: with w, by
 * returning EM_REG_WAIT (see struct em_waiter); without, by blocking.
 * Without a poller (the `get` command) it fetches synchronously. On 0,
 * release with em_lookup_release(). */
int em_registry_get(struct em_registry *r, const char *ns, const char *metric, const struct em_kvlist *sel_eq,
		    struct em_waiter *w, struct em_lookup *out, struct em_err *err);
/* Parks w until its instance has a first sample (see struct em_waiter). */
void em_registry_wait_arm(struct em_registry *r, struct em_waiter *w);
/* Wakes every waiting request (they answer 503) and refuses new waits:
 * the first step of a shutdown. */
void em_registry_stop(struct em_registry *r);
void em_lookup_release(struct em_registry *r, struct em_lookup *l);

#endif
