/* connguard.h - connections against slow and greedy clients: a deadline per complete request, per-IP and global limits. */
#ifndef EM_CONNGUARD_H
#define EM_CONNGUARD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* libmicrohttpd's timeout restarts on every byte, so a client trickling a
 * header line every few seconds holds a connection for ever (slowloris),
 * and its per-IP limit turns away everyone behind that IP once one client
 * holds every slot. The guard tracks each connection of a listener:
 * - waiting for a request, it must deliver a complete one, whatever trickles
 *   in, within head_timeout_ms of being accepted (TLS handshake included),
 *   or idle_timeout_ms of its previous answer (kept alive); past it the
 *   connection is shut;
 * - a new connection past per_ip (or past max overall) makes room by
 *   shutting the connection of that IP (or of the IP holding most) that
 *   has waited longest for its request; only when none is waiting is the
 *   new one refused. A client that sends its request promptly is served
 *   while another holds as many idle connections as it likes.
 * Connections are shut with shutdown(2): the listener's own thread then
 * sees the end of the stream and closes it. Thread-safe: the guard's lock
 * is taken by libmicrohttpd's threads and the guard's own, and only
 * selfmetrics (a leaf) is called under it. */
struct em_connguard_limits {
	int64_t head_timeout_ms;
	int64_t idle_timeout_ms;
	int per_ip;
	int max;
	const char *listener;   /* label of extmetrics_http_connections_shut_total */
};

#define EM_CONNGUARD_HEAD_TIMEOUT_MS 10000
#define EM_CONNGUARD_IDLE_TIMEOUT_MS 30000   /* kept-alive callers (the aggregator) reuse connections */
#define EM_CONNGUARD_PER_IP 1024              /* as before: a proxy or NAT holds many */
#define EM_CONNGUARD_MAX 16128               /* + 256 being closed: libmicrohttpd's limit of 16,384 */

struct em_connguard;
struct em_conn;

/* NULL when out of memory or no thread could start. */
struct em_connguard *em_connguard_new(const struct em_connguard_limits *l);
/* Stops the guard's thread and frees it; every connection must be closed. NULL-safe. */
void em_connguard_free(struct em_connguard *g);

/* A connection was accepted: a handle for it (waiting for a request), or
 * NULL when it was refused (it is then already shut). */
struct em_conn *em_connguard_open(struct em_connguard *g, int fd, const struct sockaddr *peer);
/* Its request is complete: no deadline while it is served (or parked). */
void em_connguard_busy(struct em_connguard *g, struct em_conn *c);
/* Its answer went out: it waits for the next request (idle_timeout_ms). */
void em_connguard_idle(struct em_connguard *g, struct em_conn *c);
/* It is closed: forget it. NULL-safe. */
void em_connguard_close(struct em_connguard *g, struct em_conn *c);

#endif
