/* registry_int.h - what the registry (registry.c) and its poller (poller.c) share: their structures and a few calls. */
#ifndef EM_REGISTRY_INT_H
#define EM_REGISTRY_INT_H

#include <pthread.h>

#include "registry.h"
#include "selfmetrics.h"

/* Everything below is guarded by em_registry.mu unless said otherwise
 * (registry.h has the whole contract). Instances to close are collected on
 * a list while mu is held and closed (em_reg_close_list) after it is
 * released, and parked requests to wake likewise (em_reg_wake_list): a
 * scaler's close may block, and wake() takes the HTTP library's locks.
 * A worker drops mu for the fetch itself (run_fetch) and takes it again to
 * store the results; the fields an instance's fetch reads (inst, cfg,
 * secrets, timeout_ms, metric_name) are set before it is published and
 * never change, so the fetch reads them without mu. */

#define EM_REG_MIN_WORKERS 2
#define EM_REG_MAX_WORKERS 256
#define EM_REG_STALL_MS 100     /* a queued job waiting this long with no free worker adds one */
#define EM_REG_WORKER_IDLE_MS 30000   /* an idle worker past this leaves (down to the minimum) */
#define EM_REG_TICK_MS 10       /* the scheduler wakes at most this often for due times */
#define EM_REG_MAX_SECRETS 16
#define EM_REG_MAX_BATCH 500
#define EM_REG_UNSCHEDULED ((size_t)-1)

/* An instance's own series, acquired when it is made and released when it
 * is freed (an instance replacing another with the same labels shares them),
 * all with the label set `labels`. */
struct em_inst_series {
	struct em_sm_series *value, *active, *last_success, *last_error, *errors, *fetch_last;
	struct em_sm_series *state;            /* the current state's (state="..."): swapped when it changes */
	struct em_sm_series *fetch_seconds;    /* the scaler's, shared by every instance of it */
	char *labels;
};

struct em_instance {
	struct em_instance *next;
	const struct em_scaler *scaler;
	char *metric_name;
	char *key;                 /* filled-in options; "" when not templated */
	char *ns;                  /* the namespace that asked for it ("" when not templated) */
	char id[9];                /* a templated instance's metric_instance label: a hash of key */
	bool templated;
	bool demand;               /* polled only while requested (polling: demand, and every templated one) */
	void *cfg;                 /* parsed scaler options */
	void *inst;                /* scaler instance */
	const char **secrets;      /* nsecrets pointers into cfg */
	size_t nsecrets;
	int64_t polling_ms, timeout_ms, idle_ms;
	struct em_cache_policy policy;
	struct em_inst_series sm;
	/* under registry mu */
	struct em_cache cache;
	enum em_state state;       /* as last published and logged */
	struct em_note_state note;
	size_t heap_idx;           /* in the poller's heap, or EM_REG_UNSCHEDULED */
	bool in_flight;
	bool sleeping;             /* demand-polled and not asked for lately: not polled */
	int64_t due_ms;            /* monotonic */
	int64_t last_used_ms;      /* monotonic */
	int64_t wait_attempts;     /* requests wait while cache.attempts is below this */
	int refs;
	bool dead;
};

struct em_metric {
	const struct em_metric_def *def;
	struct em_instance *instances;
	size_t n_instances;
	void *ccfg, *cinst;        /* a computed metric's (EM_SCALER_COMPUTED) options and state; no instances */
	/* A non-templated metric whose scaler could not be opened: why
	 * (scrubbed), and its state series (failing) in place of an instance's. */
	char *open_err;
	struct em_sm_series *open_state;
};

struct em_snapshot {
	int refs;
	struct em_config *cfg;
	struct em_metric *metrics;
	size_t n;
	uint32_t *index;           /* metric by name: open addressing, 1 + metric index, 0 = empty */
	size_t nindex;             /* a power of two, at least 2 n */
};

struct job {
	struct job *next;
	int64_t queued_ms;
	size_t n, cap;
	struct em_instance *insts[];
};

