/* registry.c - configured metrics, their scaler instances, the poller and its worker pool. */
#include "registry.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "selfmetrics.h"
#include "adapter/util/clock.h"
#include "adapter/util/strbuf.h"

#define MAX_WORKERS 256
#define MAX_SECRETS 16
#define MAX_BATCH 500

struct em_instance {
	struct em_instance *next;
	const struct em_scaler *scaler;
	char *metric_name;
	char *key;                 /* filled-in options; "" when not templated */
	bool templated;
	void *cfg;                 /* parsed scaler options */
	void *inst;                /* scaler instance */
	const char *secrets[MAX_SECRETS];
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
	struct em_instance *insts[MAX_BATCH];
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
	pthread_t sched;
	bool sched_started;
	struct job *jobs, **jobs_tail;
	int workers, idle, queued;  /* queued: jobs not yet taken by a worker */
	struct em_waiter *waiters;  /* requests parked for a first sample */
	unsigned rng;
};

/* ---- instances --------------------------------------------------------- */

static void instance_free(struct em_instance *in)
{
	char labels[512];

	if (!in)
		return;
	if (in->scaler && in->inst)
		in->scaler->close(in->inst);
	if (in->scaler && in->cfg)
		em_options_free(in->scaler->options, in->cfg);
	if (in->prom_labels && !in->keep_series) {
		snprintf(labels, sizeof(labels), "%s", in->prom_labels);
		em_gauge_del("extmetrics_metric_value", labels);
		em_gauge_del("extmetrics_metric_active", labels);
		em_gauge_del("extmetrics_scaler_last_success_timestamp_seconds", labels);
		em_gauge_del("extmetrics_scaler_fetch_errors_total", labels);
	}
	free(in->cfg);
	free(in->metric_name);
	free(in->key);
	free(in->prom_labels);
	em_cache_free(&in->cache);
	free(in);
}

static struct em_instance *instance_new(const struct em_metric_def *def, const struct em_rawopts *filled,
					const char *ns_label, struct em_err *err)
{
	struct em_instance *in = calloc(1, sizeof(*in));
	const char *bad = NULL;
	char e1[256], e2[256], e3[128];

	if (!in) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		return NULL;
	}
	in->scaler = def->scaler;
	in->templated = def->templated;
	in->metric_name = strdup(def->name);
	in->key = def->templated ? em_rawopts_key(filled) : strdup("");
	in->cfg = calloc(1, def->scaler->config_size ? def->scaler->config_size : 1);
	if (!in->metric_name || !in->key || !in->cfg) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		goto fail;
	}
	in->polling_ms = def->polling_ms;
	in->timeout_ms = def->timeout_ms;
	in->idle_ms = def->idle_ms;
	in->policy.stale_ms = def->stale_ms;
	in->policy.has_fallback = def->has_fallback;
	in->policy.fallback_threshold = def->fallback_threshold;
	in->policy.fallback_value = def->fallback_value;
	/* A templated instance's options come from the request: bad values are the
	 * caller's fault (400), not the server's. */
	if (em_options_parse(def->scaler->options, filled, in->cfg, &bad, err) != 0 ||
	    (def->scaler->validate && def->scaler->validate(in->cfg, err) != 0)) {
		err->kind = def->templated ? EM_E_BADREQUEST : EM_E_INTERNAL;
		goto fail;
	}
	in->nsecrets = em_options_secrets(def->scaler->options, in->cfg, in->secrets, MAX_SECRETS);
	in->inst = def->scaler->open(in->cfg, err);
	if (!in->inst) {
		em_scrub(err->msg, sizeof(err->msg), in->secrets, in->nsecrets);
		if (err->kind == EM_OK || err->kind == EM_E_CONFIG)
			err->kind = EM_E_UNAVAILABLE;
		goto fail;
	}
	em_label_escape(ns_label, e1, sizeof(e1));
	em_label_escape(def->name, e2, sizeof(e2));
	em_label_escape(def->scaler->type, e3, sizeof(e3));
	{
		struct em_strbuf sb;
		em_sb_init(&sb);
		em_sb_printf(&sb, "namespace=\"%s\",metric=\"%s\",scaler=\"%s\"", e1, e2, e3);
		if (def->templated) {
			/* Instances of one templated metric differ by their filled-in options. */
			unsigned long h = 5381;
			for (const char *p = in->key; *p; p++)
				h = h * 33 + (unsigned char)*p;
			em_sb_printf(&sb, ",instance=\"%08lx\"", h & 0xffffffffUL);
		}
		in->prom_labels = em_sb_steal(&sb);
	}
	return in;
