/* cache.h - the per-instance sample cache, its stale/fallback state machine and when a change of state is logged (pure, injected clock). */
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
	int64_t fail_ms;             /* time of the last failure (kept after a success) */
	int64_t fail_since_ms;       /* time of the first of the consecutive failures */
	int64_t attempts;            /* fetches completed, good or bad */
	/* The last failure's message, scrubbed, kept after a success (what
	 * `extmetrics status` shows); NULL until a fetch fails. A pointer, not a
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

/* ---- states ----------------------------------------------------------------
 * What a metric is doing, as its own metrics, its log lines and `extmetrics
 * status` show it. em_cache_state decides all but idle (the registry's:
 * polling: demand and nobody asked lately); em_cache_read serves by it. */
enum em_state {
	EM_STATE_PENDING,    /* no fetch has answered yet (or woken from idle: one is on its way) */
	EM_STATE_OK,         /* serving a value fetched within staleAfter */
	EM_STATE_STALE,      /* fetches fail; the last good value is still served (until staleAfter) */
	EM_STATE_FALLBACK,   /* failureThreshold failures in a row: the fallback value is served */
	EM_STATE_FAILING,    /* nothing to serve: requests get 503 */
	EM_STATE_IDLE,       /* polling: demand and not asked for lately: not polled */
};

#define EM_STATE_COUNT 6

/* "pending", "ok", "stale", "fallback", "failing", "idle". */
const char *em_state_name(enum em_state s);
/* True for stale, fallback and failing: the backend is in trouble. */
bool em_state_is_trouble(enum em_state s);
/* The state of a value computed from inputs in states in[0..n-1] (a
 * composite metric): the worst of them, in the order failing, pending,
 * fallback, stale, idle, ok (no input: ok). A failing input gives fallback
 * when the computed metric serves its fallback (with_fallback). */
enum em_state em_state_combine(const enum em_state *in, size_t n, bool with_fallback);

/* The state of c at now_ms (never EM_STATE_IDLE). With value/active
 * non-NULL: what a read serves then (the value, 0 when inactive, as the API
 * serves it), or NaN and false when it serves nothing. */
enum em_state em_cache_state(const struct em_cache *c, const struct em_cache_policy *p, int64_t now_ms,
			     double *value, bool *active);

/* ---- when a change of state is worth a log line -----------------------------
 * Every change of state is logged once; a trouble that goes on is recalled
 * with a doubling back-off (1 min .. 1 h); a metric that flaps shares that
 * back-off, so it never writes a line per poll, and a recovery is logged
 * only when the trouble was. */
#define EM_NOTE_FIRST_MS (60 * 1000)
#define EM_NOTE_MAX_MS (3600 * 1000)

enum em_note {
	EM_NOTE_NONE,        /* nothing to say */
	EM_NOTE_DEBUG,       /* a change between untroubled states (pending, ok, idle): debug level */
	EM_NOTE_TROUBLE,     /* a trouble began, or changed (stale -> failing): warn */
	EM_NOTE_STILL,       /* the trouble goes on (a reminder): warn */
	EM_NOTE_RECOVERED,   /* the trouble logged is over: info */
};

struct em_note_state {
	int64_t quiet_until_ms;  /* no new trouble line before this (wall or monotonic: one clock) */
	int64_t interval_ms;     /* the back-off: 0, then EM_NOTE_FIRST_MS doubling to EM_NOTE_MAX_MS */
	bool told;               /* the current trouble was logged */
};

/* What to log for a metric going from state `from` to `to` at now_ms (to may
 * equal from: a fetch that changed nothing); updates n. */
enum em_note em_note_change(struct em_note_state *n, enum em_state from, enum em_state to, int64_t now_ms);

#endif
