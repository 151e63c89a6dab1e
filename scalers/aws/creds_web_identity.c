/* creds_web_identity.c - IRSA: STS AssumeRoleWithWebIdentity with the projected token file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "scalers/scaler.h"
#include "aws_http.h"
#include "aws_parse.h"
#include "credentials.h"

#define MAX_TOKEN (64 * 1024)

struct web_prov {
	struct em_aws_provider p;
	char *role_arn;
	char *token_file;
	char *session_name;  /* NULL: generated per call */
	char *region;
	em_getenv_fn env;
};

static int web_fetch(struct em_aws_provider *p, int64_t timeout_ms, struct em_aws_creds *out, struct em_err *err)
{
	struct web_prov *w = (struct web_prov *)p;
	char endpoint[1024], session[64], url[1100];
	struct em_aws_resp resp = {0};
	struct em_sigv4_hdr ct = {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"};
	char *token, *body = NULL, why[EM_ERR_MSG_MAX - 64];
	int rc = -1;

	/* Read at every refresh: kubelet rotates the projected token. */
	token = em_read_file(w->token_file, MAX_TOKEN, EM_READ_TRIM_SPACE, NULL, why, sizeof(why));
	if (!token)
		return em_err_set(err, EM_E_UNAVAILABLE, "web identity: AWS_WEB_IDENTITY_TOKEN_FILE: %s", why);
	if (!token[0]) {
		em_err_set(err, EM_E_UNAVAILABLE, "web identity: token file %s is empty", w->token_file);
		goto out;
	}
	if (em_aws_endpoint(&em_aws_sts, w->region, NULL, w->env, endpoint, sizeof(endpoint), err) != 0) {
		em_err_prefix(err, "sts:AssumeRoleWithWebIdentity");
		goto out;
	}
	snprintf(session, sizeof(session), "extmetrics-%lld", (long long)em_now_ms());
	const char *kv[] = {
		"Action", "AssumeRoleWithWebIdentity", "Version", "2011-06-15", "RoleArn", w->role_arn,
		"RoleSessionName", w->session_name ? w->session_name : session, "WebIdentityToken", token,
	};
	body = em_aws_form(kv, sizeof(kv) / sizeof(kv[0]) / 2);
	if (!body) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		goto out;
	}
	snprintf(url, sizeof(url), "%s/", endpoint);
	struct em_aws_http_req hr = {
		.method = "POST", .url = url, .headers = &ct, .n_headers = 1, .body = body, .body_len = strlen(body),
		.timeout_ms = timeout_ms, .service_label = "sts", .operation = "AssumeRoleWithWebIdentity",
	};
	if (em_aws_http(&hr, &resp, err) != 0)
		goto out;
	if (resp.status < 200 || resp.status >= 300) {
		em_err_set(err, EM_E_UNAVAILABLE, "sts:AssumeRoleWithWebIdentity: %s%s%s", resp.code,
			   resp.message[0] ? ": " : "", resp.message);
		goto out;
	}
	if (em_aws_parse_sts_creds(resp.body, resp.len, out, err) != 0) {
		em_err_prefix(err, "sts:AssumeRoleWithWebIdentity");
		goto out;
	}
	rc = 0;
out:
	em_aws_resp_free(&resp);
	em_free_secret(body);
	em_free_secret(token);
	return rc;
}

static void web_destroy(struct em_aws_provider *p)
{
	struct web_prov *w = (struct web_prov *)p;

	free(w->role_arn);
	free(w->token_file);
	free(w->session_name);
	free(w->region);
	free(w);
}

struct em_aws_provider *em_aws_provider_web_identity(em_getenv_fn env, const char *sts_region, char *why, size_t cap)
{
	struct web_prov *w;
	const char *role, *file, *session;
	bool no_role, no_file;

	if (!env)
		env = em_aws_getenv;
	role = env("AWS_ROLE_ARN");
	file = env("AWS_WEB_IDENTITY_TOKEN_FILE");
	session = env("AWS_ROLE_SESSION_NAME");
	no_role = !role || !role[0];
	no_file = !file || !file[0];
	if (no_role || no_file) {
		em_aws_why(why, cap, no_role && no_file ? "AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE not set" :
				     no_role ? "AWS_ROLE_ARN not set (AWS_WEB_IDENTITY_TOKEN_FILE is)" :
				     "AWS_WEB_IDENTITY_TOKEN_FILE not set (AWS_ROLE_ARN is)");
		return NULL;
	}
	w = em_aws_provider_alloc(sizeof(*w), "web identity", web_fetch, web_destroy);
	if (!w) {
		em_aws_why(why, cap, "out of memory");
		return NULL;
	}
	w->env = env;
	w->role_arn = strdup(role);
	w->token_file = strdup(file);
	w->session_name = session && session[0] ? strdup(session) : NULL;
	w->region = strdup(sts_region ? sts_region : "");
	if (!w->role_arn || !w->token_file || !w->region) {
		web_destroy(&w->p);
		em_aws_why(why, cap, "out of memory");
		return NULL;
	}
	return &w->p;
}