fail:
	instance_free(in);
	return NULL;
}

/* ---- snapshots --------------------------------------------------------- */

static void to_close_push(struct em_registry *r, struct em_instance *in, struct em_instance **to_close);

static struct em_snapshot *snapshot_new(struct em_config *cfg)
{
	struct em_snapshot *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->refs = 1;
	s->cfg = cfg;
	s->n = cfg->n_metrics;
	s->metrics = calloc(s->n ? s->n : 1, sizeof(*s->metrics));
	if (!s->metrics) {
		free(s);
		return NULL;
	}
	for (size_t i = 0; i < s->n; i++)
		s->metrics[i].def = &cfg->metrics[i];
	return s;
}

/* Called with mu held; instances without references are closed. */
static void snapshot_unref(struct em_registry *r, struct em_snapshot *s, struct em_instance **to_close)
{
	if (!s || --s->refs > 0)
		return;
	for (size_t i = 0; i < s->n; i++) {
		struct em_instance *in = s->metrics[i].instances, *next;
		for (; in; in = next) {
			next = in->next;
			in->dead = true;
			if (in->refs == 0)
				to_close_push(r, in, to_close);
		}
	}
	free(s->metrics);
	em_config_free(s->cfg);
	free(s);
}

/* mu held. True when another instance of the current snapshot publishes
 * under in's labels: closing in must then leave the series alone. */
static bool labels_live(struct em_registry *r, const struct em_instance *in)
{
	for (size_t i = 0; r->snap && in->prom_labels && i < r->snap->n; i++)
		for (struct em_instance *o = r->snap->metrics[i].instances; o; o = o->next)
			if (o != in && o->prom_labels && strcmp(o->prom_labels, in->prom_labels) == 0)
				return true;
	return false;
}

/* mu held: in goes onto the list of instances to close once mu is released. */
static void to_close_push(struct em_registry *r, struct em_instance *in, struct em_instance **to_close)
{
	in->keep_series = labels_live(r, in);
	in->next = *to_close;
	*to_close = in;
}

static void close_list(struct em_instance *list)
{
	while (list) {
		struct em_instance *next = list->next;
		instance_free(list);
		list = next;
	}
}

static void instance_unref(struct em_registry *r, struct em_instance *in, struct em_instance **to_close)
{
	if (--in->refs == 0 && in->dead)
		to_close_push(r, in, to_close);
}

/* mu held: unlinks the waiters that wake_if() picks onto *woken. */
static void take_waiters(struct em_registry *r, bool (*wake_if)(const struct em_waiter *, const void *),
			 const void *arg, struct em_waiter **woken, struct em_instance **to_close)
{
	struct em_waiter **pp = &r->waiters;

	while (*pp) {
		struct em_waiter *w = *pp;
		if (!wake_if(w, arg)) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		instance_unref(r, w->inst, to_close);
		w->inst = NULL;
		w->next = *woken;
		*woken = w;
	}
}

/* Calls wake() of each waiter, mu not held. */
static void wake_list(struct em_waiter *w)
{
	while (w) {
		struct em_waiter *next = w->next;
		w->next = NULL;
		w->wake(w->arg); /* w may be gone after this */
		w = next;
	}
}

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

static bool waiter_any(const struct em_waiter *w, const void *arg)
{
	(void)w;
	(void)arg;
	return true;
}

