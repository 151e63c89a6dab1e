/* connguard.c - connections against slow and greedy clients: a deadline per complete request, per-IP and global limits. */
#include "connguard.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "adapter/selfmetrics.h"
#include "adapter/util/clock.h"

#define IP_BUCKETS 1024

/* Connections from one address (IPv4 as its IPv4-mapped IPv6 form). */
struct ipslot {
	struct ipslot *next;
	unsigned char addr[16];
	int count;
};

/* Connections waiting for a request with the same timeout, in the order
 * they started waiting: deadline order too. */
struct wlist {
	struct em_conn *head, *tail;
};

struct em_conn {
	struct em_conn *prev, *next;   /* in a waiting list, while waiting */
	struct wlist *on;              /* that list; NULL when not waiting */
	bool shut;                     /* shut by the guard: no longer counted */
	int64_t since_ms, deadline_ms;
	int fd;
	struct ipslot *ip;             /* NULL once shut */
};

struct em_connguard {
	struct em_connguard_limits l;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool stop;
	struct wlist fresh, idle;      /* waiting: since accepted, since the previous answer */
	int total;
	struct ipslot *ips[IP_BUCKETS];
	struct em_sm_series *shut[3];  /* extmetrics_http_connections_shut_total by reason */
};

enum reason { R_HEAD_TIMEOUT, R_PER_IP, R_MAX };
static const char *const reason_names[] = {"head_timeout", "per_ip_limit", "connection_limit"};

static struct em_sm_family fam_shut =
	EM_SM_FAMILY(EM_SM_COUNTER, "extmetrics_http_connections_shut_total",
		     "Connections shut or refused by the server: no complete request in time, or room made for a new one.");

static void key_of(const struct sockaddr *sa, unsigned char out[16])
{
	memset(out, 0, 16);
	if (sa && sa->sa_family == AF_INET) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa && sa->sa_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	}
}

static unsigned bucket_of(const unsigned char k[16])
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < 16; i++)
		h = (h ^ k[i]) * 16777619u;
	return h % IP_BUCKETS;
}

/* mu held. The slot of k, created with count 0; NULL when out of memory. */
static struct ipslot *ip_get(struct em_connguard *g, const unsigned char k[16])
{
	unsigned b = bucket_of(k);
	struct ipslot *s;

	for (s = g->ips[b]; s; s = s->next)
		if (memcmp(s->addr, k, 16) == 0)
			return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	memcpy(s->addr, k, 16);
	s->next = g->ips[b];
	g->ips[b] = s;
	return s;
}

/* mu held. One connection fewer from s; the slot goes with the last. */
static void ip_drop(struct em_connguard *g, struct ipslot *s)
{
	struct ipslot **pp;

	if (--s->count > 0)
		return;
	for (pp = &g->ips[bucket_of(s->addr)]; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			free(s);
			return;
		}
	}
}

static void unlink_waiting(struct em_connguard *g, struct em_conn *c)
{
	struct wlist *l = c->on;

	(void)g;
	if (!l)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
	c->on = NULL;
}

static void append_waiting(struct em_connguard *g, struct em_conn *c, struct wlist *l, int64_t timeout_ms)
{
	unlink_waiting(g, c);
	c->since_ms = em_mono_ms();
	c->deadline_ms = c->since_ms + timeout_ms;
	c->prev = l->tail;
	c->next = NULL;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
	c->on = l;
	if (l->head == c)
		pthread_cond_signal(&g->cv);
}

static void count_shut(struct em_connguard *g, enum reason why)
{
	em_sm_add(g->shut[why], 1);
}

/* mu held. Shuts c: the listener's thread sees the end of the stream and
 * closes it; until then it no longer counts against any limit. */
static void shut(struct em_connguard *g, struct em_conn *c, enum reason why)
{
	unlink_waiting(g, c);
	if (c->shut)
		return;
	shutdown(c->fd, SHUT_RDWR);
	c->shut = true;
	if (c->ip) {
		ip_drop(g, c->ip);
		c->ip = NULL;
	}
	g->total--;
	count_shut(g, why);
}

/* mu held. The connection waiting longest for a request: of ip when ip is
 * set, else of the address holding most connections. */
static struct em_conn *victim(struct em_connguard *g, const struct ipslot *ip)
{
	struct em_conn *best = NULL;
	struct wlist *lists[] = {&g->fresh, &g->idle};

