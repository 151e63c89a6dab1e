/* auth.h - who is calling and may they: the authenticator chain and authorizer of an aggregated API server. */
#ifndef EM_AUTH_H
#define EM_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter/config.h"
#include "apiservice/api.h"
#include "adapter/util/err.h"
#include "authn_x509.h"

/* ---- users ---------------------------------------------------------------- */

struct em_user_extra {
	char *key;
	char **values;
	size_t n;
};

/* Kubernetes' user.Info. */
struct em_user {
	char *name;
	char *uid;                     /* NULL when unknown */
	char **groups;
	size_t n_groups;
	struct em_user_extra *extra;
	size_t n_extra;
};

void em_user_free(struct em_user *u);                              /* NULL-safe, leaves u zeroed */
int em_user_set_name(struct em_user *u, const char *name);         /* 0, or -1 out of memory */
int em_user_set_uid(struct em_user *u, const char *uid);
int em_user_add_group(struct em_user *u, const char *group);       /* keeps order, skips duplicates */
int em_user_add_extra(struct em_user *u, const char *key, const char *value);
bool em_user_in_group(const struct em_user *u, const char *group);

/* ---- request headers -------------------------------------------------------- */

/* One header line as received; names compare case-insensitively. */
struct em_header {
	const char *name;
	const char *value;
};

/* requestheader rules (apiserver authenticator/request/headerrequest), with
 * the header names in effect (config, else the cluster's ConfigMap, else
 * em_rh_fields' defaults; allowed_names is not used here):
 * user = the first value of the first username header (in names order)
 * whose first value is non-empty; uid likewise; groups = every non-empty
 * value of every group header, in order; extra = every header whose name
 * starts with an extra prefix (case-insensitively), key = the rest of the
 * name lowercased and percent-decoded (kept as is when not decodable), values
 * in order. Returns 1 with u filled, 0 when no username header has a value
 * (u untouched), -1 out of memory. Call it ONLY for a request whose client
 * certificate was verified against the requestheader CA. */
int em_reqheader_user(const struct em_rh_lists *names, const struct em_header *h, size_t n, struct em_user *u);

/* True when name is one of the identity headers (username, uid, group or an
 * extra prefix): the headers a request never passes on. */
bool em_reqheader_is_identity(const struct em_rh_lists *names, const char *name);

/* The token of "Bearer TOKEN" as Kubernetes' bearertoken authenticator reads
 * it (trimmed, "Bearer" case-insensitive, exactly one space); malloc'd, or
 * NULL when the header holds no bearer token. */
char *em_bearer_token(const char *authorization);

/* ---- authorization attributes ------------------------------------------------- */

/* What is asked, as Kubernetes' RequestInfo would describe it. */
struct em_authz_attrs {
	enum em_path_kind kind;   /* its route's access (apiservice/api.h) */
	bool resource;       /* a resource request (EM_PATH_METRIC) */
	char verb[24];       /* list for GET/HEAD of a metric; lowercased method otherwise */
	char *ns, *metric;   /* resource requests, decoded (malloc'd) */
	const char *path;    /* the request path (borrowed) */
};

/* Fills a from method and path. -1 only when out of memory. */
int em_authz_attrs_from(const char *method, const char *path, struct em_authz_attrs *a);
void em_authz_attrs_free(struct em_authz_attrs *a);

/* Status bodies exactly as kube-apiserver writes them: 401 Unauthorized, and
 * 403 Forbidden with Kubernetes' message (":" reason appended when non-empty)
 * and details {group, kind = the resource}. malloc'd. */
char *em_unauthorized_json(void);
char *em_forbidden_json(const char *user, const struct em_authz_attrs *a, const char *reason);

/* Static rules: true when a rule grants user a (metric paths: namespace and
 * metric; other paths: a rule for every namespace and every metric). */
bool em_authz_static_allows(const struct em_authz_rule *rules, size_t n, const struct em_user *u,
			    const struct em_authz_attrs *a);

/* ---- the authenticator and authorizer ----------------------------------------- */

struct em_auth;

/* Builds the chain from conf (NULL or mode none: everything allowed). Reads
 * the CA files; when fromCluster, loads the ConfigMap once (a failure is
 * logged and retried in the background) and re-reads it every
 * fromClusterRefresh; changed CA files are re-read too. */
struct em_auth *em_auth_new(const struct em_auth_conf *conf, struct em_err *err);
void em_auth_free(struct em_auth *a);   /* NULL-safe */

/* TLS: whether to ask clients for a certificate, and the CAs to name in the
 * request (PEM, malloc'd; NULL when none). *gen changes whenever they do. */
bool em_auth_wants_client_certs(const struct em_auth *a);
uint64_t em_auth_ca_generation(struct em_auth *a);
char *em_auth_ca_pem(struct em_auth *a, uint64_t *gen);

/* What one TLS connection has already proven: its client chain is verified
 * once per CA state, not on every request (the chain cannot change within a
 * connection without a new handshake, and a changed chain is verified
 * again). Requests of one connection come one at a time: no lock. */
struct em_auth_conn;
struct em_auth_conn *em_auth_conn_new(void);        /* NULL when out of memory: no caching then */
void em_auth_conn_free(struct em_auth_conn *c);     /* NULL-safe */

struct em_auth_request {
	const char *method;
	const char *path;
	const struct em_header *headers;
	size_t n_headers;
	const struct em_cert_der *chain;   /* the peer's certificates, leaf first */
	size_t n_chain;
	struct em_auth_conn *conn;         /* the connection's verdicts; NULL: verify every time */
};

struct em_auth_result {
	int code;        /* 0: go ahead; else the HTTP status to answer with body */
	char *body;      /* malloc'd Status JSON when code != 0 */
	char *user;      /* malloc'd authenticated user name, NULL when none */
};

/* Authenticates and authorizes one request; may block on the Kubernetes API
 * (bounded by kubernetesAPI.timeout) when no cached review answers. */
void em_auth_check(struct em_auth *a, const struct em_auth_request *r, struct em_auth_result *res);
void em_auth_result_free(struct em_auth_result *res);

/* Tests: replace the monotonic clock (milliseconds) used by the caches. */
void em_auth_set_clock(struct em_auth *a, int64_t (*now_ms)(void));

#endif
