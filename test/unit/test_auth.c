/* test_auth.c - authentication and authorization: header rules, tokens, cache expiry, Status texts, x509, config, codecs. */
#include "harness.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "adapter/config.h"
#include "adapter/log.h"
#include "adapter/selfmetrics.h"
#include "adapter/util/clock.h"
#include "adapter/util/strbuf.h"
#include "apiservice/auth/auth.h"
#include "apiservice/auth/authcache.h"
#include "apiservice/auth/authn_x509.h"
#include "apiservice/auth/kubeapi.h"
#include "apiservice/auth/kubeclient.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ======================== requestheader rules ======================== */

static char *u_v[] = {"X-Remote-User", "X-Other-User"};
static char *uid_v[] = {"X-Remote-Uid"};
static char *g_v[] = {"X-Remote-Group", "X-Second-Group"};
static char *e_v[] = {"X-Remote-Extra-", "X-Ext-"};
static const struct em_rh_lists NAMES = {.username_headers = {u_v, 2, true},
					   .uid_headers = {uid_v, 1, true},
					   .group_headers = {g_v, 2, true},
					   .extra_prefixes = {e_v, 2, true}};

TEST(reqheader_first_nonempty_username_and_uid)
{
	struct em_user u = {0};
	/* The first username header's first value is empty: the next header
	 * name is tried (Go's Header.Get returns the first value only). */
	struct em_header h[] = {
		{"x-remote-user", ""},
		{"X-Remote-User", "ignored-second-value"},
		{"X-OTHER-USER", "alice"},
		{"X-Remote-Uid", "u-1"},
	};

	EXPECT_INT(em_reqheader_user(&NAMES, h, N(h), &u), 1);
	EXPECT_STR(u.name, "alice");
	EXPECT_STR(u.uid, "u-1");
	EXPECT_INT(u.n_groups, 0);
	EXPECT_INT(u.n_extra, 0);
	em_user_free(&u);
}

TEST(reqheader_groups_every_value_of_every_header_in_order)
{
	struct em_user u = {0};
	struct em_header h[] = {
		{"X-Second-Group", "g3"},
		{"X-Remote-User", "bob"},
		{"x-remote-group", "g1"},
		{"X-Remote-Group", ""},
		{"X-Remote-Group", "g2"},
		{"X-Remote-Group", "g1"},
	};

	EXPECT_INT(em_reqheader_user(&NAMES, h, N(h), &u), 1);
	EXPECT_STR(u.name, "bob");
	EXPECT(u.uid == NULL);
	/* group header names in configured order, values in arrival order,
	 * empty values and repeats dropped */
	EXPECT_INT(u.n_groups, 3);
	if (u.n_groups == 3) {
		EXPECT_STR(u.groups[0], "g1");
		EXPECT_STR(u.groups[1], "g2");
		EXPECT_STR(u.groups[2], "g3");
	}
	em_user_free(&u);
}

TEST(reqheader_many_groups_repeats_dropped)
{
	enum { NG = 6000 };
	static struct em_header h[NG + 1];
	static char names[NG][16];
	struct em_user u = {0};
	size_t ok = 0;

	h[0] = (struct em_header){"X-Remote-User", "dana"};
	for (size_t i = 0; i < NG; i++) {
		/* 4,000 distinct groups, the first 2,000 sent twice */
		snprintf(names[i], sizeof(names[i]), "g%zu", i % 4000);
		h[i + 1] = (struct em_header){"X-Remote-Group", names[i]};
	}
	EXPECT_INT(em_reqheader_user(&NAMES, h, N(h), &u), 1);
	EXPECT_INT(u.n_groups, 4000);
	for (size_t i = 0; i < u.n_groups && i < 4000; i++)
		ok += strcmp(u.groups[i], names[i]) == 0;
	EXPECT_INT(ok, 4000);
	em_user_free(&u);
}

TEST(reqheader_extra_lowercased_and_unescaped)
{
	struct em_user u = {0};
	struct em_header h[] = {
		{"X-Remote-User", "carol"},
		{"X-Remote-Extra-Scopes", "view"},
		{"x-remote-extra-scopes", "edit"},
		{"X-Remote-Extra-Acme.com%2Fproject", "p1"},
		{"X-Remote-Extra-Bad%zz", "v"},
		{"X-Ext-Other", "o"},
		{"X-Remote-Extra-", "no-key"},
	};

	EXPECT_INT(em_reqheader_user(&NAMES, h, N(h), &u), 1);
	EXPECT_INT(u.n_extra, 4);
	if (u.n_extra == 4) {
		EXPECT_STR(u.extra[0].key, "scopes");
		EXPECT_INT(u.extra[0].n, 2);
		EXPECT_STR(u.extra[0].values[0], "view");
		EXPECT_STR(u.extra[0].values[1], "edit");
		EXPECT_STR(u.extra[1].key, "acme.com/project");
		EXPECT_STR(u.extra[1].values[0], "p1");
		EXPECT_STR(u.extra[2].key, "bad%zz");   /* not decodable: kept */
		EXPECT_STR(u.extra[3].key, "other");
	}
	em_user_free(&u);
}

TEST(reqheader_without_username_is_no_user)
{
	struct em_user u = {0};
	struct em_header h[] = {{"X-Remote-Group", "system:masters"}, {"X-Remote-User", ""}, {"X-Remote-Uid", "1"}};

	EXPECT_INT(em_reqheader_user(&NAMES, h, N(h), &u), 0);
	EXPECT(u.name == NULL);
	EXPECT_INT(u.n_groups, 0);
}

TEST(reqheader_identity_names)
{
	EXPECT(em_reqheader_is_identity(&NAMES, "x-remote-user"));
	EXPECT(em_reqheader_is_identity(&NAMES, "X-Second-Group"));
	EXPECT(em_reqheader_is_identity(&NAMES, "X-Remote-Uid"));
	EXPECT(em_reqheader_is_identity(&NAMES, "x-remote-extra-anything"));
	EXPECT(!em_reqheader_is_identity(&NAMES, "Accept"));
	EXPECT(!em_reqheader_is_identity(&NAMES, "X-Remote-Userx"));
}

TEST(bearer_token_parsing)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"Bearer abc.def", "abc.def"},
		{"bearer abc", "abc"},
		{"BEARER abc", "abc"},
		{"  Bearer abc \t", "abc"},
		{"Bearer abc def", "abc"},   /* SplitN(3): the rest is ignored */
		{"Bearer  abc", NULL},       /* two spaces: empty token */
		{"Bearer", NULL},
		{"Bearer ", NULL},
		{"Basic YWxhZGRpbjpvcGVuc2VzYW1l", NULL},
		{"Bearerabc", NULL},
		{"", NULL},
		{NULL, NULL},
	};

	for (size_t i = 0; i < N(cases); i++) {
		char *t = em_bearer_token(cases[i].in);
		if (cases[i].want)
			EXPECT_STR(t, cases[i].want);
		else if (t)
			TH_FAIL("case %zu: got \"%s\", want none", i, t);
		free(t);
	}
}

/* ======================== the cache ======================== */

TEST(cache_key_is_sha256_of_domain_nul_text)
{
	unsigned char key[EM_AUTHCACHE_KEYLEN], want[SHA256_DIGEST_LENGTH], other[EM_AUTHCACHE_KEYLEN];
	const char raw[] = "tokenreview\0secret-token";

	em_authcache_key("tokenreview", "secret-token", key);
	SHA256((const unsigned char *)raw, sizeof(raw) - 1, want);
	EXPECT(memcmp(key, want, sizeof(want)) == 0);
	em_authcache_key("sar", "secret-token", other);
	EXPECT(memcmp(key, other, sizeof(other)) != 0);
	/* the domain boundary matters */
	em_authcache_key("tokenreviews", "ecret-token", other);
	EXPECT(memcmp(key, other, sizeof(other)) != 0);
}