	for (size_t i = 0; i < 2; i++) {
		for (struct em_conn *c = lists[i]->head; c; c = c->next) {
			if (ip && c->ip != ip)
				continue;
			if (!best || (!ip && c->ip->count > best->ip->count) ||
			    ((ip || c->ip->count == best->ip->count) && c->since_ms < best->since_ms))
				best = c;
			if (ip)
				break;   /* the oldest of ip in this list */
		}
	}
	return best;
}

static void *sweeper(void *arg)
{
	struct em_connguard *g = arg;

	pthread_mutex_lock(&g->mu);
	while (!g->stop) {
		int64_t now = em_mono_ms(), next = now + 1000;
		while (g->fresh.head && g->fresh.head->deadline_ms <= now)
			shut(g, g->fresh.head, R_HEAD_TIMEOUT);
		while (g->idle.head && g->idle.head->deadline_ms <= now)
			shut(g, g->idle.head, R_HEAD_TIMEOUT);
		if (g->fresh.head && g->fresh.head->deadline_ms < next)
			next = g->fresh.head->deadline_ms;
		if (g->idle.head && g->idle.head->deadline_ms < next)
			next = g->idle.head->deadline_ms;
		em_cond_wait_until(&g->cv, &g->mu, next);
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

struct em_connguard *em_connguard_new(const struct em_connguard_limits *l)
{
	struct em_connguard *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->l = *l;
	for (int i = 0; i < 3; i++) {
		char labels[96];
		snprintf(labels, sizeof(labels), "listener=\"%s\",reason=\"%s\"", l->listener ? l->listener : "",
			 reason_names[i]);
		g->shut[i] = em_sm_series(&fam_shut, labels);
		em_sm_add(g->shut[i], 0);
	}
	pthread_mutex_init(&g->mu, NULL);
	em_cond_init(&g->cv);
	if (pthread_create(&g->thread, NULL, sweeper, g) != 0) {
		pthread_mutex_destroy(&g->mu);
		pthread_cond_destroy(&g->cv);
		free(g);
		return NULL;
	}
	return g;
}

void em_connguard_free(struct em_connguard *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->mu);
	g->stop = true;
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
	pthread_join(g->thread, NULL);
	for (int i = 0; i < IP_BUCKETS; i++) {
		while (g->ips[i]) {
			struct ipslot *s = g->ips[i];
			g->ips[i] = s->next;
			free(s);
		}
	}
	pthread_mutex_destroy(&g->mu);
	pthread_cond_destroy(&g->cv);
	free(g);
}

struct em_conn *em_connguard_open(struct em_connguard *g, int fd, const struct sockaddr *peer)
{
	unsigned char k[16];
	struct em_conn *c = NULL, *v;
	struct ipslot *ip;

	key_of(peer, k);
	pthread_mutex_lock(&g->mu);
	ip = ip_get(g, k);
	if (!ip)
		goto refuse;
	if (ip->count >= g->l.per_ip) {
		if (!(v = victim(g, ip))) {
			count_shut(g, R_PER_IP);
			goto refuse;
		}
		shut(g, v, R_PER_IP);
	}
	if (g->total >= g->l.max) {
		if (!(v = victim(g, NULL))) {
			count_shut(g, R_MAX);
			goto refuse;
		}
		shut(g, v, R_MAX);
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		goto refuse;
	c->fd = fd;
	c->ip = ip;
	ip->count++;
	g->total++;
	append_waiting(g, c, &g->fresh, g->l.head_timeout_ms);
	pthread_mutex_unlock(&g->mu);
	return c;
refuse:
	/* a slot made for this connection alone goes again */
	if (ip && ip->count == 0) {
		ip->count = 1;
		ip_drop(g, ip);
	}
	pthread_mutex_unlock(&g->mu);
	shutdown(fd, SHUT_RDWR);
	return NULL;
}

void em_connguard_busy(struct em_connguard *g, struct em_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&g->mu);
	unlink_waiting(g, c);
	pthread_mutex_unlock(&g->mu);
}

void em_connguard_idle(struct em_connguard *g, struct em_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&g->mu);
	if (!c->shut)
		append_waiting(g, c, &g->idle, g->l.idle_timeout_ms);
	pthread_mutex_unlock(&g->mu);
}

void em_connguard_close(struct em_connguard *g, struct em_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&g->mu);
	unlink_waiting(g, c);
	if (!c->shut) {
		if (c->ip)
			ip_drop(g, c->ip);
		g->total--;
	}
	pthread_mutex_unlock(&g->mu);
	free(c);
}
