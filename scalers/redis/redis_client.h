/* redis_client.h - Redis for the redis scalers: connection keys, bounded replies, pooled connections, cluster and sentinel. */
#ifndef EM_REDIS_CLIENT_H
#define EM_REDIS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scalers/scaler.h"

#define RDS_MAX_ADDRS 32                 /* addresses (or host/port pairs) per trigger */
#define RDS_MAX_REPLY_BYTES (4u << 20)   /* one round trip's replies: far above any answer we ask for */
#define RDS_MAX_ARRAY 65536              /* elements of one array reply */
#define RDS_MAX_CMDS 4                   /* commands pipelined in one round trip */
#define RDS_MAX_HOPS 5                   /* cluster redirects followed per fetch */

/* How the addresses are used, by trigger type. */
enum rds_mode {
	RDS_STANDALONE,   /* redis, redis-streams: the first address */
	RDS_CLUSTER,      /* redis-cluster*: seed nodes, MOVED/ASK followed */
	RDS_SENTINEL,     /* redis-sentinel*: sentinels, asked for sentinelMaster's address */
};

/* The connection keys every redis trigger takes (KEDA's redisConnectionInfo
 * plus enableTLS / tls / databaseIndex). */
struct rds_conn_cfg {
	char *address;               /* comma-separated host:port */
	char *host;
	char *port;
	char *username;
	char *password;
	char *sentinelUsername;
	char *sentinelPassword;
	char *sentinelMaster;
	int64_t databaseIndex;
	char *enableTLS;             /* metadata: a Go bool */
	char *tls;                   /* TriggerAuthentication: enable | disable */
	bool unsafeSsl;
	char *ca, *cert, *key, *keyPassword;   /* PEM contents */
	enum rds_mode mode;          /* derived: from the trigger type */
};

/* Option rows for struct rds_conn_cfg member m of config struct T. */
#define RDS_OFF(T, m, f) (offsetof(T, m) + offsetof(struct rds_conn_cfg, f))
#define RDS_CONN_OPTIONS(T, m)                                                                                  \
	{.name = "address", .alias = "addresses", .type = EM_OPT_STRING, .offset = RDS_OFF(T, m, address),    \
	 .help = "host:port; cluster and sentinel: a comma-separated list (seed nodes, sentinels)"},           \
	{.name = "host", .alias = "hosts", .type = EM_OPT_STRING, .offset = RDS_OFF(T, m, host),                \
	 .help = "host name or address, with port instead of address (comma-separated, as many as ports)"},    \
	{.name = "port", .alias = "ports", .type = EM_OPT_STRING, .offset = RDS_OFF(T, m, port),                \
	 .help = "port of host (comma-separated, as many as hosts)"},                                          \
	{.name = "databaseIndex", .type = EM_OPT_INT, .def = "0", .flags = EM_OPT_BOUNDED, .min = 0,            \
	 .max = 1000000, .offset = RDS_OFF(T, m, databaseIndex),                                                \
	 .help = "database number (SELECT); Redis Cluster has only 0"},                                         \
	{.name = "username", .type = EM_OPT_STRING, .offset = RDS_OFF(T, m, username),                          \
	 .help = "ACL user name (AUTH username password)"},                                                     \
	{.name = "password", .type = EM_OPT_STRING, .flags = EM_OPT_SECRET, .offset = RDS_OFF(T, m, password), \
	 .help = "password (use passwordFromEnv or an auth param)"},                                            \
	{.name = "sentinelUsername", .type = EM_OPT_STRING, .offset = RDS_OFF(T, m, sentinelUsername),          \
	 .help = "sentinel types only: ACL user name on the sentinels"},                                        \
	{.name = "sentinelPassword", .type = EM_OPT_STRING, .flags = EM_OPT_SECRET,                             \
	 .offset = RDS_OFF(T, m, sentinelPassword), .help = "sentinel types only: password of the sentinels"}, \
	{.name = "sentinelMaster", .type = EM_OPT_STRING, .offset = RDS_OFF(T, m, sentinelMaster),              \
	 .help = "sentinel types only (required there): the monitored master's name"},                          \
	{.name = "enableTLS", .type = EM_OPT_STRING, .offset = RDS_OFF(T, m, enableTLS),                        \
	 .help = "true: connect with TLS 1.2+ (a Go bool; or tls in the auth params)"},                         \
	{.name = "tls", .type = EM_OPT_STRING, .offset = RDS_OFF(T, m, tls),                                    \
	 .help = "enable or disable (KEDA's TriggerAuthentication spelling of enableTLS)"},                     \
	{.name = "unsafeSsl", .type = EM_OPT_BOOL, .def = "false", .offset = RDS_OFF(T, m, unsafeSsl),          \
	 .help = "skip TLS certificate and host name verification"},                                            \
	{.name = "ca", .type = EM_OPT_STRING, .offset = RDS_OFF(T, m, ca),                                      \
	 .help = "CA certificates (PEM contents) trusted besides the system ones"},                             \
	{.name = "Cert", .alias = "cert", .type = EM_OPT_STRING, .offset = RDS_OFF(T, m, cert),                 \
	 .help = "client certificate (PEM contents), with key (KEDA reads Cert first)"},                         \
	{.name = "key", .type = EM_OPT_STRING, .flags = EM_OPT_SECRET, .offset = RDS_OFF(T, m, key),            \
	 .help = "client private key (PEM contents), with cert"},                                               \
	{.name = "keyPassword", .type = EM_OPT_STRING, .flags = EM_OPT_SECRET,                                  \
	 .offset = RDS_OFF(T, m, keyPassword), .help = "password of an encrypted key"}

