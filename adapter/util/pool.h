/* pool.h - connections shared per target (one server and identity): slots opened only while one is busy, reconnect back-off. */
#ifndef EM_POOL_H
#define EM_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Connections kept per target. One is the norm (a target's metrics poll one
 * after another); more only while a command is still running when another
 * metric on the same target falls due. */
#define EM_POOL_MAX_CONNS 4
/* Reconnect back-off after failed connection attempts. */
#define EM_POOL_BACKOFF_MIN_MS 1000
#define EM_POOL_BACKOFF_MAX_MS 30000
/* Extra connections idle this long are closed. */
#define EM_POOL_IDLE_CLOSE_MS 300000
/* A fetch whose target's connections are all busy waits this long (at most a
 * quarter of its budget) for one to come free before opening another. */
#define EM_POOL_SHARE_WAIT_MS 250

/* What a kind of connection needs from the pool. */
struct em_pool_ops {
	const char *kind;                          /* "redis", "mysql": registry namespace */
	void (*close)(void *conn);                 /* NULL-safe */
	/* Optional: data shared by every user of one target, made when the
	 * target is first used (from the arg of that em_pool_get) and freed
	 * with it. NULL: out of memory. */
	void *(*shared_new)(const void *arg);
	void (*shared_free)(void *shared);
};

struct em_pool;

/* The pool of the target `key` of this kind (key may hold a password: it is
 * wiped when freed and never shown), created on first use and shared by
 * reference count (em_keyed). NULL when out of memory. */
struct em_pool *em_pool_get(const struct em_pool_ops *ops, const char *key, const void *arg);
void em_pool_put(struct em_pool *p);      /* NULL-safe; the last put closes its connections */
void *em_pool_shared(const struct em_pool *p);

/* Takes a slot until the deadline: a free one with a live connection, else
 * (when every connection is busy and the youngest command has run for
 * em_pool_share_wait_ms and no other connection is being opened) an empty
 * one. Returns the slot index with *conn set (NULL: the caller opens one and
 * then calls em_pool_connected), or -1 with err set (EM_E_UNAVAILABLE). */
int em_pool_acquire(struct em_pool *p, int64_t deadline_ms, void **conn, struct em_err *err);
/* After a connection attempt on slot i: the command starts now. */
void em_pool_connected(struct em_pool *p, int i);
/* Gives slot i back with its connection (NULL: none, the caller closed it). */
void em_pool_release(struct em_pool *p, int i, void *conn);

/* Reconnect back-off: 0 when a connection attempt may be made now, else -1
 * with the last failure copied to last and the wait to *wait_ms. */
int em_pool_may_connect(struct em_pool *p, char *last, size_t cap, int64_t *wait_ms);
/* Records an attempt's outcome: msg NULL on success (back-off reset), else
 * the failure (already free of secrets) and the next back-off step. */
void em_pool_connect_result(struct em_pool *p, const char *msg);

/* Pure parts. */
int64_t em_pool_share_wait_ms(int64_t budget_ms);
int64_t em_pool_backoff_next(int64_t cur_ms);

/* Waits for events on fd until the deadline (monotonic ms): 1 ready, 0
 * deadline passed, -1 error. */
int em_pool_wait_fd(int fd, short events, int64_t deadline_ms);

#endif
