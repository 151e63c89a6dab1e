/* poller.c - the poller: a scheduler thread with a heap of due times, batching, and a worker pool that grows when fetches hang. */
#include "registry_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "adapter/util/clock.h"

/* ---- the schedule: a binary min-heap of instances by due time ------------ */

static bool earlier(const struct em_instance *a, const struct em_instance *b)
{
	return a->due_ms < b->due_ms;
}

static void heap_set(struct em_registry *r, size_t i, struct em_instance *in)
{
	r->heap[i] = in;
	in->heap_idx = i;
}

static void sift_up(struct em_registry *r, size_t i)
{
	struct em_instance *in = r->heap[i];

	while (i > 0 && earlier(in, r->heap[(i - 1) / 2])) {
		heap_set(r, i, r->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(r, i, in);
}

static void sift_down(struct em_registry *r, size_t i)
{
	struct em_instance *in = r->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= r->heap_n)
			break;
		if (c + 1 < r->heap_n && earlier(r->heap[c + 1], r->heap[c]))
			c++;
		if (!earlier(r->heap[c], in))
			break;
		heap_set(r, i, r->heap[c]);
		i = c;
	}
	heap_set(r, i, in);
}

void em_poller_unschedule(struct em_registry *r, struct em_instance *in)
{
	size_t i = in->heap_idx;

	if (i == EM_REG_UNSCHEDULED)
		return;
	in->heap_idx = EM_REG_UNSCHEDULED;
	if (--r->heap_n == i)
		return;
	/* The last entry fills the hole, then moves up or down to its place. */
	struct em_instance *last = r->heap[r->heap_n];
	heap_set(r, i, last);
	sift_up(r, i);
	sift_down(r, last->heap_idx);
}

void em_poller_schedule(struct em_registry *r, struct em_instance *in, int64_t due_ms)
{
	if (r->mode == EM_REG_ON_GET || in->dead)
		return;
	in->due_ms = due_ms;
	if (in->heap_idx != EM_REG_UNSCHEDULED) {
		sift_up(r, in->heap_idx);
		sift_down(r, in->heap_idx);
		return;
	}
	if (in->in_flight)
		return;   /* rescheduled when its fetch ends */
	if (r->heap_n == r->heap_cap) {
		size_t cap = r->heap_cap ? r->heap_cap * 2 : 64;
		struct em_instance **h = realloc(r->heap, cap * sizeof(*h));
		if (!h) {
			em_error("poller: out of memory; metric %s is not polled", in->metric_name);
			return;
		}
		r->heap = h;
		r->heap_cap = cap;
	}
	heap_set(r, r->heap_n++, in);
	sift_up(r, in->heap_idx);
}

static struct em_instance *heap_pop(struct em_registry *r)
{
	struct em_instance *in = r->heap[0];

	em_poller_unschedule(r, in);
	return in;
}

/* ---- fetching ------------------------------------------------------------- */

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

/* Own series of one fetch's outcome: handles the instance holds, updated
 * without any lock (the value served and the state follow from the cache:
 * em_reg_state_update). */
