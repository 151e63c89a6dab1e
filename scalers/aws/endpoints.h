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
 * https://<prefix>.<region>.amazonaws.com (".com.cn" in China regions).
 * Writes it without a trailing slash. getenv_fn NULL = the process
 * environment. 0, or -1 with err (EM_E_CONFIG: bad region or URL). */
int em_aws_endpoint(const struct em_aws_service *svc, const char *region, const char *override,
		    em_getenv_fn getenv_fn, char *out, size_t cap, struct em_err *err);

/* A region as AWS spells them (lowercase letters, digits, dashes). */
int em_aws_region_valid(const char *region);

#endif
