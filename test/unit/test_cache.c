/* test_cache.c - the sample cache's stale/fallback state machine, driven by an injected clock. */
#include "harness.h"

#include "adapter/cache.h"

static struct em_sample sample(double v, bool active)
{
	struct em_sample s = {.value = v, .active = active};
	return s;
}

TEST(no_sample_yet_is_unavailable)
{
	struct em_cache c = {0};
	struct em_cache_policy p = {.stale_ms = 90000};
	struct em_served out;
	struct em_err err = {0};

	EXPECT_INT(em_cache_read(&c, &p, 1000, &out, &err), -1);
	EXPECT_INT(err.kind, EM_E_UNAVAILABLE);
	EXPECT_STR(err.msg, "no sample yet");
}

TEST(fresh_value_is_served_with_its_time)
{
	struct em_cache c = {0};
	struct em_cache_policy p = {.stale_ms = 90000};
	struct em_served out;
	struct em_err err = {0};
	struct em_sample s = sample(15, true);

	em_cache_success(&c, &s, 10000);
	EXPECT_INT(em_cache_read(&c, &p, 20000, &out, &err), 0);
	EXPECT_DBL(out.sample.value, 15, 0);
	EXPECT(out.sample.active);
	EXPECT_INT(out.time_ms, 10000);
	EXPECT(!out.fallback);
	em_sample_free(&out.sample);
	em_cache_free(&c);
}

TEST(failures_keep_last_value_until_stale_then_503_with_error)
{
	struct em_cache c = {0};
	struct em_cache_policy p = {.stale_ms = 90000};
	struct em_served out;
	struct em_err err = {0}, fe = {0};
	struct em_sample s = sample(7, true);

	em_cache_success(&c, &s, 0);
	em_err_set(&fe, EM_E_UNAVAILABLE, "sqs: QueueDoesNotExist");
	em_cache_failure(&c, &fe, 30000);
	em_cache_failure(&c, &fe, 60000);
	EXPECT_INT(em_cache_read(&c, &p, 90000, &out, &err), 0); /* exactly staleAfter old: still served */
	EXPECT_DBL(out.sample.value, 7, 0);
	em_sample_free(&out.sample);
	EXPECT_INT(em_cache_read(&c, &p, 90001, &out, &err), -1);
	EXPECT_INT(err.kind, EM_E_UNAVAILABLE);
	EXPECT(strstr(err.msg, "sqs: QueueDoesNotExist") != NULL);
	EXPECT(strstr(err.msg, "90s old") != NULL);
	em_cache_free(&c);
}

TEST(recovery_clears_failures)
{
	struct em_cache c = {0};
	struct em_cache_policy p = {.stale_ms = 1000};
	struct em_served out;
	struct em_err err = {0}, fe = {0};
	struct em_sample s = sample(1, true), s2 = sample(2, true);

	em_cache_success(&c, &s, 0);
	em_err_set(&fe, EM_E_UNAVAILABLE, "down");
	em_cache_failure(&c, &fe, 5000);
	EXPECT_INT(em_cache_read(&c, &p, 5000, &out, &err), -1);
	em_cache_success(&c, &s2, 6000);
	EXPECT_INT(c.failures, 0);
	EXPECT_INT(em_cache_read(&c, &p, 6500, &out, &err), 0);
	EXPECT_DBL(out.sample.value, 2, 0);
	em_sample_free(&out.sample);
	em_cache_free(&c);
}

TEST(fallback_after_threshold_consecutive_failures)
{
	struct em_cache c = {0};
	struct em_cache_policy p = {.stale_ms = 1000000, .has_fallback = true, .fallback_threshold = 3,
				    .fallback_value = 10};
	struct em_served out;
	struct em_err err = {0}, fe = {0};
	struct em_sample s = sample(4, true);

	em_cache_success(&c, &s, 0);
	em_err_set(&fe, EM_E_UNAVAILABLE, "down");
	em_cache_failure(&c, &fe, 1000);
	em_cache_failure(&c, &fe, 2000);
	EXPECT_INT(em_cache_read(&c, &p, 2500, &out, &err), 0);
	EXPECT_DBL(out.sample.value, 4, 0); /* 2 failures: last good value */
	EXPECT(!out.fallback);
	em_sample_free(&out.sample);
	em_cache_failure(&c, &fe, 3000);
	EXPECT_INT(em_cache_read(&c, &p, 3500, &out, &err), 0);
	EXPECT_DBL(out.sample.value, 10, 0); /* 3rd failure: fallback */
	EXPECT(out.fallback);
	EXPECT(out.sample.active);
	EXPECT_INT(out.time_ms, 3000);
	em_sample_free(&out.sample);
	em_cache_free(&c);
}

