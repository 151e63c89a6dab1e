/* test_aws.c - AWS helpers: error decoding, XML/time/form parsing, endpoints, auth checks, chain choice. */
#include "harness.h"
#include "optdiag.h"

#include <stdbool.h>

#include "scalers/aws/aws_http.h"
#include "scalers/aws/aws_parse.h"
#include "scalers/aws/credentials.h"
#include "scalers/aws/endpoints.h"

TEST(error_decoding)
{
	static const struct {
		long status;
		const char *body, *hdr, *code, *msg;
	} t[] = {
		{400, "{\"__type\":\"com.amazonaws.sqs#QueueDoesNotExist\",\"message\":\"The specified queue does not exist.\"}",
		 "AWS.SimpleQueueService.NonExistentQueue;Sender", "QueueDoesNotExist", "The specified queue does not exist."},
		{400, "{\"__type\":\"ThrottlingException\",\"Message\":\"Rate exceeded\"}", NULL, "ThrottlingException",
		 "Rate exceeded"},
		{400, "{\"__type\":\"InvalidParameterValue:http://internal.amazon.com/coral/\",\"message\":\"m\"}", NULL,
		 "InvalidParameterValue", "m"},
		{403,
		 "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>"
		 "<Code>AccessDenied</Code><Message>Not authorized to perform sts:AssumeRoleWithWebIdentity &amp; more"
		 "</Message></Error></ErrorResponse>",
		 NULL, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity & more"},
		{403, "  <?xml version=\"1.0\"?><Response><Errors><Error><Code>InvalidClientTokenId</Code><Message>The "
		      "security token included in the request is invalid.</Message></Error></Errors></Response>",
		 NULL, "InvalidClientTokenId", "The security token included in the request is invalid."},
		{400, "", "AWS.SimpleQueueService.NonExistentQueue;Sender", "AWS.SimpleQueueService.NonExistentQueue", ""},
		{502, "<html>bad gateway</html>", NULL, "HTTP 502", ""},
		{500, "{not json", NULL, "HTTP 500", ""},
		{400, "{\"__type\":\"X\",\"message\":\"line1\\nline2\"}", NULL, "X", "line1\\nline2"},
	};
	char code[96], msg[256];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		em_aws_parse_error(t[i].status, t[i].body, strlen(t[i].body), t[i].hdr, code, sizeof(code), msg,
				   sizeof(msg));
		EXPECT_STR(code, t[i].code);
		EXPECT_STR(msg, t[i].msg);
	}
	/* truncation is safe */
	em_aws_parse_error(400, t[0].body, strlen(t[0].body), NULL, code, 5, msg, 4);
	EXPECT_STR(code, "Queu");
	EXPECT_STR(msg, "The");
	EXPECT(em_aws_code_is_expired_creds("ExpiredToken"));
	EXPECT(em_aws_code_is_expired_creds("InvalidClientTokenId"));
	EXPECT(!em_aws_code_is_expired_creds("AccessDenied"));
	EXPECT(!em_aws_code_is_expired_creds(NULL));
	EXPECT(em_aws_code_is_throttling("ThrottlingException"));
	EXPECT(!em_aws_code_is_throttling("QueueDoesNotExist"));
}

TEST(throttle_retry_delay)
{
	static const struct {
		int64_t remaining;
		uint32_t rnd;
		int64_t delay;
	} t[] = {
		{5000, 0, 500}, {5000, 500, 1000}, {5000, 501, 500}, {5000, 250, 750}, /* cap 1000: [500, 1000] */
		{100000, 7, 507},                                                     /* never above 1 s */
		{400, 0, 50}, {400, 50, 100}, {400, 51, 50},                           /* cap = remaining/4 */
		{80, 0, 10}, {80, 10, 20}, {79, -1u, -1},                              /* cap 20 is the least */
		{0, 0, -1}, {-5, 3, -1},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int64_t d = em_aws_throttle_delay_ms(t[i].remaining, t[i].rnd);
		if (d != t[i].delay)
			TH_FAIL("remaining %lld rnd %u: %lld, expected %lld", (long long)t[i].remaining, t[i].rnd,
				(long long)d, (long long)t[i].delay);
	}
	/* whatever the random number, the retry keeps 3/4 of the time left */
	for (int64_t rem = 0; rem < 6000; rem += 7) {
		for (uint32_t rnd = 0; rnd < 4000000000u; rnd += 123456789u) {
			int64_t d = em_aws_throttle_delay_ms(rem, rnd);
			if (d != -1 && (d < 10 || 4 * d > rem || d > EM_AWS_THROTTLE_MAX_DELAY_MS)) {
				TH_FAIL("remaining %lld rnd %u: delay %lld", (long long)rem, rnd, (long long)d);
				return;
			}
		}
	}
}