/* One host:port. host "" is the local system, as Go dials it. */
struct rds_addr {
	char host[256];
	char port[8];
};

struct rds_addrs {
	struct rds_addr a[RDS_MAX_ADDRS];
	size_t n;
};

/* KEDA's address rules: address/addresses entries, then host/hosts paired with
 * port/ports (equal counts), comma-separated and trimmed; at least one.
 * Each must be host:port ([v6]:port) with a port 1-65535. */
int rds_parse_addrs(const struct rds_conn_cfg *c, struct rds_addrs *out, struct em_err *err);

/* Splits "host:port" / "[v6]:port" (Go's net.SplitHostPort rules). */
int rds_split_hostport(const char *s, size_t n, struct rds_addr *out);

/* enableTLS (Go bool) and tls (enable|disable) as KEDA reads them: not both. */
int rds_tls_enabled(const struct rds_conn_cfg *c, bool *on, struct em_err *err);

/* Every check of the connection keys for mode (addresses, TLS flags and
 * material, sentinel keys, database index); sets c->mode. "key: message" errors. */
int rds_validate_conn(struct rds_conn_cfg *c, enum rds_mode mode, struct em_err *err);

/* The same as em_scaler validate hooks, for configs whose FIRST member is
 * their struct rds_conn_cfg. */
int rds_validate_standalone(void *cfg, struct em_optdiag *d);
int rds_validate_cluster(void *cfg, struct em_optdiag *d);
int rds_validate_sentinel(void *cfg, struct em_optdiag *d);

/* An SSL_CTX for the TLS keys (TLS 1.2+, system CAs plus ca, verification
 * unless unsafeSsl, client cert and key). NULL with a config error. */
struct ssl_ctx_st;
struct ssl_ctx_st *rds_tls_ctx_new(const struct rds_conn_cfg *c, struct em_err *err);
/* A digest of the TLS settings ("plain" when off): connections differ by it. */
void rds_tls_id(const struct rds_conn_cfg *c, bool on, char *out, size_t cap);

/* ------------------------------------------------------------------ replies */

/* A reply (RESP2), shaped like hiredis' redisReply but built by our own
 * object functions, which bound array sizes. */
enum rds_type {
	RDS_STRING = 1,
	RDS_ARRAY = 2,
	RDS_INTEGER = 3,
	RDS_NIL = 4,
	RDS_STATUS = 5,
	RDS_ERROR = 6,
};