TEST(fallback_without_any_good_value)
{
	struct em_cache c = {0};
	struct em_cache_policy p = {.stale_ms = 1000, .has_fallback = true, .fallback_threshold = 1,
				    .fallback_value = 0};
	struct em_served out;
	struct em_err err = {0}, fe = {0};

	em_err_set(&fe, EM_E_UNAVAILABLE, "down");
	em_cache_failure(&c, &fe, 10);
	EXPECT_INT(em_cache_read(&c, &p, 20, &out, &err), 0);
	EXPECT_DBL(out.sample.value, 0, 0);
	EXPECT(!out.sample.active);
	em_cache_free(&c);
}

TEST(series_are_copied_not_shared)
{
	struct em_cache c = {0};
	struct em_cache_policy p = {.stale_ms = 1000};
	struct em_served out;
	struct em_err err = {0};
	struct em_sample s = {.value = 3, .active = true, .n_series = 2};

	s.series = calloc(2, sizeof(*s.series));
	for (int i = 0; i < 2; i++) {
		s.series[i].value = i + 1;
		s.series[i].labels.items = calloc(1, sizeof(struct em_kv));
		s.series[i].labels.items[0].key = strdup("queue");
		s.series[i].labels.items[0].value = strdup(i ? "b" : "a");
		s.series[i].labels.n = 1;
	}
	em_cache_success(&c, &s, 0);
	EXPECT(s.series == NULL);
	EXPECT_INT(em_cache_read(&c, &p, 10, &out, &err), 0);
	EXPECT_INT(out.sample.n_series, 2);
	EXPECT(out.sample.series != c.sample.series);
	EXPECT_STR(out.sample.series[1].labels.items[0].value, "b");
	em_sample_free(&out.sample);
	em_cache_free(&c);
}

/* ---- states ---- */

TEST(state_follows_the_cache_and_says_what_is_served)
{
	struct em_cache_policy plain = {.stale_ms = 3000};
	struct em_cache_policy fb = {.stale_ms = 3000, .has_fallback = true, .fallback_threshold = 2, .fallback_value = 9};
	struct em_cache_policy fb0 = {.stale_ms = 3000, .has_fallback = true, .fallback_threshold = 1};
	struct em_err fe = {0};
	/* Each row: a history (v: value fetched, i: inactive value, x: failure; one per second from 0), the
	 * policy, the time asked, and the state, value and activity em_cache_state tells. */
	static const struct {
		const char *history;
		int policy;   /* 0 plain, 1 fallback after 2, 2 fallback 0 after 1 */
		int64_t at;
		enum em_state st;
		double value;  /* NAN: nothing served */
		bool active;
	} rows[] = {
		{"", 0, 0, EM_STATE_PENDING, NAN, false},
		{"", 1, 0, EM_STATE_PENDING, NAN, false},
		{"v", 0, 1000, EM_STATE_OK, 5, true},
		{"i", 0, 1000, EM_STATE_OK, 0, false},          /* inactive: served as 0 */
		{"v", 0, 3000, EM_STATE_OK, 5, true},           /* exactly staleAfter old */
		{"v", 0, 3001, EM_STATE_FAILING, NAN, false},   /* older, no fetch since: 503 */
		{"vx", 0, 2000, EM_STATE_STALE, 5, true},
		{"vxx", 0, 3000, EM_STATE_STALE, 5, true},
		{"vxxx", 0, 4000, EM_STATE_FAILING, NAN, false},
		{"x", 0, 1000, EM_STATE_FAILING, NAN, false},
		{"vx", 1, 2000, EM_STATE_STALE, 5, true},       /* below the threshold: last good value */
		{"vxx", 1, 3000, EM_STATE_FALLBACK, 9, true},
		{"xx", 1, 2000, EM_STATE_FALLBACK, 9, true},
		{"xxv", 1, 3000, EM_STATE_OK, 5, true},         /* recovered */
		{"x", 2, 1000, EM_STATE_FALLBACK, 0, false},    /* fallback 0 is served, inactive */
	};

	em_err_set(&fe, EM_E_UNAVAILABLE, "down");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct em_cache_policy *p = rows[i].policy == 0 ? &plain : rows[i].policy == 1 ? &fb : &fb0;
		struct em_cache c = {0};
		struct em_served out;
		struct em_err err = {0};
		double v = -1;
		bool on = true;
		int64_t t = 0;
		enum em_state st;

		for (const char *h = rows[i].history; *h; h++, t += 1000) {
			struct em_sample s = sample(*h == 'v' ? 5 : 3, *h == 'v');
			if (*h == 'x')
				em_cache_failure(&c, &fe, t);
			else
				em_cache_success(&c, &s, t);
		}
		st = em_cache_state(&c, p, rows[i].at, &v, &on);
		if (st != rows[i].st || on != rows[i].active || (isnan(rows[i].value) ? !isnan(v) : v != rows[i].value))
			TH_FAIL("row %zu (%s at %lld): %s %g %d, expected %s %g %d", i, rows[i].history,
				(long long)rows[i].at, em_state_name(st), v, on, em_state_name(rows[i].st), rows[i].value,
				rows[i].active);
		/* reads agree: served exactly when the state serves something */
		if ((em_cache_read(&c, p, rows[i].at, &out, &err) == 0) != !isnan(rows[i].value))
			TH_FAIL("row %zu: read and state disagree: %s", i, err.msg);
		em_sample_free(&out.sample);
		em_cache_free(&c);
	}
	EXPECT_STR(em_state_name(EM_STATE_IDLE), "idle");
	EXPECT(em_state_is_trouble(EM_STATE_STALE) && em_state_is_trouble(EM_STATE_FALLBACK) &&
	       em_state_is_trouble(EM_STATE_FAILING));
	EXPECT(!em_state_is_trouble(EM_STATE_OK) && !em_state_is_trouble(EM_STATE_PENDING) &&
	       !em_state_is_trouble(EM_STATE_IDLE));
}

