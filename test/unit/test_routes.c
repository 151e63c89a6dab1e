/* test_routes.c - the route table: which row a path finds (access, label), and em_api_handle's answers for rows that need no registry. */
#include "harness.h"

#include "apiservice/api.h"

TEST(paths_find_their_row)
{
	static const struct {
		const char *path;
		enum em_path_kind access;
		const char *label;
		bool served;
	} cases[] = {
		{"/healthz", EM_PATH_HEALTH, "health", true},
		{"/readyz", EM_PATH_HEALTH, "health", true},
		{"/healthz/", EM_PATH_OTHER, "other", false},
		{"/apis", EM_PATH_DISCOVERY, "discovery", true},
		{"/apis/", EM_PATH_DISCOVERY, "discovery", true},
		{"/apis/external.metrics.k8s.io/v1beta1/", EM_PATH_DISCOVERY, "discovery", true},
		{"/apis/external.metrics.k8s.io/v1beta1//", EM_PATH_DISCOVERY, "other", false},
		{"/apis/metrics.k8s.io", EM_PATH_DISCOVERY, "other", false},
		{"/apis/external.metrics.k8s.io/v1beta1/namespaces/a/m", EM_PATH_METRIC, "external_metric", true},
		{"/apis/external.metrics.k8s.io/v1beta1/namespaces//m", EM_PATH_OTHER, "other", false},
		{"/apis/external.metrics.k8s.io/v1beta1/namespaces/a/", EM_PATH_OTHER, "other", false},
		{"/apis/external.metrics.k8s.io/v1beta1/namespaces/a/m/x", EM_PATH_OTHER, "other", false},
		{"/version/", EM_PATH_DISCOVERY, "version", true},
		{"/openapi", EM_PATH_DISCOVERY, "openapi", false},
		{"/openapi/v3/apis/x", EM_PATH_DISCOVERY, "openapi", false},
		{"/api/v1", EM_PATH_DISCOVERY, "other", false},
		{"/api/v1/pods", EM_PATH_OTHER, "other", false},
		{"/metrics", EM_PATH_OTHER, "other", false},
		{"", EM_PATH_OTHER, "other", false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct em_route *r = em_route_find(cases[i].path, NULL);
		if (r->access != cases[i].access || strcmp(r->label, cases[i].label) != 0 ||
		    (r->serve != NULL) != cases[i].served)
			TH_FAIL("%s: access %d label %s served %d", cases[i].path, (int)r->access, r->label,
				r->serve != NULL);
	}
}

TEST(metric_route_captures_namespace_and_metric)
{
	struct em_route_params p;
	const struct em_route *r = em_route_find("/apis/external.metrics.k8s.io/v1beta1/namespaces/team-a/queue-depth", &p);

	EXPECT_INT(r->access, EM_PATH_METRIC);
	EXPECT_INT(p.n, 2);
	EXPECT(p.len[0] == 6 && strncmp(p.v[0], "team-a", 6) == 0);
	EXPECT(p.len[1] == 11 && strncmp(p.v[1], "queue-depth", 11) == 0);
}

/* Answers of rows that never reach the registry. */
static struct em_api_resp answer(const char *method, const char *path, const char *accept)
{
	struct em_api_req req = {.method = method, .path = path, .accept = accept};
	struct em_api_resp resp;

	em_api_handle(NULL, &req, &resp);
	return resp;
}

TEST(routing_and_accounting_read_the_same_row)
{
	struct em_api_resp r;

	r = answer("GET", "/apis/external.metrics.k8s.io/v1beta1", NULL);
	EXPECT_INT(r.code, 200);
	EXPECT_STR(r.handler, "discovery");
	EXPECT(r.body && strstr(r.body, "\"kind\":\"APIResourceList\""));
	free(r.body);
	r = answer("GET", "/version", "application/json");
	EXPECT_INT(r.code, 200);
	EXPECT_STR(r.handler, "version");
	free(r.body);
	/* health answers text whatever the client accepts */
	r = answer("HEAD", "/livez", "application/vnd.kubernetes.protobuf");
	EXPECT_INT(r.code, 200);
	EXPECT_STR(r.handler, "health");
	EXPECT_STR(r.content_type, "text/plain; charset=utf-8");
	free(r.body);
	r = answer("GET", "/apis", "application/vnd.kubernetes.protobuf");
	EXPECT_INT(r.code, 406);
	EXPECT_STR(r.handler, "discovery");
	free(r.body);
	r = answer("POST", "/version", NULL);
	EXPECT_INT(r.code, 405);
	EXPECT_STR(r.handler, "version");
	free(r.body);
	r = answer("GET", "/openapi/v2", NULL);
	EXPECT_INT(r.code, 404);
	EXPECT_STR(r.handler, "openapi");
	EXPECT(r.body && strstr(r.body, "the server could not find the requested resource"));
	free(r.body);
	r = answer("GET", "/nope", NULL);
	EXPECT_INT(r.code, 404);
	EXPECT_STR(r.handler, "other");
	free(r.body);
}
