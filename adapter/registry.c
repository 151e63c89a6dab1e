/* registry.c - configured metrics, their scaler instances, config reloads and the requests waiting for a first sample. */
#include "registry_int.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "selfmetrics.h"
#include "adapter/util/clock.h"
#include "adapter/util/strbuf.h"
#include "adapter/util/text.h"

/* kube-apiserver gives up on a proxied request after 60 s (its default
 * request deadline): a request waiting for a first sample is answered before
 * that, whatever the metric's timeout, so the caller sees our 503 text. */
#define MAX_FIRST_WAIT_MS 50000

/* ---- instances --------------------------------------------------------- */

/* Every per-metric series has the labels metric, metric_namespace, scaler
 * (and metric_instance for a templated metric's instances): never
 * `namespace` nor `instance`, which a Prometheus Operator scrape sets to the
 * target's own (README: Own metrics). */
static struct em_sm_family fam_value =
	EM_SM_FAMILY(EM_SM_GAUGE, "extmetrics_metric_value",
		     "The value served for the metric: the last good one, or the fallback (0 while not active; NaN while "
		     "nothing is served).");
static struct em_sm_family fam_active =
	EM_SM_FAMILY(EM_SM_GAUGE, "extmetrics_metric_active", "1 when the value served is active (above activation).");
static struct em_sm_family fam_state =
	EM_SM_FAMILY(EM_SM_GAUGE, "extmetrics_metric_state",
		     "1 for the metric's current state (pending, ok, stale, fallback, failing, idle): one series per metric.");
static struct em_sm_family fam_last_success =
	EM_SM_FAMILY(EM_SM_GAUGE, "extmetrics_scaler_last_success_timestamp_seconds",
		     "Unix time of the last successful fetch (0: none yet).");
static struct em_sm_family fam_last_error =
	EM_SM_FAMILY(EM_SM_GAUGE, "extmetrics_scaler_last_error_timestamp_seconds",
		     "Unix time of the last failed fetch (0: none yet).");
static struct em_sm_family fam_errors =
	EM_SM_FAMILY(EM_SM_COUNTER, "extmetrics_scaler_fetch_errors_total", "Failed scaler fetches.");
static struct em_sm_family fam_fetch_last =
	EM_SM_FAMILY(EM_SM_GAUGE, "extmetrics_scaler_last_fetch_duration_seconds",
		     "How long the metric's last fetch took (for a batch: the whole batch); NaN before the first.");
static struct em_sm_family fam_fetch_seconds =
	EM_SM_FAMILY(EM_SM_HISTOGRAM, "extmetrics_scaler_fetch_duration_seconds", "Time a scaler fetch (or batch) took.");

/* The own series of a new instance, held from here until instance_free,
 * each present from the start: counters at 0, times at 0, the value NaN
 * until something is served, the state pending. */
static int series_acquire(struct em_inst_series *sm, const char *labels, const char *scaler_type)
{
	char ty[64], hl[80];

	sm->labels = strdup(labels);
	if (!sm->labels)
		return -1;
	sm->value = em_sm_acquire(&fam_value, labels);
	sm->active = em_sm_acquire(&fam_active, labels);
	sm->last_success = em_sm_acquire(&fam_last_success, labels);
	sm->last_error = em_sm_acquire(&fam_last_error, labels);
	sm->errors = em_sm_acquire(&fam_errors, labels);
	sm->fetch_last = em_sm_acquire(&fam_fetch_last, labels);
	em_label_escape(scaler_type, ty, sizeof(ty));
	snprintf(hl, sizeof(hl), "scaler=\"%s\"", ty);
	sm->fetch_seconds = em_sm_series(&fam_fetch_seconds, hl);
	em_sm_set(sm->value, NAN);
	em_sm_set(sm->active, 0);
	em_sm_set(sm->last_success, 0);
	em_sm_set(sm->last_error, 0);
	em_sm_add(sm->errors, 0);
	em_sm_set(sm->fetch_last, NAN);
	return 0;
}

/* The series of labels with state st, held by the caller (em_sm_release). */
static struct em_sm_series *state_series(const char *labels, enum em_state st)
{
	struct em_strbuf sb;
	struct em_sm_series *s;

	em_sb_init(&sb);
	em_sb_printf(&sb, "%s,state=\"%s\"", labels, em_state_name(st));
	s = sb.buf ? em_sm_acquire(&fam_state, sb.buf) : NULL;
	em_sb_free(&sb);
	em_sm_set(s, 1);
	return s;
}

