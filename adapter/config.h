/* config.h - the YAML configuration: server settings, defaults and metric definitions. */
#ifndef EM_CONFIG_H
#define EM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "options.h"
#include "settings.h"
#include "scalers/scaler.h"

/* Config errors, each "FILE:LINE:COL: KEY: message", and warnings, each
 * "FILE:LINE:COL: KEY: warning: message" (keys accepted but ignored or
 * deprecated, secrets written in the file, ...). Warnings alone do not fail
 * a load. */
struct em_errlist {
	char **msgs;
	size_t n;
	char **warns;
	size_t nwarns;
};

void em_errlist_add(struct em_errlist *l, const char *file, int line, int col, const char *key,
		    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void em_errlist_warn(struct em_errlist *l, const char *file, int line, int col, const char *key,
		     const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void em_errlist_free(struct em_errlist *l);

/* server.auth.mode: none (local development), clientCert (client certificates
 * of clientCAFile only), delegated (the default: front proxy, client
 * certificates and TokenReview, as kube-apiserver extension servers do). */
enum em_auth_mode { EM_AUTH_UNSET, EM_AUTH_NONE, EM_AUTH_CLIENTCERT, EM_AUTH_DELEGATED };

enum em_authz_mode {
	EM_AUTHZ_UNSET,
	EM_AUTHZ_SAR,                  /* SubjectAccessReview against the Kubernetes API */
	EM_AUTHZ_ALLOW_AUTHENTICATED,  /* any authenticated user */
	EM_AUTHZ_STATIC,               /* the rules below */
};

/* A YAML list of strings; set tells "given (perhaps empty)" from "absent". */
struct em_strlist {
	char **v;
	size_t n;
	bool set;
};

void em_strlist_free(struct em_strlist *l);
bool em_strlist_has(const struct em_strlist *l, const char *s);
/* Copies src (set) into dst (zeroed first). 0, or -1 out of memory. */
int em_strlist_copy(struct em_strlist *dst, const struct em_strlist *src);
bool em_strlist_equal(const struct em_strlist *a, const struct em_strlist *b);

/* The front proxy's lists (Kubernetes' requestheader settings), modelled
 * once: the config (server.auth.requestHeader), the cluster's
 * extension-apiserver-authentication ConfigMap and the authenticator's
 * state each hold one struct em_rh_lists. EM_RH_LISTS declares each list
 * once: X(config key, ConfigMap key, default, EM_SET_* flags, field, help);
 * em_rh_fields and the settings table (settings.c) are made from it. */
#define EM_RH_LISTS(X)                                                                                       \
	X("allowedNames", "requestheader-allowed-names", NULL, 0, allowed_names,                             \
	  "CNs the front proxy's certificate may have; empty or absent: any certificate of its CA")          \
	X("usernameHeaders", "requestheader-username-headers", "X-Remote-User", EM_SET_HEADERS | EM_SET_NEED_ONE, \
	  username_headers, "headers naming the user (the first one with a value)")                          \
	X("uidHeaders", "requestheader-uid-headers", NULL, EM_SET_HEADERS, uid_headers,                     \
	  "headers carrying the user's UID")                                                                 \
	X("groupHeaders", "requestheader-group-headers", "X-Remote-Group", EM_SET_HEADERS, group_headers,   \
	  "headers naming the user's groups (every value of each)")                                          \
	X("extraHeadersPrefixes", "requestheader-extra-headers-prefix", "X-Remote-Extra-", EM_SET_HEADERS,  \
	  extra_prefixes, "prefixes of headers carrying extra user attributes")

struct em_rh_lists {
#define EM_RH_FIELD(key, cm, def, flags, field, help) struct em_strlist field;
	EM_RH_LISTS(EM_RH_FIELD)
#undef EM_RH_FIELD
};

#define EM_RH_NLISTS 5

struct em_rh_field {
	const char *conf_key;      /* key under server.auth.requestHeader */
	const char *cm_key;        /* data key of the ConfigMap */
	const char *def;           /* the one entry used when neither sets it (NULL: none) */
	bool header_names;         /* entries are HTTP header names */
	size_t offset;             /* of its struct em_strlist in struct em_rh_lists */
};

extern const struct em_rh_field em_rh_fields[EM_RH_NLISTS];

/* List i (an index of em_rh_fields) of l. */
struct em_strlist *em_rh_list(struct em_rh_lists *l, size_t i);
const struct em_strlist *em_rh_list_c(const struct em_rh_lists *l, size_t i);
void em_rh_lists_free(struct em_rh_lists *l);

/* One static grant: any listed user or group may read the listed metrics
 * ("*" = all) in the listed namespaces ("*" = all). */
struct em_authz_rule {
	struct em_strlist users, groups, namespaces, metrics;
};

struct em_auth_conf {
	enum em_auth_mode mode;
	char *client_ca_file;          /* client certificates: user = CN, groups = O */
	/* requestHeader: the aggregator's front-proxy certificate and identity headers */
	char *rh_ca_file;
	struct em_rh_lists rh;
	bool from_cluster;             /* kube-system/extension-apiserver-authentication */
	int64_t from_cluster_refresh_ms;
	bool token_review;
	int64_t cache_ttl_ms;          /* TokenReview and SubjectAccessReview results */
	enum em_authz_mode authz_mode;
	struct em_strlist users, groups;   /* static: allowed everything (rules[0] grants it) */
	struct em_authz_rule *rules;
	size_t n_rules;
	/* kubernetesAPI; NULL = in-cluster defaults (KUBERNETES_SERVICE_HOST/PORT,
	 * the ServiceAccount's ca.crt and token) */
	char *kube_url, *kube_ca_file, *kube_token_file;
	int64_t kube_timeout_ms;
};

void em_auth_conf_free(struct em_auth_conf *a);

struct em_server_conf {
	char *listen;                  /* HTTPS API, "ADDR:PORT" */
	char *metrics_listen;          /* plain HTTP /metrics /healthz /livez /readyz */
	char *cert_file, *key_file;    /* absent: self-signed in memory */
	struct em_auth_conf auth;
	int64_t threads;               /* HTTP worker threads */
	int64_t connection_memory;     /* bytes of each API connection's pool; 0: by authentication (server.c) */
};

/* polling: demand (the default) polls a metric while requests ask for it
 * and stops after 10 x pollingInterval without one; eager polls it from
 * start-up, always. Templated instances always follow demand. */
enum em_polling { EM_POLL_DEMAND, EM_POLL_EAGER };

/* One entry of `metrics:`. raw holds metadata, <name>FromEnv (resolved), and
 * auth fields/params (resolved value sources); values may hold ${...}
 * placeholders when templated. */
struct em_metric_def {
	char *name;
	char **namespaces;
	size_t n_namespaces;
	char *type;
	const struct em_scaler *scaler;
	struct em_rawopts raw;
	struct em_kvlist labels;       /* static metricLabels */
	int64_t polling_ms, timeout_ms, stale_ms, idle_ms;
	bool has_fallback;
	int64_t fallback_threshold;
	double fallback_value;
	int64_t max_instances;
	int64_t max_instances_per_ns;  /* templated: instances one namespace may hold */
	enum em_polling polling;
	bool templated;
	int line, col;
	char *fingerprint;             /* equal fingerprints = unchanged across reloads */
	char **inputs;                 /* a computed metric's (EM_SCALER_COMPUTED) input metrics, in order */
	size_t n_inputs;
};

/* The fields of server: and defaults: are filled from the settings table
 * (settings.c), defaults included. */
struct em_config {
	char *path;
	struct em_server_conf server;
	int64_t def_polling_ms, def_timeout_ms;
	enum em_polling def_polling;
	struct em_metric_def *metrics;
	size_t n_metrics;
};

/* Loads and fully validates path (every scaler option is parsed and
 * validated; templated entries with sample values). Returns NULL and fills
 * errs (all errors found, not just the first) on failure. */
struct em_config *em_config_load(const char *path, struct em_errlist *errs);
/* Same, from memory; name is used in messages (the embedded demo config). */
struct em_config *em_config_load_mem(const char *name, const char *text, size_t len, struct em_errlist *errs);
/* Flags for the _ex loaders. */
#define EM_CFG_METRICS_ONLY 0x1u   /* no server section needed (the `get` command) */
#define EM_CFG_SKIP_SECRETS 0x2u   /* fromFile, fromEnv and <key>FromEnv are not read: their values are
				    * placeholders, and problems only they could cause are not reported
				    * (check-config --skip-secrets: Secrets mounted only in the cluster) */
struct em_config *em_config_load_ex(const char *path, unsigned flags, struct em_errlist *errs);
struct em_config *em_config_load_mem_ex(const char *name, const char *text, size_t len, unsigned flags,
					struct em_errlist *errs);
void em_config_free(struct em_config *c);

const struct em_metric_def *em_config_find(const struct em_config *c, const char *name);
bool em_metric_allows_ns(const struct em_metric_def *m, const char *ns);

/* Fills ${namespace} and ${selector.KEY} in every raw value of def. On a
 * missing selector key returns -1 with err (EM_E_BADREQUEST). out must be
 * freed with em_rawopts_free. */
int em_template_fill(const struct em_metric_def *def, const char *ns, const struct em_kvlist *sel_eq,
		     struct em_rawopts *out, struct em_err *err);
void em_rawopts_free(struct em_rawopts *r);
/* A stable text key for filled raw options (identifies a templated instance). */
char *em_rawopts_key(const struct em_rawopts *r);

#endif
