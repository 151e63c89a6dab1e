/* creds_http.c - EKS Pod Identity / ECS container credentials over HTTP, allowed hosts only. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "scalers/scaler.h"
#include "aws_http.h"
#include "aws_parse.h"
#include "credentials.h"

#define MAX_TOKEN (16 * 1024)
#define ECS_HOST "http://169.254.170.2"

struct http_prov {
	struct em_aws_provider p;
	char *url;
	char *token_file;  /* re-read at every fetch: Pod Identity rotates it */
	char *token;       /* AWS_CONTAINER_AUTHORIZATION_TOKEN, when no file */
};

bool em_aws_http_creds_host_allowed(const char *url)
{
	static const char *const v4[] = {"169.254.170.2", "169.254.170.23"};
	char host[256];
	const char *h, *end;
	size_t n;
	unsigned char a[16], b[16];

	if (strncasecmp(url, "http://", 7) == 0)
		h = url + 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		h = url + 8;
	else
		return false;
	end = h + strcspn(h, "/?#");
	for (const char *at = h; at < end; at++)
		if (*at == '@')
			return false; /* no userinfo games */
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(end - h));
		if (!rb)
			return false;
		h++;
		n = (size_t)(rb - h);
	} else {
		const char *colon = memchr(h, ':', (size_t)(end - h));
		n = (size_t)((colon ? colon : end) - h);
	}
	if (n == 0 || n >= sizeof(host))
		return false;
	memcpy(host, h, n);
	host[n] = '\0';
	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, a) == 1) {
		if (a[0] == 127)
			return true;
		for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++)
			if (inet_pton(AF_INET, v4[i], b) == 1 && memcmp(a, b, 4) == 0)
				return true;
		return false;
	}
	if (inet_pton(AF_INET6, host, a) == 1) {
		if (inet_pton(AF_INET6, "::1", b) == 1 && memcmp(a, b, 16) == 0)
			return true;
		if (inet_pton(AF_INET6, "fd00:ec2::23", b) == 1 && memcmp(a, b, 16) == 0)
			return true;
	}
	return false;
}

static int http_fetch(struct em_aws_provider *p, int64_t timeout_ms, struct em_aws_creds *out, struct em_err *err)
{
	struct http_prov *hp = (struct http_prov *)p;
	struct em_aws_resp resp = {0};
	struct em_sigv4_hdr auth = {"Authorization", NULL};
	char *token = NULL;
	int rc = -1;

	if (!em_aws_http_creds_host_allowed(hp->url))
		return em_err_set(err, EM_E_CONFIG,
				  "pod identity: host of %.200s is not allowed (only loopback, 169.254.170.2, "
				  "169.254.170.23 and fd00:ec2::23)", hp->url);
	if (hp->token_file) {
		char why[EM_ERR_MSG_MAX - 64];
		token = em_read_file(hp->token_file, MAX_TOKEN, EM_READ_TRIM_SPACE, NULL, why, sizeof(why));
		if (!token)
			return em_err_set(err, EM_E_UNAVAILABLE, "pod identity: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: %s",
					  why);
		auth.value = token;
	} else if (hp->token) {
		auth.value = hp->token;
	}
	struct em_aws_http_req hr = {
		.method = "GET", .url = hp->url, .headers = &auth, .n_headers = auth.value ? 1 : 0,
		.timeout_ms = timeout_ms, .service_label = "pod-identity", .operation = "GetCredentials",
	};
	if (em_aws_http(&hr, &resp, err) != 0) {
		em_err_prefix(err, "pod identity");
		goto out;
	}
	if (resp.status != 200)
		em_err_set(err, EM_E_UNAVAILABLE, "pod identity: %s answered HTTP %ld: %.200s", hp->url, resp.status,
			   resp.message[0] ? resp.message : resp.code);
	else if ((rc = em_aws_parse_creds_json(resp.body, resp.len, out, err)) != 0)
		em_err_prefix(err, "pod identity");
out:
	em_aws_resp_free(&resp);
	em_free_secret(token);
	return rc;
}

static void http_destroy(struct em_aws_provider *p)
{
	struct http_prov *hp = (struct http_prov *)p;

	free(hp->url);
	free(hp->token_file);
	em_free_secret(hp->token);
	free(hp);
}

struct em_aws_provider *em_aws_provider_http(em_getenv_fn env, char *why, size_t cap)
{
	struct http_prov *hp;
	const char *full, *rel, *file, *tok;

	if (!env)
		env = em_aws_getenv;
	full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	if ((!full || !full[0]) && (!rel || !rel[0])) {
		em_aws_why(why, cap, "AWS_CONTAINER_CREDENTIALS_FULL_URI and _RELATIVE_URI not set");
		return NULL;
	}
	file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	tok = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	hp = em_aws_provider_alloc(sizeof(*hp), "pod identity", http_fetch, http_destroy);
	if (!hp) {
		em_aws_why(why, cap, "out of memory");
		return NULL;
	}
	if (rel && rel[0]) { /* ECS: the relative URI wins, as in the SDKs */
		size_t n = strlen(ECS_HOST) + strlen(rel) + 2;
		hp->url = malloc(n);
		if (hp->url)
			snprintf(hp->url, n, "%s%s%s", ECS_HOST, rel[0] == '/' ? "" : "/", rel);
	} else {
		hp->url = strdup(full);
	}
	if (file && file[0])
		hp->token_file = strdup(file);
	else if (tok && tok[0])
		hp->token = strdup(tok);
	if (!hp->url || (file && file[0] && !hp->token_file) || (!(file && file[0]) && tok && tok[0] && !hp->token)) {
		http_destroy(&hp->p);
		em_aws_why(why, cap, "out of memory");
		return NULL;
	}
	return &hp->p;
}