TEST(cache_expiry_with_injected_clock)
{
	struct em_authcache *c = em_authcache_new(64);
	unsigned char k1[32], k2[32];
	char *text = NULL;
	int flag = -1;

	em_authcache_key("t", "one", k1);
	em_authcache_key("t", "two", k2);
	em_authcache_put(c, k1, 1000, 10000, 1, "{\"username\":\"a\"}");
	EXPECT(em_authcache_get(c, k1, 1000, &flag, &text));
	EXPECT_INT(flag, 1);
	EXPECT_STR(text, "{\"username\":\"a\"}");
	free(text);
	EXPECT(em_authcache_get(c, k1, 10999, &flag, &text));
	free(text);
	EXPECT(!em_authcache_get(c, k1, 11000, &flag, &text));   /* expired exactly at ttl */
	EXPECT(text == NULL);
	EXPECT(!em_authcache_get(c, k2, 1000, &flag, &text));
	/* a stored NULL text and a denial flag */
	em_authcache_put(c, k2, 2000, 500, 0, NULL);
	flag = -1;
	EXPECT(em_authcache_get(c, k2, 2499, &flag, &text));
	EXPECT_INT(flag, 0);
	EXPECT(text == NULL);
	EXPECT_INT(em_authcache_count(c, 2499), 2);
	EXPECT_INT(em_authcache_count(c, 2500), 1);
	EXPECT_INT(em_authcache_count(c, 11000), 0);
	/* replacing a key keeps one entry with the new value and expiry */
	em_authcache_put(c, k1, 20000, 100, 7, "x");
	em_authcache_put(c, k1, 20050, 100, 8, "y");
	EXPECT_INT(em_authcache_count(c, 20060), 1);
	EXPECT(em_authcache_get(c, k1, 20140, &flag, &text));
	EXPECT_INT(flag, 8);
	EXPECT_STR(text, "y");
	free(text);
	/* ttl <= 0 stores nothing */
	em_authcache_put(c, k2, 30000, 0, 1, "z");
	EXPECT(!em_authcache_get(c, k2, 30000, &flag, &text));
	em_authcache_free(c);
}

TEST(cache_bounded_evicts_expired_then_soonest)
{
	struct em_authcache *c = em_authcache_new(4);   /* one 4-way set */
	unsigned char k[6][32];
	char name[8], *text;
	int flag;

	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		em_authcache_key("t", name, k[i]);
	}
	em_authcache_put(c, k[0], 0, 100, 0, NULL);     /* expires 100 */
	em_authcache_put(c, k[1], 0, 5000, 1, NULL);    /* expires 5000 */
	em_authcache_put(c, k[2], 0, 3000, 2, NULL);    /* expires 3000 */
	em_authcache_put(c, k[3], 0, 4000, 3, NULL);    /* expires 4000 */
	/* at 200, k0 has expired: it is the one replaced */
	em_authcache_put(c, k[4], 200, 9000, 4, NULL);
	EXPECT_INT(em_authcache_count(c, 200), 4);
	EXPECT(em_authcache_get(c, k[1], 200, &flag, &text));
	EXPECT(em_authcache_get(c, k[2], 200, &flag, &text));
	/* full with live entries: the one expiring first (k2) goes */
	em_authcache_put(c, k[5], 300, 9000, 5, NULL);
	EXPECT(!em_authcache_get(c, k[2], 300, &flag, &text));
	EXPECT(em_authcache_get(c, k[3], 300, &flag, &text));
	EXPECT_INT(flag, 3);
	EXPECT(em_authcache_get(c, k[5], 300, &flag, &text));
	EXPECT_INT(em_authcache_count(c, 300), 4);
	em_authcache_free(c);
	em_authcache_free(NULL);
}

/* ======================== attributes and Status texts ======================== */

TEST(path_classes_and_verbs)
{
	static const struct {
		const char *method, *path;
		enum em_path_kind kind;
		const char *verb;
	} cases[] = {
		{"GET", "/healthz", EM_PATH_HEALTH, "get"},
		{"GET", "/livez", EM_PATH_HEALTH, "get"},
		{"GET", "/readyz", EM_PATH_HEALTH, "get"},
		{"GET", "/healthz/etcd", EM_PATH_OTHER, "get"},
		{"GET", "/apis", EM_PATH_DISCOVERY, "get"},
		{"GET", "/apis/", EM_PATH_DISCOVERY, "get"},
		{"GET", "/apis/external.metrics.k8s.io", EM_PATH_DISCOVERY, "get"},
		{"GET", "/apis/external.metrics.k8s.io/v1beta1", EM_PATH_DISCOVERY, "get"},
		{"GET", "/apis/external.metrics.k8s.io/v1beta1/", EM_PATH_DISCOVERY, "get"},
		{"GET", "/apis/external.metrics.k8s.io/v1beta1/namespaces", EM_PATH_OTHER, "get"},
		{"GET", "/apisx", EM_PATH_OTHER, "get"},
		{"GET", "/api", EM_PATH_DISCOVERY, "get"},
		{"GET", "/api/v1", EM_PATH_DISCOVERY, "get"},
		{"GET", "/api/v1/pods", EM_PATH_OTHER, "get"},
		{"GET", "/version", EM_PATH_DISCOVERY, "get"},
		{"GET", "/version/", EM_PATH_DISCOVERY, "get"},
		{"GET", "/openapi/v2", EM_PATH_DISCOVERY, "get"},
		{"GET", "/openapi/v3/apis/x", EM_PATH_DISCOVERY, "get"},
		{"GET", "/metrics", EM_PATH_OTHER, "get"},
		{"POST", "/foo", EM_PATH_OTHER, "post"},
		{"HEAD", "/foo", EM_PATH_OTHER, "head"},
		{"GET", "/apis/external.metrics.k8s.io/v1beta1/namespaces/a/m", EM_PATH_METRIC, "list"},
		{"HEAD", "/apis/external.metrics.k8s.io/v1beta1/namespaces/a/m", EM_PATH_METRIC, "list"},
		{"POST", "/apis/external.metrics.k8s.io/v1beta1/namespaces/a/m", EM_PATH_METRIC, "create"},
		{"DELETE", "/apis/external.metrics.k8s.io/v1beta1/namespaces/a/m", EM_PATH_METRIC, "deletecollection"},
		{"GET", "/apis/external.metrics.k8s.io/v1beta1/namespaces/a/m/x", EM_PATH_OTHER, "get"},
	};

	for (size_t i = 0; i < N(cases); i++) {
		struct em_authz_attrs a;
		EXPECT_INT(em_authz_attrs_from(cases[i].method, cases[i].path, &a), 0);
		if (a.kind != cases[i].kind)
			TH_FAIL("%s %s: kind %d, want %d", cases[i].method, cases[i].path, a.kind, cases[i].kind);
		EXPECT_STR(a.verb, cases[i].verb);
		EXPECT(a.resource == (cases[i].kind == EM_PATH_METRIC));
		em_authz_attrs_free(&a);
	}
}

TEST(metric_path_attrs_are_taken_as_decoded)
{
	struct em_authz_attrs a;

	/* The HTTP layer percent-decodes the path once (apiservice/server.c);
	 * attributes are taken from it as they are, never decoded again. */
	EXPECT_INT(em_authz_attrs_from("GET", "/apis/external.metrics.k8s.io/v1beta1/namespaces/team-a/s1-rabbitmq q",
				       &a),
		   0);
	EXPECT_STR(a.ns, "team-a");
	EXPECT_STR(a.metric, "s1-rabbitmq q");
	em_authz_attrs_free(&a);
	em_authz_attrs_from("GET", "/apis/external.metrics.k8s.io/v1beta1/namespaces/team%2Da/m", &a);
	EXPECT_STR(a.ns, "team%2Da");
	em_authz_attrs_free(&a);
	em_authz_attrs_free(NULL);
}

TEST(status_unauthorized_exact)
{
	char *b = em_unauthorized_json();

	EXPECT_STR(b, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
		      "\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\",\"code\":401}\n");
	free(b);
}

