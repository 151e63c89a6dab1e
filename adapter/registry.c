/* registry.c - configured metrics, their scaler instances, the poller and its worker pool. */
#include "registry.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "selfmetrics.h"
#include "strbuf.h"

#define MAX_WORKERS 64
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
	int workers, idle;
	unsigned rng;
};

int64_t em_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t em_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
	if (in->prom_labels) {
		snprintf(labels, sizeof(labels), "%s", in->prom_labels);
		em_gauge_del("extmetrics_metric_value", labels);
		em_gauge_del("extmetrics_metric_active", labels);
		em_gauge_del("extmetrics_scaler_last_success_timestamp_seconds", labels);
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
			if (in->refs == 0) {
				in->next = *to_close;
				*to_close = in;
			}
		}
	}
	free(s->metrics);
	em_config_free(s->cfg);
	free(s);
	(void)r;
}

static void close_list(struct em_instance *list)
{
	while (list) {
		struct em_instance *next = list->next;
		instance_free(list);
		list = next;
	}
}

static void instance_unref(struct em_instance *in, struct em_instance **to_close)
{
	if (--in->refs == 0 && in->dead) {
		in->next = *to_close;
		*to_close = in;
	}
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
			publish(in, &outs[i], true, ctx.now_ms);
			em_cache_success(&in->cache, &outs[i], em_now_ms());
		} else if (errs) {
			if (errs[i].kind == EM_OK)
				em_err_set(&errs[i], EM_E_UNAVAILABLE, "scaler failed without a message");
			em_scrub(errs[i].msg, sizeof(errs[i].msg), in->secrets, in->nsecrets);
			em_cache_failure(&in->cache, &errs[i], em_now_ms());
			publish(in, NULL, false, 0);
			em_debug("metric %s: fetch failed: %s", in->metric_name, errs[i].msg);
		}
		in->in_flight = false;
		in->due_ms = now + in->polling_ms + (jitter ? (int64_t)(rnd % (unsigned)(2 * jitter + 1)) - jitter : 0);
		instance_unref(in, &to_close);
	}
	pthread_cond_broadcast(&r->results);
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->mu);
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
			struct timespec ts;
			int rc;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 60;
			r->idle++;
			rc = pthread_cond_timedwait(&r->jobs_cv, &r->mu, &ts);
			r->idle--;
			if (rc != 0 && !r->jobs && r->workers > 2)
				goto out; /* idle for a minute: shrink the pool */
		}
		if (!r->jobs)
			goto out;
		j = r->jobs;
		r->jobs = j->next;
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
	if (r->idle > 0) {
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
				in->next = *to_close;
				*to_close = in;
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
		int64_t now = em_mono_ms(), next = schedule(r, now, &to_close);
		struct timespec ts;
		int64_t wait = next - now, wall;

		if (to_close) {
			pthread_mutex_unlock(&r->mu);
			close_list(to_close);
			pthread_mutex_lock(&r->mu);
			continue;
		}
		if (wait < 1)
			wait = 1;
		wall = em_now_ms() + wait;
		ts.tv_sec = wall / 1000;
		ts.tv_nsec = (wall % 1000) * 1000000;
		pthread_cond_timedwait(&r->wake, &r->mu, &ts);
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
	pthread_cond_init(&r->results, NULL);
	pthread_cond_init(&r->wake, NULL);
	pthread_cond_init(&r->jobs_cv, NULL);
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
	pthread_mutex_lock(&r->mu);
	r->stopping = true;
	pthread_cond_broadcast(&r->wake);
	pthread_cond_broadcast(&r->jobs_cv);
	pthread_mutex_unlock(&r->mu);
	if (r->sched_started)
		pthread_join(r->sched, NULL);
	/* Workers finish their current fetch (bounded by its timeout); wait a
	 * little for them, then leave any hung one behind (the process exits). */
	deadline = em_mono_ms() + 5000;
	pthread_mutex_lock(&r->mu);
	while (r->workers > 0 && em_mono_ms() < deadline) {
		struct timespec ts;
		int64_t wall = em_now_ms() + 100;
		ts.tv_sec = wall / 1000;
		ts.tv_nsec = (wall % 1000) * 1000000;
		pthread_cond_timedwait(&r->results, &r->mu, &ts);
	}
	if (r->workers > 0) {
		pthread_mutex_unlock(&r->mu);
		em_warn("%d poller workers still busy at shutdown; leaving them", r->workers);
		return;
	}
	while (r->jobs) {
		struct job *j = r->jobs;
		r->jobs = j->next;
		for (size_t i = 0; i < j->n; i++)
			instance_unref(j->insts[i], &to_close);
		free(j);
	}
	snapshot_unref(r, r->snap, &to_close);
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
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->mu);
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