static void series_release(struct em_inst_series *sm)
{
	em_sm_release(sm->value);
	em_sm_release(sm->active);
	em_sm_release(sm->last_success);
	em_sm_release(sm->last_error);
	em_sm_release(sm->errors);
	em_sm_release(sm->fetch_last);
	em_sm_release(sm->state);
	free(sm->labels);
	memset(sm, 0, sizeof(*sm));
}

/* The label set of a metric's series: metric_namespace is the namespace a
 * templated instance serves, or the namespaces a metric is served to
 * ("team-a,team-b", "*"). */
static char *series_labels(const struct em_metric_def *def, const char *ns, const char *id)
{
	struct em_strbuf sb, nss;
	char e[256];

	em_sb_init(&sb);
	em_sb_init(&nss);
	if (def->templated) {
		em_sb_puts(&nss, ns);
	} else {
		for (size_t i = 0; i < def->n_namespaces; i++)
			em_sb_printf(&nss, "%s%s", i ? "," : "", def->namespaces[i]);
	}
	em_label_escape(def->name, e, sizeof(e));
	em_sb_printf(&sb, "metric=\"%s\"", e);
	em_label_escape(nss.buf ? nss.buf : "", e, sizeof(e));
	em_sb_printf(&sb, ",metric_namespace=\"%s\"", e);
	em_label_escape(def->scaler->type, e, sizeof(e));
	em_sb_printf(&sb, ",scaler=\"%s\"", e);
	if (def->templated)
		em_sb_printf(&sb, ",metric_instance=\"%s\"", id);
	em_sb_free(&nss);
	return em_sb_steal(&sb);
}

/* ---- states ------------------------------------------------------------- */

enum em_state em_reg_instance_state(const struct em_instance *in, int64_t now_ms, double *value, bool *active)
{
	enum em_state st;

	if (in->cache.attempts < in->wait_attempts && !in->sleeping) {
		/* a first fetch (or the first after idling) is on its way */
		if (value)
			*value = NAN;
		if (active)
			*active = false;
		return EM_STATE_PENDING;
	}
	/* idle: the cached value, which the next request waits to replace */
	st = em_cache_state(&in->cache, &in->policy, now_ms, value, active);
	return in->sleeping ? EM_STATE_IDLE : st;
}

/* "m", or "m (namespace team-a, instance 1a2b3c4d)" for a templated instance. */
static void who(const struct em_instance *in, char *out, size_t cap)
{
	if (in->templated)
		snprintf(out, cap, "%s (namespace %s, instance %s)", in->metric_name, in->ns, in->id);
	else
		snprintf(out, cap, "%s", in->metric_name);
}

/* The line for a trouble that began, changed or goes on. */
static void log_trouble(const struct em_instance *in, enum em_state st, bool still, int64_t now_ms)
{
	const struct em_cache *c = &in->cache;
	const char *why = c->failures > 0 && c->last_err ? c->last_err : "no new sample arrived";
	long long age = (long long)((now_ms - c->sample_ms) / 1000), fails = (long long)c->failures;
	long long since = (long long)((now_ms - c->fail_since_ms) / 1000);
	char name[300];

	who(in, name, sizeof(name));
	if (still) {
		em_warn("metric %s: still %s (%lld failed fetches in a row, for %llds): %s", name,
			st == EM_STATE_STALE ? "serving its last good value" : st == EM_STATE_FALLBACK ?
			"serving the fallback value" : "unavailable (503)", fails, since, why);
	} else if (st == EM_STATE_STALE) {
		em_warn("metric %s: fetch failed: %s; serving the last good value (%llds old) until it is %llds old "
			"(staleAfter)", name, why, age, (long long)(in->policy.stale_ms / 1000));
	} else if (st == EM_STATE_FALLBACK) {
		em_warn("metric %s: serving the fallback value %g after %lld failed fetches in a row: %s", name,
			in->policy.fallback_value, fails, why);
	} else if (c->has_value) {
		em_warn("metric %s: unavailable (503): the last good value is %llds old, past staleAfter (%llds): %s", name,
			age, (long long)(in->policy.stale_ms / 1000), why);
	} else {
		em_warn("metric %s: unavailable (503), no value yet: fetch failed: %s", name, why);
	}
}

