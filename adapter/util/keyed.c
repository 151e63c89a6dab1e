/* keyed.c - objects shared by key with a reference count: one per Prometheus server, one per PostgreSQL target. */
#include "keyed.h"

#include <stdlib.h>
#include <string.h>

#include "secret.h"

void *em_keyed_get(struct em_keyed_set *s, const char *key, size_t size, int (*init)(void *obj))
{
	struct em_keyed *k;

	pthread_mutex_lock(&s->mu);
	for (k = s->head; k; k = k->next)
		if (strcmp(k->key, key) == 0)
			break;
	if (!k) {
		k = calloc(1, size);
		if (k && (!(k->key = strdup(key)) || (init && init(k) != 0))) {
			em_free_secret(k->key);
			free(k);
			k = NULL;
		}
		if (k) {
			k->next = s->head;
			s->head = k;
		}
	}
	if (k)
		k->refs++;
	pthread_mutex_unlock(&s->mu);
	return k;
}

void em_keyed_put(struct em_keyed_set *s, void *obj, void (*fini)(void *obj))
{
	struct em_keyed *k = obj, **pp;

	if (!k)
		return;
	pthread_mutex_lock(&s->mu);
	if (--k->refs > 0) {
		pthread_mutex_unlock(&s->mu);
		return;
	}
	for (pp = &s->head; *pp; pp = &(*pp)->next)
		if (*pp == k) {
			*pp = k->next;
			break;
		}
	pthread_mutex_unlock(&s->mu);
	if (fini)
		fini(k);
	em_free_secret(k->key);
	free(k);
}
