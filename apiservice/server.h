/* server.h - the HTTPS API listener and the plain-HTTP metrics/health listener (libmicrohttpd). */
#ifndef EM_SERVER_H
#define EM_SERVER_H

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
};

struct em_server *em_server_start(struct em_registry *reg, const struct em_server_opts *o, struct em_err *err);
/* Stops accepting, waits up to grace_ms for in-flight requests, then stops. NULL-safe. */
void em_server_stop(struct em_server *s, int grace_ms);
void em_server_set_ready(struct em_server *s, int ready);

/* Splits "ADDR:PORT" / "[v6]:PORT" into a socket address. */
int em_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len, struct em_err *err);

#endif
