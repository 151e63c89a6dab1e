/* text.c - small text helpers parsers share: hex digits, percent-decoding, DNS labels, string vectors, edit distance. */
#include "text.h"

#include <ctype.h>
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

size_t em_text_distance(const char *a, const char *b, size_t max)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t rows[3][65], *pp = rows[0], *p = rows[1], *c = rows[2];

	if (la > 64 || lb > 64)
		return max + 1;
	if ((la > lb ? la - lb : lb - la) > max)
		return max + 1;
	for (size_t j = 0; j <= lb; j++)
		p[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t best = c[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			int ai = tolower((unsigned char)a[i - 1]), bj = tolower((unsigned char)b[j - 1]);
			size_t v = p[j - 1] + (ai != bj);
			if (p[j] + 1 < v)
				v = p[j] + 1;
			if (c[j - 1] + 1 < v)
				v = c[j - 1] + 1;
			if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == bj && pp[j - 2] + 1 < v)
				v = pp[j - 2] + 1;
			c[j] = v;
			if (v < best)
				best = v;
		}
		if (best > max)
			return max + 1;
		{
			size_t *t = pp;
			pp = p;
			p = c;
			c = t;
		}
	}
	return p[lb];
}
