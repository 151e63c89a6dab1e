/* kubeapi.c - the Kubernetes objects auth exchanges: TokenReview, SubjectAccessReview, the authentication ConfigMap. */
#include "kubeapi.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/util/json.h"
#include "adapter/util/text.h"

/* A review or ConfigMap answer has tens of values: a document with more is
 * refused before jansson builds a tree of it (tens of bytes per value). */
#define MAX_VALUES 20000

static json_t *load_bounded(const char *text, json_error_t *je)
{
	if (!text || em_json_check(text, strlen(text), MAX_VALUES, NULL, 0) != 0)
		return NULL;
	return json_loads(text, 0, je);
}

static char *dump(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return s;
}

char *em_tokenreview_request(const char *token)
{
	return dump(json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "authentication.k8s.io/v1", "kind", "TokenReview",
			      "spec", "token", token));
}

/* Every builder below checks each step: a string that is not valid UTF-8
 * (jansson refuses it) fails the whole object instead of silently dropping
 * a field, so a review is never asked about a partial user. */

static json_t *str_array(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		if (json_array_append_new(a, json_string(v[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static int put(json_t *obj, const char *key, json_t *v)
{
	return v ? json_object_set_new(obj, key, v) : -1;
}

/* Adds user, uid, groups and extra to obj under Kubernetes' field names
 * (name_key is "user" in a SAR spec, "username" in a TokenReview user). */
static int put_user(json_t *obj, const char *name_key, const struct em_user *u)
{
	json_t *extra = json_object();

	if (!extra)
		return -1;
	if (put(obj, name_key, json_string(u->name ? u->name : "")) != 0 ||
	    (u->uid && put(obj, "uid", json_string(u->uid)) != 0) ||
	    put(obj, "groups", str_array(u->groups, u->n_groups)) != 0) {
		json_decref(extra);
		return -1;
	}
	for (size_t i = 0; i < u->n_extra; i++) {
		if (put(extra, u->extra[i].key, str_array(u->extra[i].values, u->extra[i].n)) != 0) {
			json_decref(extra);
			return -1;
		}
	}
	return put(obj, "extra", extra);
}

char *em_sar_request(const struct em_user *u, const struct em_authz_attrs *a)
{
	json_t *root = json_object(), *spec = json_object(), *attrs = json_object();
	int rc = 0;

	if (!root || !spec || !attrs) {
		json_decref(root);
		json_decref(spec);
		json_decref(attrs);
		return NULL;
	}
	rc |= put(root, "apiVersion", json_string("authorization.k8s.io/v1"));
	rc |= put(root, "kind", json_string("SubjectAccessReview"));
	if (a->resource) {
		rc |= put(attrs, "namespace", json_string(a->ns));
		rc |= put(attrs, "verb", json_string(a->verb));
		rc |= put(attrs, "group", json_string("external.metrics.k8s.io"));
		rc |= put(attrs, "version", json_string("v1beta1"));
		rc |= put(attrs, "resource", json_string(a->metric));
		rc |= put(spec, "resourceAttributes", attrs);
	} else {
		rc |= put(attrs, "path", json_string(a->path));
		rc |= put(attrs, "verb", json_string(a->verb));
		rc |= put(spec, "nonResourceAttributes", attrs);
	}
	rc |= put_user(spec, "user", u);
	rc |= put(root, "spec", spec);
	if (rc != 0) {
		json_decref(root);
		return NULL;
	}
	return dump(root);
}

static int str_list_into(json_t *arr, char ***v, size_t *n)
{
	size_t i;
	json_t *it;

	if (!json_is_array(arr))
		return -1;
	json_array_foreach(arr, i, it) {
		if (!json_is_string(it) || em_strv_push(v, n, json_string_value(it)) != 0)
			return -1;
	}
	return 0;
}

/* {"username","uid","groups","extra"} into u. */
static int read_user(json_t *ju, struct em_user *u)
{
	json_t *name = json_object_get(ju, "username"), *uid = json_object_get(ju, "uid");
	json_t *groups = json_object_get(ju, "groups"), *extra = json_object_get(ju, "extra"), *vals;
	const char *k;

	if (!json_is_string(name) || !*json_string_value(name))
		return -1;
	if (em_user_set_name(u, json_string_value(name)) != 0)
		return -1;
	if (json_is_string(uid) && *json_string_value(uid) && em_user_set_uid(u, json_string_value(uid)) != 0)
		return -1;
	if (groups && !json_is_null(groups)) {
		size_t i;
		json_t *g;
		if (!json_is_array(groups))
			return -1;
		json_array_foreach(groups, i, g) {
			if (!json_is_string(g) || em_user_add_group(u, json_string_value(g)) != 0)
				return -1;
		}
	}
	if (extra && !json_is_null(extra)) {
		if (!json_is_object(extra))
			return -1;
		json_object_foreach(extra, k, vals) {
			size_t i;
			json_t *v;
			if (!json_is_array(vals))
				return -1;
			json_array_foreach(vals, i, v) {
				if (!json_is_string(v) || em_user_add_extra(u, k, json_string_value(v)) != 0)
					return -1;
			}
		}
	}
	return 0;
}

int em_tokenreview_parse(const char *body, bool *authenticated, struct em_user *u, char **error_text,
			 struct em_err *err)
{
	json_error_t je;
	json_t *root = load_bounded(body, &je), *status, *auth, *e;
	int rc = -1;

	*authenticated = false;
	*error_text = NULL;
	if (!root || !json_is_object(root)) {
		em_err_set(err, EM_E_UNAVAILABLE, "TokenReview response is not JSON");
		goto out;
	}
	status = json_object_get(root, "status");
	if (!json_is_string(json_object_get(root, "kind")) ||
	    strcmp(json_string_value(json_object_get(root, "kind")), "TokenReview") != 0 ||
	    (status && !json_is_object(status))) {
		em_err_set(err, EM_E_UNAVAILABLE, "TokenReview response is not a TokenReview");
		goto out;
	}
	auth = json_object_get(status, "authenticated");
	e = json_object_get(status, "error");
	if (json_is_string(e) && *json_string_value(e) && !(*error_text = strdup(json_string_value(e)))) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		goto out;
	}
	if (json_is_true(auth)) {
		if (read_user(json_object_get(status, "user"), u) != 0) {
			em_user_free(u);
			em_err_set(err, EM_E_UNAVAILABLE, "TokenReview says authenticated but its status.user is not valid");
			goto out;
		}
		*authenticated = true;
	}
	rc = 0;
out:
	if (rc != 0) {
		free(*error_text);
		*error_text = NULL;
	}
	json_decref(root);
	return rc;
}

int em_sar_parse(const char *body, enum em_sar_decision *d, char **reason, struct em_err *err)
{
	json_error_t je;
	json_t *root = load_bounded(body, &je), *status, *r;
	int rc = -1;

	*reason = NULL;
	if (!root || !json_is_object(root) || !json_is_string(json_object_get(root, "kind")) ||
	    strcmp(json_string_value(json_object_get(root, "kind")), "SubjectAccessReview") != 0) {
		em_err_set(err, EM_E_UNAVAILABLE, "SubjectAccessReview response is not a SubjectAccessReview");
		goto out;
	}
	status = json_object_get(root, "status");
	if (status && !json_is_object(status)) {
		em_err_set(err, EM_E_UNAVAILABLE, "SubjectAccessReview status is not an object");
		goto out;
	}
	/* allowed wins over denied, as the webhook authorizer checks it first. */
	if (json_is_true(json_object_get(status, "allowed")))
		*d = EM_SAR_ALLOW;
	else if (json_is_true(json_object_get(status, "denied")))
		*d = EM_SAR_DENY;
	else
		*d = EM_SAR_NO_OPINION;
	r = json_object_get(status, "reason");
	*reason = strdup(json_is_string(r) ? json_string_value(r) : "");
	if (!*reason) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		goto out;
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

char *em_user_to_json(const struct em_user *u)
{
	json_t *o = json_object();

	if (!o || put_user(o, "username", u) != 0) {
		json_decref(o);
		return NULL;
	}
	return dump(o);
}

int em_user_from_json(const char *text, struct em_user *u)
{
	json_error_t je;
	json_t *root = load_bounded(text, &je);
	int rc = root ? read_user(root, u) : -1;

	if (rc != 0)
		em_user_free(u);
	json_decref(root);
	return rc;
}

void em_authcm_free(struct em_authcm *c)
{
	if (!c)
		return;
	free(c->client_ca);
	free(c->rh_ca);
	em_rh_lists_free(&c->rh);
	memset(c, 0, sizeof(*c));
}

/* A data value holding a JSON list of strings, e.g. ["X-Remote-User"]. */
static int cm_list(json_t *data, const char *key, struct em_strlist *out, struct em_err *err)
{
	json_t *v = json_object_get(data, key), *arr;
	json_error_t je;
	int rc;

	if (!v)
		return 0;
	if (!json_is_string(v))
		return em_err_set(err, EM_E_UNAVAILABLE, "ConfigMap key %s is not a string", key);
	arr = load_bounded(json_string_value(v), &je);
	rc = str_list_into(arr, &out->v, &out->n);
	json_decref(arr);
	if (rc != 0)
		return em_err_set(err, EM_E_UNAVAILABLE, "ConfigMap key %s is not a JSON list of strings", key);
	out->set = true;
	return 0;
}

static int cm_str(json_t *data, const char *key, char **out, struct em_err *err)
{
	json_t *v = json_object_get(data, key);

	if (!v)
		return 0;
	if (!json_is_string(v))
		return em_err_set(err, EM_E_UNAVAILABLE, "ConfigMap key %s is not a string", key);
	if (!(*out = strdup(json_string_value(v))))
		return em_err_set(err, EM_E_INTERNAL, "out of memory");
	return 0;
}

int em_authcm_parse(const char *body, struct em_authcm *out, struct em_err *err)
{
	json_error_t je;
	json_t *root = load_bounded(body, &je), *data;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!root || !json_is_object(root) || !json_is_string(json_object_get(root, "kind")) ||
	    strcmp(json_string_value(json_object_get(root, "kind")), "ConfigMap") != 0) {
		em_err_set(err, EM_E_UNAVAILABLE, "extension-apiserver-authentication: not a ConfigMap");
		goto out;
	}
	data = json_object_get(root, "data");
	if (!json_is_object(data)) {
		em_err_set(err, EM_E_UNAVAILABLE, "extension-apiserver-authentication: no data");
		goto out;
	}
	if (cm_str(data, "client-ca-file", &out->client_ca, err) != 0 ||
	    cm_str(data, "requestheader-client-ca-file", &out->rh_ca, err) != 0)
		goto out;
	for (size_t i = 0; i < EM_RH_NLISTS; i++)
		if (cm_list(data, em_rh_fields[i].cm_key, em_rh_list(&out->rh, i), err) != 0)
			goto out;
	rc = 0;
out:
	if (rc != 0)
		em_authcm_free(out);
	json_decref(root);
	return rc;
}