static void publish(struct em_instance *in, bool ok, int64_t now_ms, double seconds)
{
	em_sm_set(in->sm.fetch_last, seconds);
	if (ok) {
		em_sm_set(in->sm.last_success, (double)now_ms / 1000.0);
	} else {
		em_sm_add(in->sm.errors, 1);
		em_sm_set(in->sm.last_error, (double)now_ms / 1000.0);
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
	int64_t now;
	double t0 = em_mono_seconds(), took;   /* durations to the microsecond; scheduling in ms */
	struct em_instance *to_close = NULL;
	struct em_waiter *woken = NULL;

	const char *secrets[EM_REG_MAX_SECRETS * 4];
	size_t nsec = 0;
	struct em_secret_scope scope;

	/* Every message the fetch builds is scrubbed of the instances' secrets
	 * while whole, before any cut (a batch shares one identity, so its
	 * members' secrets are mostly the same few). */
	for (size_t i = 0; i < j->n; i++)
		for (size_t k = 0; k < j->insts[i]->nsecrets && nsec < sizeof(secrets) / sizeof(secrets[0]); k++)
			secrets[nsec++] = j->insts[i]->secrets[k];
	em_secret_scope_enter(&scope, secrets, nsec);
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
	em_secret_scope_leave(&scope);
	now = em_mono_ms();
	took = em_mono_seconds() - t0;
	em_sm_observe(j->insts[0]->sm.fetch_seconds, took);

	pthread_mutex_lock(&r->mu);
	/* One random offset per batch keeps its members due together. */
	r->rng = r->rng * 1103515245u + 12345u;
	unsigned rnd = r->rng >> 8;
	for (size_t i = 0; i < j->n; i++) {
		struct em_instance *in = j->insts[i];
		int64_t jitter = in->polling_ms / 10;
		bool ok = rcs && rcs[i] == 0;

		if (ok) {
			em_cache_success(&in->cache, &outs[i], em_now_ms());
		} else if (errs) {
			if (errs[i].kind == EM_OK)
				em_err_set(&errs[i], EM_E_UNAVAILABLE, "scaler failed without a message");
			em_scrub(errs[i].msg, sizeof(errs[i].msg), in->secrets, in->nsecrets);
			em_cache_failure(&in->cache, &errs[i], em_now_ms());
			em_debug("metric %s: fetch failed: %s", in->metric_name, errs[i].msg);
		}
		if (!in->dead) {
			publish(in, ok, ctx.now_ms, took);
			em_reg_state_update(r, in);
		}
		in->in_flight = false;
		em_poller_schedule(r, in,
				   now + in->polling_ms + (jitter ? (int64_t)(rnd % (unsigned)(2 * jitter + 1)) - jitter : 0));
	}
	em_reg_take_waiters(r, waiter_of_job, j, &woken, &to_close);
	for (size_t i = 0; i < j->n; i++)
		em_reg_instance_unref(j->insts[i], &to_close);
	pthread_cond_broadcast(&r->results);
	/* The scheduler sleeps until its next due time; it needs waking only
	 * when a rescheduled instance comes before that. */
	if (r->heap_n && r->heap[0]->due_ms < r->sched_next_ms)
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

/* mu held (released meanwhile): takes the oldest queued job and runs it. */
static void run_next(struct em_registry *r)
{
	struct job *j = r->jobs;

	r->jobs = j->next;
	r->queued--;
	if (!r->jobs)
		r->jobs_tail = &r->jobs;
	pthread_mutex_unlock(&r->mu);
	run_fetch(r, j);
	free(j);
	pthread_mutex_lock(&r->mu);
}

/* mu held: takes w off the idle stack. */
static void idle_unlink(struct em_registry *r, struct em_worker *w)
{
	for (struct em_worker **pp = &r->idle_top; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	w->next = NULL;
	w->idle = false;
	r->idle--;
}

/* mu held: wakes the most recently idle worker for a queued job. Those the
 * work no longer needs stay idle at the bottom of the stack, time out and
 * leave: the pool follows the load. (One condition variable for all woke
 * them in turn, so under steady load none ever timed out.) */
static void wake_idle(struct em_registry *r)
{
	struct em_worker *w = r->idle_top;

	if (!w)
		return;
	idle_unlink(r, w);
	w->woken = true;
	pthread_cond_signal(&w->cv);
}

static void *worker_main(void *arg)
{
	struct em_wthread *self = arg;
	struct em_registry *r = self->r;
	struct em_worker w = {0};

	em_cond_init(&w.cv);
	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (!r->jobs && !r->stopping) {
			int rc = 0;
			w.next = r->idle_top;
			r->idle_top = &w;
			w.idle = true;
			w.woken = false;
			r->idle++;
			while (!w.woken && !r->stopping && rc == 0)
				rc = em_cond_wait_until(&w.cv, &r->mu, em_mono_ms() + EM_REG_WORKER_IDLE_MS);
			if (w.idle)
				idle_unlink(r, &w);   /* timed out, or stopping */
			if (!w.woken && !r->jobs && r->workers > EM_REG_MIN_WORKERS)
				goto out;             /* idle for EM_REG_WORKER_IDLE_MS: shrink the pool */
		}
		if (!r->jobs)
			goto out;
		run_next(r);
	}
out:
	r->workers--;
	self->done = true;   /* mu is not taken again: joining under mu is safe */
	pthread_cond_broadcast(&r->results);
	pthread_mutex_unlock(&r->mu);
	pthread_cond_destroy(&w.cv);
	return NULL;
}

/* mu held. Joins the workers that left (they no longer need mu). */
static void reap_workers(struct em_registry *r)
{
	struct em_wthread **pp = &r->threads, *t;

	while ((t = *pp)) {
		if (!t->done) {
			pp = &t->next;
			continue;
		}
		*pp = t->next;
		pthread_join(t->t, NULL);
		free(t);
	}
}

/* mu held. One more worker. */
static void spawn_worker(struct em_registry *r)
{
	struct em_wthread *t;
	pthread_attr_t a;

	reap_workers(r);
	if (r->workers >= EM_REG_MAX_WORKERS)
		return;
	t = calloc(1, sizeof(*t));
	if (!t) {
		em_error("cannot start a poller worker thread: out of memory");
		return;
	}
	t->r = r;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 256 * 1024);
	if (pthread_create(&t->t, &a, worker_main, t) == 0) {
		t->next = r->threads;
		r->threads = t;
		r->workers++;
	} else {
		em_error("cannot start a poller worker thread");
		free(t);
	}
	pthread_attr_destroy(&a);
}

/* mu held. Queues j for the workers. The pool starts with two; it grows
 * only when the oldest queued job has waited EM_REG_STALL_MS with no worker
 * free (fetches hang: see grow_if_stalled), not with every burst of due
 * metrics, so polling thousands of quick metrics stays on a few threads. */
static void enqueue(struct em_registry *r, struct job *j, int64_t now)
{
	j->next = NULL;
	j->queued_ms = now;
	*r->jobs_tail = j;
	r->jobs_tail = &j->next;
	r->queued++;
	if (r->mode == EM_REG_MANUAL)
		return;   /* em_registry_step runs it */
	if (r->idle > 0)
		wake_idle(r);
	else if (r->workers < EM_REG_MIN_WORKERS)
		spawn_worker(r);
}

/* mu held: a worker more when the queue has not moved for EM_REG_STALL_MS
 * (every worker is stuck in a slow fetch); returns when to look again. */
static int64_t grow_if_stalled(struct em_registry *r, int64_t now, int64_t next)
{
	if (!r->jobs || r->idle > 0 || r->mode == EM_REG_MANUAL)
		return next;
	if (now - r->jobs->queued_ms >= EM_REG_STALL_MS) {
		spawn_worker(r);
		r->jobs->queued_ms = now;   /* give the new worker its chance first */
	}
	return r->jobs->queued_ms + EM_REG_STALL_MS < next ? r->jobs->queued_ms + EM_REG_STALL_MS : next;
}

static struct job *job_new(struct em_instance *in, size_t cap)
{
	struct job *j = calloc(1, sizeof(*j) + cap * sizeof(j->insts[0]));

	if (!j)
		return NULL;
	j->cap = cap;
	j->insts[j->n++] = in;
	in->in_flight = true;
	in->refs++;
	return j;
}

/* mu held. Adds to j every other scheduled instance with in's scaler and
 * batch key that falls due within half an interval: jitter spreads due
 * times, and a batch is worth pulling a poll a little forward. One pass
 * over the schedule per batch, only for scalers that batch. */
static void gather_batch(struct em_registry *r, struct job *j, struct em_instance *in, const char *key, int64_t now)
{
	size_t i = 0;

	while (i < r->heap_n && j->n < j->cap) {
		struct em_instance *o = r->heap[i];
		const char *ok;
		if (o->due_ms > now + in->polling_ms / 2 || o->scaler != in->scaler ||
		    !(ok = o->scaler->batch_key(o->inst)) || strcmp(ok, key) != 0) {
			i++;
			continue;
		}
		em_poller_unschedule(r, o);   /* moves another entry to i: look at i again */
		j->insts[j->n++] = o;
		o->in_flight = true;
		o->refs++;
	}
}

/* mu held. Starts a fetch for every instance due by now; returns the next
 * due time. Instances polled on demand that nobody asked for within their
 * idle time stop here: templated ones are dropped (unlinked into *to_close),
 * the others sleep until the next request. */
static int64_t schedule(struct em_registry *r, int64_t now, struct em_instance **to_close)
{
	while (r->heap_n && r->heap[0]->due_ms <= now) {
		struct em_instance *in = heap_pop(r);
		const char *key;
		struct job *j;

		if (in->demand && in->refs == 0 && now - in->last_used_ms > in->idle_ms) {
			if (in->templated) {
				em_reg_unlink(r, in);
				in->dead = true;
				em_reg_to_close_push(in, to_close);
			} else {
				in->sleeping = true;
				em_reg_state_update(r, in);
			}
			continue;
		}
		key = (in->scaler->flags & EM_SCALER_BATCH) ? in->scaler->batch_key(in->inst) : NULL;
		j = job_new(in, key ? EM_REG_MAX_BATCH : 1);
		if (!j) {
			em_poller_schedule(r, in, now + 1000);
			continue;
		}
		if (key)
			gather_batch(r, j, in, key, now);
		enqueue(r, j, now);
	}
	return r->heap_n && r->heap[0]->due_ms < now + 1000 ? r->heap[0]->due_ms : now + 1000;
}

/* mu held: parked requests whose sample did not come in time answer 503;
 * returns the earlier of next and the next deadline. */
static int64_t expire_waiters(struct em_registry *r, int64_t now, int64_t next, struct em_waiter **woken,
			      struct em_instance **to_close)
{
	em_reg_take_waiters(r, waiter_expired, &now, woken, to_close);
	for (struct em_waiter *w = r->waiters; w; w = w->next)
		if (w->deadline_ms < next)
			next = w->deadline_ms;
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

		next = expire_waiters(r, now, next, &woken, &to_close);
		next = grow_if_stalled(r, now, next);
		if (to_close || woken) {
			pthread_mutex_unlock(&r->mu);
			em_reg_wake_list(woken);
			em_reg_close_list(to_close);
			pthread_mutex_lock(&r->mu);
			continue;
		}
		/* Due times are coalesced: one wake-up per EM_REG_TICK_MS at most
		 * polls everything due by then (a request waking a sleeping metric
		 * signals r->wake and is served at once). */
		if (next < now + EM_REG_TICK_MS)
			next = now + EM_REG_TICK_MS;
		reap_workers(r);
		r->sched_next_ms = next;
		em_cond_wait_until(&r->wake, &r->mu, next);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

size_t em_registry_step(struct em_registry *r)
{
	struct em_instance *to_close = NULL;
	struct em_waiter *woken = NULL;
	size_t ran = 0;
	int64_t now = em_mono_ms();

	pthread_mutex_lock(&r->mu);
	schedule(r, now, &to_close);
	for (; r->jobs; ran++)
		run_next(r);
	expire_waiters(r, now, now, &woken, &to_close);
	pthread_mutex_unlock(&r->mu);
	em_reg_wake_list(woken);
	em_reg_close_list(to_close);
	return ran;
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
	for (struct em_worker *w = r->idle_top; w; w = w->next)
		pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&r->mu);
	if (r->sched_started)
		pthread_join(r->sched, NULL);
	/* Workers finish their current fetch (bounded by its timeout); wait a
	 * moment for them and join them, so none is still tearing down its
	 * thread-local state when the process exits; a busy one is left behind. */
	deadline = em_mono_ms() + 1000;
	pthread_mutex_lock(&r->mu);
	while (r->workers > 0 && em_mono_ms() < deadline)
		em_cond_wait_until(&r->results, &r->mu, em_mono_ms() + 100);
	reap_workers(r);
	if (r->workers > 0) {
		pthread_mutex_unlock(&r->mu);
		em_warn("%d poller workers still busy at shutdown; leaving them", r->workers);
		return -1;
	}
	while (r->jobs) {
		struct job *j = r->jobs;
		r->jobs = j->next;
		for (size_t i = 0; i < j->n; i++) {
			j->insts[i]->in_flight = false;
			em_reg_instance_unref(j->insts[i], to_close);
		}
		free(j);
	}
	pthread_mutex_unlock(&r->mu);
	return 0;
}

void em_poller_fetch_now(struct em_registry *r, struct em_instance *in)
{
	struct job *j;

	pthread_mutex_lock(&r->mu);
	j = job_new(in, 1);
	pthread_mutex_unlock(&r->mu);
	if (j) {
		run_fetch(r, j);
		free(j);
	}
}
