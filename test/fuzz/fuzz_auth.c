/* fuzz_auth.c - libFuzzer target: identity headers, bearer tokens, request attributes, 403 bodies and Kubernetes review responses. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apiservice/auth/auth.h"
#include "apiservice/auth/kubeapi.h"
#include "fuzz.h"

static char *u_v[] = {"X-Remote-User", "Impersonate-User"};
static char *uid_v[] = {"X-Remote-Uid"};
static char *g_v[] = {"X-Remote-Group"};
static char *e_v[] = {"X-Remote-Extra-"};
static const struct em_rh_lists names = {.username_headers = {u_v, 2, true},
					 .uid_headers = {uid_v, 1, true},
					 .group_headers = {g_v, 1, true},
					 .extra_prefixes = {e_v, 1, true}};

/* Input: lines "Name: value"; the first line is also the request path and
 * the whole input a review response body. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *save = NULL, *line, *copy;
	struct em_header h[64];
	size_t n = 0;
	struct em_user u = {0};
	struct em_authz_attrs a;
	struct em_err err = {0};
	enum em_sar_decision d;
	struct em_authcm cm;
	char *reason = NULL, *etext = NULL, *tok, *body;
	bool ok;
	json_error_t je;
	json_t *j;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	copy = strdup(text);
	for (line = strtok_r(copy, "\n", &save); line && n < 64; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		h[n].name = line;
		h[n].value = colon[1] == ' ' ? colon + 2 : colon + 1;
		n++;
	}
	if (em_reqheader_user(&names, h, n, &u) == 1) {
		CHECK(u.name && *u.name);
		for (size_t i = 0; i < u.n_groups; i++)
			CHECK(*u.groups[i]);
		body = em_user_to_json(&u);
		if (body) {
			struct em_user back = {0};
			CHECK(em_user_from_json(body, &back) == 0);
			CHECK(strcmp(back.name, u.name) == 0 && back.n_groups == u.n_groups && back.n_extra == u.n_extra);
			em_user_free(&back);
		}
		free(body);
	}
	em_user_free(&u);
	tok = em_bearer_token(text);
	if (tok) {
		CHECK(*tok && !strchr(tok, ' '));
		free(tok);
	}
	if (em_authz_attrs_from(size && data[0] == 'P' ? "POST" : "GET", text, &a) == 0) {
		body = em_forbidden_json("fuzz", &a, n ? h[0].value : NULL);
		CHECK(body);
		/* whatever the path, the body is one JSON object with the fixed fields */
		j = json_loads(body, 0, &je);
		CHECK(j && json_integer_value(json_object_get(j, "code")) == 403);
		CHECK(strcmp(json_string_value(json_object_get(j, "reason")), "Forbidden") == 0);
		json_decref(j);
		free(body);
		em_authz_attrs_free(&a);
	}
	if (em_tokenreview_parse(text, &ok, &u, &etext, &err) == 0 && ok)
		CHECK(u.name && *u.name);
	em_user_free(&u);
	free(etext);
	if (em_sar_parse(text, &d, &reason, &err) == 0)
		CHECK(reason && (d == EM_SAR_ALLOW || d == EM_SAR_DENY || d == EM_SAR_NO_OPINION));
	free(reason);
	if (em_authcm_parse(text, &cm, &err) == 0)
		em_authcm_free(&cm);
	free(copy);
	free(text);
	return 0;
}
