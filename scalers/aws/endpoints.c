/* endpoints.c - which URL an AWS service is called at: override, standard variables, regional. */
#include "endpoints.h"

#include <ctype.h>
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

/* Every region of every partition, with its DNS suffix: botocore 1.43.11's
 * data/endpoints.json ("partitions": aws, aws-cn, aws-us-gov, aws-iso,
 * aws-iso-b, aws-iso-e, aws-iso-f, aws-eusc), the same list the AWS SDKs
 * generate their partitions from. A region AWS opens later needs a line
 * here; until then an endpoint override does not help either: the region is
 * checked because a typo ("eu-wset-1") would otherwise only show as a DNS
 * failure at the first poll. */
static const struct em_aws_partition p_aws = {"aws", "amazonaws.com"};
static const struct em_aws_partition p_aws_cn = {"aws-cn", "amazonaws.com.cn"};
static const struct em_aws_partition p_aws_us_gov = {"aws-us-gov", "amazonaws.com"};
static const struct em_aws_partition p_aws_iso = {"aws-iso", "c2s.ic.gov"};
static const struct em_aws_partition p_aws_iso_b = {"aws-iso-b", "sc2s.sgov.gov"};
static const struct em_aws_partition p_aws_iso_e = {"aws-iso-e", "cloud.adc-e.uk"};
static const struct em_aws_partition p_aws_iso_f = {"aws-iso-f", "csp.hci.ic.gov"};
static const struct em_aws_partition p_aws_eusc = {"aws-eusc", "amazonaws.eu"};

static const struct {
	const char *name;
	const struct em_aws_partition *partition;
} regions[] = {
	{"af-south-1", &p_aws},
	{"ap-east-1", &p_aws},
	{"ap-east-2", &p_aws},
	{"ap-northeast-1", &p_aws},
	{"ap-northeast-2", &p_aws},
	{"ap-northeast-3", &p_aws},
	{"ap-south-1", &p_aws},
	{"ap-south-2", &p_aws},
	{"ap-southeast-1", &p_aws},
	{"ap-southeast-2", &p_aws},
	{"ap-southeast-3", &p_aws},
	{"ap-southeast-4", &p_aws},
	{"ap-southeast-5", &p_aws},
	{"ap-southeast-6", &p_aws},
	{"ap-southeast-7", &p_aws},
	{"ca-central-1", &p_aws},
	{"ca-west-1", &p_aws},
	{"eu-central-1", &p_aws},
	{"eu-central-2", &p_aws},
	{"eu-north-1", &p_aws},
	{"eu-south-1", &p_aws},
	{"eu-south-2", &p_aws},
	{"eu-west-1", &p_aws},
	{"eu-west-2", &p_aws},
	{"eu-west-3", &p_aws},
	{"il-central-1", &p_aws},
	{"me-central-1", &p_aws},
	{"me-south-1", &p_aws},
	{"mx-central-1", &p_aws},
	{"sa-east-1", &p_aws},
	{"us-east-1", &p_aws},
	{"us-east-2", &p_aws},
	{"us-west-1", &p_aws},
	{"us-west-2", &p_aws},
	{"cn-north-1", &p_aws_cn},
	{"cn-northwest-1", &p_aws_cn},
	{"us-gov-east-1", &p_aws_us_gov},
	{"us-gov-west-1", &p_aws_us_gov},
	{"us-iso-east-1", &p_aws_iso},
	{"us-iso-west-1", &p_aws_iso},
	{"us-isob-east-1", &p_aws_iso_b},
	{"us-isob-west-1", &p_aws_iso_b},
	{"eu-isoe-west-1", &p_aws_iso_e},
	{"us-isof-east-1", &p_aws_iso_f},
	{"us-isof-south-1", &p_aws_iso_f},
	{"eusc-de-east-1", &p_aws_eusc},
};

const struct em_aws_partition *em_aws_region_partition(const char *region)
{
	for (size_t i = 0; region && i < sizeof(regions) / sizeof(regions[0]); i++)
		if (strcmp(regions[i].name, region) == 0)
			return regions[i].partition;
	return NULL;
}

int em_aws_region_valid(const char *region)
{
	return em_aws_region_partition(region) != NULL;
}

const char *em_aws_region_suggest(const char *region)
{
	const char *best = NULL;
	size_t best_d = 3;

	for (size_t i = 0; region && i < sizeof(regions) / sizeof(regions[0]); i++) {
		size_t dist = em_text_distance(region, regions[i].name, 2);
		if (dist < best_d) {
			best_d = dist;
			best = regions[i].name;
		}
	}
	return best;
}

int em_aws_region_check(const char *key, const char *region, struct em_optdiag *d)
{
	const char *sug;

	if (em_aws_region_valid(region))
		return 0;
	sug = em_aws_region_suggest(region);
	if (sug)
		return em_opt_error(d, key, "unknown region \"%.64s\" (did you mean %s?)", region, sug);
	return em_opt_error(d, key, "unknown region \"%.64s\" (not among the %zu regions of the AWS partitions "
			    "aws, aws-cn, aws-us-gov and the ISO ones)", region, sizeof(regions) / sizeof(regions[0]));
}

/* Hosts naming the queue's region: sqs.REGION.SUFFIX (also behind a VPC
 * endpoint's prefix: vpce-x.sqs.REGION.vpce.amazonaws.com), the legacy
 * REGION.queue.SUFFIX, and queue.amazonaws.com (us-east-1). */
int em_aws_region_from_sqs_url(const char *url, char *out, size_t cap)
{
	const char *p = strstr(url ? url : "", "://");
	char host[256];
	size_t n;

	if (!p)
		return -1;
	p += 3;
	n = strcspn(p, "/:?#");
	if (memchr(p, '@', n))   /* user info: not a queue URL */
		return -1;
	if (n == 0 || n >= sizeof(host))
		return -1;
	for (size_t i = 0; i < n; i++)
		host[i] = (char)tolower((unsigned char)p[i]);
	host[n] = '\0';
	if (strcmp(host, "queue.amazonaws.com") == 0)
		return (size_t)snprintf(out, cap, "us-east-1") < cap ? 0 : -1;
	for (char *label = host; label; label = strchr(label, '.') ? strchr(label, '.') + 1 : NULL) {
		char cand[64];
		const char *dot;
		if (strncmp(label, "sqs.", 4) == 0) {
			dot = strchr(label + 4, '.');
			if (dot && (size_t)(dot - label - 4) < sizeof(cand)) {
				snprintf(cand, sizeof(cand), "%.*s", (int)(dot - label - 4), label + 4);
				if (em_aws_region_valid(cand))
					return (size_t)snprintf(out, cap, "%s", cand) < cap ? 0 : -1;
			}
		}
		dot = strchr(label, '.');
		if (dot && strncmp(dot, ".queue.", 7) == 0 && (size_t)(dot - label) < sizeof(cand)) {
			snprintf(cand, sizeof(cand), "%.*s", (int)(dot - label), label);
			if (em_aws_region_valid(cand))
				return (size_t)snprintf(out, cap, "%s", cand) < cap ? 0 : -1;
		}
	}
	return -1;
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
	const struct em_aws_partition *part;
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
	part = em_aws_region_partition(region);
	if (!part)
		return em_err_set(err, EM_E_CONFIG, "awsRegion: unknown region \"%.64s\"", region ? region : "");
	if ((size_t)snprintf(out, cap, "https://%s.%s.%s", svc->signing_name, region, part->dns_suffix) >= cap)
		return em_err_set(err, EM_E_CONFIG, "awsRegion: region too long");
	return 0;
}