TEST(throttle_backoff_skips_1_2_4_then_4)
{
	struct em_aws_backoff b = {0};
	/* skipped polls after each throttled poll, while throttling lasts */
	static const int want[] = {1, 2, 4, 4, 4};

	EXPECT(!em_aws_backoff_skip(&b));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int skipped = 0;
		em_aws_backoff_note(&b, true);
		EXPECT_INT(b.streak, i + 1);
		while (em_aws_backoff_skip(&b) && skipped < 100)
			skipped++;
		EXPECT_INT(skipped, want[i]);
	}
	/* one answer that is not throttling ends it */
	em_aws_backoff_note(&b, true);
	EXPECT(em_aws_backoff_skip(&b));
	em_aws_backoff_note(&b, false);
	EXPECT_INT(b.streak, 0);
	EXPECT(!em_aws_backoff_skip(&b));
	em_aws_backoff_note(&b, true);
	EXPECT_INT(b.streak, 1);
	EXPECT(em_aws_backoff_skip(&b));
	EXPECT(!em_aws_backoff_skip(&b));
	/* the streak saturates instead of overflowing */
	for (int i = 0; i < 5000; i++)
		em_aws_backoff_note(&b, true);
	EXPECT_INT(b.skip_left, EM_AWS_BACKOFF_MAX_SKIP);
	EXPECT(b.streak > 0);
}

