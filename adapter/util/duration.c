/* duration.c - Go's time.ParseDuration, exactly, and the option form built on it (bare integer = milliseconds). */
#include "duration.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "goquote.h"

int em_go_parse_duration(const char *s, int64_t *ns, char *msg, size_t msgcap)
{
	static const struct {
		const char *name;
		uint64_t ns;
	} units[] = {
		{"ns", 1}, {"us", 1000}, {"\xc2\xb5s", 1000}, {"\xce\xbcs", 1000},
		{"ms", 1000000}, {"s", 1000000000}, {"m", UINT64_C(60000000000)},
		{"h", UINT64_C(3600000000000)},
	};
	const uint64_t lim = UINT64_C(1) << 63;
	const char *orig = s;
	uint64_t d = 0;
	bool neg = false;
	char q[160], uq[64];

	if (*s == '-' || *s == '+') {
		neg = *s == '-';
		s++;
	}
	if (strcmp(s, "0") == 0) {
		*ns = 0;
		return 0;
	}
	if (!*s)
		goto invalid;
	while (*s) {
		uint64_t v = 0, f = 0, unit = 0;
		double scale = 1;
		bool pre = false, post = false, overflow = false;
		const char *u;
		size_t ulen, i;

		if (!(*s == '.' || (*s >= '0' && *s <= '9')))
			goto invalid;
		for (; *s >= '0' && *s <= '9'; s++) {
			pre = true;
			if (v > (lim - 1) / 10)
				goto invalid;
			v = v * 10 + (uint64_t)(*s - '0');
			if (v > lim)
				goto invalid;
		}
		if (*s == '.') {
			s++;
			for (; *s >= '0' && *s <= '9'; s++) {
				post = true;
				if (overflow)
					continue;
				if (f > (lim - 1) / 10) {
					overflow = true;
					continue;
				}
				f = f * 10 + (uint64_t)(*s - '0');
				scale *= 10;
			}
		}
		if (!pre && !post)
			goto invalid;
		u = s;
		while (*s && *s != '.' && !(*s >= '0' && *s <= '9'))
			s++;
		ulen = (size_t)(s - u);
		if (ulen == 0) {
			em_go_quote_to(q, sizeof(q), orig);
			snprintf(msg, msgcap, "time: missing unit in duration %s", q);
			return -1;
		}
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strlen(units[i].name) == ulen && memcmp(units[i].name, u, ulen) == 0)
				unit = units[i].ns;
		if (!unit) {
			char ubuf[32];

			snprintf(ubuf, sizeof(ubuf), "%.*s", (int)(ulen < 31 ? ulen : 31), u);
			em_go_quote_to(uq, sizeof(uq), ubuf);
			em_go_quote_to(q, sizeof(q), orig);
			snprintf(msg, msgcap, "time: unknown unit %s in duration %s", uq, q);
			return -1;
		}
		if (v > lim / unit)
			goto invalid;
		v *= unit;
		if (f > 0) {
			v += (uint64_t)((double)f * ((double)unit / scale));
			if (v > lim)
				goto invalid;
		}
		d += v;
		if (d > lim)
			goto invalid;
	}
	if (neg) {
		*ns = d == lim ? INT64_MIN : -(int64_t)d;
		return 0;
	}
	if (d > lim - 1)
		goto invalid;
	*ns = (int64_t)d;
	return 0;
invalid:
	em_go_quote_to(q, sizeof(q), orig);
	snprintf(msg, msgcap, "time: invalid duration %s", q);
	return -1;
}

int em_parse_duration_ms(const char *s, int64_t *out_ms)
{
	const char *digits = s + (*s == '+');
	char msg[160];
	int64_t ns;

	/* KEDA: a bare integer counts milliseconds. */
	if (*digits && strspn(digits, "0123456789") == strlen(digits)) {
		char *end;
		long long v;

		errno = 0;
		v = strtoll(digits, &end, 10);
		if (errno || *end)
			return -1;
		*out_ms = v;
		return 0;
	}
	if (em_go_parse_duration(s, &ns, msg, sizeof(msg)) != 0 || ns < 0)
		return -1;
	*out_ms = ns / 1000000 + (ns % 1000000 >= 500000);
	return 0;
}