int em_registry_get(struct em_registry *r, const char *ns, const char *metric, const struct em_kvlist *sel_eq,
		    struct em_lookup *out, struct em_err *err)
{
	struct em_instance *in = NULL, *to_close = NULL;
	struct em_rawopts filled = {0};
	struct em_metric *m;
	char *key = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&r->mu);
	out->snap = r->snap;
	out->snap->refs++;
	m = find_metric(out->snap, metric);
	if (!m || !em_metric_allows_ns(m->def, ns)) {
		em_err_set(err, EM_E_NOTFOUND, "the server could not find the metric %s for namespace %s", metric, ns);
		goto out_locked;
	}
	out->def = m->def;
	if (!m->def->templated) {
		in = m->instances;
		if (!in && !r->poll) {
			pthread_mutex_unlock(&r->mu);
			in = instance_new(m->def, &m->def->raw, "", err);
			pthread_mutex_lock(&r->mu);
			if (!in)
				goto out_locked;
			in->next = m->instances;
			m->instances = in;
			m->n_instances++;
		}
		if (!in) {
			em_err_set(err, EM_E_UNAVAILABLE, "metric %s: its scaler could not be started (see the server log)",
				   metric);
			goto out_locked;
		}
	} else {
		pthread_mutex_unlock(&r->mu);
		if (em_template_fill(m->def, ns, sel_eq, &filled, err) != 0) {
			pthread_mutex_lock(&r->mu);
			if (err->kind == EM_E_CONFIG)
				err->kind = EM_E_INTERNAL;
			goto out_locked;
		}
		key = em_rawopts_key(&filled);
		pthread_mutex_lock(&r->mu);
		for (in = m->instances; in && key; in = in->next)
			if (strcmp(in->key, key) == 0)
				break;
		if (!in) {
			if ((int64_t)m->n_instances >= m->def->max_instances) {
				em_err_set(err, EM_E_TOOMANY,
					   "metric %s already has %lld distinct instances (maxInstances); try again later",
					   metric, (long long)m->def->max_instances);
				goto out_locked;
			}
			pthread_mutex_unlock(&r->mu);
			in = instance_new(m->def, &filled, ns, err);
			pthread_mutex_lock(&r->mu);
			if (!in)
				goto out_locked;
			/* Another request may have created the same instance meanwhile. */
			bool raced = false;
			for (struct em_instance *o = m->instances; o; o = o->next) {
				if (strcmp(o->key, in->key) == 0) {
					in->next = to_close;
					to_close = in;
					in = o;
					raced = true;
					break;
				}
			}
			if (!raced) {
				in->due_ms = em_mono_ms();
				in->next = m->instances;
				m->instances = in;
				m->n_instances++;
				pthread_cond_signal(&r->wake);
			}
		}
	}
	in->refs++;
	in->last_used_ms = em_mono_ms();
	if (!r->poll) {
		pthread_mutex_unlock(&r->mu);
		fetch_now(r, in);
		pthread_mutex_lock(&r->mu);
	} else if (in->cache.attempts == 0) {
		/* The very first sample: wait for the one in-flight fetch, shared by
		 * every waiting request, up to the metric's timeout. */
		int64_t deadline = em_now_ms() + in->timeout_ms;
		while (in->cache.attempts == 0 && !r->stopping) {
			struct timespec ts = {.tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000};
			if (pthread_cond_timedwait(&r->results, &r->mu, &ts) != 0)
				break;
		}
		if (in->cache.attempts == 0) {
			em_err_set(err, EM_E_UNAVAILABLE, "metric %s: no sample yet (first fetch still running after %lldms)",
				   metric, (long long)in->timeout_ms);
			instance_unref(in, &to_close);
			goto out_locked;
		}
	}
	rc = em_cache_read(&in->cache, &in->policy, em_now_ms(), &out->served, err);
	if (rc != 0)
		em_err_prefix(err, "metric %s", metric);
	instance_unref(in, &to_close);
out_locked:
	if (rc != 0) {
		snapshot_unref(r, out->snap, &to_close);
		out->snap = NULL;
		out->def = NULL;
	}
	pthread_mutex_unlock(&r->mu);
	close_list(to_close);
	em_rawopts_free(&filled);
	free(key);
	return rc;
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
