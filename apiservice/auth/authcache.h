/* authcache.h - a bounded TTL cache of review results keyed by SHA-256, with the clock passed in. */
#ifndef EM_AUTHCACHE_H
#define EM_AUTHCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EM_AUTHCACHE_KEYLEN 32

struct em_authcache;

/* capacity is rounded up to a multiple of 4 (4-way sets); at least 4. */
struct em_authcache *em_authcache_new(size_t capacity);
void em_authcache_free(struct em_authcache *c);   /* NULL-safe */

/* key = SHA-256 over a domain tag and one text: the cache never holds the
 * text itself (a bearer token stays out of memory dumps of the cache). */
void em_authcache_key(const char *domain, const char *text, unsigned char key[EM_AUTHCACHE_KEYLEN]);

/* True when key is present and now_ms < its expiry; then *flag and *text
 * (malloc'd copy, may be NULL when stored NULL) are set. Thread-safe. */
bool em_authcache_get(struct em_authcache *c, const unsigned char key[EM_AUTHCACHE_KEYLEN], int64_t now_ms,
		      int *flag, char **text);
/* Stores (replacing) key until now_ms + ttl_ms. A full set evicts an
 * expired entry, else the one expiring first. ttl_ms <= 0 stores nothing. */
void em_authcache_put(struct em_authcache *c, const unsigned char key[EM_AUTHCACHE_KEYLEN], int64_t now_ms,
		      int64_t ttl_ms, int flag, const char *text);
/* Unexpired entries at now_ms (tests and metrics). */
size_t em_authcache_count(struct em_authcache *c, int64_t now_ms);

#endif
