/* aws_http.h - HTTP for AWS: libcurl with deadlines, SigV4 signing, error decoding, call counters. */
#ifndef EM_AWS_HTTP_H
#define EM_AWS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scalers/scaler.h"
#include "credentials.h"
#include "endpoints.h"
#include "sigv4.h"

struct em_aws_resp {
	long status;       /* HTTP status; 0 when no answer */
	char *body;        /* NUL-terminated */
	size_t len;
	char code[96];     /* AWS error code of a non-2xx answer ("" on success) */
	char message[EM_EXCERPT_BUF]; /* its message: an excerpt (em_excerpt) */
};

void em_aws_resp_free(struct em_aws_resp *r); /* NULL-safe */

/* The AWS scalers' global_init and global_cleanup (struct em_scaler): the
 * one HTTP client and signing-key cache every AWS call shares, and the
 * credential registry. Cleanup leaves everything as it is while an
 * identity is still open. */
int em_aws_global_init(struct em_err *err);
void em_aws_global_cleanup(void);

struct em_aws_http_req {
	const char *method;                   /* GET, POST, PUT */
	const char *url;
	const struct em_sigv4_hdr *headers;   /* sent (and signed when creds) */
	size_t n_headers;
	const char *body;
	size_t body_len;
	int64_t timeout_ms;                   /* whole exchange, connect included */
	const struct em_aws_creds *creds;     /* NULL: unsigned */
	const char *region;                   /* for signing */
	const char *signing_name;             /* SigV4 service */
	const char *service_label;            /* extmetrics_aws_api_calls_total labels */
	const char *operation;
	size_t max_body;                      /* a longer answer fails; 0: EM_AWS_MAX_BODY */
};

/* Answers are read whole into memory (then with the bounded JSON reader):
 * credential documents and errors are far below this; a larger answer is
 * refused. Callers expecting more (GetMetricData) say so in max_body. */
#define EM_AWS_MAX_BODY (256u * 1024u)

/* One HTTP exchange. 0 when an answer came (any status: see resp->status,
 * with code/message decoded for non-2xx), -1 with err (EM_E_UNAVAILABLE)
 * when none did: "<service>:<operation>: <curl error>". Counts the call in
 * extmetrics_aws_api_calls_total{service,operation,code}, code being "200"
 * etc. on success, the AWS error code of a failure, or "timeout"/"network".
 * A 307 or 308 to the same scheme, host and port is followed (the request
 * signed again for the new URL, body resent), up to EM_AWS_MAX_REDIRECTS
 * times, as the AWS SDKs' HTTP clients do; a redirect anywhere else is an
 * error and the request, with its credentials, is never sent there. */
#define EM_AWS_MAX_REDIRECTS 10
int em_aws_http(const struct em_aws_http_req *r, struct em_aws_resp *resp, struct em_err *err);

/* True when URLs a and b have the same scheme, host (case ignored) and port
 * (the scheme's default when absent). */
bool em_aws_same_origin(const char *a, const char *b);

/* An AWS API call with the identity's credentials: sign, send, and on an
 * expired/invalid-token answer refresh once (rate-limited) and retry; on a
 * throttling answer retry once after a jittered delay that fits in the
 * deadline (em_aws_throttle_delay_ms). With a backoff_key, a call whose
 * retry was throttled too makes the next calls with that key fail at once
 * without being sent (1, 2, then 4 of them; em_aws_backoff_*).
 * 0 on a 2xx answer; else -1 with err "<service>:<Operation>: <Code>:
 * <message>" (kind EM_E_UNAVAILABLE), resp still holding the answer so the
 * caller can look at resp->code. The credentials are secrets in scope
 * (em_secret_scope) for the whole call: no message built meanwhile, error
 * texts of the answer included, can hold any part of them. */
struct em_aws_api_req {
	const struct em_aws_service *svc;
	const char *region;
	const char *endpoint;       /* base URL, no trailing slash */
	const char *operation;      /* e.g. "GetQueueAttributes" */
	const char *target;         /* X-Amz-Target (JSON protocol) or NULL */
	const char *content_type;
	const char *body;
	size_t body_len;
	int64_t timeout_ms;
	const char *backoff_key;    /* the batch this call serves (its batch key); NULL: no skipping */
	size_t max_body;            /* 0: EM_AWS_MAX_BODY */
};
int em_aws_api_call(struct em_aws_identity *id, const struct em_aws_api_req *r, struct em_aws_resp *resp,
		    struct em_err *err);

#endif