/* ---- fetching ------------------------------------------------------------ */

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
	} else if (j->n > 1 && sc->fetch_batch) {
		void *insts[MAX_BATCH];
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
	take_waiters(r, waiter_of_job, j, &woken, &to_close);
	for (size_t i = 0; i < j->n; i++)
		instance_unref(r, j->insts[i], &to_close);
	pthread_cond_broadcast(&r->results);
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->mu);
	wake_list(woken);
	for (size_t i = 0; outs && i < j->n; i++)
		em_sample_free(&outs[i]);
	free(outs);
	free(errs);
	free(rcs);
	close_list(to_close);
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
	if (r->workers < MAX_WORKERS) {
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
				to_close_push(r, in, to_close);
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
			key = in->scaler->batch_key ? in->scaler->batch_key(in->inst) : NULL;
			/* Gather every other instance with the same scaler and key that
			 * falls due within half an interval: jitter spreads due times,
			 * and a batch is worth pulling a poll a little forward. */
			for (size_t mj = 0; key && mj < s->n; mj++) {
				for (struct em_instance *o = s->metrics[mj].instances; o && j->n < MAX_BATCH; o = o->next) {
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
		take_waiters(r, waiter_expired, &now, &woken, &to_close);
		for (struct em_waiter *w = r->waiters; w; w = w->next)
			if (w->deadline_ms < next)
				next = w->deadline_ms;
		if (to_close || woken) {
			pthread_mutex_unlock(&r->mu);
			wake_list(woken);
			close_list(to_close);
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

/* ---- public -------------------------------------------------------------- */

/* mu held: creates the instances of non-templated metrics. */
static void create_static_instances(struct em_snapshot *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct em_metric *m = &s->metrics[i];
		struct em_err err = {0};
		struct em_instance *in;

		if (m->def->templated || m->instances)
			continue;
		in = instance_new(m->def, &m->def->raw, "", &err);
		if (!in) {
			em_error("metric %s: cannot start its scaler: %s", m->def->name, err.msg);
			continue;
		}
		in->due_ms = em_mono_ms();
		m->instances = in;
		m->n_instances = 1;
	}
}

struct em_registry *em_registry_new(struct em_config *cfg, bool poll, struct em_err *err)
{
	struct em_registry *r = calloc(1, sizeof(*r));

	if (!r) {
		em_config_free(cfg);
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&r->mu, NULL);
	em_cond_init(&r->results);
	em_cond_init(&r->wake);
	em_cond_init(&r->jobs_cv);
	r->jobs_tail = &r->jobs;
	r->poll = poll;
	r->rng = (unsigned)em_now_ms();
	r->snap = snapshot_new(cfg);
	if (!r->snap) {
		em_config_free(cfg);
		free(r);
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		return NULL;
	}
	if (poll) {
		pthread_mutex_lock(&r->mu);
		create_static_instances(r->snap);
		pthread_mutex_unlock(&r->mu);
		if (pthread_create(&r->sched, NULL, sched_main, r) != 0) {
			em_registry_free(r);
			em_err_set(err, EM_E_INTERNAL, "cannot start the poller");
			return NULL;
		}
		r->sched_started = true;
	}
	return r;
}

void em_registry_free(struct em_registry *r)
{
	struct em_instance *to_close = NULL;
	int64_t deadline;

	if (!r)
		return;
	em_registry_stop(r);
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
		return;
	}
	while (r->jobs) {
		struct job *j = r->jobs;
		r->jobs = j->next;
		for (size_t i = 0; i < j->n; i++)
			instance_unref(r, j->insts[i], &to_close);
		free(j);
	}
	{
		struct em_snapshot *last = r->snap;
		r->snap = NULL;
		snapshot_unref(r, last, &to_close);
	}
	pthread_mutex_unlock(&r->mu);
	close_list(to_close);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->results);
	pthread_cond_destroy(&r->wake);
	pthread_cond_destroy(&r->jobs_cv);
	free(r);
}

void em_registry_reload(struct em_registry *r, struct em_config *cfg)
{
	struct em_snapshot *ns = snapshot_new(cfg), *old;
	struct em_instance *to_close = NULL;
	struct em_waiter *woken = NULL;
	size_t kept = 0;

	if (!ns) {
		em_error("reload: out of memory; keeping the old config");
		em_config_free(cfg);
		return;
	}
	pthread_mutex_lock(&r->mu);
	old = r->snap;
	/* Unchanged definitions keep their instances, and so their cached values. */
	for (size_t i = 0; i < ns->n; i++) {
		for (size_t j = 0; j < old->n; j++) {
			if (!old->metrics[j].instances || strcmp(old->metrics[j].def->fingerprint, ns->metrics[i].def->fingerprint) != 0)
				continue;
			ns->metrics[i].instances = old->metrics[j].instances;
			ns->metrics[i].n_instances = old->metrics[j].n_instances;
			old->metrics[j].instances = NULL;
			old->metrics[j].n_instances = 0;
			kept++;
			break;
		}
	}
	if (r->poll)
		create_static_instances(ns);
	r->snap = ns;
	snapshot_unref(r, old, &to_close);
	/* Parked requests look again: their instance may be gone (no longer
	 * polled) or replaced; the others simply park again. */
	take_waiters(r, waiter_any, NULL, &woken, &to_close);
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->mu);
	wake_list(woken);
	close_list(to_close);
	em_info("config reloaded: %zu metrics, %zu unchanged kept their cache", ns->n, kept);
}