TEST(changes_are_noted_once_and_troubles_back_off)
{
	enum { P = EM_STATE_PENDING, O = EM_STATE_OK, S = EM_STATE_STALE, F = EM_STATE_FAILING, B = EM_STATE_FALLBACK,
	       I = EM_STATE_IDLE };
	enum { N = EM_NOTE_NONE, D = EM_NOTE_DEBUG, T = EM_NOTE_TROUBLE, R = EM_NOTE_RECOVERED, A = EM_NOTE_STILL };
	/* One metric's life, in order: at (s), the new state, and what is noted. */
	static const struct {
		int64_t at;
		int to, note;
	} steps[] = {
		{0, O, D},        /* pending -> ok */
		{30, O, N},       /* nothing changed */
		{60, S, T},       /* a trouble begins: told at once (back-off 1 min) */
		{90, S, N},       /* goes on: quiet */
		{100, F, T},      /* it gets worse: told */
		{110, F, N},
		{121, F, A},      /* a minute since the last: reminded (back-off 2 min) */
		{200, F, N},
		{241, F, A},      /* two minutes: reminded (4 min) */
		{250, O, R},      /* over: told, since it was */
		{260, S, N},      /* again soon (quiet until 481): flapping, not told */
		{270, O, D},      /* ... nor its end (debug only) */
		{280, F, N},
		{490, F, T},      /* past the quiet time, still on: its beginning is told now (8 min) */
		{500, O, R},
		{510, I, D},      /* ok -> idle: debug */
		{520, P, D},      /* woken */
		{530, F, N},      /* within the back-off (until 970): not told */
		{540, I, D},      /* idle while in trouble, untold: debug only */
		{3000, S, T},     /* calm for long: a new trouble is told, back-off afresh (1 min) */
		{3040, I, R},     /* idle while in trouble: told (the registry words it as idle) */
		{3050, P, D},
		{3070, S, T},     /* a minute past the last line: told */
		{3080, B, T},     /* stale -> fallback: told */
	};
	struct em_note_state n = {0};
	int from = P;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		enum em_note got = em_note_change(&n, (enum em_state)from, (enum em_state)steps[i].to, steps[i].at * 1000);
		if ((int)got != steps[i].note)
			TH_FAIL("step %zu (%s -> %s at %llds): note %d, expected %d", i, em_state_name((enum em_state)from),
				em_state_name((enum em_state)steps[i].to), (long long)steps[i].at, got, steps[i].note);
		from = steps[i].to;
	}
	/* the back-off stops growing at an hour */
	n = (struct em_note_state){0};
	for (int64_t t = 0; t < 48 * 3600; t += 30)
		em_note_change(&n, EM_STATE_FAILING, EM_STATE_FAILING, t * 1000);
	EXPECT_INT(n.interval_ms, EM_NOTE_MAX_MS);
}

TEST(computed_state_is_the_worst_input_state)
{
	const enum em_state P = EM_STATE_PENDING, O = EM_STATE_OK, S = EM_STATE_STALE, F = EM_STATE_FALLBACK,
			    X = EM_STATE_FAILING, I = EM_STATE_IDLE;
	static const struct {
		enum em_state in[3];
		size_t n;
		bool fallback;
		enum em_state want;
	} rows[] = {
		{{O}, 0, false, EM_STATE_OK},   /* no input */
		{{O, O, O}, 3, false, EM_STATE_OK},
		{{O, I, O}, 3, false, EM_STATE_IDLE},
		{{I, S, O}, 3, false, EM_STATE_STALE},
		{{S, F, I}, 3, false, EM_STATE_FALLBACK},
		{{F, P, S}, 3, false, EM_STATE_PENDING},
		{{P, X, O}, 3, false, EM_STATE_FAILING},
		{{P, X, O}, 3, true, EM_STATE_FALLBACK},   /* the computed metric's own fallback */
		{{O, O, X}, 2, false, EM_STATE_OK},        /* only the first n count */
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		EXPECT_STR(em_state_name(em_state_combine(rows[i].in, rows[i].n, rows[i].fallback)),
			   em_state_name(rows[i].want));
}
