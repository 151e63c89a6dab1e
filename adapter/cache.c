/* cache.c - the per-instance sample cache, its stale/fallback state machine and when a change of state is logged. */
#include "cache.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void em_cache_success(struct em_cache *c, struct em_sample *s, int64_t now_ms)
{
	em_sample_free(&c->sample);
	c->sample = *s;
	memset(s, 0, sizeof(*s));
	c->has_value = true;
	c->sample_ms = now_ms;
	c->failures = 0;
	c->attempts++;
}

void em_cache_failure(struct em_cache *c, const struct em_err *err, int64_t now_ms)
{
	if (c->failures == 0)
		c->fail_since_ms = now_ms;
	c->failures++;
	c->fail_ms = now_ms;
	c->attempts++;
	/* Every read of a failure answers 503 whatever the kind: only the text is kept. */
	if (!c->last_err || strcmp(c->last_err, err->msg) != 0) {
		char *m = strdup(err->msg);
		if (m) {
			free(c->last_err);
			c->last_err = m;
		}
	}
}

enum em_state em_cache_state(const struct em_cache *c, const struct em_cache_policy *p, int64_t now_ms,
			     double *value, bool *active)
{
	enum em_state st;
	double v = NAN;
	bool on = false;

	/* Fallback once the backend has failed failureThreshold times in a row
	 * (KEDA needs one failure more than the threshold: kedacore/keda#6053). */
	if (p->has_fallback && c->failures >= p->fallback_threshold) {
		st = EM_STATE_FALLBACK;
		on = p->fallback_value > 0;
		v = on ? p->fallback_value : 0;
	} else if (c->has_value && now_ms - c->sample_ms <= p->stale_ms) {
		st = c->failures > 0 ? EM_STATE_STALE : EM_STATE_OK;
		on = c->sample.active;
		v = on ? c->sample.value : 0;
	} else {
		st = c->attempts == 0 ? EM_STATE_PENDING : EM_STATE_FAILING;
	}
	if (value)
		*value = v;
	if (active)
		*active = on;
	return st;
}

int em_cache_read(const struct em_cache *c, const struct em_cache_policy *p, int64_t now_ms,
		  struct em_served *out, struct em_err *err)
{
	memset(out, 0, sizeof(*out));
	switch (em_cache_state(c, p, now_ms, NULL, NULL)) {
	case EM_STATE_FALLBACK:
		out->sample.value = p->fallback_value;
		out->sample.active = p->fallback_value > 0;
		out->time_ms = c->fail_ms;
		out->fallback = true;
		return 0;
	case EM_STATE_OK:
	case EM_STATE_STALE:
		if (em_sample_copy(&out->sample, &c->sample) != 0)
			return em_err_set(err, EM_E_INTERNAL, "out of memory");
		out->time_ms = c->sample_ms;
		return 0;
	default:
		break;
	}
	if (c->failures > 0) {
		if (c->has_value)
			return em_err_set(err, EM_E_UNAVAILABLE, "%s (last good value is %llds old)",
					  c->last_err ? c->last_err : "fetch failed",
					  (long long)((now_ms - c->sample_ms) / 1000));
		return em_err_set(err, EM_E_UNAVAILABLE, "%s", c->last_err ? c->last_err : "fetch failed");
	}
	if (c->has_value)
		return em_err_set(err, EM_E_UNAVAILABLE, "value is stale (%llds old) and no new sample arrived",
				  (long long)((now_ms - c->sample_ms) / 1000));
	return em_err_set(err, EM_E_UNAVAILABLE, "no sample yet");
}

void em_cache_free(struct em_cache *c)
{
	if (!c)
		return;
	em_sample_free(&c->sample);
	free(c->last_err);
	memset(c, 0, sizeof(*c));
}

/* ---- states and their log lines ---------------------------------------- */

static const char *const state_names[EM_STATE_COUNT] = {"pending", "ok", "stale", "fallback", "failing", "idle"};

const char *em_state_name(enum em_state s)
{
	return (unsigned)s < EM_STATE_COUNT ? state_names[s] : "unknown";
}

bool em_state_is_trouble(enum em_state s)
{
	return s == EM_STATE_STALE || s == EM_STATE_FALLBACK || s == EM_STATE_FAILING;
}

enum em_state em_state_combine(const enum em_state *in, size_t n, bool with_fallback)
{
	static const enum em_state worst_first[] = {EM_STATE_FAILING, EM_STATE_PENDING, EM_STATE_FALLBACK,
						    EM_STATE_STALE, EM_STATE_IDLE};

	for (size_t w = 0; w < sizeof(worst_first) / sizeof(worst_first[0]); w++)
		for (size_t i = 0; i < n; i++)
			if (in[i] == worst_first[w])
				return in[i] == EM_STATE_FAILING && with_fallback ? EM_STATE_FALLBACK : in[i];
	return EM_STATE_OK;
}

/* A trouble line is written: the next one waits twice as long as the last. */
static void back_off(struct em_note_state *n, int64_t now_ms)
{
	n->interval_ms = n->interval_ms ? n->interval_ms * 2 : EM_NOTE_FIRST_MS;
	if (n->interval_ms > EM_NOTE_MAX_MS)
		n->interval_ms = EM_NOTE_MAX_MS;
	n->quiet_until_ms = now_ms + n->interval_ms;
	n->told = true;
}

enum em_note em_note_change(struct em_note_state *n, enum em_state from, enum em_state to, int64_t now_ms)
{
	bool was = em_state_is_trouble(from), is = em_state_is_trouble(to), reminder;

	if (!is) {
		if (was && n->told) {
			n->told = false;
			return EM_NOTE_RECOVERED;
		}
		return from != to ? EM_NOTE_DEBUG : EM_NOTE_NONE;
	}
	if (was && from != to) {
		/* stale -> failing, failing -> fallback: a few per trouble at most */
		n->told = true;
		return EM_NOTE_TROUBLE;
	}
	if (!was) {
		/* A new trouble after a calm of a whole interval past the quiet
		 * time starts the back-off afresh; sooner, the metric flaps. */
		if (now_ms >= n->quiet_until_ms + n->interval_ms)
			n->interval_ms = 0;
		n->told = false;
	}
	if (now_ms < n->quiet_until_ms)
		return EM_NOTE_NONE;
	reminder = was && n->told;   /* else its beginning went unsaid (flapping): say it now */
	back_off(n, now_ms);
	return reminder ? EM_NOTE_STILL : EM_NOTE_TROUBLE;
}