void em_reg_state_update(struct em_registry *r, struct em_instance *in)
{
	int64_t now = em_now_ms();
	double v;
	bool on;
	enum em_state st = em_reg_instance_state(in, now, &v, &on), was = in->state;
	enum em_note note;
	char name[300];

	if (in->dead)
		return;   /* its series go with it; a replacement speaks for the metric */
	if (st != EM_STATE_IDLE) {
		em_sm_set(in->sm.value, v);
		em_sm_set(in->sm.active, on ? 1 : 0);
	}
	if (st != was || !in->sm.state) {
		struct em_sm_series *s = state_series(in->sm.labels, st);
		if (s) {
			em_sm_release(in->sm.state);
			in->sm.state = s;
		}
	}
	in->state = st;
	if (r->mode == EM_REG_ON_GET)
		return;   /* `get` prints the outcome itself */
	note = em_note_change(&in->note, was, st, em_mono_ms());
	if (note == EM_NOTE_NONE)
		return;
	if (note == EM_NOTE_TROUBLE || note == EM_NOTE_STILL) {
		log_trouble(in, st, note == EM_NOTE_STILL, now);
		return;
	}
	who(in, name, sizeof(name));
	if (note == EM_NOTE_RECOVERED && st == EM_STATE_IDLE)
		em_info("metric %s: idle (no request lately) while %s: not polled until asked for again", name,
			em_state_name(was));
	else if (note == EM_NOTE_RECOVERED)
		em_info("metric %s: recovered (the trouble began %llds ago)", name,
			(long long)((now - in->cache.fail_since_ms) / 1000));
	else
		em_debug("metric %s: %s -> %s", name, em_state_name(was), em_state_name(st));
}

static void instance_free(struct em_instance *in)
{
	if (!in)
		return;
	if (in->scaler && in->inst)
		in->scaler->close(in->inst);
	if (in->scaler && in->cfg)
		em_options_free(in->scaler->options, in->cfg);
	series_release(&in->sm);
	free(in->cfg);
	free(in->secrets);
	free(in->metric_name);
	free(in->ns);
	free(in->key);
	em_cache_free(&in->cache);
	free(in);
}

static struct em_instance *instance_new(const struct em_metric_def *def, const struct em_rawopts *filled,
					const char *ns_label, struct em_err *err)
{
	struct em_instance *in = calloc(1, sizeof(*in));
	const char *secrets[EM_REG_MAX_SECRETS];
	struct em_optdiag d;
	char *labels = NULL;
	struct em_secret_scope scope;

	if (!in) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		return NULL;
	}
	in->scaler = def->scaler;
	in->templated = def->templated;
	in->demand = def->templated || def->polling == EM_POLL_DEMAND;
	in->heap_idx = EM_REG_UNSCHEDULED;
	in->wait_attempts = 1;
	in->metric_name = strdup(def->name);
	in->key = def->templated ? em_rawopts_key(filled) : strdup("");
	in->ns = strdup(ns_label);
	in->cfg = calloc(1, def->scaler->config_size ? def->scaler->config_size : 1);
	if (!in->metric_name || !in->key || !in->ns || !in->cfg) {
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
	em_optdiag_to_err(&d, err);
	if (em_options_parse(def->scaler->options, filled, in->cfg, &d) != 0 ||
	    (def->scaler->validate && def->scaler->validate(in->cfg, &d) != 0)) {
		err->kind = def->templated ? EM_E_BADREQUEST : EM_E_INTERNAL;
		goto out;
	}
	in->nsecrets = em_options_secrets(def->scaler->options, in->cfg, secrets, EM_REG_MAX_SECRETS);
	if (in->nsecrets) {
		in->secrets = calloc(in->nsecrets, sizeof(*in->secrets));
		if (!in->secrets) {
			em_err_set(err, EM_E_INTERNAL, "out of memory");
			goto out;
		}
		memcpy(in->secrets, secrets, in->nsecrets * sizeof(*secrets));
	}
	em_secret_scope_enter(&scope, in->secrets, in->nsecrets);
	in->inst = def->scaler->open(in->cfg, err);
	em_secret_scope_leave(&scope);
	if (!in->inst) {
		em_scrub(err->msg, sizeof(err->msg), in->secrets, in->nsecrets);
		if (err->kind == EM_OK || err->kind == EM_E_CONFIG)
			err->kind = EM_E_UNAVAILABLE;
		goto out;
	}
	if (def->templated) {
		/* Instances of one templated metric differ by their filled-in options. */
		unsigned long h = 5381;
		for (const char *p = in->key; *p; p++)
			h = h * 33 + (unsigned char)*p;
		snprintf(in->id, sizeof(in->id), "%08lx", h & 0xffffffffUL);
	}
	labels = series_labels(def, ns_label, in->id);
	if (!labels || series_acquire(&in->sm, labels, def->scaler->type) != 0) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		goto out;
	}
	free(labels);
	return in;
out:
	free(labels);
	instance_free(in);
	return NULL;
}

/* ---- snapshots --------------------------------------------------------- */

