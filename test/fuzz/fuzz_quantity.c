/* fuzz_quantity.c - libFuzzer target: em_quantity_format on any 8-byte double, read back by a small parser. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apiservice/quantity.h"
#include "fuzz.h"

/* Reads "<digits><suffix>" back as exact milli-units; -1 if malformed or out of int64. */
static int64_t read_milli(const char *t)
{
	static const struct { const char *s; int e; } sfx[] = {
		{"m", -3}, {"", 0}, {"k", 3}, {"M", 6}, {"G", 9}, {"T", 12}, {"P", 15}, {"E", 18},
	};
	unsigned __int128 m = 0;
	size_t i = 0;

	if (t[0] < '0' || t[0] > '9' || (t[0] == '0' && t[1] >= '0' && t[1] <= '9'))
		return -1;
	for (; t[i] >= '0' && t[i] <= '9'; i++)
		m = m * 10 + (unsigned)(t[i] - '0');
	for (size_t k = 0; k < sizeof(sfx) / sizeof(sfx[0]); k++) {
		if (strcmp(t + i, sfx[k].s))
			continue;
		for (int e = sfx[k].e + 3; e > 0; e--)
			m *= 10;
		return m > (unsigned __int128)INT64_MAX ? -1 : (int64_t)m;
	}
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t raw[8] = {0};
	double v;
	char buf[EM_QUANTITY_BUF];

	memcpy(raw, data, size < 8 ? size : 8);
	memcpy(&v, raw, sizeof(v));
	memset(buf, 0, sizeof(buf));

	size_t n = em_quantity_format(v, buf, sizeof(buf));
	CHECK(n > 0 && n <= 31 && n == strlen(buf));
	int64_t m = read_milli(buf);
	CHECK(m >= 0);
	if (isnan(v) || isinf(v) || !(v > 0)) {
		CHECK(!strcmp(buf, "0"));
		return 0;
	}
	/* canonical: the mantissa ends in "000" only if no larger suffix exists */
	size_t digits = strspn(buf, "0123456789");
	CHECK(digits < 3 || strncmp(buf + digits - 3, "000", 3) != 0);
	if (v >= 9223372036854775.807) {
		CHECK(m == INT64_MAX);
		return 0;
	}
	/* within rounding: v*1000 in floating point is off by at most an ulp */
	double want = nearbyint(v * 1000.0);
	CHECK(fabs((double)m - want) <= 1.0 + want * 4e-16);
	return 0;
}
