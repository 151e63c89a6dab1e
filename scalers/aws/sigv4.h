/* sigv4.h - AWS Signature Version 4 as a pure function of request, credentials and clock. */
#ifndef EM_AWS_SIGV4_H
#define EM_AWS_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scalers/scaler.h"

/* A set of AWS credentials. Every string is owned and wiped with
 * em_free_secret() by em_aws_creds_wipe(). */
struct em_aws_creds {
	char *access_key_id;
	char *secret_access_key;
	char *session_token;   /* NULL when none */
	int64_t expires_ms;    /* Unix ms; 0 = does not expire (static keys) */
};

/* Wipes and frees every field; leaves c zeroed. NULL-safe. */
void em_aws_creds_wipe(struct em_aws_creds *c);
/* Deep copy; 0 or -1 (out of memory, dst then wiped). */
int em_aws_creds_copy(struct em_aws_creds *dst, const struct em_aws_creds *src);

struct em_sigv4_hdr {
	const char *name;
	const char *value;
};

/* What is signed. The URL is the one sent on the wire (scheme://host[:port]/path?query,
 * already percent-encoded); the path is normalized and encoded once more as AWS
 * requires for every service but S3, the query is decoded and re-encoded
 * (RFC 3986, sorted by key then value, `k=` for empty values). Every header
 * given is signed (except hop-by-hop ones and User-Agent, as the AWS SDKs do)
 * and must also be sent; Host is derived from the URL when absent. */
struct em_sigv4_req {
	const char *method;
	const char *url;
	const struct em_sigv4_hdr *headers;
	size_t n_headers;
	const void *payload;
	size_t payload_len;
	const char *region;
	const char *service;
	int64_t now_s;           /* the injected clock: Unix seconds */
	bool content_sha256;     /* also send and sign X-Amz-Content-Sha256 */
};

/* Headers to add to the request, in this order: Host (as signed), X-Amz-Date,
 * X-Amz-Security-Token (with a session token), X-Amz-Content-Sha256 (when
 * asked), Authorization. */
#define EM_SIGV4_MAX_OUT 5
struct em_sigv4_out {
	size_t n;
	struct {
		const char *name;
		char *value;
	} h[EM_SIGV4_MAX_OUT];
};

/* Derived signing keys, cached per (secret, date, region, service) so one
 * HMAC instead of five is spent per request. Thread-safe. Evicted and freed
 * entries are wiped. */
struct em_sigv4_cache;
struct em_sigv4_cache *em_sigv4_cache_new(size_t capacity);
void em_sigv4_cache_free(struct em_sigv4_cache *c);   /* NULL-safe */
/* Counters for tests and diagnostics. */
void em_sigv4_cache_stats(struct em_sigv4_cache *c, uint64_t *hits, uint64_t *misses, size_t *entries);

/* Signs req with creds. cache may be NULL. Returns 0 with out filled (free
 * with em_sigv4_out_free), or -1 with err set (malformed URL, Date header,
 * out of memory). Never puts the secret in err. */
int em_sigv4_sign(const struct em_sigv4_req *req, const struct em_aws_creds *creds,
		  struct em_sigv4_cache *cache, struct em_sigv4_out *out, struct em_err *err);

/* The value of the output header `name` (case-insensitive), or NULL. */
const char *em_sigv4_out_get(const struct em_sigv4_out *out, const char *name);
void em_sigv4_out_free(struct em_sigv4_out *out);      /* NULL-safe; wipes */

/* The intermediate steps, exposed for table tests. Each returns a malloc'd
 * string (caller frees) or NULL with err set. */
char *em_sigv4_canonical_request(const struct em_sigv4_req *req, const struct em_aws_creds *creds,
				 char **signed_headers, struct em_err *err);
char *em_sigv4_canonical_path(const char *raw_path, size_t len);
char *em_sigv4_canonical_query(const char *raw_query, size_t len);

/* Lowercase hex SHA-256 of data into hex[65]. */
void em_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
