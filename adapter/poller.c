/* poller.c - the poller: a scheduler thread that finds due instances, batches them, and a worker pool that grows when fetches hang. */
#include "registry_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "selfmetrics.h"
#include "adapter/util/clock.h"

static bool waiter_of_job(const struct em_waiter *w, const void *arg)
{
	const struct job *j = arg;

	for (size_t i = 0; i < j->n; i++)
		if (w->inst == j->insts[i])
			return true;
	return false;
}

static bool waiter_expired(const struct em_waiter *w, const void *arg)
{
	return w->deadline_ms <= *(const int64_t *)arg;
}

static void publish(struct em_instance *in, const struct em_sample *s, bool ok, int64_t now_ms)
{
	if (ok) {
		double v = s->active ? s->value : 0;
		em_gauge_set("extmetrics_metric_value", "The value served for the metric (0 while not active).",
			     in->prom_labels, v);
		em_gauge_set("extmetrics_metric_active", "1 when the scaler is active (value above activation).",
			     in->prom_labels, s->active ? 1 : 0);
		em_gauge_set("extmetrics_scaler_last_success_timestamp_seconds",
			     "Unix time of the last successful fetch.", in->prom_labels, (double)now_ms / 1000.0);
	} else {
		em_counter_add("extmetrics_scaler_fetch_errors_total", "Failed scaler fetches.", in->prom_labels, 1);
	}
}

/* Runs one fetch (or one batch) without the lock; results are applied under it. */
static void run_fetch(struct em_registry *r, struct job *j)
{
	struct em_sample *outs = calloc(j->n, sizeof(*outs));
	struct em_err *errs = calloc(j->n, sizeof(*errs));
	int *rcs = calloc(j->n, sizeof(*rcs));
	const struct em_scaler *sc = j->insts[0]->scaler;
	struct em_fetch_ctx ctx = {.timeout_ms = j->insts[0]->timeout_ms, .now_ms = em_now_ms(),
				   .metric = j->insts[0]->metric_name};
	int64_t t0 = em_mono_ms(), now;
	struct em_instance *to_close = NULL;
	struct em_waiter *woken = NULL;
	char hl[160], ty[64];

	if (!outs || !errs || !rcs) {
		for (size_t i = 0; rcs && errs && i < j->n; i++)
			rcs[i] = em_err_set(&errs[i], EM_E_INTERNAL, "out of memory");
	} else if (sc->flags & EM_SCALER_BATCH) {   /* fetch is optional there: a batch of one */
		void *insts[EM_REG_MAX_BATCH];
		for (size_t i = 0; i < j->n; i++)
			insts[i] = j->insts[i]->inst;
		sc->fetch_batch(insts, j->n, &ctx, outs, errs, rcs);
	} else {
		for (size_t i = 0; i < j->n; i++) {
			ctx.metric = j->insts[i]->metric_name;
			rcs[i] = sc->fetch(j->insts[i]->inst, &ctx, &outs[i], &errs[i]);
		}
	}
	now = em_mono_ms();
	em_label_escape(sc->type, ty, sizeof(ty));
	snprintf(hl, sizeof(hl), "scaler=\"%s\"", ty);
	em_histogram_observe("extmetrics_scaler_fetch_duration_seconds", "Time a scaler fetch (or batch) took.", hl,
			     (double)(now - t0) / 1000.0);

	pthread_mutex_lock(&r->mu);
	/* One random offset per batch keeps its members due together. */
	r->rng = r->rng * 1103515245u + 12345u;
	unsigned rnd = r->rng >> 8;
	for (size_t i = 0; i < j->n; i++) {
		struct em_instance *in = j->insts[i];
		int64_t jitter = in->polling_ms / 10;
		bool ok = rcs && rcs[i] == 0;

		if (ok) {
			if (!in->dead)
				publish(in, &outs[i], true, ctx.now_ms);
			em_cache_success(&in->cache, &outs[i], em_now_ms());
		} else if (errs) {
			if (errs[i].kind == EM_OK)
				em_err_set(&errs[i], EM_E_UNAVAILABLE, "scaler failed without a message");
			em_scrub(errs[i].msg, sizeof(errs[i].msg), in->secrets, in->nsecrets);
			em_cache_failure(&in->cache, &errs[i], em_now_ms());
			if (!in->dead)
				publish(in, NULL, false, 0);
			em_debug("metric %s: fetch failed: %s", in->metric_name, errs[i].msg);
		}
		in->in_flight = false;
		in->due_ms = now + in->polling_ms + (jitter ? (int64_t)(rnd % (unsigned)(2 * jitter + 1)) - jitter : 0);
	}
	em_reg_take_waiters(r, waiter_of_job, j, &woken, &to_close);
	for (size_t i = 0; i < j->n; i++)
		em_reg_instance_unref(r, j->insts[i], &to_close);
	pthread_cond_broadcast(&r->results);
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->mu);
	em_reg_wake_list(woken);
	for (size_t i = 0; outs && i < j->n; i++)
		em_sample_free(&outs[i]);
	free(outs);
	free(errs);
	free(rcs);
	em_reg_close_list(to_close);
}

