/* test_sigv4.c - SigV4 against AWS's documented examples, canonical forms and the key cache. */
#include "harness.h"

#include "scalers/aws/sigv4.h"

/*
 * The examples are from AWS's SigV4 test suite (aws4_testsuite: key
 * AKIDEXAMPLE, region us-east-1, service "service", 20150830T123600Z) and
 * the IAM ListUsers example of the SigV4 documentation. The expected
 * Authorization headers were derived with botocore 1.43 (the image's python3):
 *
 *   import datetime, botocore.auth as A
 *   from botocore.awsrequest import AWSRequest
 *   from botocore.credentials import Credentials
 *   A.get_current_datetime = lambda *a, **k: datetime.datetime(2015, 8, 30, 12, 36, 0)
 *   r = AWSRequest(method="GET", url="https://example.amazonaws.com/",
 *                  params=[("Param2", "value2"), ("Param1", "value1")])
 *   A.SigV4Auth(Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
 *               "service", "us-east-1").add_auth(r)
 *   print(r.headers["Authorization"])
 *
 * (headers added with r.headers[name] = value, bodies with data=...), and they
 * agree with the signatures published in the suite.
 */

#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define T20150830 1440938160 /* 2015-08-30T12:36:00Z */
#define SCOPE "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "

static const char *const sts_token =
	"AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8"
	"YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6"
	"q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJa"
	"bIQwj2ICCR/oLxBA==";

struct suite_case {
	const char *name, *method, *url;
	struct em_sigv4_hdr h[3];
	size_t nh;
	const char *body;
	const char *service;
	bool token;
	const char *auth;
};

