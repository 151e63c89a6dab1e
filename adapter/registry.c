/* registry.c - configured metrics, their scaler instances, config reloads and the requests waiting for a first sample. */
#include "registry_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "selfmetrics.h"
#include "adapter/util/clock.h"
#include "adapter/util/strbuf.h"

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
		goto out;
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
		goto out;
	}
	in->nsecrets = em_options_secrets(def->scaler->options, in->cfg, in->secrets, EM_REG_MAX_SECRETS);
	in->inst = def->scaler->open(in->cfg, err);
	if (!in->inst) {
		em_scrub(err->msg, sizeof(err->msg), in->secrets, in->nsecrets);
		if (err->kind == EM_OK || err->kind == EM_E_CONFIG)
			err->kind = EM_E_UNAVAILABLE;
		goto out;
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
out:
	instance_free(in);
	return NULL;
}

/* ---- snapshots --------------------------------------------------------- */

void em_reg_to_close_push(struct em_registry *r, struct em_instance *in, struct em_instance **to_close);

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
				em_reg_to_close_push(r, in, to_close);
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
void em_reg_to_close_push(struct em_registry *r, struct em_instance *in, struct em_instance **to_close)
{
	in->keep_series = labels_live(r, in);
	in->next = *to_close;
	*to_close = in;
}

void em_reg_close_list(struct em_instance *list)
{
	while (list) {
		struct em_instance *next = list->next;
		instance_free(list);
		list = next;
	}
}

void em_reg_instance_unref(struct em_registry *r, struct em_instance *in, struct em_instance **to_close)
{
	if (--in->refs == 0 && in->dead)
		em_reg_to_close_push(r, in, to_close);
}

/* mu held: unlinks the waiters that wake_if() picks onto *woken. */
void em_reg_take_waiters(struct em_registry *r, bool (*wake_if)(const struct em_waiter *, const void *),
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
		em_reg_instance_unref(r, w->inst, to_close);
		w->inst = NULL;
		w->next = *woken;
		*woken = w;
	}
}

/* Calls wake() of each waiter, mu not held. */
void em_reg_wake_list(struct em_waiter *w)
{
	while (w) {
		struct em_waiter *next = w->next;
		w->next = NULL;
		w->wake(w->arg); /* w may be gone after this */
		w = next;
	}
}

static bool waiter_any(const struct em_waiter *w, const void *arg)
{
	(void)w;
	(void)arg;
	return true;
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
		if (em_poller_start(r) != 0) {
			em_registry_free(r);
			em_err_set(err, EM_E_INTERNAL, "cannot start the poller");
			return NULL;
		}
	}
	return r;
}

void em_registry_free(struct em_registry *r)
{
	struct em_instance *to_close = NULL;
	struct em_snapshot *last;

	if (!r)
		return;
	em_registry_stop(r);
	/* Busy workers are left behind (the process exits); their instances too. */
	if (em_poller_stop(r, &to_close) != 0)
		return;
	pthread_mutex_lock(&r->mu);
	last = r->snap;
	r->snap = NULL;
	snapshot_unref(r, last, &to_close);
	pthread_mutex_unlock(&r->mu);
	em_reg_close_list(to_close);
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
	em_reg_take_waiters(r, waiter_any, NULL, &woken, &to_close);
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->mu);
	em_reg_wake_list(woken);
	em_reg_close_list(to_close);
	em_info("config reloaded: %zu metrics, %zu unchanged kept their cache", ns->n, kept);
}

static struct em_metric *find_metric(struct em_snapshot *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->metrics[i].def->name, name) == 0)
			return &s->metrics[i];
	return NULL;
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
		em_reg_to_close_push(r, in, to_close);
		rc = 1;
		goto out;
	}
	/* Another request may have created the same instance meanwhile. */
	for (struct em_instance *o = m->instances; o; o = o->next) {
		if (strcmp(o->key, in->key) == 0) {
			em_reg_to_close_push(r, in, to_close);
			in = o;
			goto found;
		}
	}
	if ((int64_t)m->n_instances >= m->def->max_instances) {
		em_reg_to_close_push(r, in, to_close);
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
		em_poller_fetch_now(r, in);
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
			em_reg_instance_unref(r, in, &to_close);
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
			em_reg_instance_unref(r, in, &to_close);
			goto out_locked;
		}
	}
	rc = em_cache_read(&in->cache, &in->policy, em_now_ms(), &out->served, err);
	if (rc != 0)
		em_err_prefix(err, "metric %s", metric);
	em_reg_instance_unref(r, in, &to_close);
out_locked:
	if (rc != 0 && out->snap) {
		snapshot_unref(r, out->snap, &to_close);
		out->snap = NULL;
		out->def = NULL;
	}
	pthread_mutex_unlock(&r->mu);
	em_reg_close_list(to_close);
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
		em_reg_instance_unref(r, w->inst, &to_close);
		w->inst = NULL;
	} else {
		w->next = r->waiters;
		r->waiters = w;
		pthread_cond_signal(&r->wake); /* its deadline may be the next one due */
	}
	pthread_mutex_unlock(&r->mu);
	em_reg_close_list(to_close);
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
	em_reg_take_waiters(r, waiter_any, NULL, &woken, &to_close);
	pthread_cond_broadcast(&r->wake);
	pthread_cond_broadcast(&r->results);
	pthread_mutex_unlock(&r->mu);
	em_reg_wake_list(woken);
	em_reg_close_list(to_close);
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
	em_reg_close_list(to_close);
	l->snap = NULL;
}
