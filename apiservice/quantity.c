/* quantity.c - formats a double as a canonical DecimalSI Quantity (int64Amount.AsCanonicalBytes). */
#include "quantity.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Milli-units of v, correctly rounded: "%.3f" prints the exact binary value
 * rounded to 3 decimals, which v*1000 in floating point would not (0.0005 is
 * slightly above 5e-4 in binary and must give 1m, not 0). Needs 0 <= v < 2^63/1000. */
static int64_t to_milli(double v)
{
	char tmp[48];
	int64_t m = 0;
	int n = snprintf(tmp, sizeof(tmp), "%.3f", v);

	if (n <= 0 || (size_t)n >= sizeof(tmp))
		return 0;
	for (int i = 0; i < n; i++) {
		if (tmp[i] == '.')
			continue;
		if (tmp[i] < '0' || tmp[i] > '9')
			return 0;
		/* cannot overflow: the caller keeps v*1000 below 2^63 - 1024 */
		m = m * 10 + (tmp[i] - '0');
	}
	return m;
}

static int64_t clamp_milli(double v)
{
	/* 9223372036854774784 is the largest double below 2^63; above it the
	 * milli-units would not fit an int64 (KEDA #7880 printed such values as
	 * "-9223372036854775808m"). */
	if (v * 1000.0 >= 9223372036854774784.0)
		return INT64_MAX;
	return to_milli(v);
}

size_t em_quantity_format(double v, char *buf, size_t cap)
{
	static const char *const suffix[] = {"n", "u", "m", "", "k", "M", "G", "T", "P", "E"};
	int64_t m;
	int e = -3;
	int n;

	if (cap == 0)
		return 0;
	if (isnan(v) || isinf(v) || !(v > 0))
		m = 0;
	else
		m = clamp_milli(v);
	if (m == 0) {
		snprintf(buf, cap, "0");
		return cap > 1 ? 1 : 0;
	}
	/* move trailing zeros into the exponent, then back until it is a multiple of 3 */
	while (m % 10 == 0) {
		m /= 10;
		e++;
	}
	switch (e % 3) {
	case 1:
	case -2:
		m *= 10;
		e -= 1;
		break;
	case 2:
	case -1:
		m *= 100;
		e -= 2;
		break;
	}
	/* e is in [-3, 15] here since 1 <= m < 2^63 started at e = -3 */
	n = snprintf(buf, cap, "%lld%s", (long long)m, suffix[(e + 9) / 3]);
	if (n < 0)
		return 0;
	return (size_t)n < cap ? (size_t)n : cap - 1;
}