static void *worker_main(void *arg)
{
	struct em_registry *r = arg;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		struct job *j;
		while (!r->jobs && !r->stopping) {
			int rc;
			r->idle++;
			rc = em_cond_wait_until(&r->jobs_cv, &r->mu, em_mono_ms() + 60000);
			r->idle--;
			if (rc != 0 && !r->jobs && r->workers > 2)
				goto out; /* idle for a minute: shrink the pool */
		}
		if (!r->jobs)
			goto out;
		j = r->jobs;
		r->jobs = j->next;
		r->queued--;
		if (!r->jobs)
			r->jobs_tail = &r->jobs;
		pthread_mutex_unlock(&r->mu);
		run_fetch(r, j);
		free(j);
		pthread_mutex_lock(&r->mu);
	}
out:
	r->workers--;
	pthread_cond_broadcast(&r->results);
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* mu held. Queues j and makes sure an idle or new worker will take it. */
static void enqueue(struct em_registry *r, struct job *j)
{
	j->next = NULL;
	*r->jobs_tail = j;
	r->jobs_tail = &j->next;
	r->queued++;
	/* Idle workers wake up only later: count jobs, not signals, so every
	 * queued job has a worker even when many fall due at once. */
	if (r->idle >= r->queued) {
		pthread_cond_signal(&r->jobs_cv);
		return;
	}
	if (r->workers < EM_REG_MAX_WORKERS) {
		pthread_t t;
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&a, 256 * 1024);
		if (pthread_create(&t, &a, worker_main, r) == 0)
			r->workers++;
		else
			em_error("cannot start a poller worker thread");
		pthread_attr_destroy(&a);
	}
}

/* mu held. Starts fetches for every due instance of the current snapshot,
 * grouping batchable ones; returns the next due time. Idle templated
 * instances are unlinked into *to_close. */
