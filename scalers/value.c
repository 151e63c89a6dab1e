/* value.c - checking the numbers backends send before they are used or served (em_value_check and friends, scaler.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scaler.h"

int em_value_check(double v, enum em_value_kind kind, const char *what, struct em_err *err)
{
	if (isnan(v))
		return em_err_set(err, EM_E_UNAVAILABLE, "%s is NaN", what);
	if (isinf(v))
		return em_err_set(err, EM_E_UNAVAILABLE, "%s is %s", what, v > 0 ? "+Inf" : "-Inf");
	if (kind == EM_VALUE_COUNT && v < 0)
		return em_err_set(err, EM_E_UNAVAILABLE, "%s is %.17g, but a count cannot be negative", what, v);
	if (fabs(v) > EM_VALUE_MAX)
		return em_err_set(err, EM_E_UNAVAILABLE, "%s is %.4g, beyond the largest value served (2^53)", what, v);
	return 0;
}

int em_count_check(int64_t v, const char *what, struct em_err *err)
{
	if (v < 0)
		return em_err_set(err, EM_E_UNAVAILABLE, "%s is %lld, but a count cannot be negative", what, (long long)v);
	if (v > (int64_t)EM_VALUE_MAX)
		return em_err_set(err, EM_E_UNAVAILABLE, "%s is %lld, beyond the largest value served (2^53)", what,
				  (long long)v);
	return 0;
}

int em_count_parse(const char *text, size_t n, const char *what, int64_t *out, struct em_err *err)
{
	char ex[4 * 24 + 8];
	int64_t v = 0;
	size_t i = 0;

	bool negative = n > 1 && text[0] == '-';

	for (i = negative; i < n && text[i] >= '0' && text[i] <= '9'; i++) {
		v = v * 10 + (text[i] - '0');
		/* checked before the next digit: v stays far from int64's limit */
		if (v > (int64_t)EM_VALUE_MAX) {
			em_excerpt(ex, sizeof(ex), text, n, 24);
			return em_err_set(err, EM_E_UNAVAILABLE, "%s is %s, beyond the largest value served (2^53)", what,
					  ex);
		}
	}
	if (n == 0 || i != n || negative) {
		em_excerpt(ex, sizeof(ex), text, n, 24);
		return em_err_set(err, EM_E_UNAVAILABLE, "%s is %s, %s", what, ex,
				  negative && i == n ? "but a count cannot be negative" : "not a count (digits only)");
	}
	*out = v;
	return 0;
}

int em_count_add(int64_t *acc, int64_t v, const char *what, struct em_err *err)
{
	int64_t sum;

	if (*acc < 0 || v < 0)
		return em_err_set(err, EM_E_UNAVAILABLE, "%s: a count cannot be negative", what);
	if (__builtin_add_overflow(*acc, v, &sum) || sum > (int64_t)EM_VALUE_MAX)
		return em_err_set(err, EM_E_UNAVAILABLE, "%s: the sum of the counts is beyond the largest value served (2^53)",
				  what);
	*acc = sum;
	return 0;
}

int em_number_parse(const char *text, size_t n, double *out)
{
	char buf[128], *end;
	const char *w;
	size_t i = 0;

	if (n == 0 || n >= sizeof(buf) || memchr(text, '\0', n))
		return -1;
	memcpy(buf, text, n);
	buf[n] = '\0';
	if (buf[0] == '+' || buf[0] == '-')
		i = 1;
	w = buf + i;
	/* the words strtod knows, spelled as Go and PostgreSQL write them */
	if (strcasecmp(w, "nan") == 0) {
		*out = NAN;
		return 0;
	}
	if (strcasecmp(w, "inf") == 0 || strcasecmp(w, "infinity") == 0) {
		*out = buf[0] == '-' ? -INFINITY : INFINITY;
		return 0;
	}
	/* digits or a point first: no hex, no space, no other words */
	if (!((w[0] >= '0' && w[0] <= '9') || w[0] == '.') || (w[0] == '0' && (w[1] == 'x' || w[1] == 'X')))
		return -1;
	*out = strtod(buf, &end);
	return *end == '\0' ? 0 : -1;
}