TEST(status_forbidden_exact)
{
	struct em_authz_attrs a;
	char *b;

	em_authz_attrs_from("GET", "/apis/external.metrics.k8s.io/v1beta1/namespaces/team-b/queue-depth", &a);
	b = em_forbidden_json("system:serviceaccount:kube-system:horizontal-pod-autoscaler", &a, NULL);
	EXPECT_STR(b, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":"
		      "\"queue-depth.external.metrics.k8s.io is forbidden: User "
		      "\\\"system:serviceaccount:kube-system:horizontal-pod-autoscaler\\\" cannot list resource "
		      "\\\"queue-depth\\\" in API group \\\"external.metrics.k8s.io\\\" in the namespace \\\"team-b\\\"\","
		      "\"reason\":\"Forbidden\",\"details\":{\"group\":\"external.metrics.k8s.io\",\"kind\":\"queue-depth\"},"
		      "\"code\":403}\n");
	free(b);
	/* a SubjectAccessReview reason is appended after ": " */
	b = em_forbidden_json("alice", &a, "no RBAC policy matched");
	EXPECT(strstr(b, "in the namespace \\\"team-b\\\": no RBAC policy matched\"") != NULL);
	free(b);
	b = em_forbidden_json("alice", &a, "");
	EXPECT(strstr(b, "in the namespace \\\"team-b\\\"\",\"reason\"") != NULL);
	free(b);
	em_authz_attrs_free(&a);
}

TEST(status_forbidden_nonresource_and_go_quoting)
{
	struct em_authz_attrs a;
	char *b;

	em_authz_attrs_from("GET", "/foo", &a);
	b = em_forbidden_json("bob", &a, NULL);
	EXPECT_STR(b, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":"
		      "\"forbidden: User \\\"bob\\\" cannot get path \\\"/foo\\\"\",\"reason\":\"Forbidden\","
		      "\"details\":{},\"code\":403}\n");
	free(b);
	em_authz_attrs_free(&a);
	/* %q: quote, backslash, newline, a control byte, invalid UTF-8, and a
	 * printable non-ASCII letter kept as is */
	em_authz_attrs_from("GET", "/apis/external.metrics.k8s.io/v1beta1/namespaces/a\"b\\c\nd\x01\xff\xc3\xa9/m", &a);
	b = em_forbidden_json("u", &a, NULL);
	EXPECT(strstr(b, "in the namespace \\\"a\\\\\\\"b\\\\\\\\c\\\\nd\\\\x01\\\\xffé\\\"\"") != NULL);
	if (!strstr(b, "\\\\xffé"))
		TH_FAIL("body: %s", b);
	free(b);
	em_authz_attrs_free(&a);
}

/* ======================== static rules ======================== */

TEST(static_rules_namespace_metric_and_groups)
{
	char *alice[] = {"alice"}, *team_a[] = {"team-a"}, *star[] = {"*"}, *m1[] = {"m1"}, *ops[] = {"ops"};
	struct em_authz_rule rules[] = {
		{.users = {alice, 1, true}, .namespaces = {team_a, 1, true}, .metrics = {star, 1, true}},
		{.groups = {ops, 1, true}, .namespaces = {star, 1, true}, .metrics = {m1, 1, true}},
	};
	char *opsg[] = {"ops", "system:authenticated"};
	struct em_user ua = {.name = "alice"}, ub = {.name = "bob", .groups = opsg, .n_groups = 2}, uc = {.name = "eve"};
	struct em_authz_attrs a1, a2, a3, other;

	em_authz_attrs_from("GET", "/apis/external.metrics.k8s.io/v1beta1/namespaces/team-a/m1", &a1);
	em_authz_attrs_from("GET", "/apis/external.metrics.k8s.io/v1beta1/namespaces/team-b/m1", &a2);
	em_authz_attrs_from("GET", "/apis/external.metrics.k8s.io/v1beta1/namespaces/team-b/m2", &a3);
	em_authz_attrs_from("GET", "/foo", &other);
	EXPECT(em_authz_static_allows(rules, 2, &ua, &a1));
	EXPECT(!em_authz_static_allows(rules, 2, &ua, &a2));
	EXPECT(em_authz_static_allows(rules, 2, &ub, &a1));
	EXPECT(em_authz_static_allows(rules, 2, &ub, &a2));
	EXPECT(!em_authz_static_allows(rules, 2, &ub, &a3));
	EXPECT(!em_authz_static_allows(rules, 2, &uc, &a1));
	/* a non-resource path needs a rule for every namespace and metric */
	EXPECT(!em_authz_static_allows(rules, 2, &ua, &other));
	EXPECT(!em_authz_static_allows(rules, 2, &ub, &other));
	rules[1].metrics.v = star;
	EXPECT(em_authz_static_allows(rules, 2, &ub, &other));
	em_authz_attrs_free(&a1);
	em_authz_attrs_free(&a2);
	em_authz_attrs_free(&a3);
	em_authz_attrs_free(&other);
}

/* ======================== Kubernetes objects ======================== */

TEST(tokenreview_request_and_parse)
{
	struct em_user u = {0};
	struct em_err err = {0};
	char *req = em_tokenreview_request("abc\"def"), *etext = NULL;
	bool ok = false;

	EXPECT_STR(req, "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\",\"spec\":{\"token\":\"abc\\\"def\"}}");
	free(req);
	EXPECT_INT(em_tokenreview_parse("{\"kind\":\"TokenReview\",\"apiVersion\":\"authentication.k8s.io/v1\",\"status\":{"
					"\"authenticated\":true,\"user\":{\"username\":\"system:serviceaccount:ns:sa\","
					"\"uid\":\"42\",\"groups\":[\"system:serviceaccounts\",\"system:serviceaccounts:ns\"],"
					"\"extra\":{\"authentication.kubernetes.io/pod-name\":[\"p1\"]}}}}",
					&ok, &u, &etext, &err),
		   0);
	EXPECT(ok);
	EXPECT_STR(u.name, "system:serviceaccount:ns:sa");
	EXPECT_STR(u.uid, "42");
	EXPECT_INT(u.n_groups, 2);
	EXPECT_INT(u.n_extra, 1);
	if (u.n_extra == 1) {
		EXPECT_STR(u.extra[0].key, "authentication.kubernetes.io/pod-name");
		EXPECT_STR(u.extra[0].values[0], "p1");
	}
	EXPECT(etext == NULL);
	em_user_free(&u);
	EXPECT_INT(em_tokenreview_parse("{\"kind\":\"TokenReview\",\"status\":{\"authenticated\":false,"
					"\"error\":\"token expired\"}}",
					&ok, &u, &etext, &err),
		   0);
	EXPECT(!ok);
	EXPECT(u.name == NULL);
	EXPECT_STR(etext, "token expired");
	free(etext);
	/* no status at all: not authenticated */
	EXPECT_INT(em_tokenreview_parse("{\"kind\":\"TokenReview\"}", &ok, &u, &etext, &err), 0);
	EXPECT(!ok);
	EXPECT_INT(em_tokenreview_parse("{\"kind\":\"Status\",\"code\":403}", &ok, &u, &etext, &err), -1);
	EXPECT_INT(em_tokenreview_parse("not json", &ok, &u, &etext, &err), -1);
	/* authenticated without a username is not trusted */
	EXPECT_INT(em_tokenreview_parse("{\"kind\":\"TokenReview\",\"status\":{\"authenticated\":true,\"user\":{}}}", &ok,
					&u, &etext, &err),
		   -1);
	EXPECT(!ok);
}

