/* sample.c - freeing and copying struct em_sample. */
#include <stdlib.h>
#include <string.h>

#include "scaler.h"

void em_sample_free(struct em_sample *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_series; i++)
		em_kvlist_free(&s->series[i].labels);
	free(s->series);
	memset(s, 0, sizeof(*s));
}

static int kvlist_copy(struct em_kvlist *dst, const struct em_kvlist *src)
{
	memset(dst, 0, sizeof(*dst));
	if (src->n == 0)
		return 0;
	dst->items = calloc(src->n, sizeof(*dst->items));
	if (!dst->items)
		return -1;
	for (size_t i = 0; i < src->n; i++) {
		dst->items[i].key = strdup(src->items[i].key);
		dst->items[i].value = strdup(src->items[i].value);
		dst->n = i + 1;
		if (!dst->items[i].key || !dst->items[i].value)
			return -1;
	}
	return 0;
}

int em_sample_copy(struct em_sample *dst, const struct em_sample *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->value = src->value;
	dst->active = src->active;
	if (src->n_series == 0)
		return 0;
	dst->series = calloc(src->n_series, sizeof(*dst->series));
	if (!dst->series)
		return -1;
	for (size_t i = 0; i < src->n_series; i++) {
		dst->n_series = i + 1;
		dst->series[i].value = src->series[i].value;
		if (kvlist_copy(&dst->series[i].labels, &src->series[i].labels) != 0)
			goto out;
	}
	return 0;
out:
	em_sample_free(dst);
	return -1;
}