static struct em_metric *find_metric(struct em_snapshot *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->metrics[i].def->name, name) == 0)
			return &s->metrics[i];
	return NULL;
}

/* Synchronous fetch for the `get` command (no poller). mu not held. */
static void fetch_now(struct em_registry *r, struct em_instance *in)
{
	struct job j = {.n = 1};

	j.insts[0] = in;
	pthread_mutex_lock(&r->mu);
	in->in_flight = true;
	in->refs++;
	pthread_mutex_unlock(&r->mu);
	run_fetch(r, &j);
}

/* mu held. Finds or creates the instance serving ns/metric in out->snap and
 * takes a reference on it. 1: the snapshot was replaced while mu was
 * dropped, retry. -1 with err. */
static int find_instance(struct em_registry *r, struct em_metric *m, const char *ns, const char *metric,
			 const struct em_kvlist *sel_eq, struct em_lookup *out, struct em_instance **inp,
			 struct em_instance **to_close, struct em_err *err)
{
	struct em_rawopts filled = {0};
	struct em_instance *in = NULL;
	char *key = NULL;
	int rc = -1;

	if (!m->def->templated) {
		in = m->instances;
		if (!in && !r->poll) {
			pthread_mutex_unlock(&r->mu);
			in = instance_new(m->def, &m->def->raw, "", err);
			pthread_mutex_lock(&r->mu);
			if (!in)
				goto out;
			in->next = m->instances;
			m->instances = in;
			m->n_instances++;
		}
		if (!in) {
			em_err_set(err, EM_E_UNAVAILABLE, "metric %s: its scaler could not be started (see the server log)",
				   metric);
			goto out;
		}
		goto found;
	}
	pthread_mutex_unlock(&r->mu);
	if (em_template_fill(m->def, ns, sel_eq, &filled, err) != 0) {
		pthread_mutex_lock(&r->mu);
		if (err->kind == EM_E_CONFIG)
			err->kind = EM_E_INTERNAL;
		goto out;
	}
	key = em_rawopts_key(&filled);
	pthread_mutex_lock(&r->mu);
	if (!key) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		goto out;
	}
	for (in = m->instances; in; in = in->next)
		if (strcmp(in->key, key) == 0)
			goto found;
	if ((int64_t)m->n_instances >= m->def->max_instances)
		goto too_many;
	pthread_mutex_unlock(&r->mu);
	in = instance_new(m->def, &filled, ns, err);
	pthread_mutex_lock(&r->mu);
	if (!in)
		goto out;
	if (r->snap != out->snap) {
		/* A reload happened meanwhile: this instance would never be polled. */
		to_close_push(r, in, to_close);
		rc = 1;
		goto out;
	}
	/* Another request may have created the same instance meanwhile. */
	for (struct em_instance *o = m->instances; o; o = o->next) {
		if (strcmp(o->key, in->key) == 0) {
			to_close_push(r, in, to_close);
			in = o;
			goto found;
		}
	}
	if ((int64_t)m->n_instances >= m->def->max_instances) {
		to_close_push(r, in, to_close);
		goto too_many;
	}
	in->due_ms = em_mono_ms();
	in->next = m->instances;
	m->instances = in;
	m->n_instances++;
	pthread_cond_signal(&r->wake);
found:
	in->refs++;
	in->last_used_ms = em_mono_ms();
	*inp = in;
	rc = 0;
	goto out;
too_many:
	em_err_set(err, EM_E_TOOMANY, "metric %s already has %lld distinct instances (maxInstances); try again later",
		   metric, (long long)m->def->max_instances);
out:
	em_rawopts_free(&filled);
	free(key);
	return rc;
}

