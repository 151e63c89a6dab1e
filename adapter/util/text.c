/* text.c - small text helpers parsers share: hex digits, percent-decoding, DNS labels, growing string vectors. */
#include "text.h"

#include <stdlib.h>
#include <string.h>

int em_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t em_percent_decode(const char *s, size_t n, char *out, bool keep_nul, size_t *bad)
{
	size_t o = 0, nbad = 0;

	for (size_t i = 0; i < n; i++) {
		int hi = -1, lo = -1;

		if (s[i] == '%' && i + 2 < n) {
			hi = em_hexval((unsigned char)s[i + 1]);
			lo = em_hexval((unsigned char)s[i + 2]);
		}
		if (s[i] != '%') {
			out[o++] = s[i];
		} else if (hi < 0 || lo < 0) {
			nbad++;
			out[o++] = s[i];
		} else if (keep_nul && hi == 0 && lo == 0) {
			out[o++] = s[i];
		} else {
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		}
	}
	if (bad)
		*bad = nbad;
	return o;
}

bool em_dns1123_label(const char *s)
{
	size_t n;

	if (!s)
		return false;
	n = strlen(s);
	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && !(c == '-' && i > 0 && i < n - 1))
			return false;
	}
	return true;
}

int em_strv_push(char ***v, size_t *n, const char *s)
{
	char *copy = strdup(s);
	char **nv;

	if (!copy)
		return -1;
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv) {
		free(copy);
		return -1;
	}
	*v = nv;
	nv[(*n)++] = copy;
	return 0;
}

uint32_t em_hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}
