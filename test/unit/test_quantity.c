/* test_quantity.c - unit tests of em_quantity_format: canonical DecimalSI texts, rounding, clamping. */
#include "harness.h"

#include <float.h>
#include <math.h>

#include "apiservice/quantity.h"

struct qcase {
	double v;
	const char *want;
};

static const struct qcase cases[] = {
	{0, "0"},
	{-0.0, "0"},
	{1e-3, "1m"},
	{0.0005, "1m"},           /* 5e-4 is a little above 0.0005 in binary */
	{0.0004999, "0"},
	{0.0015, "2m"},
	{0.0625, "62m"},          /* an exact tie: round half to even, like "%.3f" */
	{0.1875, "188m"},
	{0.5, "500m"},
	{0.1, "100m"},
	{0.01, "10m"},
	{0.12, "120m"},
	{0.999, "999m"},
	{999.9999, "1k"},         /* rounds up into a larger suffix */
	{1, "1"},
	{10, "10"},
	{12, "12"},
	{100, "100"},
	{1.1, "1100m"},
	{22.5, "22500m"},
	{100.25, "100250m"},
	{1000, "1k"},
	{1500, "1500"},
	{4000, "4k"},
	{4100, "4100"},
	{1e5, "100k"},
	{123456.789, "123456789m"},
	{1234567, "1234567"},
	{1e6, "1M"},
	{1.5e6, "1500k"},
	{12e6, "12M"},
	{1e9, "1G"},
	{2.5e9, "2500M"},
	{1e12, "1T"},
	{1e15, "1P"},
	{9e15, "9P"},
	{9.2e15, "9200T"},
	{1.234e-2, "12m"},          /* milli-units: never a smaller suffix */
	{1e-9, "0"},
	{DBL_MIN, "0"},
	{5e-324, "0"},
	{1e16, "9223372036854775807m"},
	{1e300, "9223372036854775807m"},
	{DBL_MAX, "9223372036854775807m"},
	{-1, "0"},
	{-1e-3, "0"},
	{-1e300, "0"},
};

TEST(canonical_texts)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[EM_QUANTITY_BUF];
		size_t n = em_quantity_format(cases[i].v, buf, sizeof(buf));
		if (strcmp(buf, cases[i].want) != 0)
			TH_FAIL("format(%.17g) = \"%s\", expected \"%s\"", cases[i].v, buf, cases[i].want);
		if (n != strlen(buf))
			TH_FAIL("format(%.17g) returned %zu for \"%s\"", cases[i].v, n, buf);
	}
}

TEST(not_a_number_and_infinities_are_zero)
{
	char buf[EM_QUANTITY_BUF];

	EXPECT_INT(em_quantity_format(NAN, buf, sizeof(buf)), 1);
	EXPECT_STR(buf, "0");
	EXPECT_INT(em_quantity_format(-NAN, buf, sizeof(buf)), 1);
	EXPECT_STR(buf, "0");
	EXPECT_INT(em_quantity_format(INFINITY, buf, sizeof(buf)), 1);
	EXPECT_STR(buf, "0");
	EXPECT_INT(em_quantity_format(-INFINITY, buf, sizeof(buf)), 1);
	EXPECT_STR(buf, "0");
}

TEST(near_the_int64_limit)
{
	char buf[EM_QUANTITY_BUF];

	/* the last doubles whose milli-units still fit an int64 are exact */
	em_quantity_format(9223372036854774.0, buf, sizeof(buf));
	EXPECT_STR(buf, "9223372036854774");
	em_quantity_format(nextafter(9223372036854775.807, 0), buf, sizeof(buf));
	EXPECT(strlen(buf) <= 20);
	EXPECT(buf[0] == '9');
	em_quantity_format(9223372036854776.0, buf, sizeof(buf));
	EXPECT_STR(buf, "9223372036854775807m");
}

TEST(small_buffers_truncate)
{
	char buf[8];

	memset(buf, 'x', sizeof(buf));
	EXPECT_INT(em_quantity_format(22.5, buf, 0), 0);
	EXPECT(buf[0] == 'x');
	EXPECT_INT(em_quantity_format(22.5, buf, 5), 4);
	EXPECT_STR(buf, "2250");
	EXPECT_INT(em_quantity_format(0, buf, 1), 0);
	EXPECT_STR(buf, "");
}

/* Every output: digits without a leading zero, then one suffix; never ends in
 * "000" before a suffix that has a larger neighbour. */
TEST(outputs_are_canonical_across_magnitudes)
{
	unsigned seed = 12345;

	for (int i = 0; i < 20000; i++) {
		char buf[EM_QUANTITY_BUF];
		seed = seed * 1103515245u + 12345u;
		double mant = (double)(seed >> 8) / (double)(1u << 24);
		seed = seed * 1103515245u + 12345u;
		double v = mant * pow(10.0, (double)(seed % 21) - 4.0);   /* 1e-4 .. 1e16 */
		size_t n = em_quantity_format(v, buf, sizeof(buf));
		size_t digits = strspn(buf, "0123456789");
		const char *suf = buf + digits;

		if (n == 0 || n > 20 || digits == 0 || (buf[0] == '0' && n != 1)) {
			TH_FAIL("format(%.17g) = \"%s\"", v, buf);
			continue;
		}
		if (strcmp(suf, "m") && strcmp(suf, "") && strcmp(suf, "k") && strcmp(suf, "M") &&
		    strcmp(suf, "G") && strcmp(suf, "T") && strcmp(suf, "P"))
			TH_FAIL("format(%.17g) = \"%s\": suffix \"%s\"", v, buf, suf);
		if (digits >= 3 && !strncmp(buf + digits - 3, "000", 3))
			TH_FAIL("format(%.17g) = \"%s\" is not canonical", v, buf);
		/* the value read back is within half a milli-unit of v */
		double scale = !strcmp(suf, "m") ? 1e-3 : !strcmp(suf, "") ? 1 : !strcmp(suf, "k") ? 1e3 :
			       !strcmp(suf, "M") ? 1e6 : !strcmp(suf, "G") ? 1e9 : !strcmp(suf, "T") ? 1e12 : 1e15;
		double back = strtod(buf, NULL) * scale;
		if (v < 9.2e15 && !(fabs(back - v) <= 5e-4 + fabs(v) * 1e-15))
			TH_FAIL("format(%.17g) = \"%s\" reads back as %.17g", v, buf, back);
	}
}