/* An open-addressing index of n strings (name(i)), 1 + i per slot. */
static uint32_t *index_build(size_t n, size_t *nslots, const char *(*name)(const void *, size_t), const void *arg)
{
	size_t cap = 16;
	uint32_t *ix;

	while (cap < 2 * n)
		cap *= 2;
	ix = calloc(cap, sizeof(*ix));
	if (!ix)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *k = name(arg, i);
		size_t at;
		if (!k)
			continue;
		for (at = em_hash_str(k) & (cap - 1); ix[at]; at = (at + 1) & (cap - 1))
			;
		ix[at] = (uint32_t)(i + 1);
	}
	*nslots = cap;
	return ix;
}

/* The first index entry from hash(key) for which eq(i) holds, or -1. */
static long index_find(const uint32_t *ix, size_t cap, const char *key, bool (*eq)(const void *, size_t, const char *),
		       const void *arg)
{
	for (size_t at = em_hash_str(key) & (cap - 1); ix[at]; at = (at + 1) & (cap - 1))
		if (eq(arg, ix[at] - 1, key))
			return (long)ix[at] - 1;
	return -1;
}

static const char *metric_name_of(const void *arg, size_t i)
{
	return ((const struct em_snapshot *)arg)->metrics[i].def->name;
}

static bool metric_name_is(const void *arg, size_t i, const char *key)
{
	const char *n = metric_name_of(arg, i);

	return n && strcmp(n, key) == 0;
}

/* A computed metric's options and state, made once per snapshot (the config
 * was validated: a failure here is logged and the metric answers 503). */
static void computed_open(struct em_metric *m)
{
	const struct em_scaler *sc = m->def->scaler;
	struct em_err err = {0};
	struct em_optdiag d;

	em_optdiag_to_err(&d, &err);
	m->ccfg = calloc(1, sc->config_size ? sc->config_size : 1);
	if (!m->ccfg || em_options_parse(sc->options, &m->def->raw, m->ccfg, &d) != 0 ||
	    (sc->validate && sc->validate(m->ccfg, &d) != 0) || !(m->cinst = sc->open(m->ccfg, &err)))
		em_error("metric %s: %s", m->def->name, err.msg[0] ? err.msg : "out of memory");
}

static void computed_close(struct em_metric *m)
{
	const struct em_scaler *sc = m->def->scaler;

	if (m->cinst)
		sc->close(m->cinst);
	if (m->ccfg)
		em_options_free(sc->options, m->ccfg);
	free(m->ccfg);
	m->ccfg = m->cinst = NULL;
}

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
	s->index = index_build(s->n, &s->nindex, metric_name_of, s);
	if (!s->index) {
		free(s->metrics);
		free(s);
		return NULL;
	}
	for (size_t i = 0; i < s->n; i++)
		if (cfg->metrics[i].scaler->flags & EM_SCALER_COMPUTED)
			computed_open(&s->metrics[i]);
	return s;
}

/* mu held: in leaves the schedule and may be closed once its references are gone. */
static void instance_kill(struct em_registry *r, struct em_instance *in, struct em_instance **to_close)
{
	in->dead = true;
	em_poller_unschedule(r, in);
	/* A fetch in flight may keep it a while: its state is no longer the metric's. */
	em_sm_release(in->sm.state);
	in->sm.state = NULL;
	if (in->refs == 0)
		em_reg_to_close_push(in, to_close);
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
			instance_kill(r, in, to_close);
		}
		computed_close(&s->metrics[i]);
		free(s->metrics[i].open_err);
		em_sm_release(s->metrics[i].open_state);
	}
	free(s->index);
	free(s->metrics);
	em_config_free(s->cfg);
	free(s);
}