TEST(sar_request_exact_and_parse)
{
	char *grp[] = {"system:serviceaccounts", "system:authenticated"};
	char *vals[] = {"a", "b"};
	struct em_user_extra ex[] = {{"scopes", vals, 2}};
	struct em_user u = {.name = "system:serviceaccount:kube-system:horizontal-pod-autoscaler",
			    .groups = grp,
			    .n_groups = 2};
	struct em_authz_attrs a;
	enum em_sar_decision d;
	struct em_err err = {0};
	char *req, *reason = NULL;

	em_authz_attrs_from("GET", "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/queue-depth", &a);
	req = em_sar_request(&u, &a);
	EXPECT_STR(req, "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SubjectAccessReview\",\"spec\":{"
			"\"resourceAttributes\":{\"namespace\":\"default\",\"verb\":\"list\",\"group\":"
			"\"external.metrics.k8s.io\",\"version\":\"v1beta1\",\"resource\":\"queue-depth\"},"
			"\"user\":\"system:serviceaccount:kube-system:horizontal-pod-autoscaler\",\"groups\":"
			"[\"system:serviceaccounts\",\"system:authenticated\"],\"extra\":{}}}");
	free(req);
	em_authz_attrs_free(&a);
	u.uid = "7";
	u.extra = ex;
	u.n_extra = 1;
	em_authz_attrs_from("GET", "/foo", &a);
	req = em_sar_request(&u, &a);
	EXPECT_STR(req, "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SubjectAccessReview\",\"spec\":{"
			"\"nonResourceAttributes\":{\"path\":\"/foo\",\"verb\":\"get\"},"
			"\"user\":\"system:serviceaccount:kube-system:horizontal-pod-autoscaler\",\"uid\":\"7\",\"groups\":"
			"[\"system:serviceaccounts\",\"system:authenticated\"],\"extra\":{\"scopes\":[\"a\",\"b\"]}}}");
	free(req);
	em_authz_attrs_free(&a);

	EXPECT_INT(em_sar_parse("{\"kind\":\"SubjectAccessReview\",\"status\":{\"allowed\":true,\"reason\":\"RBAC: ok\"}}",
				&d, &reason, &err),
		   0);
	EXPECT_INT(d, EM_SAR_ALLOW);
	EXPECT_STR(reason, "RBAC: ok");
	free(reason);
	EXPECT_INT(em_sar_parse("{\"kind\":\"SubjectAccessReview\",\"status\":{\"allowed\":false,\"denied\":true}}", &d,
				&reason, &err),
		   0);
	EXPECT_INT(d, EM_SAR_DENY);
	EXPECT_STR(reason, "");
	free(reason);
	EXPECT_INT(em_sar_parse("{\"kind\":\"SubjectAccessReview\",\"status\":{\"allowed\":false}}", &d, &reason, &err), 0);
	EXPECT_INT(d, EM_SAR_NO_OPINION);
	free(reason);
	EXPECT_INT(em_sar_parse("{\"kind\":\"SubjectAccessReview\"}", &d, &reason, &err), 0);
	EXPECT_INT(d, EM_SAR_NO_OPINION);
	free(reason);
	EXPECT_INT(em_sar_parse("{\"kind\":\"Status\"}", &d, &reason, &err), -1);
	EXPECT(reason == NULL);
}

TEST(reviews_are_never_asked_about_a_partial_user)
{
	char *bad_group[] = {"ok", "bad\xff"};
	struct em_user u = {.name = "alice", .groups = bad_group, .n_groups = 2};
	struct em_authz_attrs a;

	em_authz_attrs_from("GET", "/apis/external.metrics.k8s.io/v1beta1/namespaces/a/m", &a);
	/* not valid UTF-8: no request at all (then the check denies), not one without that group */
	EXPECT(em_sar_request(&u, &a) == NULL);
	EXPECT(em_user_to_json(&u) == NULL);
	u.n_groups = 1;
	u.name = "al\xc3\x28ice";
	EXPECT(em_sar_request(&u, &a) == NULL);
	u.name = "alice";
	{
		char *ok = em_sar_request(&u, &a);
		EXPECT(ok != NULL);
		free(ok);
	}
	EXPECT(em_tokenreview_request("tok\xfe") == NULL);
	em_authz_attrs_free(&a);
}

TEST(user_json_round_trip)
{
	struct em_user u = {0}, back = {0};
	char *j;

	em_user_set_name(&u, "x\"y");
	em_user_set_uid(&u, "id");
	em_user_add_group(&u, "g1");
	em_user_add_group(&u, "g2");
	em_user_add_group(&u, "g1");
	em_user_add_extra(&u, "k", "v1");
	em_user_add_extra(&u, "k", "v2");
	EXPECT_INT(u.n_groups, 2);
	j = em_user_to_json(&u);
	EXPECT_STR(j, "{\"username\":\"x\\\"y\",\"uid\":\"id\",\"groups\":[\"g1\",\"g2\"],\"extra\":{\"k\":[\"v1\",\"v2\"]}}");
	EXPECT_INT(em_user_from_json(j, &back), 0);
	EXPECT_STR(back.name, "x\"y");
	EXPECT_STR(back.uid, "id");
	EXPECT_INT(back.n_groups, 2);
	EXPECT_INT(back.n_extra, 1);
	EXPECT(em_user_in_group(&back, "g2"));
	EXPECT(!em_user_in_group(&back, "g3"));
	free(j);
	em_user_free(&u);
	em_user_free(&back);
	EXPECT_INT(em_user_from_json("{\"groups\":[]}", &back), -1);
}

TEST(authentication_configmap_parse)
{
	struct em_authcm cm;
	struct em_err err = {0};

	EXPECT_INT(em_authcm_parse("{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":"
				   "\"extension-apiserver-authentication\"},\"data\":{\"client-ca-file\":\"CA1\","
				   "\"requestheader-client-ca-file\":\"CA2\",\"requestheader-allowed-names\":"
				   "\"[\\\"front-proxy-client\\\"]\",\"requestheader-username-headers\":"
				   "\"[\\\"X-Remote-User\\\"]\",\"requestheader-group-headers\":\"[\\\"X-Remote-Group\\\"]\","
				   "\"requestheader-extra-headers-prefix\":\"[\\\"X-Remote-Extra-\\\"]\"}}",
				   &cm, &err),
		   0);
	EXPECT_STR(cm.client_ca, "CA1");
	EXPECT_STR(cm.rh_ca, "CA2");
	EXPECT(cm.rh.allowed_names.set && cm.rh.allowed_names.n == 1);
	EXPECT(em_strlist_has(&cm.rh.allowed_names, "front-proxy-client"));
	EXPECT(em_strlist_has(&cm.rh.username_headers, "X-Remote-User"));
	EXPECT(em_strlist_has(&cm.rh.group_headers, "X-Remote-Group"));
	EXPECT(em_strlist_has(&cm.rh.extra_prefixes, "X-Remote-Extra-"));
	EXPECT(!cm.rh.uid_headers.set);   /* absent key: unset, not empty */
	em_authcm_free(&cm);
	EXPECT_INT(em_authcm_parse("{\"kind\":\"ConfigMap\",\"data\":{\"requestheader-allowed-names\":\"nope\"}}", &cm,
				   &err),
		   -1);
	EXPECT(strstr(err.msg, "requestheader-allowed-names") != NULL);
	EXPECT_INT(em_authcm_parse("{\"kind\":\"ConfigMap\",\"data\":{\"requestheader-allowed-names\":\"[]\"}}", &cm, &err),
		   0);
	EXPECT(cm.rh.allowed_names.set && cm.rh.allowed_names.n == 0);
	EXPECT(cm.client_ca == NULL);
	em_authcm_free(&cm);
	EXPECT_INT(em_authcm_parse("{\"kind\":\"Secret\",\"data\":{}}", &cm, &err), -1);
}

TEST(incluster_url)
{
	char out[128];

	EXPECT_INT(em_kube_incluster_url("10.96.0.1", "443", out, sizeof(out)), 0);
	EXPECT_STR(out, "https://10.96.0.1:443");
	EXPECT_INT(em_kube_incluster_url("fd00::1", "6443", out, sizeof(out)), 0);
	EXPECT_STR(out, "https://[fd00::1]:6443");
	EXPECT_INT(em_kube_incluster_url(NULL, "443", out, sizeof(out)), -1);
	EXPECT_INT(em_kube_incluster_url("10.0.0.1", "", out, sizeof(out)), -1);
	EXPECT_INT(em_kube_incluster_url("10.0.0.1", "99999", out, sizeof(out)), -1);
	EXPECT_INT(em_kube_incluster_url("evil/path", "443", out, sizeof(out)), -1);
}

