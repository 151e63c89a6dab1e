/* registry_status.c - every configured metric and its state as JSON: GET /status on the metrics port, read by `extmetrics status`. */
#include "registry_int.h"

#include <math.h>

#include "adapter/util/clock.h"
#include "adapter/util/strbuf.h"

static void json_time(struct em_strbuf *out, const char *key, bool has, int64_t ms)
{
	char ts[32];

	em_sb_printf(out, ",\"%s\":", key);
	if (!has) {
		em_sb_puts(out, "null");
		return;
	}
	em_rfc3339(ms, ts, sizeof(ts));
	em_sb_json_str(out, ts);
}

static void json_number(struct em_strbuf *out, double v)
{
	if (isfinite(v))
		em_sb_printf(out, "%.17g", v);
	else
		em_sb_puts(out, "null");
}

/* mu held. One instance: what it serves now, and its last success and error. */
static void instance_json(struct em_strbuf *out, const struct em_instance *in, int64_t now)
{
	const struct em_cache *c = &in->cache;
	double v;
	bool on;
	enum em_state st = em_reg_instance_state(in, now, &v, &on);

	em_sb_puts(out, "{\"state\":");
	em_sb_json_str(out, em_state_name(st));
	if (in->templated) {
		em_sb_puts(out, ",\"namespace\":");
		em_sb_json_str(out, in->ns);
		em_sb_printf(out, ",\"instance\":\"%s\"", in->id);
	}
	em_sb_puts(out, ",\"value\":");
	json_number(out, v);
	em_sb_printf(out, ",\"active\":%s", on ? "true" : "false");
	json_time(out, "lastSuccessTime", c->has_value, c->sample_ms);
	json_time(out, "lastErrorTime", c->fail_ms > 0, c->fail_ms);
	em_sb_puts(out, ",\"lastError\":");
	if (c->last_err)
		em_sb_json_str(out, c->last_err);   /* scrubbed when stored */
	else
		em_sb_puts(out, "null");
	em_sb_printf(out, ",\"consecutiveFailures\":%lld,\"fetches\":%lld}", (long long)c->failures,
		     (long long)c->attempts);
}

/* mu held. A computed metric has no instance of its own: its state is the
 * worst of its inputs' (em_state_combine), its value computed from theirs as
 * a request would, its last success the oldest input sample's, its last
 * error the most recent input error, named. */
static void computed_json(struct em_strbuf *out, struct em_registry *r, const struct em_metric *m, int64_t now)
{
	const struct em_metric_def *d = m->def;
	enum em_state states[64] = {0}, st;
	double vals[64], v = NAN;
	bool on = false, all_values = true, fb = false;
	int64_t oldest = INT64_MAX, err_ms = 0, failures = 0;
	const char *err_in = NULL, *err_msg = NULL;
	struct em_sample smp = {0};
	struct em_err cerr = {0};
	size_t n = d->n_inputs < 64 ? d->n_inputs : 64;

	for (size_t k = 0; k < n; k++) {
		const struct em_metric *im = em_reg_find_metric(r->snap, d->inputs[k]);
		const struct em_instance *in = im ? im->instances : NULL;
		const struct em_cache *c;
		if (!in) {
			states[k] = EM_STATE_FAILING;
			all_values = false;
			if (!err_in) {
				err_in = d->inputs[k];
				err_msg = im && im->open_err ? im->open_err : "its scaler could not be started";
			}
			continue;
		}
		c = &in->cache;
		states[k] = em_reg_instance_state(in, now, &vals[k], NULL);
		all_values = all_values && c->has_value && isfinite(vals[k]);
		if (c->has_value && c->sample_ms < oldest)
			oldest = c->sample_ms;
		if (c->fail_ms > err_ms && c->last_err) {
			err_ms = c->fail_ms;
			err_in = d->inputs[k];
			err_msg = c->last_err;
		}
		if (c->failures > failures)
			failures = c->failures;
		fb = fb || (states[k] == EM_STATE_FAILING && d->has_fallback && c->failures >= d->fallback_threshold);
	}
	st = em_state_combine(states, n, fb);
	if (st == EM_STATE_FALLBACK && fb) {
		v = d->fallback_value;
		on = v > 0;
	} else if (st != EM_STATE_PENDING && st != EM_STATE_FAILING && all_values && m->cinst) {
		if (d->scaler->compute(m->cinst, vals, n, &smp, &cerr) == 0) {
			v = smp.value;
			on = smp.active;
		} else {
			st = EM_STATE_FAILING;
		}
		em_sample_free(&smp);
	}
	em_sb_puts(out, "{\"state\":");
	em_sb_json_str(out, em_state_name(st));
	em_sb_puts(out, ",\"value\":");
	json_number(out, v);
	em_sb_printf(out, ",\"active\":%s", on ? "true" : "false");
	json_time(out, "lastSuccessTime", n && oldest != INT64_MAX, oldest);
	json_time(out, "lastErrorTime", err_ms > 0, err_ms);
	em_sb_puts(out, ",\"lastError\":");
	if (cerr.msg[0]) {
		em_sb_json_str(out, cerr.msg);
	} else if (err_in) {
		struct em_strbuf e = {0};
		em_sb_printf(&e, "input %s: %s", err_in, err_msg);   /* both scrubbed when stored */
		em_sb_json_str(out, e.buf ? e.buf : "");
		em_sb_free(&e);
	} else {
		em_sb_puts(out, "null");
	}
	em_sb_printf(out, ",\"consecutiveFailures\":%lld,\"fetches\":0}", (long long)failures);
}

void em_registry_status(struct em_registry *r, struct em_strbuf *out)
{
	int64_t now = em_now_ms();
	char ts[32];

	em_rfc3339(now, ts, sizeof(ts));
	em_sb_printf(out, "{\"time\":\"%s\",\"metrics\":[", ts);
	/* Built under mu (about a microsecond per metric): requests wait that
	 * long, and /status is for people and scripts, not for every scrape. */
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; r->snap && i < r->snap->n; i++) {
		const struct em_metric *m = &r->snap->metrics[i];
		const struct em_metric_def *d = m->def;

		em_sb_puts(out, i ? ",{\"name\":" : "{\"name\":");
		em_sb_json_str(out, d->name);
		em_sb_puts(out, ",\"namespaces\":[");
		for (size_t k = 0; k < d->n_namespaces; k++) {
			em_sb_puts(out, k ? "," : "");
			em_sb_json_str(out, d->namespaces[k]);
		}
		em_sb_puts(out, "],\"type\":");
		em_sb_json_str(out, d->type);
		em_sb_printf(out, ",\"polling\":\"%s\",\"templated\":%s", d->polling == EM_POLL_EAGER ? "eager" : "demand",
			     d->templated ? "true" : "false");
		if (m->open_err) {
			em_sb_puts(out, ",\"error\":");
			em_sb_json_str(out, m->open_err);
		}
		em_sb_puts(out, ",\"instances\":[");
		if (d->scaler->flags & EM_SCALER_COMPUTED)
			computed_json(out, r, m, now);
		for (const struct em_instance *in = m->instances; in; in = in->next) {
			em_sb_puts(out, in == m->instances ? "" : ",");
			instance_json(out, in, now);
		}
		em_sb_puts(out, "]}");
	}
	pthread_mutex_unlock(&r->mu);
	em_sb_puts(out, "]}\n");
}
