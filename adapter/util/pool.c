/* pool.c - connections shared per target (one server and identity): slots opened only while one is busy, reconnect back-off. */
#include "pool.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "keyed.h"
#include "secret.h"
#include "strbuf.h"

struct pool_slot {
	void *conn;
	bool busy;
	bool connecting;            /* taken empty: its fetch is opening the connection */
	int64_t busy_since_ms;      /* when its current command (or connection attempt) started */
	int64_t last_used_ms;
};

struct em_pool {
	struct em_keyed k;          /* key: the kind, then the target's key (may hold a password) */
	const struct em_pool_ops *ops;
	void *shared;
	pthread_mutex_t mu;
	pthread_cond_t cv;          /* a slot came free or a connection attempt ended */
	struct pool_slot slots[EM_POOL_MAX_CONNS];
	int64_t next_connect_ms;    /* back-off: no attempt before this (monotonic) */
	int64_t backoff_ms;
	char last_error[256];
};

static struct em_keyed_set pools = EM_KEYED_SET_INIT;

int64_t em_pool_share_wait_ms(int64_t budget_ms)
{
	int64_t w = budget_ms / 4;

	if (w > EM_POOL_SHARE_WAIT_MS)
		w = EM_POOL_SHARE_WAIT_MS;
	return w > 0 ? w : 0;
}

int64_t em_pool_backoff_next(int64_t cur_ms)
{
	if (cur_ms < EM_POOL_BACKOFF_MIN_MS)
		return EM_POOL_BACKOFF_MIN_MS;
	return cur_ms * 2 > EM_POOL_BACKOFF_MAX_MS ? EM_POOL_BACKOFF_MAX_MS : cur_ms * 2;
}

int em_pool_wait_fd(int fd, short events, int64_t deadline_ms)
{
	struct pollfd pfd = {.fd = fd, .events = events};

	if (fd < 0)
		return -1;
	for (;;) {
		int64_t left = deadline_ms - em_mono_ms();
		int rc;

		if (left <= 0)
			return 0;
		rc = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

static int pool_init(void *obj)
{
	struct em_pool *p = obj;

	pthread_mutex_init(&p->mu, NULL);
	em_cond_init(&p->cv);
	return 0;
}

static void pool_fini(void *obj)
{
	struct em_pool *p = obj;

	for (int i = 0; i < EM_POOL_MAX_CONNS; i++)
		if (p->ops)
			p->ops->close(p->slots[i].conn);
	if (p->ops && p->ops->shared_free && p->shared)
		p->ops->shared_free(p->shared);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
}

struct em_pool *em_pool_get(const struct em_pool_ops *ops, const char *key, const void *arg)
{
	struct em_strbuf full;
	struct em_pool *p;
	bool ok = true;

	/* one set for every kind: the kind leads the key */
	em_sb_init(&full);
	em_sb_printf(&full, "%s\x1f%s", ops->kind, key);
	p = full.oom ? NULL : em_keyed_get(&pools, full.buf, sizeof(*p), pool_init);
	em_wipe(full.buf, full.len);
	em_sb_free(&full);
	if (!p)
		return NULL;
	pthread_mutex_lock(&p->mu);
	p->ops = ops;
	/* made by the first user; retried by the next when that ran out of memory */
	if (ops->shared_new && !p->shared && !(p->shared = ops->shared_new(arg)))
		ok = false;
	pthread_mutex_unlock(&p->mu);
	if (!ok) {
		em_pool_put(p);
		return NULL;
	}
	return p;
}

void em_pool_put(struct em_pool *p)
{
	em_keyed_put(&pools, p, pool_fini);
}

void *em_pool_shared(const struct em_pool *p)
{
	return p ? p->shared : NULL;
}

int em_pool_acquire(struct em_pool *p, int64_t deadline_ms, void **conn, struct em_err *err)
{
	int64_t now = em_mono_ms();
	int64_t share_ms = em_pool_share_wait_ms(deadline_ms - now);
	int pick = -1;

	*conn = NULL;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		int empty_slot = -1, busy = 0;
		bool connecting = false;
		int64_t youngest = 0, wake = deadline_ms;

		for (int i = 0; i < EM_POOL_MAX_CONNS && pick < 0; i++) {
			struct pool_slot *s = &p->slots[i];
			if (s->busy) {
				connecting |= s->connecting;
				if (busy++ == 0 || s->busy_since_ms > youngest)
					youngest = s->busy_since_ms;
			} else if (s->conn) {
				pick = i;
			} else if (empty_slot < 0) {
				empty_slot = i;
			}
		}
		now = em_mono_ms();
		if (pick >= 0)
			break;
		if (empty_slot >= 0 && !connecting) {
			if (busy == 0 || now - youngest >= share_ms) {
				pick = empty_slot;
				p->slots[pick].connecting = true;
				break;
			}
			wake = youngest + share_ms;
		}
		if (now >= deadline_ms) {
			pthread_mutex_unlock(&p->mu);
			return em_err_set(err, EM_E_UNAVAILABLE,
					  "no connection to this server came free in time (%d busy with commands or "
					  "connecting)", busy);
		}
		if (wake > deadline_ms)
			wake = deadline_ms;
		em_cond_wait_until(&p->cv, &p->mu, wake);
	}
	p->slots[pick].busy = true;
	p->slots[pick].busy_since_ms = now;
	*conn = p->slots[pick].conn;
	p->slots[pick].conn = NULL;
	/* Close extra connections nobody needed for a while. */
	for (int i = 1; i < EM_POOL_MAX_CONNS; i++) {
		struct pool_slot *s = &p->slots[i];
		if (i != pick && !s->busy && s->conn && now - s->last_used_ms > EM_POOL_IDLE_CLOSE_MS) {
			p->ops->close(s->conn);
			s->conn = NULL;
		}
	}
	pthread_mutex_unlock(&p->mu);
	return pick;
}

void em_pool_connected(struct em_pool *p, int i)
{
	pthread_mutex_lock(&p->mu);
	p->slots[i].connecting = false;
	p->slots[i].busy_since_ms = em_mono_ms();
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void em_pool_release(struct em_pool *p, int i, void *conn)
{
	pthread_mutex_lock(&p->mu);
	p->slots[i].conn = conn;
	p->slots[i].busy = false;
	p->slots[i].connecting = false;
	p->slots[i].last_used_ms = em_mono_ms();
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

int em_pool_may_connect(struct em_pool *p, char *last, size_t cap, int64_t *wait_ms)
{
	int64_t now = em_mono_ms();
	int rc = 0;

	pthread_mutex_lock(&p->mu);
	if (now < p->next_connect_ms) {
		snprintf(last, cap, "%s", p->last_error);
		*wait_ms = p->next_connect_ms - now;
		rc = -1;
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

void em_pool_connect_result(struct em_pool *p, const char *msg)
{
	pthread_mutex_lock(&p->mu);
	if (!msg) {
		p->backoff_ms = 0;
		p->next_connect_ms = 0;
		p->last_error[0] = '\0';
	} else {
		p->backoff_ms = em_pool_backoff_next(p->backoff_ms);
		p->next_connect_ms = em_mono_ms() + p->backoff_ms;
		snprintf(p->last_error, sizeof(p->last_error), "%s", msg);
	}
	pthread_mutex_unlock(&p->mu);
}
