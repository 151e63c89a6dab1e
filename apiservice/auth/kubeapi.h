/* kubeapi.h - the Kubernetes objects auth exchanges: TokenReview, SubjectAccessReview, the authentication ConfigMap. */
#ifndef EM_KUBEAPI_H
#define EM_KUBEAPI_H

#include <stdbool.h>

#include "auth.h"

#define EM_TOKENREVIEW_PATH "/apis/authentication.k8s.io/v1/tokenreviews"
#define EM_SAR_PATH "/apis/authorization.k8s.io/v1/subjectaccessreviews"
#define EM_AUTHCM_PATH "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication"

/* {"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":T}}; malloc'd. */
char *em_tokenreview_request(const char *token);
/* Reads status.authenticated, status.user and status.error. On success
 * returns 0 with *authenticated; u is filled when authenticated (username
 * required); *error_text (malloc'd or NULL) is status.error. -1 with err
 * when body is not a TokenReview. */
int em_tokenreview_parse(const char *body, bool *authenticated, struct em_user *u, char **error_text,
			 struct em_err *err);

/* A SubjectAccessReview for u asking a (resourceAttributes namespace, verb,
 * group external.metrics.k8s.io, version v1beta1, resource = metric; or
 * nonResourceAttributes path, verb), with user, groups, extra and uid. */
char *em_sar_request(const struct em_user *u, const struct em_authz_attrs *a);

enum em_sar_decision { EM_SAR_ALLOW = 1, EM_SAR_DENY = 2, EM_SAR_NO_OPINION = 3 };

/* status.allowed -> ALLOW, status.denied -> DENY, neither -> NO_OPINION;
 * *reason = status.reason (malloc'd, "" when absent). -1 with err when body
 * is not a SubjectAccessReview. */
int em_sar_parse(const char *body, enum em_sar_decision *d, char **reason, struct em_err *err);

/* A user as TokenReview's status.user JSON (username, uid, groups, extra),
 * and back: the form cached for a token. */
char *em_user_to_json(const struct em_user *u);
int em_user_from_json(const char *text, struct em_user *u);

/* kube-system/extension-apiserver-authentication's data. Absent keys stay
 * NULL / unset; JSON list values are parsed. */
struct em_authcm {
	char *client_ca;    /* client-ca-file */
	char *rh_ca;        /* requestheader-client-ca-file */
	struct em_rh_lists rh;   /* requestheader-allowed-names ... (em_rh_fields' cm_key) */
};

int em_authcm_parse(const char *body, struct em_authcm *out, struct em_err *err);
void em_authcm_free(struct em_authcm *c);   /* NULL-safe */

#endif
