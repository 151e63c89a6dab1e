/* endpoints.c - which URL an AWS service is called at: override, standard variables, regional. */
#include "endpoints.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const struct em_aws_service em_aws_sqs = {"sqs", "SQS", "sqs"};
const struct em_aws_service em_aws_cloudwatch = {"monitoring", "CLOUDWATCH", "cloudwatch"};
const struct em_aws_service em_aws_sts = {"sts", "STS", "sts"};

const char *em_aws_getenv(const char *name)
{
	return getenv(name);
}

int em_aws_region_valid(const char *region)
{
	if (!region || !region[0] || strlen(region) > 64)
		return 0;
	for (const char *p = region; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return 0;
	return 1;
}

/* Copies url without trailing slashes after checking it is http(s)://host... */
static int take_url(const char *what, const char *url, char *out, size_t cap, struct em_err *err)
{
	size_t n;

	while (*url == ' ' || *url == '\t')
		url++;
	if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
		return em_err_set(err, EM_E_CONFIG, "%s: endpoint \"%.200s\" must start with http:// or https://",
				  what, url);
	n = strlen(url);
	while (n && (url[n - 1] == '/' || url[n - 1] == ' '))
		n--;
	if (n >= cap)
		return em_err_set(err, EM_E_CONFIG, "%s: endpoint too long", what);
	memcpy(out, url, n);
	out[n] = '\0';
	if (strpbrk(out, " \t\r\n?#"))
		return em_err_set(err, EM_E_CONFIG, "%s: endpoint \"%.200s\" has no place for a query or spaces",
				  what, out);
	return 0;
}

int em_aws_endpoint(const struct em_aws_service *svc, const char *region, const char *override,
		    em_getenv_fn getenv_fn, char *out, size_t cap, struct em_err *err)
{
	char name[64];
	const char *v, *ign;
	bool use_env;

	if (!getenv_fn)
		getenv_fn = em_aws_getenv;
	if (override && override[0])
		return take_url("awsEndpoint", override, out, cap, err);
	ign = getenv_fn("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	use_env = !(ign && strcasecmp(ign, "true") == 0);
	if (use_env) {
		snprintf(name, sizeof(name), "AWS_ENDPOINT_URL_%s", svc->env_id);
		v = getenv_fn(name);
		if (v && v[0])
			return take_url(name, v, out, cap, err);
		v = getenv_fn("AWS_ENDPOINT_URL");
		if (v && v[0])
			return take_url("AWS_ENDPOINT_URL", v, out, cap, err);
	}
	if (!em_aws_region_valid(region))
		return em_err_set(err, EM_E_CONFIG, "awsRegion: invalid region \"%.64s\"", region ? region : "");
	if ((size_t)snprintf(out, cap, "https://%s.%s.amazonaws.com%s",
			     svc->signing_name, region,
			     strncmp(region, "cn-", 3) == 0 ? ".cn" : "") >= cap)
		return em_err_set(err, EM_E_CONFIG, "awsRegion: region too long");
	return 0;
}
