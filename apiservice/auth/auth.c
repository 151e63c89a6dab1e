/* auth.c - the authenticator chain (front proxy, client certificate, TokenReview) and the authorizer. */
#include "auth.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "authcache.h"
#include "kubeapi.h"
#include "kubeclient.h"
#include "adapter/log.h"
#include "adapter/selfmetrics.h"
#include "apiservice/status.h"
#include "adapter/util/strbuf.h"
#include "adapter/util/clock.h"
#include "adapter/util/files.h"
#include "adapter/util/secret.h"
#include "adapter/util/text.h"

#define CACHE_CAPACITY 4096
#define FILE_CHECK_MS 5000
#define CM_RETRY_MS 10000
#define MAX_CA_FILE (4 << 20)
#define FAILED_CHAIN_RECHECK_S 10

/* First value of header name (case-insensitive), or NULL. */
static const char *first_value(const struct em_header *h, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(h[i].name, name) == 0)
			return h[i].value ? h[i].value : "";
	return NULL;
}

/* ======================== the chain's state ======================== */

/* What certificate authentication uses right now; replaced as a whole when
 * the CA files or the cluster's ConfigMap change, shared by reference. */
struct state {
	atomic_int refs;
	uint64_t gen;
	struct em_x509_pool *client_pool;    /* NULL: no client certificates */
	struct em_x509_pool *rh_pool;        /* NULL: no front proxy */
	char *ca_pem;                        /* both, for the TLS CertificateRequest */
	struct em_rh_lists rh;                /* the front proxy's lists in effect */
};

struct em_auth {
	struct em_auth_conf conf;            /* a private copy of what is used */
	struct em_kube *kube;                /* NULL when nothing needs the API */
	struct em_authcache *tokens, *sars;
	int64_t (*now_ms)(void);
	pthread_mutex_t mu;                  /* guards st, cm, file signatures, complain */
	struct state *st;
	struct em_authcm cm;                 /* the ConfigMap's data, when loaded */
	bool cm_loaded;
	char client_sig[128], rh_sig[128];
	struct em_complain cm_complain, file_complain;
	atomic_uint_fast64_t gen;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t stop_mu;
	pthread_cond_t stop_cv;
	bool stop;
};

static void state_unref(struct state *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	em_x509_pool_unref(s->client_pool);
	em_x509_pool_unref(s->rh_pool);
	free(s->ca_pem);
	em_rh_lists_free(&s->rh);
	free(s);
}

static struct state *state_get(struct em_auth *a)
{
	struct state *s;

	pthread_mutex_lock(&a->mu);
	s = a->st;
	if (s)
		atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&a->mu);
	return s;
}

static int strlist_of(struct em_strlist *dst, const char *one)
{
	memset(dst, 0, sizeof(*dst));
	dst->set = true;
	return one ? em_strv_push(&dst->v, &dst->n, one) : 0;
}

/* Config over ConfigMap over default. */
static int pick_list(struct em_strlist *dst, const struct em_strlist *conf, const struct em_strlist *cm,
		     const char *def)
{
	if (conf->set)
		return em_strlist_copy(dst, conf);
	if (cm && cm->set)
		return em_strlist_copy(dst, cm);
	return strlist_of(dst, def);
}

static char *read_file(const char *path, char *sig, size_t sigcap, struct em_err *err)
{
	char why[EM_ERR_MSG_MAX - 16];
	char *text;

	/* The signature first: a file replaced while being read is read again. */
	if (sig)
		em_file_sig(path, sig, sigcap);
	text = em_read_file(path, MAX_CA_FILE, 0, NULL, why, sizeof(why));
	if (!text)
		em_err_set(err, EM_E_CONFIG, "%s", why);
	return text;
}

/* Builds the state from the CA files (read now) and cm (may be NULL). */
static struct state *state_build(struct em_auth *a, const struct em_authcm *cm, char *client_sig, char *rh_sig,
				 struct em_err *err)
{
	const struct em_auth_conf *c = &a->conf;
	struct state *s = calloc(1, sizeof(*s));
	char *client_pem = NULL, *rh_pem = NULL;
	const char *cpem, *rpem;
	struct em_strbuf all;

