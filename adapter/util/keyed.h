/* keyed.h - objects shared by key with a reference count: one per Prometheus server, one per PostgreSQL target. */
#ifndef EM_KEYED_H
#define EM_KEYED_H

#include <pthread.h>
#include <stddef.h>

/* The head of every shared object. */
struct em_keyed {
	struct em_keyed *next;
	char *key;                  /* wiped when freed: it may hold a password */
	int refs;
};

/* The objects of one kind, e.g. `static struct em_keyed_set pools = EM_KEYED_SET_INIT;`. */
struct em_keyed_set {
	pthread_mutex_t mu;
	struct em_keyed *head;
};
#define EM_KEYED_SET_INIT {PTHREAD_MUTEX_INITIALIZER, NULL}

/* The object for key with a reference taken; made when there is none:
 * size zeroed bytes (a struct starting with its struct em_keyed), then
 * init(obj) under the set's lock (0, or -1 to give up). NULL when out of
 * memory or init failed. */
void *em_keyed_get(struct em_keyed_set *s, const char *key, size_t size, int (*init)(void *obj));

/* Drops a reference. The last one unlinks obj, calls fini(obj) (NULL-safe
 * hook, run without the lock) and frees key and obj. NULL-safe. */
void em_keyed_put(struct em_keyed_set *s, void *obj, void (*fini)(void *obj));

#endif