/* mu held: in goes onto the list of instances to close once mu is released. */
void em_reg_to_close_push(struct em_instance *in, struct em_instance **to_close)
{
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

void em_reg_instance_unref(struct em_instance *in, struct em_instance **to_close)
{
	if (--in->refs == 0 && in->dead)
		em_reg_to_close_push(in, to_close);
}

void em_reg_unlink(struct em_registry *r, struct em_instance *in)
{
	long i = index_find(r->snap->index, r->snap->nindex, in->metric_name, metric_name_is, r->snap);
	struct em_metric *m = i >= 0 ? &r->snap->metrics[i] : NULL;

	for (struct em_instance **pp = m ? &m->instances : NULL; pp && *pp; pp = &(*pp)->next) {
		if (*pp == in) {
			*pp = in->next;
			m->n_instances--;
			break;
		}
	}
	in->next = NULL;
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
		em_reg_instance_unref(w->inst, to_close);
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

/* mu held (or the registry not yet shared). A new instance of a
 * non-templated metric: an eager one is due now, a demand one sleeps until
 * it is asked for. */
static void instance_start(struct em_registry *r, struct em_instance *in, int64_t now)
{
	if (in->demand)
		in->sleeping = true;
	else
		em_poller_schedule(r, in, now);
	em_reg_state_update(r, in);
}

/* mu held: a request asks for in. A sleeping instance is polled again, and
 * the request waits for that fetch (as for a first sample). */
static void instance_touch(struct em_registry *r, struct em_instance *in, int64_t now)
{
	in->last_used_ms = now;
	if (!in->sleeping)
		return;
	in->sleeping = false;
	in->wait_attempts = in->cache.attempts + 1;
	em_reg_state_update(r, in);
	em_poller_schedule(r, in, now);
	pthread_cond_signal(&r->wake);
}

/* Creates the instance of every non-templated metric i of s with need[i]
 * (NULL: all), without the registry's lock (opening a scaler may block). */
static void create_static_instances(struct em_snapshot *s, const bool *need)
{
	for (size_t i = 0; i < s->n; i++) {
		struct em_metric *m = &s->metrics[i];
		struct em_err err = {0};
		struct em_instance *in;

		if (m->def->templated || m->instances || (need && !need[i]) || (m->def->scaler->flags & EM_SCALER_COMPUTED))
			continue;
		in = instance_new(m->def, &m->def->raw, "", &err);
		if (!in) {
			char *labels = series_labels(m->def, "", "");
			em_error("metric %s: cannot start its scaler: %s", m->def->name, err.msg);
			m->open_err = strdup(err.msg);
			m->open_state = labels ? state_series(labels, EM_STATE_FAILING) : NULL;
			free(labels);
			continue;
		}
		m->instances = in;
		m->n_instances = 1;
	}
}

struct em_registry *em_registry_new(struct em_config *cfg, enum em_reg_mode mode, struct em_err *err)
{
	struct em_registry *r = calloc(1, sizeof(*r));

	if (!r) {
		em_config_free(cfg);
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&r->mu, NULL);
	pthread_mutex_init(&r->reload_mu, NULL);
	em_cond_init(&r->results);
	em_cond_init(&r->wake);
	r->jobs_tail = &r->jobs;
	r->mode = mode;
	r->rng = (unsigned)em_now_ms();
	r->snap = snapshot_new(cfg);
	if (!r->snap) {
		em_config_free(cfg);
		pthread_mutex_destroy(&r->reload_mu);
		pthread_mutex_destroy(&r->mu);
		free(r);
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		return NULL;
	}
	if (mode != EM_REG_ON_GET) {
		int64_t now = em_mono_ms();
		create_static_instances(r->snap, NULL);
		pthread_mutex_lock(&r->mu);
		for (size_t i = 0; i < r->snap->n; i++)
			if (r->snap->metrics[i].instances)
				instance_start(r, r->snap->metrics[i].instances, now);
		pthread_mutex_unlock(&r->mu);
		if (mode == EM_REG_POLL && em_poller_start(r) != 0) {
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
	free(r->heap);
	pthread_mutex_destroy(&r->mu);
	pthread_mutex_destroy(&r->reload_mu);
	pthread_cond_destroy(&r->results);
	pthread_cond_destroy(&r->wake);
	free(r);
}

static const char *fingerprint_of(const void *arg, size_t i)
{
	return ((const struct em_snapshot *)arg)->metrics[i].def->fingerprint;
}

/* Matches only an entry not yet taken by an earlier new metric (taken[]). */
struct fp_match {
	const struct em_snapshot *old;
	const bool *taken;
};

static bool fingerprint_free_is(const void *arg, size_t i, const char *key)
{
	const struct fp_match *fm = arg;
	const char *f = fm->old->metrics[i].def->fingerprint;

	return !fm->taken[i] && f && strcmp(f, key) == 0;
}

/* Reloads run one at a time (reload_mu). What may block or takes time
 * (matching 10,000 definitions, opening new scalers) happens without mu;
 * under mu only pointers move, so requests never wait on a reload. */
void em_registry_reload(struct em_registry *r, struct em_config *cfg)
{
	struct em_snapshot *ns = snapshot_new(cfg), *old;
	struct em_instance *to_close = NULL;
	struct em_waiter *woken = NULL;
	uint32_t *fpix = NULL;
	size_t nfp = 0, kept = 0;
	long *match = NULL;
	bool *taken = NULL, *need = NULL;
	int64_t now;

	if (!ns) {
		em_error("reload: out of memory; keeping the old config");
		em_config_free(cfg);
		return;
	}
	pthread_mutex_lock(&r->reload_mu);
	pthread_mutex_lock(&r->mu);
	old = r->snap;
	old->refs++;
	pthread_mutex_unlock(&r->mu);
	/* Only reloads replace the snapshot or a non-templated metric's
	 * instance: both are stable here, without mu. */
	match = calloc(ns->n ? ns->n : 1, sizeof(*match));
	taken = calloc(old->n ? old->n : 1, sizeof(*taken));
	need = calloc(ns->n ? ns->n : 1, sizeof(*need));
	fpix = index_build(old->n, &nfp, fingerprint_of, old);
	if (!match || !taken || !need || !fpix) {
		em_error("reload: out of memory; keeping the old config");
		pthread_mutex_lock(&r->mu);
		snapshot_unref(r, old, &to_close);
		snapshot_unref(r, ns, &to_close);
		pthread_mutex_unlock(&r->mu);
		em_reg_close_list(to_close);
		goto out;
	}
	/* Unchanged definitions keep their instances, and so their cached values. */
	for (size_t i = 0; i < ns->n; i++) {
		struct fp_match fm = {old, taken};
		const char *fp = ns->metrics[i].def->fingerprint;
		match[i] = fp ? index_find(fpix, nfp, fp, fingerprint_free_is, &fm) : -1;
		if (match[i] >= 0)
			taken[match[i]] = true;
		need[i] = match[i] < 0 || (!ns->metrics[i].def->templated && !old->metrics[match[i]].instances);
	}
	if (r->mode != EM_REG_ON_GET)
		create_static_instances(ns, need);
	now = em_mono_ms();
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < ns->n; i++) {
		struct em_metric *om = match[i] >= 0 ? &old->metrics[match[i]] : NULL;
		if (!need[i] && om && om->instances) {
			ns->metrics[i].instances = om->instances;
			ns->metrics[i].n_instances = om->n_instances;
			om->instances = NULL;
			om->n_instances = 0;
			kept++;
		} else if (ns->metrics[i].instances) {
			instance_start(r, ns->metrics[i].instances, now);
		}
	}
	r->snap = ns;
	/* What was not carried over stops now, even while a request still
	 * holds the old snapshot: only the current one is ever polled. */
	for (size_t j = 0; j < old->n; j++) {
		struct em_instance *in = old->metrics[j].instances, *next;
		old->metrics[j].instances = NULL;
		old->metrics[j].n_instances = 0;
		for (; in; in = next) {
			next = in->next;
			instance_kill(r, in, &to_close);
		}
	}
	snapshot_unref(r, old, &to_close);   /* ours */
	snapshot_unref(r, old, &to_close);   /* the registry's */
	/* Parked requests look again: their instance may be gone (no longer
	 * polled) or replaced; the others simply park again. */
	em_reg_take_waiters(r, waiter_any, NULL, &woken, &to_close);
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->mu);
	em_reg_wake_list(woken);
	em_reg_close_list(to_close);
	em_info("config reloaded: %zu metrics, %zu unchanged kept their cache", ns->n, kept);
out:
	pthread_mutex_unlock(&r->reload_mu);
	free(fpix);
	free(match);
	free(taken);
	free(need);
}

struct em_metric *em_reg_find_metric(struct em_snapshot *s, const char *name)
{
	long i = index_find(s->index, s->nindex, name, metric_name_is, s);

	return i >= 0 ? &s->metrics[i] : NULL;
}

/* mu held. Why m cannot take one more instance for namespace ns (into
 * err, EM_E_TOOMANY), or 0 when it can. */
static int instance_room(const struct em_metric *m, const char *ns, const char *metric, struct em_err *err)
{
	int64_t in_ns = 0;

	if ((int64_t)m->n_instances >= m->def->max_instances)
		return em_err_set(err, EM_E_TOOMANY,
				  "metric %s already has %lld distinct instances (maxInstances); try again later", metric,
				  (long long)m->def->max_instances);
	for (const struct em_instance *o = m->instances; o; o = o->next)
		in_ns += strcmp(o->ns, ns) == 0;
	if (in_ns >= m->def->max_instances_per_ns)
		return em_err_set(err, EM_E_TOOMANY,
				  "metric %s already has %lld distinct instances for namespace %s (maxInstancesPerNamespace); "
				  "try again later", metric, (long long)m->def->max_instances_per_ns, ns);
	return 0;
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
		if (!in && r->mode == EM_REG_ON_GET) {
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
			em_err_set(err, EM_E_UNAVAILABLE, "metric %s: its scaler could not be started: %s", metric,
				   m->open_err ? m->open_err : "see the server log");
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
	if (instance_room(m, ns, metric, err) != 0)
		goto out;
	pthread_mutex_unlock(&r->mu);
	in = instance_new(m->def, &filled, ns, err);
	pthread_mutex_lock(&r->mu);
	if (!in)
		goto out;
	if (r->snap != out->snap) {
		/* A reload happened meanwhile: this instance would never be polled. */
		em_reg_to_close_push(in, to_close);
		rc = 1;
		goto out;
	}
	/* Another request may have created the same instance meanwhile. */
	for (struct em_instance *o = m->instances; o; o = o->next) {
		if (strcmp(o->key, in->key) == 0) {
			em_reg_to_close_push(in, to_close);
			in = o;
			goto found;
		}
	}
	if (instance_room(m, ns, metric, err) != 0) {
		em_reg_to_close_push(in, to_close);
		goto out;
	}
	in->next = m->instances;
	m->instances = in;
	m->n_instances++;
	in->sleeping = r->mode != EM_REG_ON_GET;   /* woken just below: polled from now on */
found:
	in->refs++;
	instance_touch(r, in, em_mono_ms());
	*inp = in;
	rc = 0;
out:
	em_rawopts_free(&filled);
	free(key);
	return rc;
}

/* mu held: the sample a request for in waits for is not there yet. */
static bool must_wait(const struct em_instance *in)
{
	return in->cache.attempts < in->wait_attempts;
}

static int64_t first_wait_ms(const struct em_instance *in)
{
	return in->timeout_ms < MAX_FIRST_WAIT_MS ? in->timeout_ms : MAX_FIRST_WAIT_MS;
}

/* mu held. A computed metric's answer, from its inputs' caches only: never a
 * backend call here. Asking for it asks for its inputs: each is touched, so
 * an input polled on demand is polled while the computed metric is asked
 * for, and one that was asleep is polled now and waited for as its own
 * first sample would be (with w: parked on it, EM_REG_WAIT; without:
 * blocking), within the longest first wait of the inputs. In `get` (no poller)
 * each input is fetched once first, so the answer is a server's with fresh
 * inputs. */
static int computed_get(struct em_registry *r, struct em_metric *m, const char *ns, struct em_waiter *w,
			struct em_lookup *out, struct em_instance **to_close, struct em_err *err)
{
	const struct em_metric_def *def = m->def;
	struct em_instance *ins[64] = {0}, *waiting = NULL;
	double vals[64];
	int64_t now, oldest = INT64_MAX, timeout = 0;
	int rc = -1;

	if (!m->cinst)
		return em_err_set(err, EM_E_UNAVAILABLE, "metric %s could not be set up (see the server log)", def->name);
	if (def->n_inputs > sizeof(vals) / sizeof(vals[0]))
		return em_err_set(err, EM_E_INTERNAL, "metric %s: too many inputs", def->name);
	for (size_t k = 0; k < def->n_inputs; k++) {
		struct em_metric *im = em_reg_find_metric(out->snap, def->inputs[k]);
		struct em_err e = {0};
		if (im && find_instance(r, im, ns, def->inputs[k], NULL, out, &ins[k], to_close, &e) != 0)
			ins[k] = NULL;   /* reported below, as the input's own error */
		if (ins[k] && first_wait_ms(ins[k]) > timeout)
			timeout = first_wait_ms(ins[k]);
	}
	if (r->mode == EM_REG_ON_GET) {
		for (size_t k = 0; k < def->n_inputs; k++) {
			if (!ins[k])
				continue;
			pthread_mutex_unlock(&r->mu);
			em_poller_fetch_now(r, ins[k]);
			pthread_mutex_lock(&r->mu);
		}
	} else {
		for (size_t k = 0; k < def->n_inputs && !waiting; k++)
			if (ins[k] && must_wait(ins[k]))
				waiting = ins[k];
		if (waiting && w) {
			now = em_mono_ms();
			if (!w->deadline_ms)
				w->deadline_ms = now + timeout;
			if (r->stopping) {
				em_err_set(err, EM_E_UNAVAILABLE, "metric %s: the server is shutting down", def->name);
				goto out;
			}
			if (now < w->deadline_ms) {
				waiting->refs++;   /* the waiter's, until woken */
				w->inst = waiting;
				rc = EM_REG_WAIT;
				goto out;
			}
		} else if (waiting) {
			int64_t deadline = em_mono_ms() + timeout;
			for (size_t k = 0; k < def->n_inputs; k++)
				while (ins[k] && must_wait(ins[k]) && !r->stopping && !ins[k]->dead)
					if (em_cond_wait_until(&r->results, &r->mu, deadline) != 0)
						break;
		}
	}
	now = em_now_ms();
	for (size_t k = 0; k < def->n_inputs; k++) {
		struct em_instance *in = ins[k];
		struct em_served s;
		struct em_err e = {0};

		if (!in)
			em_err_set(&e, EM_E_UNAVAILABLE, "its scaler could not be started (see the server log)");
		else if (in->cache.attempts == 0 || (r->mode != EM_REG_ON_GET && must_wait(in)))
			em_err_set(&e, EM_E_UNAVAILABLE, "no sample yet (first fetch still running after %lldms)",
				   (long long)timeout);
		else if (em_cache_read(&in->cache, &in->policy, now, &s, &e) == 0) {
			vals[k] = s.sample.value;   /* the scaler's value, active or not, as KEDA's formula reads it */
			if (s.time_ms < oldest)
				oldest = s.time_ms;
			em_sample_free(&s.sample);
			continue;
		}
		/* KEDA: fallback once a trigger failed failureThreshold times */
		if (def->has_fallback && in && in->cache.failures >= def->fallback_threshold) {
			memset(&out->served, 0, sizeof(out->served));
			out->served.sample.value = def->fallback_value;
			out->served.sample.active = def->fallback_value > 0;
			out->served.time_ms = now;
			out->served.fallback = true;
			rc = 0;
			goto out;
		}
		em_err_set(err, e.kind ? e.kind : EM_E_UNAVAILABLE, "metric %s: input %s: %s", def->name,
			   def->inputs[k], e.msg);
		goto out;
	}
	memset(&out->served, 0, sizeof(out->served));
	if (def->scaler->compute(m->cinst, vals, def->n_inputs, &out->served.sample, err) != 0) {
		em_err_prefix(err, "metric %s", def->name);
		goto out;
	}
	out->served.time_ms = def->n_inputs ? oldest : now;
	rc = 0;
out:
	for (size_t k = 0; k < def->n_inputs; k++)
		if (ins[k])
			em_reg_instance_unref(ins[k], to_close);
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
		m = em_reg_find_metric(out->snap, metric);
		if (!m || !em_metric_allows_ns(m->def, ns)) {
			em_err_set(err, EM_E_NOTFOUND, "the server could not find the metric %s for namespace %s", metric,
				   ns);
			goto out_locked;
		}
		out->def = m->def;
		if (m->def->scaler->flags & EM_SCALER_COMPUTED) {
			rc = computed_get(r, m, ns, w, out, &to_close, err);
			goto out_locked;
		}
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
	if (r->mode == EM_REG_ON_GET) {
		pthread_mutex_unlock(&r->mu);
		em_poller_fetch_now(r, in);
		pthread_mutex_lock(&r->mu);
	} else if (must_wait(in) && w) {
		/* A first sample (or the first after idling): park the request,
		 * without a thread, until the one in-flight fetch (shared by all
		 * waiting requests) ends or the metric's timeout passes. */
		int64_t now = em_mono_ms(), wait = first_wait_ms(in);
		if (!w->deadline_ms)
			w->deadline_ms = now + wait;
		if (r->stopping) {
			em_err_set(err, EM_E_UNAVAILABLE, "metric %s: the server is shutting down", metric);
		} else if (now < w->deadline_ms) {
			w->inst = in; /* keeps the reference until woken */
			in = NULL;
			rc = EM_REG_WAIT;
		} else {
			em_err_set(err, EM_E_UNAVAILABLE, "metric %s: no sample yet (first fetch still running after %lldms)",
				   metric, (long long)wait);
		}
		if (in)
			em_reg_instance_unref(in, &to_close);
		goto out_locked;
	} else if (must_wait(in)) {
		/* No waiter: block this thread instead (same bounds). */
		int64_t deadline = em_mono_ms() + first_wait_ms(in);
		while (must_wait(in) && !r->stopping && !in->dead)
			if (em_cond_wait_until(&r->results, &r->mu, deadline) != 0)
				break;
		if (must_wait(in)) {
			em_err_set(err, EM_E_UNAVAILABLE, "metric %s: no sample yet (first fetch still running after %lldms)",
				   metric, (long long)first_wait_ms(in));
			em_reg_instance_unref(in, &to_close);
			goto out_locked;
		}
	}
	rc = em_cache_read(&in->cache, &in->policy, em_now_ms(), &out->served, err);
	if (rc != 0)
		em_err_prefix(err, "metric %s", metric);
	em_reg_instance_unref(in, &to_close);
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
	now_ready = r->stopping || !must_wait(w->inst) || w->inst->dead || em_mono_ms() >= w->deadline_ms;
	if (now_ready) {
		em_reg_instance_unref(w->inst, &to_close);
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