/* ======================== x509 ======================== */

struct pki {
	EVP_PKEY *key;
	X509 *crt;
};

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (e) {
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	} else {
		TH_FAIL("extension %d=%s", nid, value);
	}
}

/* A certificate for subject (e.g. "O=a,O=b,CN=x"); issuer NULL = self-signed. */
static struct pki mkcert(const char *subject, const struct pki *issuer, bool ca, const char *eku, long from_s,
			 long to_s)
{
	static long serial = 1;
	struct pki p = {EVP_EC_gen("P-256"), X509_new()};
	X509_NAME *name = X509_NAME_new();
	char buf[256], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", subject);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		*eq = '\0';
		X509_NAME_add_entry_by_txt(name, tok, MBSTRING_UTF8, (unsigned char *)eq + 1, -1, -1, 0);
	}
	X509_set_version(p.crt, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(p.crt), serial++);
	X509_gmtime_adj(X509_getm_notBefore(p.crt), from_s);
	X509_gmtime_adj(X509_getm_notAfter(p.crt), to_s);
	X509_set_subject_name(p.crt, name);
	X509_set_issuer_name(p.crt, issuer ? X509_get_subject_name(issuer->crt) : name);
	X509_set_pubkey(p.crt, p.key);
	if (ca) {
		add_ext(p.crt, issuer ? issuer->crt : p.crt, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(p.crt, issuer ? issuer->crt : p.crt, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(p.crt, issuer ? issuer->crt : p.crt, NID_key_usage, "critical,digitalSignature");
	}
	if (eku)
		add_ext(p.crt, issuer ? issuer->crt : p.crt, NID_ext_key_usage, eku);
	X509_sign(p.crt, issuer ? issuer->key : p.key, EVP_sha256());
	X509_NAME_free(name);
	return p;
}

static void pki_free(struct pki *p)
{
	EVP_PKEY_free(p->key);
	X509_free(p->crt);
}

static char *pem_of(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out;
	long n;

	PEM_write_bio_X509(b, x);
	n = BIO_get_mem_data(b, &data);
	out = strndup(data, (size_t)n);
	BIO_free(b);
	return out;
}

struct der {
	unsigned char *buf;
	struct em_cert_der d;
};

static struct der der_of(X509 *x)
{
	struct der d = {0};
	int n = i2d_X509(x, &d.buf);

	d.d.data = d.buf;
	d.d.len = n > 0 ? (size_t)n : 0;
	return d;
}

static struct em_x509_pool *pool_of(X509 *x)
{
	struct em_err err = {0};
	char *pem = pem_of(x);
	struct em_x509_pool *p = em_x509_pool_new(pem, strlen(pem), &err);

	free(pem);
	return p;
}

TEST(x509_verify_client_chains)
{
	struct pki ca = mkcert("CN=front-proxy-ca", NULL, true, NULL, -3600, 86400);
	struct pki rogue = mkcert("CN=front-proxy-ca", NULL, true, NULL, -3600, 86400);   /* same name, other key */
	struct pki leaf = mkcert("O=team-a,O=devs,CN=first,CN=front-proxy-client", &ca, false, "clientAuth", -60, 3600);
	struct pki noeku = mkcert("CN=plain", &ca, false, NULL, -60, 3600);
	struct pki server = mkcert("CN=server-only", &ca, false, "serverAuth", -60, 3600);
	struct pki expired = mkcert("CN=old", &ca, false, "clientAuth", -7200, -3600);
	struct pki bad = mkcert("CN=front-proxy-client", &rogue, false, "clientAuth", -60, 3600);
	struct em_x509_pool *pool = pool_of(ca.crt);
	struct der d_leaf = der_of(leaf.crt), d_noeku = der_of(noeku.crt), d_server = der_of(server.crt),
		   d_exp = der_of(expired.crt), d_bad = der_of(bad.crt);
	struct em_x509_subject s;
	struct em_err err = {0};

	EXPECT(pool != NULL);
	EXPECT_INT(em_x509_verify(pool, &d_leaf.d, 1, 0, &s, &err), 0);
	EXPECT_STR(s.cn, "front-proxy-client");   /* the last CN, as Go keeps it */
	EXPECT_INT(s.n_orgs, 2);
	if (s.n_orgs == 2) {
		EXPECT_STR(s.orgs[0], "team-a");
		EXPECT_STR(s.orgs[1], "devs");
	}
	em_x509_subject_free(&s);
	/* no EKU at all: any usage, as in Go */
	EXPECT_INT(em_x509_verify(pool, &d_noeku.d, 1, 0, &s, &err), 0);
	EXPECT_STR(s.cn, "plain");
	EXPECT_INT(s.n_orgs, 0);
	em_x509_subject_free(&s);
	EXPECT_INT(em_x509_verify(pool, &d_server.d, 1, 0, &s, &err), -1);
	EXPECT_STR(err.msg, "x509: certificate specifies an incompatible key usage");
	EXPECT_INT(err.kind, EM_E_UNAUTHORIZED);
	EXPECT(s.cn == NULL);
	EXPECT_INT(em_x509_verify(pool, &d_exp.d, 1, 0, &s, &err), -1);
	EXPECT_STR(err.msg, "x509: certificate has expired or is not yet valid");
	EXPECT_INT(em_x509_verify(pool, &d_bad.d, 1, 0, &s, &err), -1);
	EXPECT_STR(err.msg, "x509: certificate signed by unknown authority");
	/* the injected clock: the leaf is not valid yet two hours ago, nor in two days */
	EXPECT_INT(em_x509_verify(pool, &d_leaf.d, 1, (int64_t)time(NULL) - 7200, &s, &err), -1);
	EXPECT_INT(em_x509_verify(pool, &d_leaf.d, 1, (int64_t)time(NULL) + 2 * 86400, &s, &err), -1);
	EXPECT_INT(em_x509_verify(pool, &d_leaf.d, 1, (int64_t)time(NULL) + 1800, &s, &err), 0);
	em_x509_subject_free(&s);
	/* garbage and nothing */
	{
		unsigned char junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
		struct em_cert_der j = {junk, sizeof(junk)};
		EXPECT_INT(em_x509_verify(pool, &j, 1, 0, &s, &err), -1);
		EXPECT_STR(err.msg, "x509: malformed certificate");
		EXPECT_INT(em_x509_verify(pool, NULL, 0, 0, &s, &err), -1);
	}
	free(d_leaf.buf);
	free(d_noeku.buf);
	free(d_server.buf);
	free(d_exp.buf);
	free(d_bad.buf);
	em_x509_pool_unref(pool);
	pki_free(&ca);
	pki_free(&rogue);
	pki_free(&leaf);
	pki_free(&noeku);
	pki_free(&server);
	pki_free(&expired);
	pki_free(&bad);
}

TEST(x509_intermediates_and_partial_chains)
{
	struct pki root = mkcert("CN=root", NULL, true, NULL, -3600, 86400);
	struct pki inter = mkcert("CN=inter", &root, true, NULL, -3600, 86400);
	struct pki inter_srv = mkcert("CN=inter-srv", &root, true, "serverAuth", -3600, 86400);
	struct pki leaf = mkcert("CN=leaf", &inter, false, "clientAuth", -60, 3600);
	struct pki leaf2 = mkcert("CN=leaf2", &inter_srv, false, "clientAuth", -60, 3600);
	struct em_x509_pool *by_root = pool_of(root.crt), *by_inter = pool_of(inter.crt);
	struct der dl = der_of(leaf.crt), di = der_of(inter.crt), dl2 = der_of(leaf2.crt), di2 = der_of(inter_srv.crt);
	struct em_cert_der chain[2] = {dl.d, di.d}, chain2[2] = {dl2.d, di2.d};
	struct em_x509_subject s;
	struct em_err err = {0};

	/* the leaf alone does not reach the root; with its intermediate it does */
	EXPECT_INT(em_x509_verify(by_root, chain, 1, 0, &s, &err), -1);
	EXPECT_INT(em_x509_verify(by_root, chain, 2, 0, &s, &err), 0);
	EXPECT_STR(s.cn, "leaf");
	em_x509_subject_free(&s);
	/* an intermediate in the pool is a trust anchor, as in Go */
	EXPECT_INT(em_x509_verify(by_inter, chain, 1, 0, &s, &err), 0);
	em_x509_subject_free(&s);
	/* an intermediate restricted to serverAuth cannot issue client certificates */
	EXPECT_INT(em_x509_verify(by_root, chain2, 2, 0, &s, &err), -1);
	EXPECT_STR(err.msg, "x509: certificate specifies an incompatible key usage");
	free(dl.buf);
	free(di.buf);
	free(dl2.buf);
	free(di2.buf);
	em_x509_pool_unref(by_root);
	em_x509_pool_unref(by_inter);
	pki_free(&root);
	pki_free(&inter);
	pki_free(&inter_srv);
	pki_free(&leaf);
	pki_free(&leaf2);
}

TEST(x509_pool_needs_a_certificate)
{
	struct em_err err = {0};
	const char junk[] = "not a certificate\n";

	EXPECT(em_x509_pool_new(junk, strlen(junk), &err) == NULL);
	EXPECT_STR(err.msg, "no PEM certificate found");
	EXPECT(em_x509_pool_ref(NULL) == NULL);
	em_x509_pool_unref(NULL);
}

/* ======================== config ======================== */

static struct em_config *load(const char *auth, struct em_errlist *errs)
{
	struct em_strbuf sb;
	struct em_config *c;

	em_log_setup(EM_LOG_ERROR, false);
	em_sb_init(&sb);
	em_sb_printf(&sb, "server:\n  auth:\n%s\nmetrics: []\n", auth);
	c = em_config_load_mem("t.yaml", sb.buf, sb.len, errs);
	em_sb_free(&sb);
	return c;
}

static void expect_auth_error(const char *auth, const char *want)
{
	struct em_errlist errs = {0};
	struct em_config *c = load(auth, &errs);
	bool found = false;

	EXPECT(c == NULL);
	for (size_t i = 0; i < errs.n; i++)
		if (strcmp(errs.msgs[i], want) == 0)
			found = true;
	if (!found) {
		TH_FAIL("no error \"%s\"; got %zu:", want, errs.n);
		for (size_t i = 0; i < errs.n; i++)
			printf("#     %s\n", errs.msgs[i]);
	}
	em_config_free(c);
	em_errlist_free(&errs);
}

static char *tmpfile_with(const char *text)
{
	char *path = strdup("/tmp/emauthXXXXXX");
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		TH_FAIL("mkstemp");
	if (fd >= 0)
		close(fd);
	return path;
}

TEST(config_auth_defaults_delegated)
{
	struct em_errlist errs = {0};
	struct em_config *c = load("    fromCluster: true", &errs);

	EXPECT(c != NULL);
	if (!c) {
		for (size_t i = 0; i < errs.n; i++)
			printf("#     %s\n", errs.msgs[i]);
		em_errlist_free(&errs);
		return;
	}
	EXPECT_INT(c->server.auth.mode, EM_AUTH_DELEGATED);
	EXPECT(c->server.auth.from_cluster);
	EXPECT(c->server.auth.token_review);
	EXPECT_INT(c->server.auth.authz_mode, EM_AUTHZ_SAR);
	EXPECT_INT(c->server.auth.cache_ttl_ms, 10000);
	EXPECT_INT(c->server.auth.from_cluster_refresh_ms, 60000);
	EXPECT_INT(c->server.auth.kube_timeout_ms, 5000);
	EXPECT(c->server.auth.kube_url == NULL);
	EXPECT(!c->server.auth.rh.allowed_names.set);
	em_config_free(c);
}

TEST(config_auth_full)
{
	struct em_errlist errs = {0};
	char *ca = tmpfile_with("x"), *tok = tmpfile_with("t");
	struct em_strbuf sb;
	struct em_config *c;
	const struct em_auth_conf *a;

	em_sb_init(&sb);
	em_sb_printf(&sb,
		     "    mode: delegated\n"
		     "    clientCAFile: %s\n"
		     "    requestHeader:\n"
		     "      clientCAFile: %s\n"
		     "      allowedNames: [front-proxy-client, aggregator]\n"
		     "      usernameHeaders: [X-Remote-User]\n"
		     "      uidHeaders: []\n"
		     "      groupHeaders: [X-Remote-Group]\n"
		     "      extraHeadersPrefixes: [X-Remote-Extra-]\n"
		     "    tokenReview: false\n"
		     "    cacheTTL: 3s\n"
		     "    authorization:\n"
		     "      mode: static\n"
		     "      users: [admin]\n"
		     "      rules:\n"
		     "        - {groups: [team-a], namespaces: [team-a], metrics: [\"*\"]}\n"
		     "    kubernetesAPI: {url: \"https://127.0.0.1:1\", caFile: %s, tokenFile: %s, timeout: 2s}",
		     ca, ca, ca, tok);
	c = load(sb.buf, &errs);
	EXPECT(c != NULL);
	for (size_t i = 0; i < errs.n; i++)
		printf("#     %s\n", errs.msgs[i]);
	if (c) {
		a = &c->server.auth;
		EXPECT_INT(a->mode, EM_AUTH_DELEGATED);
		EXPECT_STR(a->client_ca_file, ca);
		EXPECT_STR(a->rh_ca_file, ca);
		EXPECT_INT(a->rh.allowed_names.n, 2);
		EXPECT(em_strlist_has(&a->rh.allowed_names, "aggregator"));
		EXPECT(a->rh.uid_headers.set && a->rh.uid_headers.n == 0);
		EXPECT(!a->token_review);
		EXPECT_INT(a->cache_ttl_ms, 3000);
		EXPECT_INT(a->authz_mode, EM_AUTHZ_STATIC);
		EXPECT_INT(a->n_rules, 2);
		if (a->n_rules == 2) {
			EXPECT(em_strlist_has(&a->rules[0].users, "admin"));
			EXPECT(em_strlist_has(&a->rules[0].namespaces, "*"));
			EXPECT(em_strlist_has(&a->rules[0].metrics, "*"));
			EXPECT(em_strlist_has(&a->rules[1].groups, "team-a"));
			EXPECT(em_strlist_has(&a->rules[1].namespaces, "team-a"));
		}
		EXPECT_STR(a->kube_url, "https://127.0.0.1:1");
		EXPECT_STR(a->kube_token_file, tok);
		EXPECT_INT(a->kube_timeout_ms, 2000);
	}
	em_config_free(c);
	em_errlist_free(&errs);
	em_sb_free(&sb);
	unlink(ca);
	unlink(tok);
	free(ca);
	free(tok);
}

TEST(config_auth_client_cert_mode_kept)
{
	struct em_errlist errs = {0};
	char *ca = tmpfile_with("x");
	struct em_strbuf sb;
	struct em_config *c;

	em_sb_init(&sb);
	em_sb_printf(&sb, "    mode: clientCert\n    clientCAFile: %s", ca);
	c = load(sb.buf, &errs);
	EXPECT(c != NULL);
	if (c) {
		EXPECT_INT(c->server.auth.mode, EM_AUTH_CLIENTCERT);
		EXPECT_STR(c->server.auth.client_ca_file, ca);
		EXPECT(!c->server.auth.token_review);
		EXPECT_INT(c->server.auth.authz_mode, EM_AUTHZ_ALLOW_AUTHENTICATED);
	}
	em_config_free(c);
	em_errlist_free(&errs);
	em_sb_free(&sb);
	unlink(ca);
	free(ca);
}

TEST(config_auth_errors)
{
	expect_auth_error("    mode: clientCert", "t.yaml:3:5: clientCAFile: missing required key");
	expect_auth_error("    mode: clientCert\n    clientCAFile: /nonexistent/ca.crt",
			  "t.yaml:4:19: clientCAFile: cannot read /nonexistent/ca.crt: No such file or directory");
	expect_auth_error("    mode: clientCert\n    clientCAFile: /dev/null\n    tokenReview: true",
			  "t.yaml:5:18: tokenReview: only with mode delegated (mode clientCert accepts client "
			  "certificates of clientCAFile only)");
	expect_auth_error("    mode: none\n    fromCluster: true", "t.yaml:4:5: fromCluster: not used with mode none");
	expect_auth_error("    mode: open", "t.yaml:3:11: mode: invalid value \"open\", must be one of: delegated, "
					 "clientCert, none");
	expect_auth_error("    tokenReview: false",
			  "t.yaml:3:5: auth: no way to authenticate: set fromCluster, clientCAFile, requestHeader or "
			  "tokenReview (or mode: none for local development)");
	expect_auth_error("    tokenReview: maybe", "t.yaml:3:18: tokenReview: must be true or false");
	expect_auth_error("    fromCluster: true\n    requestHeader: {allowedNames: front-proxy-client}",
			  "t.yaml:4:35: allowedNames: must be a list of strings");
	expect_auth_error("    requestHeader: {allowedNames: [a]}", "t.yaml:3:20: clientCAFile: missing required key");
	expect_auth_error("    fromCluster: true\n    requestHeader: {usernameHeaders: [\"X Remote\"]}",
			  "t.yaml:4:38: usernameHeaders: \"X Remote\" is not a valid HTTP header name");
	expect_auth_error("    fromCluster: true\n    requestHeader: {usernameHeaders: []}",
			  "t.yaml:4:38: usernameHeaders: must name at least one header");
	expect_auth_error("    fromCluster: true\n    requestHeader: {typo: 1}",
			  "t.yaml:4:21: typo: unknown key in server.auth.requestHeader");
	expect_auth_error("    fromCluster: true\n    authorization: {mode: static}",
			  "t.yaml:4:20: authorization: mode static needs users, groups or rules (otherwise it denies "
			  "everything)");
	expect_auth_error("    fromCluster: true\n    authorization: {mode: allowAuthenticated, users: [a]}",
			  "t.yaml:4:54: users: only with authorization mode static");
	expect_auth_error("    fromCluster: true\n    authorization: {mode: rbac}",
			  "t.yaml:4:27: mode: invalid value \"rbac\", must be one of: subjectAccessReview, "
			  "allowAuthenticated, static");
	expect_auth_error("    fromCluster: true\n    authorization:\n      mode: static\n      rules:\n"
			  "        - {users: [a], metrics: [m]}",
			  "t.yaml:7:11: namespaces: missing required key (list namespaces, or [\"*\"] for all)");
	expect_auth_error("    fromCluster: true\n    authorization:\n      mode: static\n      rules:\n"
			  "        - {namespaces: [a], metrics: [m]}",
			  "t.yaml:7:11: rules: a rule needs users or groups");
	expect_auth_error("    fromCluster: true\n    kubernetesAPI: {url: \"http://10.0.0.1\"}",
			  "t.yaml:4:26: url: must be an https:// URL");
	expect_auth_error("    fromCluster: true\n    cacheTTL: soon",
			  "t.yaml:4:15: cacheTTL: invalid duration \"soon\" (e.g. 30s, 1m30s, 500ms)");
}

/* ======================== the whole chain, without a network ======================== */

static int64_t fake_now;
static int64_t fake_clock(void)
{
	return fake_now;
}

static int metric_value(const char *text, const char *series)
{
	const char *p = strstr(text, series);

	return p ? (int)strtol(p + strlen(series) + 1, NULL, 10) : 0;
}

/* Front-proxy chains verified so far (the own counter). */
static double verifications(void)
{
	struct em_strbuf sb;
	const char *k = "extmetrics_authn_chain_verifications_total{ca=\"requestheader\"} ", *p;
	double v;

	em_sb_init(&sb);
	em_selfmetrics_render(&sb);
	p = strstr(sb.buf, k);
	v = p ? strtod(p + strlen(k), NULL) : 0;
	em_sb_free(&sb);
	return v;
}

/* The whole chain; with per_conn, every request as if on one connection
 * (verdicts kept across requests, reset when the chain changes): the
 * answers must be the same. */
static void end_to_end(bool per_conn)
{
	struct em_auth_conn *conn = per_conn ? em_auth_conn_new() : NULL;
	struct pki fpca = mkcert("CN=fp-ca", NULL, true, NULL, -3600, 86400);
	struct pki cca = mkcert("CN=client-ca", NULL, true, NULL, -3600, 86400);
	struct pki fp = mkcert("CN=front-proxy-client", &fpca, false, "clientAuth", -60, 3600);
	struct pki other = mkcert("CN=not-allowed", &fpca, false, "clientAuth", -60, 3600);
	struct pki alice = mkcert("O=readers,CN=alice", &cca, false, "clientAuth", -60, 3600);
	char *fp_pem = pem_of(fpca.crt), *c_pem = pem_of(cca.crt);
	char *fp_file = tmpfile_with(fp_pem), *c_file = tmpfile_with(c_pem);
	char *allowed_v[] = {"front-proxy-client"}, *team_a[] = {"team-a"}, *star[] = {"*"}, *readers[] = {"readers"};
	struct em_authz_rule rule = {.groups = {readers, 1, true},
				     .namespaces = {team_a, 1, true},
				     .metrics = {star, 1, true}};
	struct em_auth_conf conf = {.mode = EM_AUTH_DELEGATED,
				    .client_ca_file = c_file,
				    .rh_ca_file = fp_file,
				    .rh = {.allowed_names = {allowed_v, 1, true}},
				    .cache_ttl_ms = 10000,
				    .authz_mode = EM_AUTHZ_STATIC,
				    .rules = &rule,
				    .n_rules = 1};
	struct der d_fp = der_of(fp.crt), d_other = der_of(other.crt), d_alice = der_of(alice.crt);
	struct em_err err = {0};
	struct em_auth *a;
	struct em_auth_result res;
	const char *A = "/apis/external.metrics.k8s.io/v1beta1/namespaces/team-a/m";
	const char *B = "/apis/external.metrics.k8s.io/v1beta1/namespaces/team-b/m";
	struct em_header masters[] = {{"X-Remote-User", "system:kube-aggregator"}, {"X-Remote-Group", "system:masters"}};
	struct em_header bob[] = {{"X-Remote-User", "bob"}, {"X-Remote-Group", "readers"}};
	struct em_strbuf sb;
	char *pem;
	uint64_t gen;

	em_log_setup(EM_LOG_ERROR, false);
	em_selfmetrics_reset();
	a = em_auth_new(&conf, &err);
	EXPECT(a != NULL);
	if (!a) {
		printf("#   %s\n", err.msg);
		return;
	}
	em_auth_set_clock(a, fake_clock);
	EXPECT(em_auth_wants_client_certs(a));
	pem = em_auth_ca_pem(a, &gen);
	EXPECT(pem && strstr(pem, "BEGIN CERTIFICATE"));
	EXPECT(gen >= 1 && gen == em_auth_ca_generation(a));
	free(pem);

#define CHECK(method, path, hdrs, nh, chainp, nc, want_code, want_user)                                     \
	do {                                                                                                  \
		struct em_auth_request r = {method, path, hdrs, nh, chainp, nc, conn};                              \
		em_auth_check(a, &r, &res);                                                                   \
		if (res.code != (want_code))                                                                  \
			TH_FAIL("%s %s: code %d, want %d (%s)", method, path, res.code, want_code,            \
				res.body ? res.body : "");                                                    \
		if ((want_user) != NULL)                                                                      \
			EXPECT_STR(res.user, (const char *)(want_user));                                      \
		em_auth_result_free(&res);                                                                    \
	} while (0)

	/* health needs nothing; everything else needs credentials */
	CHECK("GET", "/healthz", NULL, 0, NULL, 0, 0, NULL);
	CHECK("GET", A, NULL, 0, NULL, 0, 401, NULL);
	CHECK("GET", "/apis", NULL, 0, NULL, 0, 401, NULL);
	/* identity headers without the front-proxy certificate: never trusted */
	CHECK("GET", A, masters, 2, NULL, 0, 401, NULL);
	/* with alice's client certificate the headers are ignored: alice, not system:masters */
	CHECK("GET", A, masters, 2, &d_alice.d, 1, 0, "alice");
	CHECK("GET", B, masters, 2, &d_alice.d, 1, 403, "alice");
	/* the front proxy with an allowed CN: the headers name the user */
	CHECK("GET", B, masters, 2, &d_fp.d, 1, 0, "system:kube-aggregator");
	CHECK("GET", A, bob, 2, &d_fp.d, 1, 0, "bob");
	CHECK("GET", B, bob, 2, &d_fp.d, 1, 403, "bob");
	/* a front-proxy CA certificate whose CN is not allowed */
	CHECK("GET", A, bob, 2, &d_other.d, 1, 401, NULL);
	/* the front proxy without a username header authenticates nobody */
	CHECK("GET", A, NULL, 0, &d_fp.d, 1, 401, NULL);
	/* a client certificate: user = CN, groups = O; namespace A only */
	CHECK("GET", A, NULL, 0, &d_alice.d, 1, 0, "alice");
	CHECK("GET", B, NULL, 0, &d_alice.d, 1, 403, "alice");
	/* discovery for any authenticated user; other paths need a full grant */
	CHECK("GET", "/apis/external.metrics.k8s.io/v1beta1", NULL, 0, &d_alice.d, 1, 0, "alice");
	CHECK("GET", "/openapi/v2", NULL, 0, &d_alice.d, 1, 0, "alice");
	CHECK("GET", "/foo", NULL, 0, &d_alice.d, 1, 403, "alice");
	/* bearer tokens are not reviewed when tokenReview is off */
	{
		struct em_header tok[] = {{"Authorization", "Bearer abc"}};
		CHECK("GET", A, tok, 1, NULL, 0, 401, NULL);
	}
#undef CHECK

	em_sb_init(&sb);
	em_selfmetrics_render(&sb);
	EXPECT_INT(metric_value(sb.buf, "extmetrics_authn_total{method=\"requestheader\",result=\"success\"}"), 3);
	EXPECT_INT(metric_value(sb.buf, "extmetrics_authn_total{method=\"x509\",result=\"success\"}"), 7);
	EXPECT_INT(metric_value(sb.buf, "extmetrics_authn_total{method=\"none\",result=\"failure\"}"), 4);
	EXPECT_INT(metric_value(sb.buf, "extmetrics_authn_total{method=\"x509\",result=\"failure\"}"), 2);
	EXPECT_INT(metric_value(sb.buf, "extmetrics_authz_total{result=\"allowed\"}"), 6);
	EXPECT_INT(metric_value(sb.buf, "extmetrics_authz_total{result=\"denied\"}"), 4);
	em_sb_free(&sb);

	em_auth_free(a);
	em_auth_free(NULL);
	free(d_fp.buf);
	free(d_other.buf);
	free(d_alice.buf);
	unlink(fp_file);
	unlink(c_file);
	free(fp_file);
	free(c_file);
	free(fp_pem);
	free(c_pem);
	pki_free(&fpca);
	pki_free(&cca);
	pki_free(&fp);
	pki_free(&other);
	pki_free(&alice);
	em_auth_conn_free(conn);
}

TEST(chain_static_authorization_end_to_end)
{
	end_to_end(false);
}

TEST(chain_same_answers_with_verdicts_kept_per_connection)
{
	end_to_end(true);
}

static int64_t wall_ms;
static int64_t wall_clock(void)
{
	return wall_ms;
}

TEST(chain_verified_once_per_connection_until_it_changes_or_expires)
{
	struct pki fpca = mkcert("CN=fp-ca", NULL, true, NULL, -3600, 86400);
	struct pki fp = mkcert("CN=front-proxy-client", &fpca, false, "clientAuth", -60, 3600);
	struct pki other = mkcert("CN=not-allowed", &fpca, false, "clientAuth", -60, 3600);
	char *fp_pem = pem_of(fpca.crt), *fp_file = tmpfile_with(fp_pem);
	char *allowed_v[] = {"front-proxy-client"};
	struct em_auth_conf conf = {.mode = EM_AUTH_DELEGATED,
				    .rh_ca_file = fp_file,
				    .rh = {.allowed_names = {allowed_v, 1, true}},
				    .authz_mode = EM_AUTHZ_ALLOW_AUTHENTICATED};
	struct der d_fp = der_of(fp.crt), d_other = der_of(other.crt);
	struct em_header bob[] = {{"X-Remote-User", "bob"}};
	const char *A = "/apis/external.metrics.k8s.io/v1beta1/namespaces/team-a/m";
	const struct em_clock clk = {em_mono_ms, wall_clock};
	struct em_auth_conn *conn = em_auth_conn_new();
	struct em_err err = {0};
	struct em_auth_result res;
	struct em_auth *a;
	double v0;

	em_log_setup(EM_LOG_ERROR, false);
	a = em_auth_new(&conf, &err);
	EXPECT(a != NULL && conn != NULL);
	if (!a || !conn)
		return;
#define ASK(chainp, want_code)                                                                                     \
	do {                                                                                                       \
		struct em_auth_request r = {"GET", A, bob, 1, chainp, 1, conn};                                    \
		em_auth_check(a, &r, &res);                                                                        \
		EXPECT_INT(res.code, want_code);                                                                   \
		em_auth_result_free(&res);                                                                         \
	} while (0)
	v0 = verifications();
	for (int i = 0; i < 10; i++)
		ASK(&d_fp.d, 0);
	EXPECT_DBL(verifications() - v0, 1, 0);   /* ten requests, one verification */
	/* another chain on the connection (a renegotiation): verified, refused, and refused again without verifying */
	ASK(&d_other.d, 401);
	ASK(&d_other.d, 401);
	EXPECT_DBL(verifications() - v0, 2, 0);
	ASK(&d_fp.d, 0);
	EXPECT_DBL(verifications() - v0, 3, 0);
	/* the kept answer ends with the certificate: two hours on, it has expired */
	wall_ms = em_now_ms() + 2 * 3600 * 1000;
	em_clock_use(&clk);
	ASK(&d_fp.d, 401);
	em_clock_use(NULL);
	EXPECT_DBL(verifications() - v0, 4, 0);
#undef ASK
	em_auth_conn_free(conn);
	em_auth_free(a);
	free(d_fp.buf);
	free(d_other.buf);
	unlink(fp_file);
	free(fp_file);
	free(fp_pem);
	pki_free(&fpca);
	pki_free(&fp);
	pki_free(&other);
}

TEST(chain_without_kubernetes_api_fails_to_start)
{
	struct em_auth_conf conf = {.mode = EM_AUTH_DELEGATED, .token_review = true, .authz_mode = EM_AUTHZ_SAR};
	struct em_err err = {0};
	char *host = getenv("KUBERNETES_SERVICE_HOST") ? strdup(getenv("KUBERNETES_SERVICE_HOST")) : NULL;
	struct em_auth *a;

	unsetenv("KUBERNETES_SERVICE_HOST");
	a = em_auth_new(&conf, &err);
	EXPECT(a == NULL);
	EXPECT(strstr(err.msg, "KUBERNETES_SERVICE_HOST/PORT are not set") != NULL);
	em_auth_free(a);
	if (host)
		setenv("KUBERNETES_SERVICE_HOST", host, 1);
	free(host);
	/* mode none: no authenticator at all, and checking is a no-op */
	conf.mode = EM_AUTH_NONE;
	EXPECT(em_auth_new(&conf, &err) == NULL);
	{
		struct em_auth_result res;
		struct em_auth_request r = {.method = "GET", .path = "/apis"};
		em_auth_check(NULL, &r, &res);
		EXPECT_INT(res.code, 0);
		EXPECT(res.body == NULL);
	}
}