TEST(throttling_codes)
{
	static const char *const yes[] = {"ThrottlingException", "RequestThrottled", "Throttling",
					  "AWS.SimpleQueueService.RequestThrottled", "TooManyRequestsException"};
	static const char *const no[] = {"QueueDoesNotExist", "AccessDenied", "", "HTTP 400", "throttlingexception"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!em_aws_code_is_throttling(yes[i]))
			TH_FAIL("%s: not throttling", yes[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (em_aws_code_is_throttling(no[i]))
			TH_FAIL("\"%s\": throttling", no[i]);
	EXPECT(!em_aws_code_is_throttling(NULL));
}

TEST(xml_fields)
{
	const char *x = "<A><Credentials><AccessKeyId>ASIA1</AccessKeyId><SessionToken>a&lt;b&#43;c&#x2F;d&amp;amp;"
			"</SessionToken></Credentials><Empty></Empty></A>";
	char *v;

	v = em_aws_xml_dup(x, strlen(x), "AccessKeyId");
	EXPECT_STR(v, "ASIA1");
	free(v);
	v = em_aws_xml_dup(x, strlen(x), "SessionToken");
	EXPECT_STR(v, "a<b+c/d&amp;");
	free(v);
	v = em_aws_xml_dup(x, strlen(x), "Empty");
	EXPECT_STR(v, "");
	free(v);
	EXPECT(em_aws_xml_dup(x, strlen(x), "Missing") == NULL);
	EXPECT(em_aws_xml_dup("<A>unterminated", 15, "A") == NULL);
	/* bounded by len: a tag after len is not seen */
	EXPECT(em_aws_xml_dup(x, 10, "AccessKeyId") == NULL);
}

TEST(iso8601_times)
{
	static const struct {
		const char *in;
		int64_t ms;
		int rc;
	} t[] = {
		{"2026-11-22T15:02:03Z", 1795359723000LL, 0},
		{"2026-11-22T15:02:03.725372Z", 1795359723725LL, 0},
		{"2026-11-22T15:02:03.7Z", 1795359723700LL, 0},
		{"2026-11-22T17:02:03+02:00", 1795359723000LL, 0},
		{"2026-11-22T10:02:03-0500", 1795359723000LL, 0},
		{"1970-01-01T00:00:00Z", 0, 0},
		{" 2026-11-22T15:02:03Z\n", 1795359723000LL, 0},
		{"2026-11-22 15:02:03Z", 1795359723000LL, 0},
		{"2026-11-22T15:02:03", 0, -1},
		{"2026-13-22T15:02:03Z", 0, -1},
		{"2026-11-22T15:02Z", 0, -1},
		{"yesterday", 0, -1},
		{"2026-11-22T15:02:03Zjunk", 0, -1},
		{"2026-11-22T15:02:03.Z", 0, -1},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int64_t ms = -7;
		int rc = em_aws_parse_time(t[i].in, &ms);
		if (rc != t[i].rc)
			TH_FAIL("%s: rc %d", t[i].in, rc);
		else if (rc == 0 && ms != t[i].ms)
			TH_FAIL("%s: %lld, expected %lld", t[i].in, (long long)ms, (long long)t[i].ms);
	}
	EXPECT(em_aws_parse_time(NULL, &(int64_t){0}) == -1);
}

TEST(form_bodies)
{
	const char *kv[] = {"Action", "AssumeRole", "RoleArn", "arn:aws:iam::1:role/a b", "ExternalId", NULL,
			    "Token", "x+y/z=~\xc3\xa9"};
	char *f = em_aws_form(kv, 4);

	EXPECT_STR(f, "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fa%20b&Token=x%2By%2Fz%3D~%C3%A9");
	free(f);
	f = em_aws_form(kv, 0);
	EXPECT_STR(f, "");
	free(f);
}

static const char *fake_env_vals[32][2];

static const char *fake_env(const char *name)
{
	for (size_t i = 0; i < 32 && fake_env_vals[i][0]; i++)
		if (strcmp(fake_env_vals[i][0], name) == 0)
			return fake_env_vals[i][1];
	return NULL;
}

static void set_env(const char *const *kv)
{
	memset(fake_env_vals, 0, sizeof(fake_env_vals));
	for (size_t i = 0; kv[2 * i]; i++) {
		fake_env_vals[i][0] = kv[2 * i];
		fake_env_vals[i][1] = kv[2 * i + 1];
	}
}

TEST(endpoint_resolution)
{
	char out[256];
	struct em_err err = {0};

	set_env((const char *[]){NULL});
	EXPECT_INT(em_aws_endpoint(&em_aws_sqs, "eu-west-1", NULL, fake_env, out, sizeof(out), &err), 0);
	EXPECT_STR(out, "https://sqs.eu-west-1.amazonaws.com");
	EXPECT_INT(em_aws_endpoint(&em_aws_cloudwatch, "us-east-1", NULL, fake_env, out, sizeof(out), &err), 0);
	EXPECT_STR(out, "https://monitoring.us-east-1.amazonaws.com");
	EXPECT_INT(em_aws_endpoint(&em_aws_sts, "cn-north-1", NULL, fake_env, out, sizeof(out), &err), 0);
	EXPECT_STR(out, "https://sts.cn-north-1.amazonaws.com.cn");
	EXPECT_INT(em_aws_endpoint(&em_aws_sqs, "us-east-1/../x", NULL, fake_env, out, sizeof(out), &err), -1);
	EXPECT(strstr(err.msg, "awsRegion") != NULL);
	EXPECT_INT(em_aws_endpoint(&em_aws_sqs, "", NULL, fake_env, out, sizeof(out), &err), -1);

	set_env((const char *[]){"AWS_ENDPOINT_URL", "http://127.0.0.1:5000/", "AWS_ENDPOINT_URL_SQS",
				 "http://127.0.0.1:6000", NULL});
	EXPECT_INT(em_aws_endpoint(&em_aws_sqs, "us-east-1", NULL, fake_env, out, sizeof(out), &err), 0);
	EXPECT_STR(out, "http://127.0.0.1:6000");
	EXPECT_INT(em_aws_endpoint(&em_aws_cloudwatch, "us-east-1", NULL, fake_env, out, sizeof(out), &err), 0);
	EXPECT_STR(out, "http://127.0.0.1:5000");
	/* metadata awsEndpoint beats both */
	EXPECT_INT(em_aws_endpoint(&em_aws_sqs, "us-east-1", "https://vpce-1.sqs.us-east-1.vpce.amazonaws.com//",
				   fake_env, out, sizeof(out), &err), 0);
	EXPECT_STR(out, "https://vpce-1.sqs.us-east-1.vpce.amazonaws.com");
	/* the region does not matter with an explicit endpoint */
	EXPECT_INT(em_aws_endpoint(&em_aws_sqs, NULL, NULL, fake_env, out, sizeof(out), &err), 0);

	set_env((const char *[]){"AWS_ENDPOINT_URL_CLOUDWATCH", "http://cw:1", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
				 "true", NULL});
	EXPECT_INT(em_aws_endpoint(&em_aws_cloudwatch, "us-east-1", NULL, fake_env, out, sizeof(out), &err), 0);
	EXPECT_STR(out, "https://monitoring.us-east-1.amazonaws.com");

	set_env((const char *[]){"AWS_ENDPOINT_URL_STS", "ftp://x", NULL});
	EXPECT_INT(em_aws_endpoint(&em_aws_sts, "us-east-1", NULL, fake_env, out, sizeof(out), &err), -1);
	EXPECT(strstr(err.msg, "AWS_ENDPOINT_URL_STS") != NULL);
	EXPECT_INT(em_aws_endpoint(&em_aws_sqs, "us-east-1", "http://h/path?q=1", fake_env, out, sizeof(out), &err), -1);
}

TEST(pod_identity_hosts)
{
	static const struct {
		const char *url;
		bool ok;
	} t[] = {
		{"http://169.254.170.23/v1/credentials", true},
		{"http://169.254.170.2/v2/credentials/abc", true},
		{"http://[fd00:ec2::23]/v1/credentials", true},
		{"http://[fd00:0ec2:0::23]:80/v1/credentials", true},
		{"http://127.0.0.1:8080/creds", true},
		{"http://127.5.6.7/creds", true},
		{"http://localhost:9/x", true},
		{"http://[::1]:9/x", true},
		{"https://127.0.0.1/x", true},
		{"http://169.254.169.254/latest", false},
		{"http://169.254.170.24/x", false},
		{"http://10.0.0.1/x", false},
		{"http://evil.example.com/x", false},
		{"http://127.0.0.1.evil.example.com/x", false},
		{"http://127.0.0.1@evil.example.com/x", false},
		{"http://[fd00:ec2::24]/x", false},
		{"file:///etc/passwd", false},
		{"http:///x", false},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (em_aws_http_creds_host_allowed(t[i].url) != t[i].ok)
			TH_FAIL("%s: expected %s", t[i].url, t[i].ok ? "allowed" : "refused");
}

TEST(credential_documents)
{
	struct em_aws_creds c;
	struct em_err err = {0};
	const char *ok = "{\"Code\":\"Success\",\"LastUpdated\":\"2026-11-22T14:00:00Z\",\"Type\":\"AWS-HMAC\","
			 "\"AccessKeyId\":\"ASIAX\",\"SecretAccessKey\":\"sec/ret\",\"Token\":\"tok==\","
			 "\"Expiration\":\"2026-11-22T15:02:03Z\"}";
	const char *sts = "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIAY</AccessKeyId>"
			  "<SecretAccessKey>s2</SecretAccessKey><SessionToken>t2</SessionToken>"
			  "<Expiration>2026-11-22T15:02:03.5Z</Expiration></Credentials></AssumeRoleResult>"
			  "</AssumeRoleResponse>";

	EXPECT_INT(em_aws_parse_creds_json(ok, strlen(ok), &c, &err), 0);
	EXPECT_STR(c.access_key_id, "ASIAX");
	EXPECT_STR(c.secret_access_key, "sec/ret");
	EXPECT_STR(c.session_token, "tok==");
	EXPECT_INT(c.expires_ms, 1795359723000LL);
	em_aws_creds_wipe(&c);

	const char *nokeys = "{\"Code\":\"Success\",\"AccessKeyId\":\"A\"}";
	EXPECT_INT(em_aws_parse_creds_json(nokeys, strlen(nokeys), &c, &err), -1);
	EXPECT(strstr(err.msg, "SecretAccessKey") != NULL);
	EXPECT(c.access_key_id == NULL);
	const char *failed = "{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"Message\":\"no role\"}";
	EXPECT_INT(em_aws_parse_creds_json(failed, strlen(failed), &c, &err), -1);
	EXPECT(strstr(err.msg, "AssumeRoleUnauthorizedAccess: no role") != NULL);
	const char *badexp = "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Expiration\":\"soon\"}";
	EXPECT_INT(em_aws_parse_creds_json(badexp, strlen(badexp), &c, &err), -1);
	EXPECT_INT(em_aws_parse_creds_json("[]", 2, &c, &err), -1);
	const char *static_keys = "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\"}";
	EXPECT_INT(em_aws_parse_creds_json(static_keys, strlen(static_keys), &c, &err), 0);
	EXPECT_INT(c.expires_ms, 0);
	EXPECT(c.session_token == NULL);
	em_aws_creds_wipe(&c);

	EXPECT_INT(em_aws_parse_sts_creds(sts, strlen(sts), &c, &err), 0);
	EXPECT_STR(c.access_key_id, "ASIAY");
	EXPECT_STR(c.session_token, "t2");
	EXPECT_INT(c.expires_ms, 1795359723500LL);
	em_aws_creds_wipe(&c);
	EXPECT_INT(em_aws_parse_sts_creds("<x/>", 4, &c, &err), -1);
	EXPECT(strstr(err.msg, "Credentials") != NULL);
}

static struct em_aws_auth_cfg auth(const char *pod, const char *akid, const char *secret, const char *role,
				   const char *ext)
{
	return (struct em_aws_auth_cfg){.pod_identity = (char *)pod, .access_key_id = (char *)akid,
					.secret_access_key = (char *)secret, .role_arn = (char *)role,
					.external_id = (char *)ext};
}

/* Validates a and returns its errors ("key: message\n" each); warnings in *warns. */
static const char *auth_check(struct em_aws_auth_cfg a, const char **warns)
{
	static struct th_diag t;

	/* validate clears what KEDA would ignore: give it copies it may free */
	char **f[] = {&a.pod_identity, &a.identity_owner, &a.role_arn, &a.external_id, &a.access_key_id,
		      &a.secret_access_key, &a.session_token};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		*f[i] = *f[i] ? strdup(*f[i]) : NULL;
	em_aws_auth_validate(&a, th_diag_init(&t));
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		em_free_secret(*f[i]);
	if (warns)
		*warns = t.warns;
	return t.errs;
}

TEST(auth_validation_messages)
{
	const char *w;

	EXPECT_STR(auth_check(auth(NULL, NULL, NULL, NULL, NULL), NULL), ""); /* the chain */
	EXPECT_STR(auth_check(auth("aws", NULL, NULL, "arn:aws:iam::1:role/r", "ext"), &w), "");
	EXPECT_STR(w, "");
	EXPECT_STR(auth_check(auth(NULL, "AKIA", "s", NULL, NULL), NULL), "");

	/* KEDA's messages */
	EXPECT_STR(auth_check(auth(NULL, "AKIA", NULL, NULL, NULL), NULL), "awsSecretAccessKey: awsSecretAccessKey not found\n");
	EXPECT_STR(auth_check(auth(NULL, NULL, "s", NULL, NULL), NULL), "awsAccessKeyID: awsAccessKeyID not found\n");
	EXPECT_STR(auth_check(auth("none", NULL, NULL, NULL, NULL), NULL), "awsAccessKeyID: awsAccessKeyID not found\n");
	/* podIdentity aws: KEDA never reads static keys; ignored with a warning each */
	EXPECT_STR(auth_check(auth("aws", "AKIA", "s", NULL, NULL), &w), "");
	EXPECT(strstr(w, "awsAccessKeyID: ignored: KEDA uses the pod identity") == w);
	EXPECT(strstr(w, "\nawsSecretAccessKey: ignored: ") != NULL);
	/* externalID without a role: ignored, as KEDA does */
	EXPECT_STR(auth_check(auth(NULL, NULL, NULL, NULL, "ext"), &w), "");
	EXPECT_STR(w, "externalID: ignored: no role to assume (KEDA ignores it too)\n");
	EXPECT(strstr(auth_check(auth(NULL, NULL, NULL, "my-role", NULL), NULL), "roleArn: ") != NULL);
	/* a role beside static keys: KEDA assumes it with its own identity, keys unread */
	EXPECT_STR(auth_check(auth(NULL, "AKIA", "s", "arn:aws:iam::1:role/r", NULL), &w), "");
	EXPECT(strstr(w, "awsAccessKeyID: ignored: KEDA assumes awsRoleArn with its own identity") == w);
	{
		/* identityOwner other than pod: KEDA's own identity, keys and role unread */
		struct em_aws_auth_cfg a = auth(NULL, "AKIA", "s", "arn:aws:iam::1:role/r", NULL);
		a.identity_owner = (char *)"admin";
		EXPECT_STR(auth_check(a, &w), "");
		EXPECT(strstr(w, "identityOwner: \"admin\" is neither pod nor operator") == w);
		EXPECT(strstr(w, "roleArn: ignored: with identityOwner operator") != NULL);
		a = auth("none", NULL, NULL, NULL, NULL);
		a.identity_owner = (char *)"operator";
		EXPECT_STR(auth_check(a, &w), ""); /* none + operator: KEDA's own identity */
		a = auth(NULL, NULL, "s", NULL, NULL);
		a.session_token = (char *)"t";
		EXPECT_STR(auth_check(a, NULL), "awsAccessKeyID: awsAccessKeyID not found\nawsSessionToken: needs awsAccessKeyID "
						"and awsSecretAccessKey\n");
		a.access_key_id = (char *)"AKIA";
		EXPECT_STR(auth_check(a, NULL), "");
	}
}

TEST(chain_picks_first_present)
{
	struct em_err err = {0};
	struct em_aws_provider *p;

	set_env((const char *[]){"AWS_ACCESS_KEY_ID", "AKIA", "AWS_SECRET_ACCESS_KEY", "s", "AWS_ROLE_ARN", "arn:r",
				 "AWS_WEB_IDENTITY_TOKEN_FILE", "/t", NULL});
	p = em_aws_provider_chain(fake_env, "us-east-1", &err);
	EXPECT(p && strcmp(p->name, "env") == 0);
	struct em_aws_creds c;
	EXPECT_INT(p->fetch(p, 1000, &c, &err), 0);
	EXPECT_STR(c.access_key_id, "AKIA");
	em_aws_creds_wipe(&c);
	em_aws_provider_free(p);

	set_env((const char *[]){"AWS_ROLE_ARN", "arn:r", "AWS_WEB_IDENTITY_TOKEN_FILE", "/t",
				 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.170.23/v1/credentials", NULL});
	p = em_aws_provider_chain(fake_env, "us-east-1", &err);
	EXPECT(p && strcmp(p->name, "web identity") == 0);
	em_aws_provider_free(p);

	/* half an IRSA setup is not IRSA */
	set_env((const char *[]){"AWS_ROLE_ARN", "arn:r", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
				 "http://169.254.170.23/v1/credentials", NULL});
	p = em_aws_provider_chain(fake_env, "us-east-1", &err);
	EXPECT(p && strcmp(p->name, "pod identity") == 0);
	em_aws_provider_free(p);

	/* a pod identity URL outside the allowed hosts is refused at fetch, naming the rule */
	set_env((const char *[]){"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://evil.example.com/creds", NULL});
	p = em_aws_provider_chain(fake_env, "us-east-1", &err);
	EXPECT(p != NULL);
	if (p) {
		EXPECT_INT(p->fetch(p, 1000, &c, &err), -1);
		EXPECT(strstr(err.msg, "not allowed") != NULL);
		em_aws_provider_free(p);
	}

	set_env((const char *[]){NULL});
	p = em_aws_provider_chain(fake_env, "us-east-1", &err);
	EXPECT(p && strcmp(p->name, "IMDS") == 0);
	em_aws_provider_free(p);

	set_env((const char *[]){"AWS_EC2_METADATA_DISABLED", "true", NULL});
	p = em_aws_provider_chain(fake_env, "us-east-1", &err);
	EXPECT(p == NULL);
	EXPECT_STR(err.msg, "no AWS credentials: env: AWS_ACCESS_KEY_ID not set; web identity: AWS_ROLE_ARN and "
			    "AWS_WEB_IDENTITY_TOKEN_FILE not set; pod identity: AWS_CONTAINER_CREDENTIALS_FULL_URI and "
			    "_RELATIVE_URI not set; IMDS: disabled (AWS_EC2_METADATA_DISABLED=true)");
	set_env((const char *[]){"AWS_EC2_METADATA_DISABLED", "true", "AWS_WEB_IDENTITY_TOKEN_FILE", "/t", NULL});
	p = em_aws_provider_chain(fake_env, "us-east-1", &err);
	EXPECT(p == NULL && strstr(err.msg, "; web identity: AWS_ROLE_ARN not set (AWS_WEB_IDENTITY_TOKEN_FILE is); "));

	/* IMDS at the end of the chain: its failures name the sources passed over before it */
	set_env((const char *[]){"AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1/", NULL});
	p = em_aws_provider_chain(fake_env, "us-east-1", &err);
	EXPECT(p && strcmp(p->name, "IMDS") == 0);
	if (p) {
		EXPECT_INT(p->fetch(p, 1000, &c, &err), -1);
		EXPECT(strstr(err.msg, "no AWS credentials: env: AWS_ACCESS_KEY_ID not set; web identity: ") == err.msg);
		EXPECT(strstr(err.msg, "; IMDS at http://127.0.0.1:1: imds:GetToken: ") != NULL);
		em_aws_provider_free(p);
	}
}

TEST(identities_are_shared_and_keys_hide_secrets)
{
	struct em_err err = {0};
	struct em_aws_auth_cfg a = auth(NULL, "AKIAEXAMPLE", "very-secret-value", NULL, NULL);
	struct em_aws_auth_cfg b = auth(NULL, "AKIAEXAMPLE", "very-secret-value", NULL, NULL);
	struct em_aws_auth_cfg c = auth(NULL, "AKIAEXAMPLE", "another-secret", NULL, NULL);
	struct em_aws_auth_cfg r = auth(NULL, "AKIAEXAMPLE", "very-secret-value", "arn:aws:iam::1:role/x", "ext-id-1");
	struct em_aws_identity *ia = em_aws_identity_open(&a, "us-east-1", &err);
	struct em_aws_identity *ib = em_aws_identity_open(&b, "us-east-1", &err);
	struct em_aws_identity *ic = em_aws_identity_open(&c, "us-east-1", &err);
	struct em_aws_identity *ir = em_aws_identity_open(&r, "us-east-1", &err);
	struct em_aws_creds got;

	EXPECT(ia && ib && ic && ir);
	EXPECT(ia == ib);
	EXPECT(ia != ic);
	EXPECT(ir != ia);
	EXPECT(strstr(em_aws_identity_key(ia), "very-secret") == NULL);
	EXPECT(strstr(em_aws_identity_key(ia), "AKIAEXAMPLE") == NULL);
	EXPECT(strstr(em_aws_identity_key(ir), "arn:aws:iam::1:role/x") != NULL);
	EXPECT(strstr(em_aws_identity_key(ir), "ext-id-1") == NULL);
	EXPECT_INT(em_aws_identity_creds(ia, 1000, &got, &err), 0);
	EXPECT_STR(got.secret_access_key, "very-secret-value");
	em_aws_creds_wipe(&got);
	/* static keys do not change on a forced refresh: no pointless retry */
	EXPECT_INT(em_aws_identity_refresh_after_auth_error(ia, "AKIAEXAMPLE", 1000), 0);
	em_aws_identity_close(ir); /* closes its base reference too */
	em_aws_identity_close(ic);
	em_aws_identity_close(ib);
	/* still open once: the same object comes back */
	struct em_aws_identity *again = em_aws_identity_open(&a, "us-east-1", &err);
	EXPECT(again == ia);
	em_aws_identity_close(again);
	em_aws_identity_close(ia);
	em_aws_identity_close(NULL);
}

TEST(sqs_attributes_are_checked_counts)
{
	struct em_sqs_attrs a;
	struct em_err e;
	int64_t n = -1;
	const char *ok = "{\"Attributes\":{\"ApproximateNumberOfMessages\":\"5\","
			 "\"ApproximateNumberOfMessagesNotVisible\":\"2\",\"ApproximateNumberOfMessagesDelayed\":7,"
			 "\"QueueArn\":\"arn:aws:sqs:eu-west-1:1:q\"}}";

	EXPECT_INT(em_sqs_parse_attributes(ok, strlen(ok), &a, &e), 0);
	EXPECT_INT(a.visible, 5);
	EXPECT_INT(a.in_flight, 2);
	EXPECT_INT(a.delayed, 7);
	EXPECT_INT(em_sqs_count(&a, true, true, &n, &e), 0);
	EXPECT_INT(n, 14);
	EXPECT_INT(em_sqs_count(&a, false, false, &n, &e), 0);
	EXPECT_INT(n, 5);

	/* the hostile answer of issue 14: three times 2^63-1 */
	const char *huge = "{\"Attributes\":{\"ApproximateNumberOfMessages\":\"9223372036854775807\","
			   "\"ApproximateNumberOfMessagesNotVisible\":\"9223372036854775807\"}}";
	EXPECT_INT(em_sqs_parse_attributes(huge, strlen(huge), &a, &e), -1);
	EXPECT_STR(e.msg, "SQS attribute: ApproximateNumberOfMessages is 9223372036854775807, beyond the largest value "
			  "served (2^53)");
	/* counts each in range, their sum not */
	const char *big = "{\"Attributes\":{\"ApproximateNumberOfMessages\":\"9007199254740992\","
			  "\"ApproximateNumberOfMessagesNotVisible\":\"1\"}}";
	EXPECT_INT(em_sqs_parse_attributes(big, strlen(big), &a, &e), 0);
	EXPECT_INT(em_sqs_count(&a, true, false, &n, &e), -1);
	EXPECT_STR(e.msg, "SQS queue attributes: the sum of the counts is beyond the largest value served (2^53)");
	EXPECT_INT(em_sqs_count(&a, false, false, &n, &e), 0);
	/* negative, not a number, missing */
	const char *neg = "{\"Attributes\":{\"ApproximateNumberOfMessages\":\"-3\"}}";
	EXPECT_INT(em_sqs_parse_attributes(neg, strlen(neg), &a, &e), -1);
	EXPECT_STR(e.msg, "SQS attribute: ApproximateNumberOfMessages is -3, but a count cannot be negative");
	const char *word = "{\"Attributes\":{\"ApproximateNumberOfMessages\":true}}";
	EXPECT_INT(em_sqs_parse_attributes(word, strlen(word), &a, &e), -1);
	EXPECT_STR(e.msg, "SQS attribute ApproximateNumberOfMessages is not a count");
	const char *part = "{\"Attributes\":{\"ApproximateNumberOfMessages\":\"1\"}}";
	EXPECT_INT(em_sqs_parse_attributes(part, strlen(part), &a, &e), 0);
	EXPECT_INT(em_sqs_count(&a, true, false, &n, &e), -1);
	EXPECT_STR(e.msg, "metric ApproximateNumberOfMessagesNotVisible not found in SQS queue attributes");
	EXPECT_INT(em_sqs_parse_attributes("{}", 2, &a, &e), -1);
	EXPECT_STR(e.msg, "sqs:GetQueueAttributes: answer without Attributes");
	/* broken JSON: where, never what */
	EXPECT_INT(em_sqs_parse_attributes("{\"Attributes\":{secret", 21, &a, &e), -1);
	EXPECT_STR(e.msg, "sqs:GetQueueAttributes: invalid JSON at byte 15: expected a member name");
}

TEST(cloudwatch_pages_fill_their_queries)
{
	struct em_cw_result r[3];
	struct em_err e;
	char *next = NULL;
	const char *page = "{\"MetricDataResults\":["
			   "{\"Id\":\"m1\",\"Label\":\"x\",\"Timestamps\":[2,1],\"Values\":[1.797e308,3],\"StatusCode\":\"Complete\"},"
			   "{\"Id\":\"m0\",\"Values\":[],\"StatusCode\":\"InternalError\","
			   "\"Messages\":[{\"Code\":\"X\",\"Value\":\"bad\\nthing\"}]},"
			   "{\"Id\":\"m7\",\"Values\":[1]},{\"Id\":\"m01\",\"Values\":[1]},{\"Id\":\"m2\",\"Values\":[null,4]}],"
			   "\"NextToken\":\"tok\",\"Messages\":[]}";

	memset(r, 0, sizeof(r));
	EXPECT_INT(em_cw_parse_page(page, strlen(page), r, 3, &next, &e), 0);
	EXPECT_STR(next, "tok");
	free(next);
	EXPECT(r[1].seen && r[1].has_value);
	EXPECT_DBL(r[1].value, 1.797e308, 0);   /* as sent: the fetch checks it (em_value_check) */
	EXPECT(r[0].seen && !r[0].has_value);
	EXPECT_STR(r[0].status, "InternalError");
	EXPECT_STR(r[0].message, "bad\\nthing");
	EXPECT(r[2].seen && !r[2].has_value);   /* the newest point is null: no value */

	/* a later page keeps the newest value found */
	const char *p2 = "{\"MetricDataResults\":[{\"Id\":\"m1\",\"Values\":[9]}]}";
	EXPECT_INT(em_cw_parse_page(p2, strlen(p2), r, 3, &next, &e), 0);
	EXPECT(next == NULL);
	EXPECT_DBL(r[1].value, 1.797e308, 0);

	EXPECT_INT(em_cw_parse_page("{}", 2, r, 3, &next, &e), -1);
	EXPECT_STR(e.msg, "cloudwatch:GetMetricData: answer without MetricDataResults");
	EXPECT_INT(em_cw_parse_page("{\"MetricDataResults\":[{\"Id\":1e}]}", 33, r, 3, &next, &e), -1);
	EXPECT_STR(e.msg, "cloudwatch:GetMetricData: invalid JSON at byte 28: bad number");
	EXPECT(next == NULL);
}

TEST(credential_documents_json_bounded)
{
	struct em_aws_creds c;
	struct em_err e;
	const char *fail = "{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"Message\":\"no\\u0001way\"}";

	/* messages are escaped excerpts; broken documents say where, not what */
	EXPECT_INT(em_aws_parse_creds_json(fail, strlen(fail), &c, &e), -1);
	EXPECT_STR(e.msg, "AssumeRoleUnauthorizedAccess: no\\x01way");
	EXPECT_INT(em_aws_parse_creds_json("[1]", 3, &c, &e), -1);
	EXPECT_STR(e.msg, "credentials answer is not a JSON object");
	EXPECT_INT(em_aws_parse_creds_json("{\"AccessKeyId\":\"A\"", 18, &c, &e), -1);
	EXPECT_STR(e.msg, "credentials answer: invalid JSON at byte 18: unexpected end of input");
}

/* Redirects are followed only to the same scheme, host and port. */
TEST(same_origin_for_redirects)
{
	static const struct {
		const char *a, *b;
		bool same;
	} t[] = {
		{"https://sqs.eu-west-1.amazonaws.com/", "https://sqs.eu-west-1.amazonaws.com/x?y", true},
		{"https://sqs.eu-west-1.amazonaws.com/", "https://SQS.eu-west-1.amazonaws.com:443/", true},
		{"http://127.0.0.1:4566/", "http://127.0.0.1:4566", true},
		{"http://h/", "http://h:80/", true},
		{"https://h/", "http://h/", false},
		{"http://127.0.0.1:4566/", "http://127.0.0.1:4567/", false},
		{"https://sqs.eu-west-1.amazonaws.com/", "https://sqs.eu-west-1.amazonaws.com.evil.example/", false},
		{"https://h/", "https://h@evil.example/", false},
		{"https://h/", "ftp://h/", false},
		{"https://[::1]:8443/", "https://[::1]:8443/p", true},
		{"https://[::1]:8443/", "https://[::1]/p", false},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (em_aws_same_origin(t[i].a, t[i].b) != t[i].same)
			TH_FAIL("%s vs %s: expected %s", t[i].a, t[i].b, t[i].same ? "same" : "different");
}

TEST(regions_and_queue_urls)
{
	char r[64];
	static const struct {
		const char *url, *region; /* NULL: names none */
	} t[] = {
		{"https://sqs.eu-west-1.amazonaws.com/123456789012/q", "eu-west-1"},
		{"https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q", "cn-north-1"},
		{"https://vpce-0abc-xyz.sqs.us-gov-west-1.vpce.amazonaws.com/1/q", "us-gov-west-1"},
		{"https://eu-central-1.queue.amazonaws.com/1/q", "eu-central-1"},
		{"https://queue.amazonaws.com/1/q", "us-east-1"},
		{"HTTPS://SQS.AP-SOUTH-1.AMAZONAWS.COM/1/q", "ap-south-1"},
		{"https://sqs.eu-wset-1.amazonaws.com/1/q", NULL},   /* no such region */
		{"http://localhost:4566/000000000000/q", NULL},
		{"orders", NULL},
		{"https://user@sqs.eu-west-1.amazonaws.com/1/q", NULL},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = em_aws_region_from_sqs_url(t[i].url, r, sizeof(r));
		if (t[i].region ? rc != 0 || strcmp(r, t[i].region) != 0 : rc == 0)
			TH_FAIL("%s: got %s", t[i].url, rc == 0 ? r : "none");
	}
	EXPECT(em_aws_region_valid("us-isob-east-1"));
	EXPECT(!em_aws_region_valid("us-east-7"));
	EXPECT_STR(em_aws_region_partition("cn-northwest-1")->dns_suffix, "amazonaws.com.cn");
	EXPECT_STR(em_aws_region_partition("us-iso-east-1")->name, "aws-iso");
	EXPECT_STR(em_aws_region_suggest("eu-wset-1"), "eu-west-1");
	EXPECT_STR(em_aws_region_suggest("us-east1"), "us-east-1");
	EXPECT(em_aws_region_suggest("mars-north-1") == NULL);
	{
		char out[256];
		struct em_err err = {0};
		EXPECT_INT(em_aws_endpoint(&em_aws_sqs, "us-iso-east-1", NULL, NULL, out, sizeof(out), &err), 0);
		EXPECT_STR(out, "https://sqs.us-iso-east-1.c2s.ic.gov");
		EXPECT_INT(em_aws_endpoint(&em_aws_cloudwatch, "eusc-de-east-1", NULL, NULL, out, sizeof(out), &err), 0);
		EXPECT_STR(out, "https://monitoring.eusc-de-east-1.amazonaws.eu");
	}
}
