/* http.h - the one libcurl client: a request described as data, a capped body, connections kept between calls. */
#ifndef EM_HTTP_H
#define EM_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* libcurl's global state: set up once by main at start-up (and by test
 * drivers), before any thread runs; never lazily on a poller thread. */
int em_http_global_init(void);
void em_http_global_cleanup(void);

/* Request header lines. They may hold secrets (tokens, keys): every line is
 * built in a buffer that is wiped, and wiped again when the list is freed. */
struct curl_slist;
struct em_http_headers {
	struct curl_slist *list;
	bool oom;              /* an append failed: requests with it are refused */
};

/* "Basic" credentials for user and password: base64 of "user:password"
 * (RFC 7617), malloc'd; NULL on allocation failure. Free with em_free_secret. */
char *em_http_basic_credentials(const char *user, const char *password);

/* An HTTP header name is a token (RFC 9110); a value must not break the line. */
bool em_http_header_name_ok(const char *s);
bool em_http_header_value_ok(const char *s);

/* "Name: value"; an empty or NULL value is sent empty ("Name;" to libcurl). */
void em_http_header_add(struct em_http_headers *h, const char *name, const char *value);
/* "Authorization: SCHEME CREDENTIALS" (Bearer, Basic). */
void em_http_header_auth(struct em_http_headers *h, const char *scheme, const char *credentials);
/* "Authorization: Basic base64(user:password)"; the credentials are wiped. */
void em_http_header_basic(struct em_http_headers *h, const char *user, const char *password);
/* A line as libcurl takes it, e.g. "Expect:" to drop a default header. */
void em_http_header_line(struct em_http_headers *h, const char *line);
void em_http_headers_wipe(struct em_http_headers *h);   /* overwrites every line; NULL-safe */
void em_http_headers_free(struct em_http_headers *h);   /* wipes, frees, leaves h empty; NULL-safe */

/* A client: idle handles kept with their live connections (keep-alive across
 * polls), and with EM_HTTP_SHARED a curl share so DNS answers, TLS sessions
 * and connections are reused by every thread's requests. Thread-safe. */
#define EM_HTTP_SHARED 0x1u
struct em_http_client;
struct em_http_client *em_http_client_new(unsigned flags);
void em_http_client_free(struct em_http_client *c);   /* NULL-safe */

/* The client shared by every user of key (one per server: its idle handles
 * keep their connections for the next poll of any metric on it), made on
 * first use; reference-counted. The key may hold credentials (wiped when
 * freed). NULL when out of memory. */
struct em_http_client *em_http_client_get(const char *key);
void em_http_client_put(struct em_http_client *c);    /* NULL-safe */

/* TLS settings beyond libcurl's defaults (system CAs, verification on). PEM
 * texts are used in place, not copied: they must outlive the request. */
struct em_http_tls {
	bool tls12;                   /* TLS 1.2 at least */
	bool insecure;                /* no certificate or host verification */
	const char *ca_file;          /* CA bundle file */
	const char *ca_pem;           /* CA bundle, PEM in memory */
	const char *cert_pem, *key_pem;   /* client certificate and key, PEM in memory */
	const char *key_password;     /* of an encrypted key_pem */
};

struct em_http_req {
	const char *method;           /* NULL: GET, or POST when there is a body */
	const char *url;
	const struct em_http_headers *headers;
	const char *body;             /* sent for every method but GET */
	size_t body_len;
	int64_t timeout_ms;           /* the whole exchange */
	int64_t connect_timeout_ms;   /* 0: timeout_ms */
	const char *protocols;        /* NULL: "http,https" */
	const char *user_agent;       /* NULL: "extmetrics" */
	size_t max_body;              /* a longer answer fails (EM_HTTP_TOO_BIG); 0: 16 MiB */
	const struct em_http_tls *tls;
	const char *capture_header;   /* a response header whose value is kept */
	bool keepalive;               /* TCP keep-alive probes on the connection */
	bool compressed;              /* accept every encoding libcurl decodes */
};

enum em_http_fail { EM_HTTP_OK = 0, EM_HTTP_TIMEOUT, EM_HTTP_TOO_BIG, EM_HTTP_NETWORK, EM_HTTP_SETUP };

struct em_http_resp {
	long status;                  /* HTTP status of the answer */
	char *body;                   /* NUL-terminated, malloc'd */
	size_t len;
	char header[128];             /* capture_header's value, "" when absent */
	char redirect[1024];          /* a 3xx answer's Location, absolute; never followed here */
	long connects;                /* new connections the exchange opened */
	enum em_http_fail fail;
	char error[256];              /* what failed, in libcurl's words */
};

/* One exchange; redirects are not followed (a 3xx is an answer, its target
 * in resp->redirect). 0 when an answer came (any status), else -1 with
 * resp->fail and resp->error. Free resp with em_http_resp_free either way. */
int em_http_do(struct em_http_client *c, const struct em_http_req *r, struct em_http_resp *resp);
/* For a failed exchange (-1 from em_http_do): sets err to "<what>: no answer
 * within T ms from <where>", "... answer from <where> is larger than N
 * bytes" or "...: <libcurl's words> (<where>)"; EM_E_UNAVAILABLE (set-up
 * failures: EM_E_INTERNAL). Returns -1. */
int em_http_fail_err(const struct em_http_resp *r, const struct em_http_req *req, const char *what, const char *where,
		     struct em_err *err);
/* The label of an exchange for a requests counter: code="200", or
 * code="error" when no answer came. */
void em_http_code_label(const struct em_http_resp *r, char *out, size_t cap);

/* Wipes (bodies may hold credential documents) and frees the body. NULL-safe. */
void em_http_resp_free(struct em_http_resp *r);

#endif