static int64_t schedule(struct em_registry *r, int64_t now, struct em_instance **to_close)
{
	int64_t next = now + 1000;
	struct em_snapshot *s = r->snap;

	for (size_t mi = 0; mi < s->n; mi++) {
		struct em_metric *m = &s->metrics[mi];
		struct em_instance **pp = &m->instances;

		while (*pp) {
			struct em_instance *in = *pp;
			if (in->templated && !in->in_flight && in->refs == 0 && now - in->last_used_ms > in->idle_ms) {
				*pp = in->next;
				m->n_instances--;
				em_reg_to_close_push(r, in, to_close);
				continue;
			}
			pp = &in->next;
		}
		for (struct em_instance *in = m->instances; in; in = in->next) {
			struct job *j;
			const char *key;

			if (in->in_flight)
				continue;
			if (in->due_ms > now) {
				if (in->due_ms < next)
					next = in->due_ms;
				continue;
			}
			j = calloc(1, sizeof(*j));
			if (!j)
				continue;
			j->insts[j->n++] = in;
			in->in_flight = true;
			in->refs++;
			key = (in->scaler->flags & EM_SCALER_BATCH) ? in->scaler->batch_key(in->inst) : NULL;
			/* Gather every other instance with the same scaler and key that
			 * falls due within half an interval: jitter spreads due times,
			 * and a batch is worth pulling a poll a little forward. */
			for (size_t mj = 0; key && mj < s->n; mj++) {
				for (struct em_instance *o = s->metrics[mj].instances; o && j->n < EM_REG_MAX_BATCH; o = o->next) {
					const char *ok;
					if (o == in || o->in_flight || o->due_ms > now + in->polling_ms / 2 ||
					    o->scaler != in->scaler)
						continue;
					ok = o->scaler->batch_key(o->inst);
					if (!ok || strcmp(ok, key) != 0)
						continue;
					o->in_flight = true;
					o->refs++;
					j->insts[j->n++] = o;
				}
			}
			enqueue(r, j);
		}
	}
	return next;
}

static void *sched_main(void *arg)
{
	struct em_registry *r = arg;

	pthread_mutex_lock(&r->mu);
	while (!r->stopping) {
		struct em_instance *to_close = NULL;
		struct em_waiter *woken = NULL;
		int64_t now = em_mono_ms(), next = schedule(r, now, &to_close);

		/* Parked requests whose first sample did not come in time answer 503. */
		em_reg_take_waiters(r, waiter_expired, &now, &woken, &to_close);
		for (struct em_waiter *w = r->waiters; w; w = w->next)
			if (w->deadline_ms < next)
				next = w->deadline_ms;
		if (to_close || woken) {
			pthread_mutex_unlock(&r->mu);
			em_reg_wake_list(woken);
			em_reg_close_list(to_close);
			pthread_mutex_lock(&r->mu);
			continue;
		}
		if (next < now + 1)
			next = now + 1;
		em_cond_wait_until(&r->wake, &r->mu, next);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

int em_poller_start(struct em_registry *r)
{
	if (pthread_create(&r->sched, NULL, sched_main, r) != 0)
		return -1;
	r->sched_started = true;
	return 0;
}

int em_poller_stop(struct em_registry *r, struct em_instance **to_close)
{
	int64_t deadline;

	pthread_mutex_lock(&r->mu);
	pthread_cond_broadcast(&r->jobs_cv);
	pthread_mutex_unlock(&r->mu);
	if (r->sched_started)
		pthread_join(r->sched, NULL);
	/* Workers finish their current fetch (bounded by its timeout); wait a
	 * moment for them, then leave any busy one behind (the process exits). */
	deadline = em_mono_ms() + 1000;
	pthread_mutex_lock(&r->mu);
	while (r->workers > 0 && em_mono_ms() < deadline)
		em_cond_wait_until(&r->results, &r->mu, em_mono_ms() + 100);
	if (r->workers > 0) {
		pthread_mutex_unlock(&r->mu);
		em_warn("%d poller workers still busy at shutdown; leaving them", r->workers);
		return -1;
	}
	while (r->jobs) {
		struct job *j = r->jobs;
		r->jobs = j->next;
		for (size_t i = 0; i < j->n; i++)
			em_reg_instance_unref(r, j->insts[i], to_close);
		free(j);
	}
	pthread_mutex_unlock(&r->mu);
	return 0;
}

void em_poller_fetch_now(struct em_registry *r, struct em_instance *in)
{
	struct job j = {.n = 1};

	j.insts[0] = in;
	pthread_mutex_lock(&r->mu);
	in->in_flight = true;
	in->refs++;
	pthread_mutex_unlock(&r->mu);
	run_fetch(r, &j);
}
