/* cache.h - the per-instance sample cache and its stale/fallback state machine (pure, injected clock). */
#ifndef EM_CACHE_H
#define EM_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "adapter/util/err.h"
#include "scalers/scaler.h"

struct em_cache_policy {
	int64_t stale_ms;            /* last good value served until this old */
	bool has_fallback;
	int64_t fallback_threshold;  /* consecutive failures before fallback */
	double fallback_value;
};

struct em_cache {
	bool has_value;
	struct em_sample sample;     /* last good sample */
	int64_t sample_ms;           /* when it was taken (Unix ms) */
	int64_t failures;            /* consecutive failed fetches since then */
	int64_t fail_ms;             /* time of the last failure */
	int64_t attempts;            /* fetches completed, good or bad */
	/* The last failure's message, scrubbed; NULL when none. A pointer, not a
	 * struct em_err: most caches never fail, and 10,000 of them would carry
	 * 5 MB of empty messages. */
	char *last_err;
};

/* What a read yields: a sample to serve (a copy the caller frees) and its time. */
struct em_served {
	struct em_sample sample;
	int64_t time_ms;
	bool fallback;
};

/* Records a successful fetch; takes ownership of *s (left zeroed). */
void em_cache_success(struct em_cache *c, struct em_sample *s, int64_t now_ms);
/* Records a failed fetch (its message is copied). */
void em_cache_failure(struct em_cache *c, const struct em_err *err, int64_t now_ms);
/* Decides what to serve now: 0 and *out filled, or -1 and err set
 * (EM_E_UNAVAILABLE: no sample yet, or stale after failures). */
int em_cache_read(const struct em_cache *c, const struct em_cache_policy *p, int64_t now_ms,
		  struct em_served *out, struct em_err *err);
void em_cache_free(struct em_cache *c);

#endif
