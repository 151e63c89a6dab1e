/* cache.c - the per-instance sample cache and its stale/fallback state machine. */
#include "cache.h"

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
	free(c->last_err);
	c->last_err = NULL;
}

void em_cache_failure(struct em_cache *c, const struct em_err *err, int64_t now_ms)
{
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

int em_cache_read(const struct em_cache *c, const struct em_cache_policy *p, int64_t now_ms,
		  struct em_served *out, struct em_err *err)
{
	memset(out, 0, sizeof(*out));
	/* Fallback once the backend has failed failureThreshold times in a row
	 * (KEDA needs one failure more than the threshold: kedacore/keda#6053). */
	if (p->has_fallback && c->failures >= p->fallback_threshold) {
		out->sample.value = p->fallback_value;
		out->sample.active = p->fallback_value > 0;
		out->time_ms = c->fail_ms;
		out->fallback = true;
		return 0;
	}
	if (c->has_value && now_ms - c->sample_ms <= p->stale_ms) {
		if (em_sample_copy(&out->sample, &c->sample) != 0)
			return em_err_set(err, EM_E_INTERNAL, "out of memory");
		out->time_ms = c->sample_ms;
		return 0;
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