	em_sb_init(&all);
	if (!s) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		return NULL;
	}
	atomic_init(&s->refs, 1);
	if (c->client_ca_file && !(client_pem = read_file(c->client_ca_file, client_sig, 128, err)))
		goto out;
	if (c->mode == EM_AUTH_DELEGATED && c->rh_ca_file &&
	    !(rh_pem = read_file(c->rh_ca_file, rh_sig, 128, err)))
		goto out;
	cpem = client_pem ? client_pem : (cm && cm->client_ca && *cm->client_ca ? cm->client_ca : NULL);
	rpem = rh_pem ? rh_pem : (cm && cm->rh_ca && *cm->rh_ca ? cm->rh_ca : NULL);
	if (c->mode != EM_AUTH_DELEGATED)
		rpem = NULL;
	if (cpem && !(s->client_pool = em_x509_pool_new(cpem, strlen(cpem), err))) {
		em_err_prefix(err, "client CA (%s)", client_pem ? c->client_ca_file : "ConfigMap client-ca-file");
		goto out;
	}
	if (rpem && !(s->rh_pool = em_x509_pool_new(rpem, strlen(rpem), err))) {
		em_err_prefix(err, "requestheader CA (%s)",
			      rh_pem ? c->rh_ca_file : "ConfigMap requestheader-client-ca-file");
		goto out;
	}
	if (cpem) {
		em_sb_puts(&all, cpem);
		em_sb_puts(&all, "\n");
	}
	if (rpem)
		em_sb_puts(&all, rpem);
	s->ca_pem = all.len ? em_sb_steal(&all) : NULL;
	for (size_t i = 0; i < EM_RH_NLISTS; i++) {
		if (pick_list(em_rh_list(&s->rh, i), em_rh_list_c(&c->rh, i), cm ? em_rh_list_c(&cm->rh, i) : NULL,
			      em_rh_fields[i].def) != 0) {
			em_err_set(err, EM_E_INTERNAL, "out of memory");
			goto out;
		}
	}
	s->gen = atomic_fetch_add(&a->gen, 1) + 1;
	free(client_pem);
	free(rh_pem);
	return s;
out:
	em_sb_free(&all);
	free(client_pem);
	free(rh_pem);
	state_unref(s);
	return NULL;
}

static void state_swap(struct em_auth *a, struct state *s)
{
	struct state *old;

	pthread_mutex_lock(&a->mu);
	old = a->st;
	a->st = s;
	pthread_mutex_unlock(&a->mu);
	state_unref(old);
}

/* Fetches and parses the ConfigMap into *cm. */
static int fetch_cm(struct em_auth *a, struct em_authcm *cm, struct em_err *err)
{
	char *body = NULL;
	int rc;

	if (em_kube_call(a->kube, EM_AUTHCM_PATH, NULL, &body, err) != 0)
		return -1;
	rc = em_authcm_parse(body, cm, err);
	free(body);
	return rc;
}

static void keep_cm(struct em_auth *a, struct em_authcm *cm)
{
	pthread_mutex_lock(&a->mu);
	em_authcm_free(&a->cm);
	a->cm = *cm;
	a->cm_loaded = true;
	pthread_mutex_unlock(&a->mu);
}

/* Rebuilds the state from the files and the last ConfigMap. */
static int rebuild(struct em_auth *a, struct em_err *err)
{
	char csig[128] = "", rsig[128] = "";
	struct state *s;

	/* a->cm is written only by the maintenance thread (and em_auth_new
	 * before starting it), which is also the only caller here. */
	s = state_build(a, a->cm_loaded ? &a->cm : NULL, csig, rsig, err);
	if (!s)
		return -1;
	pthread_mutex_lock(&a->mu);
	snprintf(a->client_sig, sizeof(a->client_sig), "%s", csig);
	snprintf(a->rh_sig, sizeof(a->rh_sig), "%s", rsig);
	pthread_mutex_unlock(&a->mu);
	state_swap(a, s);
	return 0;
}

