/* credentials.h - AWS identities: auth options, the provider chain, a shared cache with refresh. */
#ifndef EM_AWS_CREDENTIALS_H
#define EM_AWS_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scalers/scaler.h"
#include "endpoints.h"
#include "sigv4.h"

/* ------------------------------------------------------------------ */
/* The auth options every AWS scaler accepts (KEDA's names), embedded in its
 * config struct and declared in its option table with EM_AWS_AUTH_OPTIONS. */

struct em_aws_auth_cfg {
	char *pod_identity;       /* podIdentity: aws | aws-eks | none */
	char *identity_owner;     /* identityOwner: pod | operator (KEDA's legacy switch) */
	char *role_arn;           /* roleArn (auth.roleArn), or KEDA's authParams name awsRoleArn */
	char *external_id;        /* externalID */
	char *access_key_id;      /* awsAccessKeyID, or KEDA's other spelling awsAccessKeyId */
	char *secret_access_key;  /* awsSecretAccessKey */
	char *session_token;      /* awsSessionToken */
};

extern const char *const em_aws_pod_identity_choices[];

/* KEDA reads these from metadata only in the legacy ways noted (GetAwsAuthorization
 * in pkg/scalers/aws/aws_common.go); what it ignores there is ignored here too. */
#define EM_AWS_AUTH_OPTIONS(T, M)                                                                            \
	{.name = "podIdentity", .type = EM_OPT_ENUM, .offset = offsetof(T, M.pod_identity),                    \
	 .choices = em_aws_pod_identity_choices, .flags = EM_OPT_NOENV | EM_OPT_NOMETA,                        \
	 .note = "KEDA takes the pod identity from a TriggerAuthentication only; write auth.podIdentity",      \
	 .help = "`aws`: the default credential chain (env keys, IRSA, EKS Pod Identity, IMDSv2); `none`: "    \
		 "static keys only. Default: static keys when given, else the chain"},                         \
	{.name = "roleArn", .alias = "awsRoleArn", .type = EM_OPT_STRING, .offset = offsetof(T, M.role_arn),   \
	 .flags = EM_OPT_NOMETA,                                                                               \
	 .note = "KEDA reads the role only from a TriggerAuthentication (awsRoleArn, podIdentity.roleArn); "   \
		 "write auth.roleArn",                                                                          \
	 .help = "role assumed (sts:AssumeRole); awsRoleArn is KEDA's TriggerAuthentication name for it"},     \
	{.name = "externalID", .type = EM_OPT_STRING, .offset = offsetof(T, M.external_id),                   \
	 .flags = EM_OPT_SECRET | EM_OPT_NOMETA,                                                               \
	 .note = "KEDA reads externalID only from a TriggerAuthentication's podIdentity; write auth.externalID", \
	 .help = "ExternalId passed to sts:AssumeRole (ignored without a role, as in KEDA)"},                   \
	{.name = "awsAccessKeyID", .alias = "awsAccessKeyId", .type = EM_OPT_STRING,                          \
	 .offset = offsetof(T, M.access_key_id), .flags = EM_OPT_SECRET | EM_OPT_METAWARN,                    \
	 .note = "a static key in metadata: KEDA reads it there (its legacy path); prefer auth.params with "   \
		 "fromFile",                                                                                    \
	 .help = "static access key id (use fromEnv/fromFile); awsAccessKeyId is KEDA's other spelling"},      \
	{.name = "awsSecretAccessKey", .type = EM_OPT_STRING, .offset = offsetof(T, M.secret_access_key),     \
	 .flags = EM_OPT_SECRET | EM_OPT_METAWARN,                                                             \
	 .note = "used, but KEDA ignores a literal awsSecretAccessKey in metadata (it reads "                  \
		 "awsSecretAccessKeyFromEnv there) and fails with \"awsSecretAccessKey not found\"; move it to "    \
		 "auth.params",                                                                                 \
	 .help = "static secret access key (use fromEnv/fromFile)"},                                           \
	{.name = "awsSessionToken", .type = EM_OPT_STRING, .offset = offsetof(T, M.session_token),            \
	 .flags = EM_OPT_SECRET | EM_OPT_METAWARN,                                                             \
	 .note = "used, but KEDA ignores awsSessionToken in metadata (its temporary keys then fail at AWS); "   \
		 "move it to auth.params",                                                                      \
	 .help = "session token of temporary static keys"},                                                   \
	{.name = "identityOwner", .type = EM_OPT_STRING, .offset = offsetof(T, M.identity_owner),              \
	 .flags = EM_OPT_DEPRECATED,                                                                           \
	 .note = "deprecated in KEDA (it goes with aws-eks): pod is the default; any other value means "       \
		 "KEDA's (here: this server's) own identity, with static keys and role ignored",               \
	 .help = "KEDA's legacy switch: `pod` (default) or `operator` (this server's identity, keys and role " \
		 "ignored)"}

/* KEDA's rules for which credentials a trigger uses (GetAwsAuthorization):
 * reports every problem to d (KEDA's messages: "awsAccessKeyID not found",
 * ...) and clears in a what KEDA would ignore, with a warning each: static
 * keys beside podIdentity aws or a role, keys and role with identityOwner
 * operator, externalID without a role. */
int em_aws_auth_validate(struct em_aws_auth_cfg *a, struct em_optdiag *d);

/* ------------------------------------------------------------------ */
/* Providers: where one identity's credentials come from. */

