/* rabbitmq.h - the rabbitmq scaler: keys and KEDA's rules, management API answers, AMQP connections. */
#ifndef EM_RABBITMQ_H
#define EM_RABBITMQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scalers/scaler.h"

/* Largest management API answer read: a regex over many queues with their
 * statistics is tens of KiB; pageSize is capped so that it fits. */
#define RMQ_MAX_BODY (8u << 20)
#define RMQ_MAX_PAGE_SIZE 500

enum rmq_proto { RMQ_HTTP = 1, RMQ_AMQP };
enum rmq_mode {
	RMQ_QUEUE_LENGTH = 1,
	RMQ_MESSAGE_RATE,
	RMQ_DELIVER_GET_RATE,
	RMQ_PUBLISHED_TO_DELIVERED_RATIO,
	RMQ_EXPECTED_CONSUMPTION_TIME,
};
enum rmq_op { RMQ_SUM = 1, RMQ_AVG, RMQ_MAX };

struct rmq_cfg {
	char *queueName;
	char *mode;
	double queueLength;        /* deprecated: mode QueueLength, value queueLength */
	double value;
	double activationValue;
	char *host;                /* secret: may hold credentials */
	char *protocol;
	char *vhostName;
	bool useRegex;
	bool excludeUnacknowledged;
	int64_t pageSize;
	char *operation;
	int64_t timeout_ms;
	char *username;
	char *password;
	char *ca, *cert, *key, *keyPassword;
	char *tls;
	bool unsafeSsl;
	char *workloadIdentityResource, *oauthTokenURI, *clientID, *clientSecret;   /* refused */
	/* derived by rmq_validate */
	enum rmq_proto proto;
	enum rmq_mode m;
	enum rmq_op op;
	bool tls_on;
};

extern const struct em_option rmq_options[];

/* KEDA's checks in KEDA's order (protocol, tls, cert/key, pageSize,
 * username/password, the protocol from the host's scheme, regex and
 * excludeUnacknowledged over HTTP only, the trigger: mode, value, deprecated
 * queueLength, default QueueLength 20), then ours (host parsed whole,
 * TLS material loadable, tls=enable only with a TLS scheme). */
int rmq_validate(void *cfg, struct em_err *err);

/* ------------------------------------------------------------------ AMQP */

/* An AMQP URI as amqp091-go (KEDA's client) reads it: amqp:// or amqps://,
 * host default localhost, port 5672 / 5671, user guest:guest, vhost "/".
 * The path less its first '/' is the vhost, decoded, so that
 * amqp://h:5672/ and amqp://h:5672 both mean "/" and amqp://h/%2F too. */
struct rmq_uri {
	bool tls;              /* amqps */
	char host[256];
	int port;
	char *user, *password; /* decoded; password secret */
	bool has_password;     /* the URI gave one (else guest's) */
	char *vhost;
	int64_t connect_timeout_ms;   /* connection_timeout, 0: none given */
};

/* 0, or -1 with a config error "host: ..." that never repeats the URI. */
int rmq_parse_uri(const char *uri, struct rmq_uri *out, struct em_err *err);
void rmq_uri_free(struct rmq_uri *u);   /* wipes the password; NULL-safe; leaves u zeroed */

/* ------------------------------------------------------------------ HTTP */

/* The management API location from host (KEDA's getVhostAndPathFromURL):
 * the last path segment is the vhost ("" or "/": the default vhost, %2F),
 * the segments before it a path prefix; vhostName replaces the vhost. The
 * credentials in the URL are taken out (sent as basic auth). */
struct rmq_http_target {
	char *base;            /* scheme://authority/prefix, no credentials */
	char *vhost_path;      /* "/%2F", "/name" (escaped) */
	char *user, *password; /* from the URL's userinfo, decoded; NULL when absent */
	bool https;
};

int rmq_http_target_parse(const char *host, const char *vhostName, struct rmq_http_target *out, struct em_err *err);
void rmq_http_target_free(struct rmq_http_target *t);   /* NULL-safe */

/* KEDA's getVhostAndPathFromURL on a raw path, exactly (tests). malloc'd. */
void rmq_vhost_and_path(const char *rawpath, const char *vhostName, char **vhost_path, char **path);

/* The request URL: .../api/queues<vhost>/<queue> or, with useRegex, the
 * listing of the queues whose names match. malloc'd; NULL out of memory. */
char *rmq_queue_url(const struct rmq_http_target *t, const struct rmq_cfg *c);

/* What one queue (or the queues a regex matched, combined) reports. */
struct rmq_queue {
	int64_t messages, ready;
	double publish_rate, deliver_get_rate;
};

/* Reads a management API answer: one queue's object, or with regex the
 * listing ({"items": [...], "page_count": N}) combined by op (KEDA: sum;
 * avg with integer division of the counts; max). Counts must be integers
 * in [0, 2^53], rates finite and >= 0. -1 with err (EM_E_UNAVAILABLE). */
int rmq_parse_queue_json(const char *body, size_t len, bool regex, enum rmq_op op, struct rmq_queue *out,
			 struct em_err *err);

/* The metric for mode from q, and KEDA's activity rule for that mode. */
void rmq_mode_value(const struct rmq_cfg *c, const struct rmq_queue *q, double *value, bool *active);

/* ------------------------------------------------------------------ AMQP client */

struct rmq_amqp;
void rmq_amqp_global_init(void);   /* before any thread: librabbitmq leaves OpenSSL alone */
struct rmq_amqp *rmq_amqp_open(const struct rmq_cfg *c, struct em_err *err);
void rmq_amqp_close(struct rmq_amqp *a);   /* NULL-safe */
/* queue.declare passive on a shared connection: the queue's ready messages. */
int rmq_amqp_count(struct rmq_amqp *a, const char *queue, int64_t deadline_ms, int64_t *count, struct em_err *err);

/* Replaces the credentials of c (URL userinfo, username/password) in msg. */
void rmq_scrub(const struct rmq_cfg *c, char *msg, size_t cap);

#endif
