/* ma_quantity.c - Kubernetes Quantity text ("1.5", "10Ki", "250m", "1e3") as a float, by apimachinery's grammar. */
#include "metrics_api.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int ma_quantity_parse(const char *s, size_t n, double *out)
{
	static const struct {
		const char *suffix;
		double mul;
	} suffixes[] = {
		{"", 1}, {"n", 1e-9}, {"u", 1e-6}, {"m", 1e-3}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12},
		{"P", 1e15}, {"E", 1e18}, {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0},
		{"Ti", 1099511627776.0}, {"Pi", 1125899906842624.0}, {"Ei", 1152921504606846976.0},
	};
	size_t i = 0, digits = 0, sl;
	const char *suf;
	char num[400];
	double mul = -1;

	if (n > 0 && (s[0] == '+' || s[0] == '-'))
		i++;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++, digits++;
	if (i < n && s[i] == '.')
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
	if (digits == 0 || i >= sizeof(num))
		return -1;
	memcpy(num, s, i);
	num[i] = '\0';
	suf = s + i;
	sl = n - i;
	for (size_t k = 0; k < sizeof(suffixes) / sizeof(suffixes[0]); k++)
		if (strlen(suffixes[k].suffix) == sl && memcmp(suffixes[k].suffix, suf, sl) == 0)
			mul = suffixes[k].mul;
	if (mul < 0 && sl >= 2 && (suf[0] == 'e' || suf[0] == 'E')) {
		size_t j = 1;
		long e = 0;
		bool neg = false;
		if (suf[j] == '+' || suf[j] == '-')
			neg = suf[j++] == '-';
		if (j >= sl)
			return -1;
		for (; j < sl; j++) {
			if (suf[j] < '0' || suf[j] > '9')
				return -1;
			if (e < 100000)
				e = e * 10 + (suf[j] - '0');
		}
		mul = pow(10.0, (double)(neg ? -e : e));
	}
	if (mul < 0)
		return -1;
	*out = strtod(num, NULL) * mul;
	return 0;
}
