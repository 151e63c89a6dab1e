/* registry_int.h - what the registry (registry.c) and its poller (poller.c) share: their structures and a few calls. */
#ifndef EM_REGISTRY_INT_H
#define EM_REGISTRY_INT_H

#include <pthread.h>

#include "registry.h"

/* Everything below is guarded by em_registry.mu unless said otherwise
 * (registry.h has the whole contract). Instances to close are collected on
 * a list while mu is held and closed (em_reg_close_list) after it is
 * released, and parked requests to wake likewise (em_reg_wake_list): a
 * scaler's close may block, and wake() takes the HTTP library's locks.
 * A worker drops mu for the fetch itself (run_fetch) and takes it again to
 * store the results; the fields an instance's fetch reads (inst, cfg,
 * secrets, timeout_ms, metric_name) are set before it is published and
 * never change, so the fetch reads them without mu. */

#define EM_REG_MAX_WORKERS 256
#define EM_REG_MAX_SECRETS 16
#define EM_REG_MAX_BATCH 500

struct em_instance {
	struct em_instance *next;
	const struct em_scaler *scaler;
	char *metric_name;
	char *key;                 /* filled-in options; "" when not templated */
	bool templated;
	void *cfg;                 /* parsed scaler options */
	void *inst;                /* scaler instance */
	const char *secrets[EM_REG_MAX_SECRETS];
	size_t nsecrets;
	int64_t polling_ms, timeout_ms, idle_ms;
	struct em_cache_policy policy;
	char *prom_labels;         /* namespace="..",metric="..",scaler=".." */
	/* under registry mu */
	struct em_cache cache;
	bool in_flight;
	int64_t due_ms;            /* monotonic */
	int64_t last_used_ms;      /* monotonic */
	int refs;
	bool dead;
	bool keep_series;          /* a live instance publishes under the same labels */
};

struct em_metric {
	const struct em_metric_def *def;
	struct em_instance *instances;
	size_t n_instances;
};

struct em_snapshot {
	int refs;
	struct em_config *cfg;
	struct em_metric *metrics;
	size_t n;
};

struct job {
	struct job *next;
	struct em_instance *insts[EM_REG_MAX_BATCH];
	size_t n;
};

struct em_registry {
	pthread_mutex_t mu;
	pthread_cond_t results;    /* a fetch finished */
	pthread_cond_t wake;       /* the scheduler should look again */
	pthread_cond_t jobs_cv;
	struct em_snapshot *snap;
	bool poll;
	bool stopping;
	pthread_t sched;           /* the poller's scheduler thread */
	bool sched_started;
	struct job *jobs, **jobs_tail;
	int workers, idle, queued;  /* queued: jobs not yet taken by a worker */
	struct em_waiter *waiters;  /* requests parked for a first sample */
	unsigned rng;
};

/* ---- registry.c, for the poller ---- */

/* mu held: in goes onto *to_close, to be closed once mu is released. */
void em_reg_to_close_push(struct em_registry *r, struct em_instance *in, struct em_instance **to_close);
/* Closes and frees every instance of the list; mu not held. */
void em_reg_close_list(struct em_instance *list);
/* mu held: drops a reference; a dead instance without references goes onto *to_close. */
void em_reg_instance_unref(struct em_registry *r, struct em_instance *in, struct em_instance **to_close);
/* mu held: unlinks the parked requests wake_if() picks onto *woken. */
void em_reg_take_waiters(struct em_registry *r, bool (*wake_if)(const struct em_waiter *, const void *),
			 const void *arg, struct em_waiter **woken, struct em_instance **to_close);
/* Wakes each parked request of the list; mu not held. */
void em_reg_wake_list(struct em_waiter *w);

/* ---- poller.c, for the registry ---- */

/* Starts the scheduler thread. 0 or -1. */
int em_poller_start(struct em_registry *r);
/* After em_registry_stop: joins the scheduler and waits up to a second for
 * busy workers; queued jobs are dropped (their references onto *to_close).
 * 0, or -1 when workers are still busy (the registry must then be left). */
int em_poller_stop(struct em_registry *r, struct em_instance **to_close);
/* One synchronous fetch of in, for `get` (no poller); mu not held. */
void em_poller_fetch_now(struct em_registry *r, struct em_instance *in);

#endif
