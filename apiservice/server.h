/* server.h - the HTTPS API listener and the plain-HTTP metrics/health listener (libmicrohttpd). */
#ifndef EM_SERVER_H
#define EM_SERVER_H

#include <stdbool.h>
#include <sys/socket.h>

#include "adapter/config.h"
#include "adapter/registry.h"

struct em_server;

struct em_server_opts {
	const char *listen;           /* "ADDR:PORT" */
	const char *metrics_listen;   /* NULL: no metrics listener */
	const char *cert_pem;         /* serving certificate and key, PEM */
	const char *key_pem;
	const char *cert_file;        /* where they were read from (reloaded when they change); */
	const char *key_file;         /* NULL for the in-memory self-signed pair */
	int threads;
	const struct em_server_conf *conf;
	/* In-process tests only (test/fuzz/fuzz_http.c): the API without a
	 * listening socket and without TLS, its connections handed in with
	 * em_server_add_connection(); listen and the PEMs are then unused. */
	bool in_process;
};

struct em_server *em_server_start(struct em_registry *reg, const struct em_server_opts *o, struct em_err *err);
/* Stops accepting, waits up to grace_ms for in-flight requests, then stops. NULL-safe. */
void em_server_stop(struct em_server *s, int grace_ms);
void em_server_set_ready(struct em_server *s, int ready);
/* With in_process: serves the connected socket fd (then owned by the
 * server) as a client at 127.0.0.1. 0 or -1. */
int em_server_add_connection(struct em_server *s, int fd);

/* Splits "ADDR:PORT" / "[v6]:PORT" into a socket address. */
int em_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len, struct em_err *err);

#endif
