/* authz.c - authorization attributes of a request, static rules, and Kubernetes' 401/403 Status bodies. */
#include "auth.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apiservice/api.h"
#include "apiservice/status.h"
#include "adapter/util/strbuf.h"
#include "adapter/util/goquote.h"

#define GROUP "external.metrics.k8s.io"

int em_authz_attrs_from(const char *method, const char *path, struct em_authz_attrs *a)
{
	struct em_route_params params;
	size_t i;

	memset(a, 0, sizeof(*a));
	a->path = path;
	/* Who may call it is the route table's (apiservice/routes.c) to say. */
	a->kind = em_route_find(path, &params)->access;
	if (a->kind == EM_PATH_METRIC) {
		a->resource = true;
		a->ns = strndup(params.v[0], params.len[0]);
		a->metric = strndup(params.v[1], params.len[1]);
	}
	/* RequestInfo: a collection (no object name) read is "list"; other
	 * methods map to their verbs; non-resource verbs are the method. */
	if (a->resource) {
		const char *v = "list";
		if (strcmp(method, "POST") == 0)
			v = "create";
		else if (strcmp(method, "PUT") == 0)
			v = "update";
		else if (strcmp(method, "PATCH") == 0)
			v = "patch";
		else if (strcmp(method, "DELETE") == 0)
			v = "deletecollection";
		snprintf(a->verb, sizeof(a->verb), "%s", v);
	} else {
		for (i = 0; method[i] && i + 1 < sizeof(a->verb); i++)
			a->verb[i] = (char)tolower((unsigned char)method[i]);
		a->verb[i] = '\0';
	}
	if (a->kind == EM_PATH_METRIC && (!a->ns || !a->metric))
		return -1;
	return 0;
}

void em_authz_attrs_free(struct em_authz_attrs *a)
{
	if (!a)
		return;
	free(a->ns);
	free(a->metric);
	a->ns = a->metric = NULL;
}

/* ---- Status bodies ------------------------------------------------------------ */

char *em_unauthorized_json(void)
{
	struct em_err err;

	/* apierrors.NewUnauthorized("Unauthorized") from the authentication filter. */
	em_err_set(&err, EM_E_UNAUTHORIZED, "Unauthorized");
	return em_status_json(&err);
}

/* responsewriters.Forbidden: forbiddenMessage(attrs) [": " reason], wrapped
 * by apierrors.NewForbidden(GroupResource{group, resource}, name "", ...). */
char *em_forbidden_json(const char *user, const struct em_authz_attrs *a, const char *reason)
{
	struct em_strbuf msg, sb;

	em_sb_init(&msg);
	em_sb_init(&sb);
	if (a->resource) {
		em_sb_printf(&msg, "%s.%s is forbidden: User ", a->metric, GROUP);
		em_go_quote(&msg, user ? user : "");
		em_sb_printf(&msg, " cannot %s resource ", a->verb);
		em_go_quote(&msg, a->metric);
		em_sb_puts(&msg, " in API group ");
		em_go_quote(&msg, GROUP);
		em_sb_puts(&msg, " in the namespace ");
		em_go_quote(&msg, a->ns);
	} else {
		em_sb_puts(&msg, "forbidden: User ");
		em_go_quote(&msg, user ? user : "");
		em_sb_printf(&msg, " cannot %s path ", a->verb);
		em_go_quote(&msg, a->path);
	}
	if (reason && *reason)
		em_sb_printf(&msg, ": %s", reason);
	em_sb_puts(&sb, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":");
	em_sb_json_str(&sb, msg.buf ? msg.buf : "");
	em_sb_printf(&sb, ",\"reason\":\"%s\",\"details\":{", em_status_reason(EM_E_FORBIDDEN));
	/* StatusDetails fields are omitempty: a non-resource request has {}. */
	if (a->resource) {
		em_sb_puts(&sb, "\"group\":\"" GROUP "\",\"kind\":");
		em_sb_json_str(&sb, a->metric);
	}
	em_sb_printf(&sb, "},\"code\":%d}\n", em_status_code(EM_E_FORBIDDEN));
	em_sb_free(&msg);
	return em_sb_steal(&sb);
}

/* ---- static rules -------------------------------------------------------------- */

static bool list_match(const struct em_strlist *l, const char *v)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], "*") == 0 || (v && strcmp(l->v[i], v) == 0))
			return true;
	return false;
}

static bool rule_subject(const struct em_authz_rule *r, const struct em_user *u)
{
	if (em_strlist_has(&r->users, u->name))
		return true;
	for (size_t i = 0; i < u->n_groups; i++)
		if (em_strlist_has(&r->groups, u->groups[i]))
			return true;
	return false;
}

bool em_authz_static_allows(const struct em_authz_rule *rules, size_t n, const struct em_user *u,
			    const struct em_authz_attrs *a)
{
	for (size_t i = 0; i < n; i++) {
		const struct em_authz_rule *r = &rules[i];
		if (!rule_subject(r, u))
			continue;
		if (a->resource && list_match(&r->namespaces, a->ns) && list_match(&r->metrics, a->metric))
			return true;
		if (!a->resource && list_match(&r->namespaces, NULL) && list_match(&r->metrics, NULL))
			return true;
	}
	return false;
}
