/* assume_role.c - sts:AssumeRole (roleArn + externalID) on top of another identity. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "scalers/scaler.h"
#include "aws_http.h"
#include "aws_parse.h"
#include "credentials.h"

struct role_prov {
	struct em_aws_provider p;
	struct em_aws_identity *base;
	char *role_arn;
	char *external_id;
	char *region;
};

static int role_fetch(struct em_aws_provider *p, int64_t timeout_ms, struct em_aws_creds *out, struct em_err *err)
{
	struct role_prov *rp = (struct role_prov *)p;
	char endpoint[1024], session[64];
	struct em_aws_resp resp = {0};
	char *body;
	int rc = -1;

	if (em_aws_endpoint(&em_aws_sts, rp->region, NULL, NULL, endpoint, sizeof(endpoint), err) != 0) {
		em_err_prefix(err, "sts:AssumeRole");
		return -1;
	}
	snprintf(session, sizeof(session), "extmetrics-%lld", (long long)em_now_ms());
	const char *kv[] = {
		"Action", "AssumeRole", "Version", "2011-06-15", "RoleArn", rp->role_arn, "RoleSessionName", session,
		"ExternalId", rp->external_id,
	};
	body = em_aws_form(kv, sizeof(kv) / sizeof(kv[0]) / 2);
	if (!body)
		return em_err_set(err, EM_E_INTERNAL, "out of memory");
	struct em_aws_api_req r = {
		.svc = &em_aws_sts, .region = rp->region, .endpoint = endpoint, .operation = "AssumeRole",
		.content_type = "application/x-www-form-urlencoded; charset=utf-8", .body = body,
		.body_len = strlen(body), .timeout_ms = timeout_ms,
	};
	/* the base identity's own failures come back as "sts:AssumeRole: credentials: ..." */
	if (em_aws_api_call(rp->base, &r, &resp, err) == 0 &&
	    (rc = em_aws_parse_sts_creds(resp.body, resp.len, out, err)) != 0)
		em_err_prefix(err, "sts:AssumeRole");
	em_aws_resp_free(&resp);
	em_free_secret(body);
	return rc;
}

static void role_destroy(struct em_aws_provider *p)
{
	struct role_prov *rp = (struct role_prov *)p;

	em_aws_identity_close(rp->base);
	free(rp->role_arn);
	em_free_secret(rp->external_id);
	free(rp->region);
	free(rp);
}

struct em_aws_provider *em_aws_provider_assume_role(struct em_aws_identity *base, const char *role_arn,
						    const char *external_id, const char *sts_region)
{
	struct role_prov *rp = em_aws_provider_alloc(sizeof(*rp), "assume role", role_fetch, role_destroy);

	if (!rp)
		return NULL;
	rp->role_arn = strdup(role_arn);
	rp->external_id = external_id ? strdup(external_id) : NULL;
	rp->region = strdup(sts_region ? sts_region : "");
	if (!rp->role_arn || (external_id && !rp->external_id) || !rp->region) {
		free(rp->role_arn);
		free(rp->external_id);
		free(rp->region);
		free(rp);
		return NULL;
	}
	rp->base = base; /* owned from here on */
	return &rp->p;
}