int em_registry_get(struct em_registry *r, const char *ns, const char *metric, const struct em_kvlist *sel_eq,
		    struct em_waiter *w, struct em_lookup *out, struct em_err *err)
{
	struct em_instance *in = NULL, *to_close = NULL;
	struct em_metric *m;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&r->mu);
	for (int attempt = 0;; attempt++) {
		int f;

		out->snap = r->snap;
		out->snap->refs++;
		m = find_metric(out->snap, metric);
		if (!m || !em_metric_allows_ns(m->def, ns)) {
			em_err_set(err, EM_E_NOTFOUND, "the server could not find the metric %s for namespace %s", metric,
				   ns);
			goto out_locked;
		}
		out->def = m->def;
		f = find_instance(r, m, ns, metric, sel_eq, out, &in, &to_close, err);
		if (f < 0)
			goto out_locked;
		if (f == 0)
			break;
		snapshot_unref(r, out->snap, &to_close);
		out->snap = NULL;
		if (attempt == 3) {
			em_err_set(err, EM_E_UNAVAILABLE, "metric %s: the configuration keeps changing; try again", metric);
			goto out_locked;
		}
	}
	if (!r->poll) {
		pthread_mutex_unlock(&r->mu);
		fetch_now(r, in);
		pthread_mutex_lock(&r->mu);
	} else if (in->cache.attempts == 0 && w) {
		/* The very first sample: park the request, without a thread, until
		 * the one in-flight fetch (shared by all waiting requests) ends or
		 * the metric's timeout passes. */
		int64_t now = em_mono_ms();
		if (!w->deadline_ms)
			w->deadline_ms = now + in->timeout_ms;
		if (r->stopping) {
			em_err_set(err, EM_E_UNAVAILABLE, "metric %s: the server is shutting down", metric);
		} else if (now < w->deadline_ms) {
			w->inst = in; /* keeps the reference until woken */
			in = NULL;
			rc = EM_REG_WAIT;
		} else {
			em_err_set(err, EM_E_UNAVAILABLE, "metric %s: no sample yet (first fetch still running after %lldms)",
				   metric, (long long)in->timeout_ms);
		}
		if (in)
			instance_unref(r, in, &to_close);
		goto out_locked;
	} else if (in->cache.attempts == 0) {
		/* No waiter: block this thread instead (same bounds). */
		int64_t deadline = em_mono_ms() + in->timeout_ms;
		while (in->cache.attempts == 0 && !r->stopping && !in->dead)
			if (em_cond_wait_until(&r->results, &r->mu, deadline) != 0)
				break;
		if (in->cache.attempts == 0) {
			em_err_set(err, EM_E_UNAVAILABLE, "metric %s: no sample yet (first fetch still running after %lldms)",
				   metric, (long long)in->timeout_ms);
			instance_unref(r, in, &to_close);
			goto out_locked;
		}
	}
	rc = em_cache_read(&in->cache, &in->policy, em_now_ms(), &out->served, err);
	if (rc != 0)
		em_err_prefix(err, "metric %s", metric);
	instance_unref(r, in, &to_close);
out_locked:
	if (rc != 0 && out->snap) {
		snapshot_unref(r, out->snap, &to_close);
		out->snap = NULL;
		out->def = NULL;
	}
	pthread_mutex_unlock(&r->mu);
	close_list(to_close);
	return rc;
}

void em_registry_wait_arm(struct em_registry *r, struct em_waiter *w)
{
	struct em_instance *to_close = NULL;
	bool now_ready;

	pthread_mutex_lock(&r->mu);
	/* The fetch may have ended between em_registry_get() and now. */
	now_ready = r->stopping || w->inst->cache.attempts > 0 || w->inst->dead || em_mono_ms() >= w->deadline_ms;
	if (now_ready) {
		instance_unref(r, w->inst, &to_close);
		w->inst = NULL;
	} else {
		w->next = r->waiters;
		r->waiters = w;
		pthread_cond_signal(&r->wake); /* its deadline may be the next one due */
	}
	pthread_mutex_unlock(&r->mu);
	close_list(to_close);
	if (now_ready)
		w->wake(w->arg);
}

void em_registry_stop(struct em_registry *r)
{
	struct em_instance *to_close = NULL;
	struct em_waiter *woken = NULL;

	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stopping = true;
	take_waiters(r, waiter_any, NULL, &woken, &to_close);
	pthread_cond_broadcast(&r->wake);
	pthread_cond_broadcast(&r->results);
	pthread_mutex_unlock(&r->mu);
	wake_list(woken);
	close_list(to_close);
}

void em_lookup_release(struct em_registry *r, struct em_lookup *l)
{
	struct em_instance *to_close = NULL;

	if (!l || !l->snap)
		return;
	em_sample_free(&l->served.sample);
	pthread_mutex_lock(&r->mu);
	snapshot_unref(r, l->snap, &to_close);
	pthread_mutex_unlock(&r->mu);
	close_list(to_close);
	l->snap = NULL;
}
