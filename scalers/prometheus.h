/* prometheus.h - the prometheus scaler's config and its pure parts (request building, response parsing). */
#ifndef EM_PROMETHEUS_H
#define EM_PROMETHEUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scaler.h"

/* What to do when a query returns more than one series. */
enum em_prom_multi {
	EM_PROM_MULTI_ERROR = 0,  /* KEDA: "returned multiple elements" */
	EM_PROM_MULTI_SUM,
	EM_PROM_MULTI_MAX,
	EM_PROM_MULTI_MIN,
	EM_PROM_MULTI_AVG,
	EM_PROM_MULTI_ITEMS,      /* one item per series, labels as metricLabels */
};

/* authModes bits. */
#define EM_PROM_AUTH_BASIC  0x01u
#define EM_PROM_AUTH_BEARER 0x02u
#define EM_PROM_AUTH_TLS    0x04u
#define EM_PROM_AUTH_CUSTOM 0x08u

/* Bounds on what an answer may hold: it is read with the bounded JSON
 * reader (no tree), so memory is the body (EM_PROM_MAX_BODY) plus what is
 * kept: with multipleSeries items at most this many series, each with at
 * most this many labels of these sizes. */
#define EM_PROM_MAX_ITEMS 1000
#define EM_PROM_MAX_LABELS 64
#define EM_PROM_MAX_LABEL_NAME 320
#define EM_PROM_MAX_LABEL_VALUE 4096
#define EM_PROM_MAX_ERROR_TEXT (64 * 1024)

/* Above this many bytes a GET URL is sent as a POST form instead: proxies in
 * front of Prometheus commonly cap request lines at 4-8 KiB. */
#define EM_PROM_MAX_GET_URL 4000

struct em_prom_cfg {
	/* KEDA trigger metadata */
	char *serverAddress;
	char *query;
	double threshold;
	double activationThreshold;
	char *namespace;
	struct em_kvlist queryParameters;
	struct em_kvlist customHeaders;
	bool ignoreNullValues;
	bool unsafeSsl;
	int64_t timeout_ms;          /* 0: the metric's timeout */
	char *awsRegion;             /* accepted so the error is clear: unsupported */
	char *multipleSeries;        /* extension: sum|max|min|avg|items */
	/* KEDA authentication parameters */
	char *authModes;             /* or KEDA's alias authMode */
	char *username;
	char *password;
	char *bearerToken;           /* or KEDA's alias token */
	char *cert;                  /* PEM contents, as in KEDA */
	char *key;
	char *ca;
	char *customAuthHeader;
	char *customAuthValue;

	/* derived by validate() */
	enum em_prom_multi multi;
	unsigned auth;               /* EM_PROM_AUTH_* */
	const char *bearer;          /* bearerToken */
};

extern const struct em_option em_prom_options[];
extern const struct em_scaler em_scaler_prometheus;

/* Cross-field checks; fills the derived fields. Every problem goes to d. */
int em_prom_validate(void *cfg, struct em_optdiag *d);

/* Parses an authModes value ("basic", "tls,bearer", ...) into EM_PROM_AUTH_* bits. */
int em_prom_parse_authmodes(const char *s, unsigned *out, struct em_err *err);

/* RFC 3339 UTC with milliseconds, e.g. "2026-08-20T12:00:00.250Z". 0 on success. */
int em_prom_format_time(int64_t unix_ms, char *out, size_t cap);

/* Builds the instant query request for time now_ms. *url is always set; *body
 * is NULL for a GET, or the form body (query and time) when the GET URL would
 * be longer than max_url (namespace and queryParameters stay in the URL).
 * Both are malloc'd. 0 on success, -1 on allocation failure. */
int em_prom_build_request(const struct em_prom_cfg *c, int64_t now_ms, size_t max_url, char **url, char **body);

/* Turns an HTTP status and body from /api/v1/query into a sample (value and
 * activity; items for multipleSeries=items). -1 with err set (EM_E_UNAVAILABLE)
 * for HTTP errors, Prometheus error bodies, empty or NaN results (unless
 * ignoreNullValues), and multiple series without multipleSeries. */
int em_prom_parse_response(const char *body, size_t len, long http_status, const struct em_prom_cfg *c,
			struct em_sample *out, struct em_err *err);

/* Replaces in msg every secret of c (password, bearer token, custom auth
 * value, client key, and the basic credentials as sent on the wire) with
 * "***". Done on the whole text before it is cut to length, so a secret
 * that a server echoes in its error body cannot leak in part. */
void em_prom_scrub(const struct em_prom_cfg *c, char *msg, size_t cap);

#endif
