/* authcache.c - a bounded TTL cache of review results keyed by SHA-256, with the clock passed in. */
#include "authcache.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define WAYS 4

struct slot {
	bool used;
	unsigned char key[EM_AUTHCACHE_KEYLEN];
	int64_t expires_ms;
	int flag;
	char *text;
};

struct em_authcache {
	pthread_mutex_t lock;
	size_t nsets;
	struct slot *slots;   /* nsets * WAYS */
};

struct em_authcache *em_authcache_new(size_t capacity)
{
	struct em_authcache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->nsets = capacity < WAYS ? 1 : (capacity + WAYS - 1) / WAYS;
	c->slots = calloc(c->nsets * WAYS, sizeof(*c->slots));
	if (!c->slots) {
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

void em_authcache_free(struct em_authcache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nsets * WAYS; i++)
		free(c->slots[i].text);
	free(c->slots);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void em_authcache_key(const char *domain, const char *text, unsigned char key[EM_AUTHCACHE_KEYLEN])
{
	unsigned int n = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	memset(key, 0, EM_AUTHCACHE_KEYLEN);
	if (!md)
		return;
	/* The NUL after the domain keeps ("ab","c") and ("a","bc") apart. */
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(md, domain, strlen(domain) + 1) == 1 &&
	    EVP_DigestUpdate(md, text, strlen(text)) == 1)
		EVP_DigestFinal_ex(md, key, &n);
	EVP_MD_CTX_free(md);
}

static struct slot *set_of(struct em_authcache *c, const unsigned char *key)
{
	uint64_t h = 0;

	memcpy(&h, key, sizeof(h));   /* a SHA-256 prefix is already uniform */
	return &c->slots[(h % c->nsets) * WAYS];
}

bool em_authcache_get(struct em_authcache *c, const unsigned char key[EM_AUTHCACHE_KEYLEN], int64_t now_ms,
		      int *flag, char **text)
{
	struct slot *s;
	bool hit = false;

	*text = NULL;
	if (!c)
		return false;
	pthread_mutex_lock(&c->lock);
	s = set_of(c, key);
	for (int i = 0; i < WAYS; i++) {
		if (!s[i].used || memcmp(s[i].key, key, EM_AUTHCACHE_KEYLEN) != 0)
			continue;
		if (now_ms >= s[i].expires_ms)
			break;
		if (s[i].text && !(*text = strdup(s[i].text)))
			break;
		*flag = s[i].flag;
		hit = true;
		break;
	}
	pthread_mutex_unlock(&c->lock);
	return hit;
}

void em_authcache_put(struct em_authcache *c, const unsigned char key[EM_AUTHCACHE_KEYLEN], int64_t now_ms,
		      int64_t ttl_ms, int flag, const char *text)
{
	struct slot *s, *victim = NULL;
	char *copy = NULL;

	if (!c || ttl_ms <= 0 || (text && !(copy = strdup(text))))
		return;
	pthread_mutex_lock(&c->lock);
	s = set_of(c, key);
	for (int i = 0; i < WAYS && !victim; i++)
		if (s[i].used && memcmp(s[i].key, key, EM_AUTHCACHE_KEYLEN) == 0)
			victim = &s[i];
	for (int i = 0; i < WAYS && !victim; i++)
		if (!s[i].used || now_ms >= s[i].expires_ms)
			victim = &s[i];
	if (!victim) {
		victim = &s[0];
		for (int i = 1; i < WAYS; i++)
			if (s[i].expires_ms < victim->expires_ms)
				victim = &s[i];
	}
	free(victim->text);
	victim->used = true;
	memcpy(victim->key, key, EM_AUTHCACHE_KEYLEN);
	victim->expires_ms = now_ms + ttl_ms;
	victim->flag = flag;
	victim->text = copy;
	pthread_mutex_unlock(&c->lock);
}

size_t em_authcache_count(struct em_authcache *c, int64_t now_ms)
{
	size_t n = 0;

	if (!c)
		return 0;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->nsets * WAYS; i++)
		if (c->slots[i].used && now_ms < c->slots[i].expires_ms)
			n++;
	pthread_mutex_unlock(&c->lock);
	return n;
}