/* A poller worker thread, while it lives (on its own stack). */
struct em_worker {
	struct em_worker *next;    /* on the idle stack */
	pthread_cond_t cv;         /* signalled when woken for a job, or at stop */
	bool idle;                 /* on the stack */
	bool woken;
};

/* A worker thread's handle, from its start until it is joined: a worker
 * that leaves is joined by the scheduler (or at stop), so no thread is still
 * tearing down (libpq's and OpenSSL's thread-local state) when the process exits. */
struct em_wthread {
	struct em_wthread *next;
	struct em_registry *r;
	pthread_t t;
	bool done;                 /* its worker_main is returning: join it */
};

struct em_registry {
	pthread_mutex_t mu;
	pthread_mutex_t reload_mu; /* one reload at a time; taken before mu */
	pthread_cond_t results;    /* a fetch finished */
	pthread_cond_t wake;       /* the scheduler should look again */
	struct em_snapshot *snap;
	enum em_reg_mode mode;
	bool stopping;
	pthread_t sched;           /* the poller's scheduler thread */
	int64_t sched_next_ms;     /* when it wakes up next */
	bool sched_started;
	struct em_instance **heap; /* instances waiting for their due time, earliest first */
	size_t heap_n, heap_cap;
	struct job *jobs, **jobs_tail;
	struct em_worker *idle_top; /* idle workers, most recently idle first */
	int workers, idle, queued;  /* queued: jobs not yet taken by a worker */
	struct em_wthread *threads; /* every worker thread not yet joined */
	struct em_waiter *waiters;  /* requests parked for a sample */
	unsigned rng;
};

/* ---- registry.c, for the poller ---- */

/* mu held: in goes onto *to_close, to be closed once mu is released. */
void em_reg_to_close_push(struct em_instance *in, struct em_instance **to_close);
/* Closes and frees every instance of the list; mu not held. */
void em_reg_close_list(struct em_instance *list);
/* mu held: drops a reference; a dead instance without references goes onto *to_close. */
void em_reg_instance_unref(struct em_instance *in, struct em_instance **to_close);
/* mu held: unlinks the parked requests wake_if() picks onto *woken. */
void em_reg_take_waiters(struct em_registry *r, bool (*wake_if)(const struct em_waiter *, const void *),
			 const void *arg, struct em_waiter **woken, struct em_instance **to_close);
/* Wakes each parked request of the list; mu not held. */
void em_reg_wake_list(struct em_waiter *w);
/* mu held: unlinks templated instance in from its metric of the current snapshot. */
void em_reg_unlink(struct em_registry *r, struct em_instance *in);
/* mu held: what in is doing at now_ms (wall): idle, pending while a fetch
 * is awaited, else as its cache says; value/active as em_cache_state's
 * (idle: what its cache holds, which the next request waits to replace). */
/* mu held. The metric named name in snapshot s, or NULL. */
struct em_metric *em_reg_find_metric(struct em_snapshot *s, const char *name);
enum em_state em_reg_instance_state(const struct em_instance *in, int64_t now_ms, double *value, bool *active);
/* mu held: in's state now (from its cache, or idle, or waiting for a fetch):
 * publishes it as own metrics and logs a change worth it (cache.h's rules). */
void em_reg_state_update(struct em_registry *r, struct em_instance *in);

/* ---- poller.c, for the registry ---- */

/* Starts the scheduler thread. 0 or -1. */
int em_poller_start(struct em_registry *r);
/* After em_registry_stop: joins the scheduler, waits up to a second for
 * busy workers and joins every worker; queued jobs are dropped (their
 * references onto *to_close). 0, or -1 when workers are still busy (the
 * registry must then be left). */
int em_poller_stop(struct em_registry *r, struct em_instance **to_close);
/* One synchronous fetch of in, for `get` (no poller); mu not held. */
void em_poller_fetch_now(struct em_registry *r, struct em_instance *in);
/* mu held: (re)schedules in for due_ms; a no-op without a poller. */
void em_poller_schedule(struct em_registry *r, struct em_instance *in, int64_t due_ms);
/* mu held: takes in off the schedule (it is going away). */
void em_poller_unschedule(struct em_registry *r, struct em_instance *in);

#endif