static bool authcm_equal(const struct em_authcm *x, const struct em_authcm *y)
{
	if (!x->client_ca != !y->client_ca || (x->client_ca && strcmp(x->client_ca, y->client_ca) != 0))
		return false;
	if (!x->rh_ca != !y->rh_ca || (x->rh_ca && strcmp(x->rh_ca, y->rh_ca) != 0))
		return false;
	for (size_t i = 0; i < EM_RH_NLISTS; i++)
		if (!em_strlist_equal(em_rh_list_c(&x->rh, i), em_rh_list_c(&y->rh, i)))
			return false;
	return true;
}

static void *maintain(void *arg)
{
	struct em_auth *a = arg;
	int64_t next_cm = a->conf.from_cluster ? em_mono_ms() + (a->cm_loaded ? a->conf.from_cluster_refresh_ms : CM_RETRY_MS)
					       : INT64_MAX;
	int64_t next_files = em_mono_ms() + FILE_CHECK_MS;

	for (;;) {
		int64_t now;
		bool changed = false;
		struct em_err err = {0};

		pthread_mutex_lock(&a->stop_mu);
		if (!a->stop)
			em_cond_wait_until(&a->stop_cv, &a->stop_mu, em_mono_ms() + 1000);
		if (a->stop) {
			pthread_mutex_unlock(&a->stop_mu);
			break;
		}
		pthread_mutex_unlock(&a->stop_mu);
		now = em_mono_ms();
		if (now >= next_cm) {
			struct em_authcm cm;
			if (fetch_cm(a, &cm, &err) == 0) {
				/* Only this thread writes a->cm: reading it unlocked is safe. */
				if (!a->cm_loaded || !authcm_equal(&a->cm, &cm)) {
					keep_cm(a, &cm);
					changed = true;
				} else {
					em_authcm_free(&cm);
				}
				em_complain_release(&a->cm_complain,
						    "kube-system/extension-apiserver-authentication: read again");
				next_cm = now + a->conf.from_cluster_refresh_ms;
			} else {
				/* Keep serving with what was last read. */
				em_complain(&a->cm_complain, now, EM_LOG_ERROR,
					    "cannot read kube-system/extension-apiserver-authentication: %s", err.msg);
				next_cm = now + CM_RETRY_MS;
			}
		}
		if (now >= next_files) {
			char cs[128], rs[128];
			em_file_sig(a->conf.client_ca_file, cs, sizeof(cs));
			em_file_sig(a->conf.mode == EM_AUTH_DELEGATED ? a->conf.rh_ca_file : NULL, rs, sizeof(rs));
			pthread_mutex_lock(&a->mu);
			if ((a->conf.client_ca_file && strcmp(cs, a->client_sig) != 0) ||
			    (a->conf.rh_ca_file && a->conf.mode == EM_AUTH_DELEGATED && strcmp(rs, a->rh_sig) != 0))
				changed = true;
			pthread_mutex_unlock(&a->mu);
			next_files = now + FILE_CHECK_MS;
		}
		if (changed) {
			if (rebuild(a, &err) == 0) {
				em_info("auth: client CAs and front-proxy settings reloaded");
				em_complain_release(&a->file_complain, "auth: CA files readable again");
			} else {
				em_complain(&a->file_complain, now, EM_LOG_ERROR,
					    "auth: keeping the previous CAs: %s", err.msg);
			}
		}
	}
	return NULL;
}

/* ======================== construction ======================== */

