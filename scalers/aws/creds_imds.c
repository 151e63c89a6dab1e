/* creds_imds.c - EC2 instance role credentials through IMDSv2 (session token, then role). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "scalers/scaler.h"
#include "aws_http.h"
#include "credentials.h"

#define IMDS_DEFAULT "http://169.254.169.254"
#define IMDS_DEFAULT_V6 "http://[fd00:ec2::254]"
#define STEP_MAX_MS 2000 /* a step that takes longer means no IMDS here */

struct imds_prov {
	struct em_aws_provider p;
	char *base;
	char *skipped;   /* the chain's sources before this one and why; NULL alone */
};

static int64_t step(int64_t deadline)
{
	int64_t left = deadline - em_mono_ms();
	return left < STEP_MAX_MS ? left : STEP_MAX_MS;
}

/* One IMDS request; on success resp holds a 200 answer. */
static int imds_req(struct imds_prov *ip, const char *method, const char *path, const struct em_sigv4_hdr *h,
		    const char *op, int64_t deadline, struct em_aws_resp *resp, struct em_err *err)
{
	char url[1200];

	snprintf(url, sizeof(url), "%s%s", ip->base, path);
	struct em_aws_http_req hr = {
		.method = method, .url = url, .headers = h, .n_headers = 1, .timeout_ms = step(deadline),
		.service_label = "imds", .operation = op,
	};
	return em_aws_http(&hr, resp, err);
}

static int imds_fetch(struct em_aws_provider *p, int64_t timeout_ms, struct em_aws_creds *out, struct em_err *err)
{
	struct imds_prov *ip = (struct imds_prov *)p;
	int64_t deadline = em_mono_ms() + timeout_ms;
	struct em_aws_resp resp = {0};
	struct em_sigv4_hdr h = {"X-aws-ec2-metadata-token-ttl-seconds", "21600"};
	char *token = NULL, role[256], path[400];
	size_t rl;
	int rc = -1;

	if (imds_req(ip, "PUT", "/latest/api/token", &h, "GetToken", deadline, &resp, err) != 0)
		goto out;   /* no answer at all: there is no instance metadata service here */
	if (resp.status != 200 || resp.len == 0) {
		/* something else answers there (a proxy, another cloud's metadata service) */
		em_err_set(err, EM_E_UNAVAILABLE, "token request (PUT /latest/api/token) answered HTTP %ld", resp.status);
		goto out;
	}
	token = resp.body;
	resp.body = NULL;
	em_aws_resp_free(&resp);

	h = (struct em_sigv4_hdr){"X-aws-ec2-metadata-token", token};
	if (imds_req(ip, "GET", "/latest/meta-data/iam/security-credentials/", &h, "GetRole", deadline, &resp,
		     err) != 0)
		goto out;
	if (resp.status == 404) {
		em_err_set(err, EM_E_UNAVAILABLE, "no IAM role is attached to this instance");
		goto out;
	}
	rl = strcspn(resp.body, "\r\n");
	if (resp.status != 200 || rl == 0 || rl >= sizeof(role)) {
		em_err_set(err, EM_E_UNAVAILABLE, "role name request answered HTTP %ld", resp.status);
		goto out;
	}
	memcpy(role, resp.body, rl);
	role[rl] = '\0';
	if (strchr(role, '/') || strchr(role, '?')) {
		em_err_set(err, EM_E_UNAVAILABLE, "odd role name");
		goto out;
	}
	em_aws_resp_free(&resp);
	snprintf(path, sizeof(path), "/latest/meta-data/iam/security-credentials/%s", role);
	if (imds_req(ip, "GET", path, &h, "GetCredentials", deadline, &resp, err) != 0)
		goto out;
	if (resp.status != 200) {
		em_err_set(err, EM_E_UNAVAILABLE, "credentials of role %s answered HTTP %ld", role, resp.status);
		goto out;
	}
	if (em_aws_parse_creds_json(resp.body, resp.len, out, err) != 0) {
		em_err_prefix(err, "role %s", role);
		goto out;
	}
	rc = 0;
out:
	/* Every failure here means no credentials: say where they were looked for. */
	if (rc != 0 && ip->skipped)
		em_err_prefix(err, "no AWS credentials: %s; IMDS at %s", ip->skipped, ip->base);
	else if (rc != 0)
		em_err_prefix(err, "IMDS at %s", ip->base);
	em_aws_resp_free(&resp);
	em_free_secret(token);
	return rc;
}

static void imds_destroy(struct em_aws_provider *p)
{
	free(((struct imds_prov *)p)->base);
	free(((struct imds_prov *)p)->skipped);
	free(p);
}

struct em_aws_provider *em_aws_provider_imds(em_getenv_fn env, const char *skipped, char *why, size_t cap)
{
	struct imds_prov *ip;
	const char *dis, *ep, *mode;
	size_t n;

	if (!env)
		env = em_aws_getenv;
	dis = env("AWS_EC2_METADATA_DISABLED");
	if (dis && strcasecmp(dis, "true") == 0) {
		em_aws_why(why, cap, "disabled (AWS_EC2_METADATA_DISABLED=true)");
		return NULL;
	}
	ep = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	mode = env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	if (!ep || !ep[0])
		ep = mode && strcasecmp(mode, "IPv6") == 0 ? IMDS_DEFAULT_V6 : IMDS_DEFAULT;
	ip = em_aws_provider_alloc(sizeof(*ip), "IMDS", imds_fetch, imds_destroy);
	if (!ip) {
		em_aws_why(why, cap, "out of memory");
		return NULL;
	}
	ip->base = strdup(ep);
	ip->skipped = skipped ? strdup(skipped) : NULL;
	if (!ip->base || (skipped && !ip->skipped)) {
		imds_destroy(&ip->p);
		em_aws_why(why, cap, "out of memory");
		return NULL;
	}
	n = strlen(ip->base);
	while (n && ip->base[n - 1] == '/')
		ip->base[--n] = '\0';
	return &ip->p;
}