static const struct suite_case suite[] = {
	{"get-vanilla", "GET", "https://example.amazonaws.com/", {{0}}, 0, "", "service", false,
	 SCOPE "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
	{"get-vanilla-query-order-key-case", "GET", "https://example.amazonaws.com/?Param2=value2&Param1=value1", {{0}}, 0,
	 "", "service", false,
	 SCOPE "SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
	{"get-vanilla-query-unreserved", "GET",
	 "https://example.amazonaws.com/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
	 "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
	 {{0}}, 0, "", "service", false,
	 SCOPE "SignedHeaders=host;x-amz-date, Signature=9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
	{"get-utf8", "GET", "https://example.amazonaws.com/\xe1\x88\xb4", {{0}}, 0, "", "service", false,
	 SCOPE "SignedHeaders=host;x-amz-date, Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
	{"get-space", "GET", "https://example.amazonaws.com/example space/", {{0}}, 0, "", "service", false,
	 SCOPE "SignedHeaders=host;x-amz-date, Signature=652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
	{"get-relative-relative", "GET", "https://example.amazonaws.com/example1/example2/../..", {{0}}, 0, "", "service",
	 false,
	 SCOPE "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
	{"get-slashes", "GET", "https://example.amazonaws.com//example//", {{0}}, 0, "", "service", false,
	 SCOPE "SignedHeaders=host;x-amz-date, Signature=9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"},
	{"get-header-value-trim", "GET", "https://example.amazonaws.com/",
	 {{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}}, 2, "", "service", false,
	 SCOPE "SignedHeaders=host;my-header1;my-header2;x-amz-date, "
	       "Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
	{"get-header-key-duplicate", "GET", "https://example.amazonaws.com/",
	 {{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"my-header1", "value1"}}, 3, "", "service", false,
	 SCOPE "SignedHeaders=host;my-header1;x-amz-date, "
	       "Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
	{"post-vanilla", "POST", "https://example.amazonaws.com/", {{0}}, 0, "", "service", false,
	 SCOPE "SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
	{"post-x-www-form-urlencoded", "POST", "https://example.amazonaws.com/",
	 {{"Content-Type", "application/x-www-form-urlencoded"}}, 1, "Param1=value1", "service", false,
	 SCOPE "SignedHeaders=content-type;host;x-amz-date, "
	       "Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
	{"post-sts-header-after", "POST", "https://example.amazonaws.com/", {{0}}, 0, "", "service", true,
	 SCOPE "SignedHeaders=host;x-amz-date;x-amz-security-token, "
	       "Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"},
	{"iam-ListUsers-doc-example", "GET", "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
	 {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}}, 1, "", "iam", false,
	 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
	 "SignedHeaders=content-type;host;x-amz-date, "
	 "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"},
};

static struct em_aws_creds creds(bool token)
{
	return (struct em_aws_creds){
		.access_key_id = (char *)AKID,
		.secret_access_key = (char *)SECRET,
		.session_token = token ? (char *)sts_token : NULL,
	};
}

static struct em_sigv4_req req_of(const struct suite_case *c)
{
	return (struct em_sigv4_req){
		.method = c->method,
		.url = c->url,
		.headers = c->h,
		.n_headers = c->nh,
		.payload = c->body,
		.payload_len = strlen(c->body),
		.region = "us-east-1",
		.service = c->service,
		.now_s = T20150830,
	};
}

TEST(aws_suite_examples)
{
	struct em_sigv4_cache *cache = em_sigv4_cache_new(4);

	for (size_t i = 0; i < sizeof(suite) / sizeof(suite[0]); i++) {
		const struct suite_case *c = &suite[i];
		struct em_sigv4_req r = req_of(c);
		struct em_aws_creds k = creds(c->token);
		struct em_sigv4_out out;
		struct em_err err = {0};
		/* once without and twice with the key cache: all three must agree */
		for (int pass = 0; pass < 3; pass++) {
			int rc = em_sigv4_sign(&r, &k, pass ? cache : NULL, &out, &err);
			EXPECT_INT(rc, 0);
			if (rc != 0) {
				printf("#   %s: %s\n", c->name, err.msg);
				continue;
			}
			const char *got = em_sigv4_out_get(&out, "Authorization");
			if (!got || strcmp(got, c->auth) != 0)
				TH_FAIL("%s (pass %d): got %s", c->name, pass, got ? got : "(null)");
			EXPECT_STR(em_sigv4_out_get(&out, "X-Amz-Date"), "20150830T123600Z");
			if (c->token)
				EXPECT_STR(em_sigv4_out_get(&out, "x-amz-security-token"), sts_token);
			else
				EXPECT(em_sigv4_out_get(&out, "X-Amz-Security-Token") == NULL);
			em_sigv4_out_free(&out);
		}
	}
	em_sigv4_cache_free(cache);
}

/* The canonical request of the documentation's get-vanilla-query-order example. */
TEST(canonical_request_text)
{
	struct em_sigv4_req r = req_of(&suite[1]);
	struct em_aws_creds k = creds(false);
	struct em_err err = {0};
	char *sh = NULL;
	char *cr = em_sigv4_canonical_request(&r, &k, &sh, &err);

	EXPECT_STR(cr, "GET\n/\nParam1=value1&Param2=value2\n"
		       "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
		       "host;x-amz-date\n"
		       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	EXPECT_STR(sh, "host;x-amz-date");
	free(cr);
	free(sh);
}

TEST(canonical_path_table)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		{"", "/"},
		{"/", "/"},
		{"//", "/"},
		{"/a/b", "/a/b"},
		{"/a/b/", "/a/b/"},
		{"/a//b///c", "/a/b/c"},
		{"/a/./b/../c", "/a/c"},
		{"/..", "/"},
		{"/../../x", "/x"},
		{"/a/..", "/"},
		{"/a/../", "/"},
		{"/a b", "/a%20b"},
		{"/a%20b", "/a%2520b"},     /* already encoded: encoded again */
		{"/~user/x_y-z.q", "/~user/x_y-z.q"},
		{"/\xc3\xa9", "/%C3%A9"},
		{"/a+b=c&d:e@f", "/a%2Bb%3Dc%26d%3Ae%40f"},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *got = em_sigv4_canonical_path(t[i].in, strlen(t[i].in));
		EXPECT_STR(got, t[i].want);
		free(got);
	}
}

TEST(canonical_query_table)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		{"", ""},
		{"b=2&a=1", "a=1&b=2"},
		{"a=2&a=1&a=10", "a=1&a=10&a=2"},      /* repeated keys sorted by value */
		{"k", "k="},                           /* no '=' */
		{"k=", "k="},
		{"a&&b", "a=&b="},                     /* empty parameters dropped */
		{"=v", "=v"},
		{"x=a%20b", "x=a%20b"},
		{"x=a b", "x=a%20b"},
		{"x=a+b", "x=a%2Bb"},                  /* '+' is literal */
		{"x=%7e%41", "x=~A"},                  /* decoded, then re-encoded strictly */
		{"x=%e2%82%ac", "x=%E2%82%AC"},
		{"x=%zz", "x=%25zz"},                  /* invalid escape kept literally */
		{"x=%4", "x=%254"},
		{"B=1&a=1&_=1", "B=1&_=1&a=1"},        /* byte order */
		{"a%2Fb=c/d", "a%2Fb=c%2Fd"},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *got = em_sigv4_canonical_query(t[i].in, strlen(t[i].in));
		EXPECT_STR(got, t[i].want);
		free(got);
	}
}

static const char *auth_for(const char *url, const struct em_sigv4_hdr *h, size_t nh, char *buf, size_t cap)
{
	struct em_sigv4_req r = {.method = "GET", .url = url, .headers = h, .n_headers = nh,
				 .region = "us-east-1", .service = "service", .now_s = T20150830};
	struct em_aws_creds k = creds(false);
	struct em_sigv4_out out;
	struct em_err err = {0};

	buf[0] = '\0';
	if (em_sigv4_sign(&r, &k, NULL, &out, &err) != 0)
		return NULL;
	snprintf(buf, cap, "%s", em_sigv4_out_get(&out, "Authorization"));
	em_sigv4_out_free(&out);
	return buf;
}

/* Host: lowercased, default ports dropped, other ports and IPv6 brackets kept. */
TEST(host_header)
{
	static const struct {
		const char *url, *host;
	} t[] = {
		{"https://Example.AmazonAWS.com/", "example.amazonaws.com"},
		{"https://example.amazonaws.com:443/", "example.amazonaws.com"},
		{"http://example.amazonaws.com:80/", "example.amazonaws.com"},
		{"http://127.0.0.1:4566/", "127.0.0.1:4566"},
		{"https://127.0.0.1:80/", "127.0.0.1:80"},
		{"http://[::1]:8080/x", "[::1]:8080"},
		{"http://user:pw@sqs.local/", "sqs.local"},
		{"http://sqs.local", "sqs.local"},
		{"http://sqs.local?x=1", "sqs.local"},
	};
	char a1[512], a2[512];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct em_sigv4_req r = {.method = "GET", .url = t[i].url, .region = "us-east-1",
					 .service = "service", .now_s = T20150830};
		struct em_aws_creds k = creds(false);
		struct em_sigv4_out out;
		struct em_err err = {0};
		EXPECT_INT(em_sigv4_sign(&r, &k, NULL, &out, &err), 0);
		EXPECT_STR(em_sigv4_out_get(&out, "Host"), t[i].host);
		em_sigv4_out_free(&out);
		/* signing with an explicit Host of that value gives the same signature,
		 * and no Host is then added to the output */
		struct em_sigv4_hdr h = {"Host", t[i].host};
		EXPECT(auth_for(t[i].url, NULL, 0, a1, sizeof(a1)) != NULL);
		EXPECT(auth_for(t[i].url, &h, 1, a2, sizeof(a2)) != NULL);
		EXPECT_STR(a1, a2);
	}
}

/* Differently spelled but equivalent URLs sign the same; different ones do not. */
TEST(equivalent_urls)
{
	char a[512], b[512];

	auth_for("https://example.amazonaws.com/?Param2=value2&Param1=value1", NULL, 0, a, sizeof(a));
	auth_for("https://example.amazonaws.com/?Param1=value1&Param2=value2", NULL, 0, b, sizeof(b));
	EXPECT_STR(a, b);
	auth_for("https://example.amazonaws.com/?x=%7E", NULL, 0, a, sizeof(a));
	auth_for("https://example.amazonaws.com/?x=~", NULL, 0, b, sizeof(b));
	EXPECT_STR(a, b);
	auth_for("https://example.amazonaws.com/?x=%2b", NULL, 0, a, sizeof(a));
	auth_for("https://example.amazonaws.com/?x=+", NULL, 0, b, sizeof(b));
	EXPECT_STR(a, b);
	auth_for("https://example.amazonaws.com/?x=1", NULL, 0, a, sizeof(a));
	auth_for("https://example.amazonaws.com/?x=2", NULL, 0, b, sizeof(b));
	EXPECT(strcmp(a, b) != 0);
	/* the fragment is never sent, so never signed */
	auth_for("https://example.amazonaws.com/p#frag", NULL, 0, a, sizeof(a));
	auth_for("https://example.amazonaws.com/p", NULL, 0, b, sizeof(b));
	EXPECT_STR(a, b);
	/* User-Agent is not signed: proxies and retries may change it */
	struct em_sigv4_hdr ua = {"User-Agent", "extmetrics/1"};
	auth_for("https://example.amazonaws.com/", &ua, 1, a, sizeof(a));
	EXPECT_STR(a, suite[0].auth);
}

TEST(content_sha256_header)
{
	static const char body[] = "{\"QueueUrl\":\"q\"}";
	char want[65];
	struct em_sigv4_req r = {.method = "POST", .url = "https://sqs.us-east-1.amazonaws.com/", .payload = body,
				 .payload_len = strlen(body), .region = "us-east-1", .service = "sqs",
				 .now_s = T20150830, .content_sha256 = true};
	struct em_aws_creds k = creds(false);
	struct em_sigv4_out out;
	struct em_err err = {0};

	em_sha256_hex(body, strlen(body), want);
	EXPECT_INT(em_sigv4_sign(&r, &k, NULL, &out, &err), 0);
	EXPECT_STR(em_sigv4_out_get(&out, "X-Amz-Content-Sha256"), want);
	EXPECT(strstr(em_sigv4_out_get(&out, "Authorization"),
		      "SignedHeaders=host;x-amz-content-sha256;x-amz-date,") != NULL);
	em_sigv4_out_free(&out);
	/* the empty body's well-known hash */
	em_sha256_hex("", 0, want);
	EXPECT_STR(want, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(errors_never_leak_the_secret)
{
	struct em_aws_creds k = creds(true);
	struct em_sigv4_out out;
	struct em_err err = {0};
	struct em_sigv4_req r = {.method = "GET", .url = "ftp://x/", .region = "us-east-1", .service = "s",
				 .now_s = T20150830};

	EXPECT_INT(em_sigv4_sign(&r, &k, NULL, &out, &err), -1);
	EXPECT(strstr(err.msg, "URL") != NULL);
	EXPECT(strstr(err.msg, SECRET) == NULL);
	EXPECT_INT(out.n, 0);

	r.url = "http:///nohost";
	EXPECT_INT(em_sigv4_sign(&r, &k, NULL, &out, &err), -1);
	r.url = "http://h:99999/";
	EXPECT_INT(em_sigv4_sign(&r, &k, NULL, &out, &err), -1);

	struct em_sigv4_hdr d = {"Date", "Sun, 30 Aug 2015 12:36:00 GMT"};
	r.url = "http://h/";
	r.headers = &d;
	r.n_headers = 1;
	EXPECT_INT(em_sigv4_sign(&r, &k, NULL, &out, &err), -1);
	EXPECT(strstr(err.msg, "Date") != NULL);

	r.n_headers = 0;
	k.secret_access_key = (char *)"";
	EXPECT_INT(em_sigv4_sign(&r, &k, NULL, &out, &err), -1);
	EXPECT_INT(err.kind, EM_E_UNAUTHORIZED);
	EXPECT_INT(em_sigv4_sign(&r, NULL, NULL, &out, &err), -1);
}

TEST(signing_key_cache)
{
	struct em_sigv4_cache *c = em_sigv4_cache_new(2);
	struct em_aws_creds k = creds(false);
	struct em_sigv4_req r = {.method = "GET", .url = "https://example.amazonaws.com/", .region = "us-east-1",
				 .service = "service", .now_s = T20150830};
	struct em_sigv4_out out;
	struct em_err err = {0};
	uint64_t hits, misses;
	size_t n;
	char first[512];

	EXPECT_INT(em_sigv4_sign(&r, &k, c, &out, &err), 0);
	snprintf(first, sizeof(first), "%s", em_sigv4_out_get(&out, "Authorization"));
	em_sigv4_out_free(&out);
	EXPECT_INT(em_sigv4_sign(&r, &k, c, &out, &err), 0);
	em_sigv4_out_free(&out);
	em_sigv4_cache_stats(c, &hits, &misses, &n);
	EXPECT_INT(hits, 1);
	EXPECT_INT(misses, 1);
	EXPECT_INT(n, 1);

	/* a different secret is a different key: no false hit, different signature */
	k.secret_access_key = (char *)"another-secret";
	EXPECT_INT(em_sigv4_sign(&r, &k, c, &out, &err), 0);
	EXPECT(strcmp(first, em_sigv4_out_get(&out, "Authorization")) != 0);
	em_sigv4_out_free(&out);
	/* next day, same secret: a new key; capacity 2 evicts the oldest */
	r.now_s += 86400;
	EXPECT_INT(em_sigv4_sign(&r, &k, c, &out, &err), 0);
	em_sigv4_out_free(&out);
	em_sigv4_cache_stats(c, &hits, &misses, &n);
	EXPECT_INT(misses, 3);
	EXPECT_INT(n, 2);
	/* the evicted first key is derived again, and still signs identically */
	k.secret_access_key = (char *)SECRET;
	r.now_s = T20150830;
	EXPECT_INT(em_sigv4_sign(&r, &k, c, &out, &err), 0);
	EXPECT_STR(em_sigv4_out_get(&out, "Authorization"), first);
	em_sigv4_out_free(&out);
	em_sigv4_cache_stats(c, &hits, &misses, &n);
	EXPECT_INT(misses, 4);
	EXPECT_INT(hits, 1);
	/* other region and service are other keys */
	r.region = "eu-west-1";
	EXPECT_INT(em_sigv4_sign(&r, &k, c, &out, &err), 0);
	EXPECT(strstr(em_sigv4_out_get(&out, "Authorization"), "/20150830/eu-west-1/service/aws4_request") != NULL);
	em_sigv4_out_free(&out);
	em_sigv4_cache_stats(c, &hits, &misses, &n);
	EXPECT_INT(misses, 5);
	em_sigv4_cache_free(c);
	em_sigv4_cache_free(NULL);
}

TEST(creds_copy_and_wipe)
{
	struct em_aws_creds src = creds(true), dst;

	src.expires_ms = 1234;
	EXPECT_INT(em_aws_creds_copy(&dst, &src), 0);
	EXPECT_STR(dst.access_key_id, AKID);
	EXPECT_STR(dst.secret_access_key, SECRET);
	EXPECT_STR(dst.session_token, sts_token);
	EXPECT_INT(dst.expires_ms, 1234);
	EXPECT(dst.secret_access_key != src.secret_access_key);
	em_aws_creds_wipe(&dst);
	EXPECT(dst.access_key_id == NULL && dst.secret_access_key == NULL && dst.session_token == NULL);
	em_aws_creds_wipe(NULL);
	em_sigv4_out_free(NULL);
}