static int copy_conf(struct em_auth_conf *d, const struct em_auth_conf *s)
{
	char **ds[] = {&d->client_ca_file, &d->rh_ca_file, &d->kube_url, &d->kube_ca_file, &d->kube_token_file};
	char *const ss[] = {s->client_ca_file, s->rh_ca_file, s->kube_url, s->kube_ca_file, s->kube_token_file};

	*d = *s;
	for (size_t i = 0; i < 5; i++)
		*ds[i] = NULL;
	memset(&d->rh, 0, sizeof(d->rh));
	d->rules = NULL;
	d->n_rules = 0;
	for (size_t i = 0; i < 5; i++)
		if (ss[i] && !(*ds[i] = strdup(ss[i])))
			return -1;
	for (size_t i = 0; i < EM_RH_NLISTS; i++)
		if (em_rh_list_c(&s->rh, i)->set && em_strlist_copy(em_rh_list(&d->rh, i), em_rh_list_c(&s->rh, i)) != 0)
			return -1;
	if (s->n_rules) {
		d->rules = calloc(s->n_rules, sizeof(*d->rules));
		if (!d->rules)
			return -1;
		d->n_rules = s->n_rules;
		for (size_t i = 0; i < s->n_rules; i++)
			if (em_strlist_copy(&d->rules[i].users, &s->rules[i].users) != 0 ||
			    em_strlist_copy(&d->rules[i].groups, &s->rules[i].groups) != 0 ||
			    em_strlist_copy(&d->rules[i].namespaces, &s->rules[i].namespaces) != 0 ||
			    em_strlist_copy(&d->rules[i].metrics, &s->rules[i].metrics) != 0)
				return -1;
	}
	return 0;
}

struct em_auth *em_auth_new(const struct em_auth_conf *conf, struct em_err *err)
{
	struct em_auth *a;
	bool need_kube;

	if (!conf || conf->mode == EM_AUTH_NONE || conf->mode == EM_AUTH_UNSET)
		return NULL;
	a = calloc(1, sizeof(*a));
	if (!a) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&a->mu, NULL);
	pthread_mutex_init(&a->stop_mu, NULL);
	em_cond_init(&a->stop_cv);
	a->now_ms = em_mono_ms;
	if (copy_conf(&a->conf, conf) != 0) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		goto out;
	}
	if (a->conf.mode != EM_AUTH_DELEGATED) {
		a->conf.from_cluster = false;
		a->conf.token_review = false;
	}
	a->tokens = em_authcache_new(CACHE_CAPACITY);
	a->sars = em_authcache_new(CACHE_CAPACITY);
	if (!a->tokens || !a->sars) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		goto out;
	}
	need_kube = a->conf.from_cluster || a->conf.token_review || a->conf.authz_mode == EM_AUTHZ_SAR;
	if (need_kube) {
		a->kube = em_kube_new(a->conf.kube_url, a->conf.kube_ca_file, a->conf.kube_token_file,
				      a->conf.kube_timeout_ms, err);
		if (!a->kube)
			goto out;
	}
	if (a->conf.from_cluster) {
		struct em_err cmerr = {0};
		struct em_authcm cm;
		if (fetch_cm(a, &cm, &cmerr) == 0)
			keep_cm(a, &cm);
		else
			em_complain(&a->cm_complain, em_mono_ms(), EM_LOG_ERROR,
				    "cannot read kube-system/extension-apiserver-authentication (retrying every %d s; "
				    "certificate authentication from it is off until then): %s",
				    CM_RETRY_MS / 1000, cmerr.msg);
	}
	if (rebuild(a, err) != 0)
		goto out;
	if (a->conf.from_cluster || a->conf.client_ca_file || a->conf.rh_ca_file) {
		if (pthread_create(&a->thread, NULL, maintain, a) != 0) {
			em_err_set(err, EM_E_INTERNAL, "cannot start the auth maintenance thread");
			goto out;
		}
		a->thread_started = true;
	}
	em_info("auth: mode %s; authorization %s%s%s", a->conf.mode == EM_AUTH_DELEGATED ? "delegated" : "clientCert",
		a->conf.authz_mode == EM_AUTHZ_SAR ? "subjectAccessReview"
		: a->conf.authz_mode == EM_AUTHZ_STATIC ? "static"
							: "allowAuthenticated",
		a->kube ? "; Kubernetes API " : "", a->kube ? em_kube_url(a->kube) : "");
	return a;