struct em_aws_provider {
	const char *name; /* for messages: "env", "web identity", "pod identity", "IMDS", ... */
	/* Fetches fresh credentials within timeout_ms; errors name the step
	 * and the AWS error code and never contain secrets. */
	int (*fetch)(struct em_aws_provider *p, int64_t timeout_ms, struct em_aws_creds *out, struct em_err *err);
	void (*destroy)(struct em_aws_provider *p);
};

/* Constructors return NULL when their environment is absent (the chain then
 * moves on), with why (cap bytes; NULL: not wanted) saying what is missing
 * ("AWS_ACCESS_KEY_ID not set"). env NULL = the process environment. */
struct em_aws_provider *em_aws_provider_static(const char *akid, const char *secret, const char *token);
struct em_aws_provider *em_aws_provider_env(em_getenv_fn env, char *why, size_t cap);
struct em_aws_provider *em_aws_provider_web_identity(em_getenv_fn env, const char *sts_region, char *why, size_t cap);
struct em_aws_provider *em_aws_provider_http(em_getenv_fn env, char *why, size_t cap);
/* skipped: why the chain's earlier sources were passed over, prefixed to
 * every error of this last one ("no AWS credentials: env: ...; IMDS at
 * ...: ..."); NULL when it is not the chain's. */
struct em_aws_provider *em_aws_provider_imds(em_getenv_fn env, const char *skipped, char *why, size_t cap);

/* The default chain: env keys -> web identity (IRSA) -> HTTP (EKS Pod
 * Identity) -> IMDSv2. Returns the first whose environment is present, or
 * IMDS; NULL with err when IMDS is disabled too. Either way, an error of
 * "no AWS credentials" names every source tried and why it was skipped. */
struct em_aws_provider *em_aws_provider_chain(em_getenv_fn env, const char *sts_region, struct em_err *err);

struct em_aws_identity;
/* sts:AssumeRole with base's credentials; holds a reference on base. */
struct em_aws_provider *em_aws_provider_assume_role(struct em_aws_identity *base, const char *role_arn,
						    const char *external_id, const char *sts_region);

void em_aws_provider_free(struct em_aws_provider *p); /* NULL-safe */

/* For providers' constructors: why they return NULL, into why (when
 * non-NULL, cap bytes). */
void em_aws_why(char *why, size_t cap, const char *text);
/* For providers' constructors: size zeroed bytes (a struct that starts with
 * struct em_aws_provider) with name and hooks set. NULL out of memory. */
void *em_aws_provider_alloc(size_t size, const char *name,
			    int (*fetch)(struct em_aws_provider *, int64_t, struct em_aws_creds *, struct em_err *),
			    void (*destroy)(struct em_aws_provider *));

/* Pure helpers, exposed for tests. */
/* Pod Identity / ECS URL hosts accepted: loopback, 169.254.170.2, 169.254.170.23, fd00:ec2::23. */
bool em_aws_http_creds_host_allowed(const char *url);
/* {"AccessKeyId","SecretAccessKey","Token","Expiration"} (IMDS, Pod Identity). */
int em_aws_parse_creds_json(const char *body, size_t len, struct em_aws_creds *out, struct em_err *err);
/* <Credentials><AccessKeyId>...</Credentials> of STS AssumeRole*. */
int em_aws_parse_sts_creds(const char *xml, size_t len, struct em_aws_creds *out, struct em_err *err);

/* ------------------------------------------------------------------ */
/* Identities: one per distinct auth configuration, shared by every metric
 * that uses it, with credentials cached and refreshed in the background
 * 5 minutes before they expire, so no poll waits for STS. */

#define EM_AWS_REFRESH_AHEAD_MS (5 * 60 * 1000)
#define EM_AWS_FORCED_REFRESH_MIN_MS (15 * 1000)

/* The registry's set-up, from em_aws_global_init (before any identity is
 * opened), and tear-down: false, doing nothing, while an identity is open. */
void em_aws_creds_global_init(void);
bool em_aws_creds_global_cleanup(void);

/* Finds or creates the identity for an auth config em_aws_auth_validate()
 * accepted; region is
 * the metric's, used for STS when AWS_REGION / AWS_DEFAULT_REGION are
 * unset. NULL with err (no credentials source, out of memory). */
struct em_aws_identity *em_aws_identity_open(const struct em_aws_auth_cfg *a, const char *region,
					     struct em_err *err);
void em_aws_identity_close(struct em_aws_identity *id); /* NULL-safe */

/* A stable description without secrets, for batch keys and messages. */
const char *em_aws_identity_key(const struct em_aws_identity *id);

/* A copy of the current credentials (wipe with em_aws_creds_wipe),
 * fetching them first if there are none or they expired. */
int em_aws_identity_creds(struct em_aws_identity *id, int64_t timeout_ms, struct em_aws_creds *out,
			  struct em_err *err);

/* Called when AWS answered ExpiredToken / InvalidClientTokenId to a request
 * signed with access key `used_akid`. Refreshes at most once per
 * EM_AWS_FORCED_REFRESH_MIN_MS per identity (unless another thread already
 * did): returns 1 when new credentials are there to retry with, else 0. */
int em_aws_identity_refresh_after_auth_error(struct em_aws_identity *id, const char *used_akid,
					     int64_t timeout_ms);

/* Counters for tests: fetches made by the provider (foreground+background). */
uint64_t em_aws_identity_fetches(const struct em_aws_identity *id);

#endif
