/* test_duration.c - Go's time.ParseDuration, case for case (expected values and messages printed by Go 1.19's own). */
#include "harness.h"

#include <stdint.h>

#include "adapter/util/duration.h"

TEST(go_durations_accepted)
{
	static const struct {
		const char *s;
		int64_t ns;
	} cases[] = {
		{"0", 0}, {"-0", 0}, {"+0", 0}, {"1.s", 1000000000}, {".5s", 500000000},
		{"-1.5h", -5400000000000LL}, {"1\xc2\xb5s", 1000}, {"1\xce\xbcs", 1000}, {"300ms", 300000000},
		{"1h2m3.5s", 3723500000000LL}, {"9223372036854775807ns", INT64_MAX}, {"0.0000000001s", 0},
		{"1.0000005ms", 1000000}, {"2562047h47m16.854775807s", INT64_MAX},
		{"-2562047h47m16.854775808s", INT64_MIN},
	};
	char msg[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t v = -42;
		if (em_go_parse_duration(cases[i].s, &v, msg, sizeof(msg)) != 0)
			TH_FAIL("\"%s\" refused: %s", cases[i].s, msg);
		else if (v != cases[i].ns)
			TH_FAIL("\"%s\" = %lld, want %lld", cases[i].s, (long long)v, (long long)cases[i].ns);
	}
}

TEST(go_durations_refused_with_go_messages)
{
	static const struct {
		const char *s, *msg;
	} cases[] = {
		/* strtod would read these as numbers: Go does not */
		{"1e3s", "time: unknown unit \"e\" in duration \"1e3s\""},
		{"0x10s", "time: unknown unit \"x\" in duration \"0x10s\""},
		{"1.5e1s", "time: unknown unit \"e\" in duration \"1.5e1s\""},
		{"inf", "time: invalid duration \"inf\""},
		{"NaN", "time: invalid duration \"NaN\""},
		{"1", "time: missing unit in duration \"1\""},
		{"-5", "time: missing unit in duration \"-5\""},
		{"1h1", "time: missing unit in duration \"1h1\""},
		{"1..s", "time: missing unit in duration \"1..s\""},
		{"", "time: invalid duration \"\""},
		{" 1s", "time: invalid duration \" 1s\""},
		{"1s ", "time: unknown unit \"s \" in duration \"1s \""},
		{"1h 2m", "time: unknown unit \"h \" in duration \"1h 2m\""},
		{"1_000ms", "time: unknown unit \"_\" in duration \"1_000ms\""},
		{"1,5s", "time: unknown unit \",\" in duration \"1,5s\""},
		{"+", "time: invalid duration \"+\""},
		{"-", "time: invalid duration \"-\""},
		{".", "time: invalid duration \".\""},
		{"s", "time: invalid duration \"s\""},
		{"2562048h", "time: invalid duration \"2562048h\""},
		{"9223372036854775808ns", "time: invalid duration \"9223372036854775808ns\""},
		{"2562047h47m16.854775808s", "time: invalid duration \"2562047h47m16.854775808s\""},
	};
	char msg[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t v;
		if (em_go_parse_duration(cases[i].s, &v, msg, sizeof(msg)) == 0)
			TH_FAIL("\"%s\" accepted as %lld", cases[i].s, (long long)v);
		else
			EXPECT_STR(msg, cases[i].msg);
	}
}

TEST(option_durations)
{
	static const struct {
		const char *s;
		int rc;
		int64_t ms;
	} cases[] = {
		{"2500", 0, 2500},          /* a bare integer counts milliseconds (KEDA) */
		{"+7", 0, 7},
		{"0", 0, 0},
		{"30s", 0, 30000},
		{"1m30s", 0, 90000},
		{"1h2m3.5s", 0, 3723500},
		{"1.5ms", 0, 2},            /* to the nearest millisecond */
		{"1.4ms", 0, 1},
		{"-0s", 0, 0},
		{"-5", -1, 0},              /* negative: refused */
		{"-1s", -1, 0},
		{"1e3s", -1, 0},            /* what strtod would take and Go does not */
		{"0x10s", -1, 0},
		{"1e3", -1, 0},
		{"3x", -1, 0},
		{"", -1, 0},
		{"99999999999999999999", -1, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ms = -42;
		int rc = em_parse_duration_ms(cases[i].s, &ms);
		if (rc != cases[i].rc)
			TH_FAIL("\"%s\": rc %d, want %d", cases[i].s, rc, cases[i].rc);
		else if (rc == 0 && ms != cases[i].ms)
			TH_FAIL("\"%s\" = %lld ms, want %lld", cases[i].s, (long long)ms, (long long)cases[i].ms);
	}
}