out:
	em_auth_free(a);
	return NULL;
}

void em_auth_free(struct em_auth *a)
{
	if (!a)
		return;
	if (a->thread_started) {
		pthread_mutex_lock(&a->stop_mu);
		a->stop = true;
		pthread_cond_signal(&a->stop_cv);
		pthread_mutex_unlock(&a->stop_mu);
		pthread_join(a->thread, NULL);
	}
	state_unref(a->st);
	em_authcm_free(&a->cm);
	em_kube_free(a->kube);
	em_authcache_free(a->tokens);
	em_authcache_free(a->sars);
	em_auth_conf_free(&a->conf);
	pthread_cond_destroy(&a->stop_cv);
	pthread_mutex_destroy(&a->stop_mu);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

void em_auth_set_clock(struct em_auth *a, int64_t (*now_ms)(void))
{
	if (a)
		a->now_ms = now_ms ? now_ms : em_mono_ms;
}

bool em_auth_wants_client_certs(const struct em_auth *a)
{
	return a && (a->conf.client_ca_file || a->conf.from_cluster ||
		     (a->conf.mode == EM_AUTH_DELEGATED && a->conf.rh_ca_file));
}

uint64_t em_auth_ca_generation(struct em_auth *a)
{
	return a ? atomic_load(&a->gen) : 0;
}

char *em_auth_ca_pem(struct em_auth *a, uint64_t *gen)
{
	struct state *s = a ? state_get(a) : NULL;
	char *pem = NULL;

	*gen = 0;
	if (!s)
		return NULL;
	*gen = s->gen;
	if (s->ca_pem)
		pem = strdup(s->ca_pem);
	state_unref(s);
	return pem;
}

/* ======================== one request ======================== */

/* ---- verdicts kept per connection ---- */

static struct em_sm_family fam_chains =
	EM_SM_FAMILY(EM_SM_COUNTER, "extmetrics_authn_chain_verifications_total",
		     "Client certificate chains verified, by CA (once per connection and CA state, not per request).");

enum { POOL_RH, POOL_CLIENT, NPOOLS };

struct verdict {
	uint64_t gen;                  /* the CA state it was made under; 0: none */
	int rc;                        /* em_x509_verify's */
	int64_t until_s;               /* kept until then (success: the chain's earliest notAfter) */
	struct em_x509_subject subj;   /* success */
	char *why;                     /* failure: the message (for debug logs) */
};

struct em_auth_conn {
	unsigned char *chain;          /* the DER certificates the verdicts are about, back to back */
	size_t chain_len;
	struct verdict v[NPOOLS];
};

struct em_auth_conn *em_auth_conn_new(void)
{
	return calloc(1, sizeof(struct em_auth_conn));
}

static void verdict_clear(struct verdict *v)
{
	em_x509_subject_free(&v->subj);
	free(v->why);
	memset(v, 0, sizeof(*v));
}

void em_auth_conn_free(struct em_auth_conn *c)
{
	if (!c)
		return;
	for (int i = 0; i < NPOOLS; i++)
		verdict_clear(&c->v[i]);
	free(c->chain);
	free(c);
}

static int subject_copy(struct em_x509_subject *d, const struct em_x509_subject *s)
{
	memset(d, 0, sizeof(*d));
	if (!(d->cn = strdup(s->cn ? s->cn : "")))
		return -1;
	if (s->n_orgs && !(d->orgs = calloc(s->n_orgs, sizeof(*d->orgs))))
		goto out;
	for (; d->n_orgs < s->n_orgs; d->n_orgs++)
		if (!(d->orgs[d->n_orgs] = strdup(s->orgs[d->n_orgs])))
			goto out;
	return 0;
out:
	em_x509_subject_free(d);
	return -1;
}

/* Whether c's verdicts are about this chain; if not, forgets them and
 * remembers the chain (false when out of memory: nothing is kept). */
static bool conn_same_chain(struct em_auth_conn *c, const struct em_cert_der *chain, size_t n)
{
	size_t len = 0, off = 0;
	unsigned char *p;

	for (size_t i = 0; i < n; i++)
		len += chain[i].len;
	if (c->chain && len == c->chain_len) {
		bool same = true;
		for (size_t i = 0; same && i < n; off += chain[i].len, i++)
			same = memcmp(c->chain + off, chain[i].data, chain[i].len) == 0;
		if (same)
			return true;
	}
	for (int i = 0; i < NPOOLS; i++)
		verdict_clear(&c->v[i]);
	free(c->chain);
	c->chain = NULL;
	c->chain_len = 0;
	if (!(p = malloc(len ? len : 1)))
		return false;
	for (size_t i = 0, o = 0; i < n; o += chain[i].len, i++)
		memcpy(p + o, chain[i].data, chain[i].len);
	c->chain = p;
	c->chain_len = len;
	return true;
}

/* em_x509_verify of the request's chain against pool `which` of st, or the
 * connection's earlier answer for the same chain and CA state while the
 * chain is still valid. */
static int verify_chain(struct state *st, int which, const struct em_auth_request *r, struct em_x509_subject *subj,
			struct em_err *err)
{
	const struct em_x509_pool *pool = which == POOL_RH ? st->rh_pool : st->client_pool;
	struct em_auth_conn *c = r->conn;
	struct verdict *v = c ? &c->v[which] : NULL;
	int64_t now_s = em_now_ms() / 1000, until = 0;
	int rc;

	if (c && !conn_same_chain(c, r->chain, r->n_chain))
		v = NULL;
	if (v && v->gen == st->gen && now_s < v->until_s) {
		if (v->rc != 0)
			return em_err_set(err, EM_E_UNAUTHORIZED, "%s", v->why ? v->why : "x509: not verified");
		if (subject_copy(subj, &v->subj) == 0)
			return 0;
	}
	rc = em_x509_verify_until(pool, r->chain, r->n_chain, now_s, subj, &until, err);
	em_sm_add(em_sm_series(&fam_chains, which == POOL_RH ? "ca=\"requestheader\"" : "ca=\"client\""), 1);
	if (!v)
		return rc;
	verdict_clear(v);
	/* Out of memory and other internal trouble is not a verdict. */
	if (rc != 0 && err->kind != EM_E_UNAUTHORIZED)
		return rc;
	if ((rc == 0 && subject_copy(&v->subj, subj) != 0) || (rc != 0 && !(v->why = strdup(err->msg)))) {
		verdict_clear(v);
		return rc;
	}
	v->gen = st->gen;
	v->rc = rc;
	/* A refused chain is tried again now and then (a certificate not yet
	 * valid may become so), never on every request of the connection. */
	v->until_s = rc == 0 ? until : now_s + FAILED_CHAIN_RECHECK_S;
	return rc;
}

enum outcome { AUTHN_OK, AUTHN_NONE, AUTHN_ERROR };

static struct em_sm_family fam_authn =
	EM_SM_FAMILY(EM_SM_COUNTER, "extmetrics_authn_total",
		     "Authentication attempts by method (requestheader, x509, token, none) and result.");
static struct em_sm_family fam_authz =
	EM_SM_FAMILY(EM_SM_COUNTER, "extmetrics_authz_total", "Authorization decisions by result (allowed, denied, error).");

static void count_authn(const char *method, const char *result)
{
	char labels[96];

	snprintf(labels, sizeof(labels), "method=\"%s\",result=\"%s\"", method, result);
	em_sm_add(em_sm_series(&fam_authn, labels), 1);
}

static int token_review(struct em_auth *a, const char *token, struct em_user *u, bool *api_error)
{
	unsigned char key[EM_AUTHCACHE_KEYLEN];
	struct em_err err = {0};
	char *cached = NULL, *req, *resp = NULL, *etext = NULL;
	int flag = 0, rc = -1;
	bool ok = false;

	*api_error = false;
	em_authcache_key("tokenreview", token, key);
	if (em_authcache_get(a->tokens, key, a->now_ms(), &flag, &cached)) {
		rc = flag && cached && em_user_from_json(cached, u) == 0 ? 0 : -1;
		free(cached);
		return rc;
	}
	req = em_tokenreview_request(token);
	if (!req)
		return -1;
	if (em_kube_call(a->kube, EM_TOKENREVIEW_PATH, req, &resp, &err) != 0) {
		*api_error = true;
		goto out;
	}
	if (em_tokenreview_parse(resp, &ok, u, &etext, &err) != 0) {
		*api_error = true;
		em_warn("auth: %s", err.msg);
		goto out;
	}
	if (ok) {
		char *j = em_user_to_json(u);
		if (j)
			em_authcache_put(a->tokens, key, a->now_ms(), a->conf.cache_ttl_ms, 1, j);
		free(j);
		rc = 0;
	} else {
		em_debug("auth: TokenReview rejected a token%s%s", etext ? ": " : "", etext ? etext : "");
		em_authcache_put(a->tokens, key, a->now_ms(), a->conf.cache_ttl_ms, 0, NULL);
	}
out:
	em_free_secret(req);   /* it holds the token */
	free(resp);
	free(etext);
	return rc;
}

static const char *header(const struct em_auth_request *r, const char *name)
{
	return first_value(r->headers, r->n_headers, name);
}

/* The chain of kube-apiserver's delegating authenticator: front proxy,
 * client certificate, bearer token. *method names what decided. */
static enum outcome authenticate(struct em_auth *a, struct state *st, const struct em_auth_request *r,
				 struct em_user *u, const char **method)
{
	struct em_x509_subject subj = {0};
	struct em_err err = {0};
	char *token;
	bool api_error = false;
	enum outcome out = AUTHN_NONE;

	*method = "none";
	if (r->n_chain && st->rh_pool) {
		*method = "x509";
		if (verify_chain(st, POOL_RH, r, &subj, &err) != 0) {
			em_debug("auth: front proxy: %s", err.msg);
		} else if (st->rh.allowed_names.n && !em_strlist_has(&st->rh.allowed_names, subj.cn)) {
			em_debug("auth: front proxy: x509: subject with cn=%s is not in the allowed list", subj.cn);
		} else {
			int rc = em_reqheader_user(&st->rh, r->headers, r->n_headers, u);
			em_x509_subject_free(&subj);
			if (rc < 0)
				return AUTHN_ERROR;
			if (rc == 1) {
				*method = "requestheader";
				return AUTHN_OK;
			}
		}
		em_x509_subject_free(&subj);
	}
	if (r->n_chain && st->client_pool) {
		*method = "x509";
		if (verify_chain(st, POOL_CLIENT, r, &subj, &err) != 0) {
			em_debug("auth: client certificate: %s", err.msg);
		} else if (*subj.cn) {
			int rc = em_user_set_name(u, subj.cn);
			for (size_t i = 0; rc == 0 && i < subj.n_orgs; i++)
				rc = em_user_add_group(u, subj.orgs[i]);
			em_x509_subject_free(&subj);
			if (rc != 0) {
				em_user_free(u);
				return AUTHN_ERROR;
			}
			return AUTHN_OK;
		}
		em_x509_subject_free(&subj);
	}
	token = a->conf.token_review ? em_bearer_token(header(r, "Authorization")) : NULL;
	if (token) {
		*method = "token";
		if (token_review(a, token, u, &api_error) == 0)
			out = AUTHN_OK;
		else if (api_error)
			out = AUTHN_ERROR;
		em_free_secret(token);
	}
	return out;
}

enum decision { ALLOW, DENY, DENY_ERROR };

static enum decision sar(struct em_auth *a, const struct em_user *u, const struct em_authz_attrs *at, char **reason)
{
	unsigned char key[EM_AUTHCACHE_KEYLEN];
	struct em_err err = {0};
	enum em_sar_decision d;
	char *req = em_sar_request(u, at), *resp = NULL, *cached = NULL;
	int flag = 0;
	enum decision out = DENY_ERROR;

	*reason = NULL;
	if (!req)
		return DENY_ERROR;
	em_authcache_key("sar", req, key);
	if (em_authcache_get(a->sars, key, a->now_ms(), &flag, &cached)) {
		*reason = cached;
		free(req);
		return flag == EM_SAR_ALLOW ? ALLOW : DENY;
	}
	if (em_kube_call(a->kube, EM_SAR_PATH, req, &resp, &err) != 0 || em_sar_parse(resp, &d, reason, &err) != 0) {
		em_debug("auth: SubjectAccessReview failed: %s", err.msg);
		free(*reason);
		*reason = strdup("the authorizer (SubjectAccessReview) could not be reached");
		goto out;
	}
	/* Allow and deny (no opinion included) are both cached, as the
	 * delegating authorizer does. */
	em_authcache_put(a->sars, key, a->now_ms(), a->conf.cache_ttl_ms, (int)d, *reason);
	out = d == EM_SAR_ALLOW ? ALLOW : DENY;
out:
	free(req);
	free(resp);
	return out;
}

static enum decision authorize(struct em_auth *a, const struct em_user *u, const struct em_authz_attrs *at,
			       char **reason)
{
	*reason = NULL;
	/* The aggregator's availability probes run as system:masters;
	 * system:discovery grants discovery to every authenticated user. */
	if (em_user_in_group(u, "system:masters") || at->kind == EM_PATH_DISCOVERY)
		return ALLOW;
	switch (a->conf.authz_mode) {
	case EM_AUTHZ_ALLOW_AUTHENTICATED:
		return ALLOW;
	case EM_AUTHZ_STATIC:
		return em_authz_static_allows(a->conf.rules, a->conf.n_rules, u, at) ? ALLOW : DENY;
	case EM_AUTHZ_SAR:
		return sar(a, u, at, reason);
	default:
		return DENY;
	}
}

void em_auth_check(struct em_auth *a, const struct em_auth_request *r, struct em_auth_result *res)
{
	struct em_authz_attrs at;
	struct em_user u = {0};
	struct state *st = NULL;
	const char *method;
	char *reason = NULL;
	enum outcome o;
	enum decision d;

	memset(res, 0, sizeof(*res));
	if (!a)
		return;
	if (em_authz_attrs_from(r->method, r->path, &at) != 0) {
		res->code = 500;
		goto out;
	}
	if (at.kind == EM_PATH_HEALTH)
		goto out;
	st = state_get(a);
	o = st ? authenticate(a, st, r, &u, &method) : AUTHN_ERROR;
	if (o != AUTHN_OK) {
		count_authn(st ? method : "none", o == AUTHN_ERROR ? "error" : "failure");
		res->code = 401;
		res->body = em_unauthorized_json();
		goto out;
	}
	count_authn(method, "success");
	if (em_user_add_group(&u, "system:authenticated") != 0 || !(res->user = strdup(u.name))) {
		res->code = 500;
		goto out;
	}
	d = authorize(a, &u, &at, &reason);
	em_sm_count_result(&fam_authz, d == ALLOW ? "allowed" : d == DENY ? "denied" : "error");
	if (d != ALLOW) {
		res->code = 403;
		res->body = em_forbidden_json(u.name, &at, reason);
	}
out:
	if (res->code && !res->body) {
		struct em_err err;
		em_err_set(&err, EM_E_INTERNAL, "out of memory");
		res->code = 500;
		res->body = em_status_json(&err);
	}
	free(reason);
	em_user_free(&u);
	state_unref(st);
	em_authz_attrs_free(&at);
}

void em_auth_result_free(struct em_auth_result *res)
{
	if (!res)
		return;
	free(res->body);
	free(res->user);
	memset(res, 0, sizeof(*res));
}