struct rds_reply {
	enum rds_type type;
	long long integer;
	char *str;          /* STRING, STATUS, ERROR: NUL-terminated, len bytes */
	size_t len;
	size_t elements;
	struct rds_reply **element;
};

void rds_reply_free(struct rds_reply *r);   /* NULL-safe */

/* An incremental reader of replies, bounded (arrays, nesting). */
void *rds_reader_new(void);
void rds_reader_free(void *rd);   /* NULL-safe */
int rds_reader_feed(void *rd, const char *buf, size_t len);
/* Takes complete replies into replies[*got..n); 0 (maybe fewer), -1 protocol error. */
int rds_reader_take(void *rd, size_t n, size_t *got, struct rds_reply **replies, struct em_err *err);

/* Parses the replies to n commands from a complete buffer (tests, fuzzing):
 * 0 with replies[] set, 1 when more bytes are needed, -1 with err on a
 * protocol error or a reply over the bounds. */
int rds_parse_replies(const char *buf, size_t len, size_t n, struct rds_reply **replies, struct em_err *err);

/* A reply's integer value, a count checked as one (scaler.h: 0 to 2^53);
 * errors for error replies (their text), nil and other types ("unexpected
 * reply"). what names the command for messages. */
int rds_reply_int(const struct rds_reply *r, const char *what, long long *out, struct em_err *err);

/* An error reply's redirect: "MOVED slot host:port" or "ASK slot host:port".
 * 0 when it is one (*ask set for ASK, out->host "" when the node did not say). */
int rds_redirect(const struct rds_reply *r, bool *ask, struct rds_addr *out);

/* XPENDING's summary reply: the count of pending entries (its first element). */
int rds_xpending_count(const struct rds_reply *r, long long *out, struct em_err *err);

/* How rds_stream_lag got its number. */
enum rds_lag_source {
	RDS_LAG_EXACT,       /* the group's lag field */
	RDS_LAG_NO_STREAM,   /* XINFO GROUPS: no such key: 0, as KEDA */
	RDS_LAG_NO_GROUP,    /* group not (yet) created: XLEN, as KEDA */
	RDS_LAG_UNKNOWN,     /* lag nil (Redis cannot tell after deletions): XLEN, an upper bound */
};

/* The lag of group from the replies to XINFO GROUPS and XLEN of one stream,
 * as KEDA computes it, except that a nil lag gives XLEN (KEDA: -1, inactive).
 * A group without a lag field: the server is older than Redis 7. */
int rds_stream_lag(const struct rds_reply *groups, const struct rds_reply *xlen, const char *group, long long *out,
		   enum rds_lag_source *src, struct em_err *err);

/* ------------------------------------------------------------------ client */

struct rds_cmd {
	int argc;
	const char *argv[6];
};

struct rds_client;

/* A client for one trigger (not yet connected; connections are shared per
 * server and identity with every other trigger). NULL with err on failure. */
struct rds_client *rds_client_new(const struct rds_conn_cfg *c, enum rds_mode mode, struct em_err *err);
void rds_client_free(struct rds_client *cl);   /* NULL-safe */

/* Sends n commands about one key in one round trip and reads their replies
 * before the deadline (monotonic ms), following cluster redirects and
 * sentinel lookups. 0 with replies[0..n) set (error replies included:
 * caller frees), else -1 with err (EM_E_UNAVAILABLE), secrets scrubbed. */
int rds_client_run(struct rds_client *cl, size_t n, const struct rds_cmd *cmds, int64_t deadline_ms,
		   struct rds_reply **replies, struct em_err *err);

/* The server that answered the last run (host:port), for messages. */
const char *rds_client_server(const struct rds_client *cl);

/* A redis scaler instance: its config (starting with struct rds_conn_cfg)
 * and its client. Serve as em_scaler open / close. */
struct rds_inst {
	const void *cfg;
	struct rds_client *cl;
};

void *rds_inst_open(const void *cfg, struct em_err *err);
void rds_inst_close(void *inst);   /* NULL-safe */

#endif
