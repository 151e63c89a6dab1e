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
