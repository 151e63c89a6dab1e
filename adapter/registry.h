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

/* The concurrency contract (registry.c, poller.c; scalers/scaler.h has the
 * scaler's side).
 *
 * Threads. The main thread calls em_registry_new, em_registry_reload (one
 * at a time), em_registry_stop and em_registry_free. HTTP threads call
 * em_registry_get, em_registry_wait_arm and em_lookup_release, any number
 * at once and while a reload runs. The poller has one scheduler thread and
 * a pool of worker threads that run the fetches (EM_REG_MANUAL: none; the
 * thread calling em_registry_step runs them). em_registry_free comes
 * last: after em_registry_stop and after the HTTP server has stopped, so no
 * other call is running or to come.
 *
 * One lock, the registry's mu (registry_int.h), guards the current
 * snapshot, every instance's cache and scheduling fields and reference
 * count, the job queue and the parked requests. It is held only for
 * bookkeeping: never during a scaler's fetch, open or close, nor while a
 * parked request's wake() runs (a reload opens its new instances before
 * taking it, so requests never wait on a reload). It is held while the
 * scheduler calls a scaler's batch_key, while fetch results are published
 * as own metrics (lock-free updates of handles), and for a few log lines.
 *
 * Lock order: registry mu -> selfmetrics (a family's lock, taken to look up
 * or create a series; updates take none) -> log. Neither selfmetrics nor
 * log calls back into the registry; a scaler's own locks come after the
 * registry's (open and batch_key may run under it) and a scaler never calls
 * the registry. Code holding mu calls nothing else that takes a lock held
 * while calling into the registry (the HTTP server's, auth's).
 *
 * Ownership. A snapshot (a config and its metrics' instances) lives while
 * referenced: the registry holds the current one, and each em_lookup holds
 * the one it answered from, so its def stays valid until
 * em_lookup_release. An instance is referenced by each fetch in flight,
 * each parked request and each request reading its cache; a reload that
 * drops or changes its metric marks it dead at once (it leaves the
 * schedule), and whoever drops the last reference closes it, after
 * releasing mu. While a fetch is in flight the
 * instance belongs to the worker running it: it is not fetched again (in
 * flight) nor closed (referenced) until that fetch returns.
 *
 * Shutdown. em_registry_stop answers every parked request (503) and
 * refuses new waits; em_registry_free joins the scheduler, waits up to a
 * second for busy workers, and when one is still inside a fetch leaves the
 * registry and its instances alive for it (the process is exiting). */

/* How metrics are fetched. */
enum em_reg_mode {
	EM_REG_ON_GET,     /* no poller: each request fetches (the `get` command) */
	EM_REG_POLL,       /* a scheduler thread and a pool of workers */
	EM_REG_MANUAL,     /* tests: polls run only inside em_registry_step() */
};

/* Creates the registry for cfg (taking ownership) and, unless mode is
 * EM_REG_ON_GET, schedules the non-templated metrics: polling: eager ones
 * from start-up, polling: demand ones from their first request on. */
struct em_registry *em_registry_new(struct em_config *cfg, enum em_reg_mode mode, struct em_err *err);
/* EM_REG_MANUAL: starts every fetch due at em_mono_ms() and runs them in the
 * calling thread, then expires parked requests; returns the fetches run. */
size_t em_registry_step(struct em_registry *r);
/* Stops polling and frees everything. In-flight fetches are abandoned after
 * their timeout. NULL-safe. */
void em_registry_free(struct em_registry *r);

/* Swaps in a new config (taking ownership). Metrics whose definition did not
 * change keep their instances and cached values. */
void em_registry_reload(struct em_registry *r, struct em_config *cfg);

/* A request waiting for a metric's first sample (or, for a metric polled on
 * demand, the first sample after it was idle) without holding a thread: em_registry_get() returns EM_REG_WAIT, the caller parks the request
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
 * metrics (EM_E_TOOMANY past maxInstances), and reads its cache. A first
 * sample (or one after an idle metric wakes up) is waited for up to the
 * metric's timeout: with w, by returning EM_REG_WAIT (see struct em_waiter);
 * without, by blocking.
 * Without a poller (the `get` command) it fetches synchronously. A
 * computed metric (EM_SCALER_COMPUTED) is answered from its inputs' cached
 * values, and asking for it asks for them: they are polled while it is
 * requested, and waited for like a first sample when they were asleep. On
 * 0, release with em_lookup_release(). */
int em_registry_get(struct em_registry *r, const char *ns, const char *metric, const struct em_kvlist *sel_eq,
		    struct em_waiter *w, struct em_lookup *out, struct em_err *err);
/* Parks w until its instance has the sample waited for (see struct em_waiter). */
void em_registry_wait_arm(struct em_registry *r, struct em_waiter *w);
/* Wakes every waiting request (they answer 503) and refuses new waits:
 * the first step of a shutdown. */
void em_registry_stop(struct em_registry *r);
void em_lookup_release(struct em_registry *r, struct em_lookup *l);

/* Every configured metric as JSON, appended to out (GET /status on the
 * metrics port; `extmetrics status` prints it as a table): name,
 * namespaces, type, polling, templated, "error" when its scaler could not
 * be started, and per instance its state, the value served now (null:
 * nothing), whether active, lastSuccessTime, lastErrorTime, lastError
 * (while failing; scrubbed), consecutiveFailures, fetches. */
struct em_strbuf;
void em_registry_status(struct em_registry *r, struct em_strbuf *out);

#endif
