/* endpoints.h - which URL an AWS service is called at: override, standard variables, regional. */
#ifndef EM_AWS_ENDPOINTS_H
#define EM_AWS_ENDPOINTS_H

#include <stddef.h>

#include "scalers/scaler.h"

/* The services we call. */
struct em_aws_service {
	const char *signing_name; /* SigV4 service: "sqs", "monitoring", "sts" */
	const char *env_id;       /* AWS_ENDPOINT_URL_<env_id>: "SQS", "CLOUDWATCH", "STS" */
	const char *label;        /* our counters' service label: "sqs", "cloudwatch", "sts" */
};

extern const struct em_aws_service em_aws_sqs, em_aws_cloudwatch, em_aws_sts;

typedef const char *(*em_getenv_fn)(const char *name);

/* getenv() as an em_getenv_fn: the default everywhere one is taken. */
const char *em_aws_getenv(const char *name);

/* Resolves the endpoint, in order: `override` (metadata awsEndpoint),
 * AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL (both ignored when
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true), else
 * https://<prefix>.<region>.<the partition's DNS suffix>.
 * Writes it without a trailing slash. getenv_fn NULL = the process
 * environment. 0, or -1 with err (EM_E_CONFIG: bad region or URL). */
int em_aws_endpoint(const struct em_aws_service *svc, const char *region, const char *override,
		    em_getenv_fn getenv_fn, char *out, size_t cap, struct em_err *err);

/* AWS partitions and their regions (a table from botocore's endpoints.json). */
struct em_aws_partition {
	const char *name;         /* "aws", "aws-cn", "aws-us-gov", "aws-iso", ... */
	const char *dns_suffix;   /* "amazonaws.com", "amazonaws.com.cn", "c2s.ic.gov", ... */
};

/* The partition of a region AWS has, or NULL. */
const struct em_aws_partition *em_aws_region_partition(const char *region);
/* 1 when region is one AWS has. */
int em_aws_region_valid(const char *region);
/* The known region closest to an unknown one (a typo), or NULL. */
const char *em_aws_region_suggest(const char *region);
/* em_aws_region_valid, else an error about key with a suggestion; 0 or -1. */
int em_aws_region_check(const char *key, const char *region, struct em_optdiag *d);

/* The region an SQS queue URL names in its host (sqs.REGION.amazonaws.com,
 * a VPC endpoint's ...sqs.REGION.vpce.amazonaws.com, the legacy
 * REGION.queue.amazonaws.com, queue.amazonaws.com = us-east-1); only known
 * regions count. 0, or -1 when the URL names none. */
int em_aws_region_from_sqs_url(const char *url, char *out, size_t cap);

#endif
