/* credentials.c - AWS identities: auth options, the provider chain, a shared cache with refresh. */
#include "scalers/scaler.h"
#include "credentials.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "aws_parse.h"

const char *const em_aws_pod_identity_choices[] = {"aws", "aws-eks", "none", NULL};

/* ------------------------------------------------------------------ */
/* Auth options */

static const char *nz(const char *s)
{
	return s && s[0] ? s : NULL;
}

static const char *cfg_akid(const struct em_aws_auth_cfg *a)
{
	return nz(a->access_key_id);
}

static const char *cfg_role(const struct em_aws_auth_cfg *a)
{
	return nz(a->role_arn);
}

/* Clears a field KEDA would not use, saying so. */
static void drop(struct em_optdiag *d, char **field, const char *key, const char *why)
{
	if (!nz(*field))
		return;
	em_opt_warn(d, key, "ignored: %s", why);
	em_free_secret(*field);
	*field = NULL;
}

static void drop_keys(struct em_optdiag *d, struct em_aws_auth_cfg *a, const char *why)
{
	drop(d, &a->access_key_id, "awsAccessKeyID", why);
	drop(d, &a->secret_access_key, "awsSecretAccessKey", why);
	drop(d, &a->session_token, "awsSessionToken", why);
}

int em_aws_auth_validate(struct em_aws_auth_cfg *a, struct em_optdiag *d)
{
	const char *pod = nz(a->pod_identity), *owner = nz(a->identity_owner);
	bool own_identity = false;   /* KEDA's identityOwner operator: its own identity, nothing else */
	int before = d->errors;

	if (pod && strcmp(pod, "none") != 0) {
		/* KEDA: with podIdentity aws the pod identity is used, and
		 * identityOwner and static keys are not looked at. */
		drop(d, &a->identity_owner, "identityOwner", "KEDA does not look at it with podIdentity aws");
		drop_keys(d, a, "KEDA uses the pod identity and never reads static keys with podIdentity aws");
	} else if (owner && strcmp(owner, "pod") != 0) {
		own_identity = true;
		if (strcmp(owner, "operator") != 0)
			em_opt_warn(d, "identityOwner",
				    "\"%.64s\" is neither pod nor operator: KEDA then uses its own identity, as with "
				    "operator; so does this server", owner);
		drop_keys(d, a, "with identityOwner operator KEDA uses its own identity and never reads static keys");
		drop(d, &a->role_arn, "roleArn", "with identityOwner operator KEDA uses its own identity and assumes no role");
	} else if (cfg_role(a)) {
		drop_keys(d, a, "KEDA assumes awsRoleArn with its own identity and never reads static keys beside a role");
	}
	if (!cfg_role(a))
		drop(d, &a->external_id, "externalID", "no role to assume (KEDA ignores it too)");

	if (cfg_akid(a) && !nz(a->secret_access_key))
		em_opt_error(d, "awsSecretAccessKey", "awsSecretAccessKey not found");
	else if (nz(a->secret_access_key) && !cfg_akid(a))
		em_opt_error(d, "awsAccessKeyID", "awsAccessKeyID not found");
	else if (pod && strcmp(pod, "none") == 0 && !cfg_akid(a) && !cfg_role(a) && !own_identity)
		em_opt_error(d, "awsAccessKeyID", "awsAccessKeyID not found");
	if (nz(a->session_token) && !cfg_akid(a))
		em_opt_error(d, "awsSessionToken", "needs awsAccessKeyID and awsSecretAccessKey");
	if (cfg_role(a) && strncmp(cfg_role(a), "arn:", 4) != 0)
		em_opt_error(d, "roleArn", "\"%.200s\" is not an ARN (arn:aws:iam::ACCOUNT:role/NAME)", cfg_role(a));
	return d->errors > before ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* Parsing credential documents */

int em_aws_parse_creds_json(const char *body, size_t len, struct em_aws_creds *out, struct em_err *err)
{
	/* read with the bounded reader: no tree holding copies of the secrets */
	static const char *const names[] = {"AccessKeyId", "SecretAccessKey", "Token", "Expiration", "Code", "Message"};
	char *v[6] = {NULL};
	char key[24], ex1[EM_EXCERPT_BUF], ex2[EM_EXCERPT_BUF];
	struct em_json j;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	em_json_init(&j, body, len);
	if (em_json_enter(&j, EM_JSON_OBJECT) != 0) {
		em_err_set(err, EM_E_UNAVAILABLE, "credentials answer is not a JSON object");
		goto out;
	}
	while (em_json_member(&j, key, sizeof(key)) == 1)
		for (size_t i = 0; i < 6; i++)
			if (strcmp(key, names[i]) == 0 && !v[i] && em_json_peek(&j) == EM_JSON_STRING)
				v[i] = em_json_string_dup(&j, 64 * 1024);
	if (em_json_end(&j) != 0) {
		em_json_error(&j, ex1, sizeof(ex1));
		em_err_set(err, EM_E_UNAVAILABLE, "credentials answer: %s", ex1);
		goto out;
	}
	if (v[4] && strcmp(v[4], "Success") != 0) {
		em_excerpt(ex1, sizeof(ex1), v[4], strlen(v[4]), 64);
		em_excerpt(ex2, sizeof(ex2), v[5] ? v[5] : "", v[5] ? strlen(v[5]) : 0, EM_EXCERPT_MAX);
		em_err_set(err, EM_E_UNAVAILABLE, "%s: %s", ex1, ex2);
		goto out;
	}
	if (!nz(v[0]) || !nz(v[1])) {
		em_err_set(err, EM_E_UNAVAILABLE, "credentials answer lacks AccessKeyId or SecretAccessKey");
		goto out;
	}
	if (v[3] && em_aws_parse_time(v[3], &out->expires_ms) != 0) {
		em_excerpt(ex1, sizeof(ex1), v[3], strlen(v[3]), 40);
		em_err_set(err, EM_E_UNAVAILABLE, "credentials answer has an unreadable Expiration \"%s\"", ex1);
		goto out;
	}
	out->access_key_id = v[0];
	out->secret_access_key = v[1];
	out->session_token = nz(v[2]) ? v[2] : NULL;
	v[0] = v[1] = NULL;
	if (out->session_token)
		v[2] = NULL;
	rc = 0;
out:
	if (rc)
		em_aws_creds_wipe(out);
	for (size_t i = 0; i < 6; i++)
		em_free_secret(v[i]);
	return rc;
}

int em_aws_parse_sts_creds(const char *xml, size_t len, struct em_aws_creds *out, struct em_err *err)
{
	char *block = em_aws_xml_dup(xml, len, "Credentials");
	char *exp = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!block) {
		em_err_set(err, EM_E_UNAVAILABLE, "STS answer has no Credentials");
		return -1;
	}
	out->access_key_id = em_aws_xml_dup(block, strlen(block), "AccessKeyId");
	out->secret_access_key = em_aws_xml_dup(block, strlen(block), "SecretAccessKey");
	out->session_token = em_aws_xml_dup(block, strlen(block), "SessionToken");
	exp = em_aws_xml_dup(block, strlen(block), "Expiration");
	if (!nz(out->access_key_id) || !nz(out->secret_access_key) || !nz(out->session_token)) {
		em_err_set(err, EM_E_UNAVAILABLE, "STS answer lacks AccessKeyId, SecretAccessKey or SessionToken");
		goto out;
	}
	if (!exp || em_aws_parse_time(exp, &out->expires_ms) != 0) {
		em_err_set(err, EM_E_UNAVAILABLE, "STS answer has no readable Expiration");
		goto out;
	}
	rc = 0;
out:
	if (rc)
		em_aws_creds_wipe(out);
	em_free_secret(block);
	free(exp);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Static keys (params or literal), the simplest provider */

struct static_prov {
	struct em_aws_provider p;
	struct em_aws_creds c;
};

static int static_fetch(struct em_aws_provider *p, int64_t timeout_ms, struct em_aws_creds *out, struct em_err *err)
{
	(void)timeout_ms;
	if (em_aws_creds_copy(out, &((struct static_prov *)p)->c) != 0)
		return em_err_set(err, EM_E_INTERNAL, "out of memory");
	return 0;
}

static void static_destroy(struct em_aws_provider *p)
{
	struct static_prov *s = (struct static_prov *)p;

	em_aws_creds_wipe(&s->c);
	free(s);
}

struct em_aws_provider *em_aws_provider_static(const char *akid, const char *secret, const char *token)
{
	struct static_prov *s = em_aws_provider_alloc(sizeof(*s), "static keys", static_fetch, static_destroy);
	struct em_aws_creds c = {.access_key_id = (char *)akid, .secret_access_key = (char *)secret,
				 .session_token = (char *)nz(token)};

	if (!s)
		return NULL;
	if (em_aws_creds_copy(&s->c, &c) != 0) {
		free(s);
		return NULL;
	}
	return &s->p;
}

void *em_aws_provider_alloc(size_t size, const char *name,
			    int (*fetch)(struct em_aws_provider *, int64_t, struct em_aws_creds *, struct em_err *),
			    void (*destroy)(struct em_aws_provider *))
{
	struct em_aws_provider *p = calloc(1, size);

	if (p) {
		p->name = name;
		p->fetch = fetch;
		p->destroy = destroy;
	}
	return p;
}

void em_aws_why(char *why, size_t cap, const char *text)
{
	if (why && cap)
		snprintf(why, cap, "%s", text);
}

void em_aws_provider_free(struct em_aws_provider *p)
{
	if (p)
		p->destroy(p);
}

/* ------------------------------------------------------------------ */
/* The chain */

struct em_aws_provider *em_aws_provider_chain(em_getenv_fn env, const char *sts_region, struct em_err *err)
{
	struct em_aws_provider *p;
	char skipped[EM_ERR_MSG_MAX], why[160];
	size_t n;

	if (!env)
		env = em_aws_getenv;
	if ((p = em_aws_provider_env(env, why, sizeof(why))) != NULL)
		return p;
	n = (size_t)snprintf(skipped, sizeof(skipped), "env: %s", why);
	if ((p = em_aws_provider_web_identity(env, sts_region, why, sizeof(why))) != NULL)
		return p;
	if (n < sizeof(skipped))
		n += (size_t)snprintf(skipped + n, sizeof(skipped) - n, "; web identity: %s", why);
	if ((p = em_aws_provider_http(env, why, sizeof(why))) != NULL)
		return p;
	if (n < sizeof(skipped))
		snprintf(skipped + n, sizeof(skipped) - n, "; pod identity: %s", why);
	if ((p = em_aws_provider_imds(env, skipped, why, sizeof(why))) != NULL)
		return p;
	em_err_set(err, EM_E_CONFIG, "no AWS credentials: %s; IMDS: %s", skipped, why);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Identities */

struct em_aws_identity {
	struct em_aws_identity *next;
	int refs;                    /* under reg_mu */
	char *key;
	struct em_aws_provider *prov;
	pthread_mutex_t mu;          /* creds and the fields below */
	pthread_mutex_t fetch_mu;    /* one provider fetch at a time */
	struct em_aws_creds creds;
	bool have;
	int64_t fetched_wall;
	int64_t forced_mono;         /* last forced refresh, 0 = never */
	int64_t next_bg_wall;        /* background refresh due; 0 = never */
	int bg_failures;
	uint64_t fetches;
	struct em_complain complain;
};

#define BG_MIN_GAP_MS 5000         /* at most one background refresh per 5 s */
#define BG_TIMEOUT_MS 10000
#define EXPIRY_MARGIN_MS 10000     /* credentials this close to expiry count as expired */

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reg_cv;               /* monotonic waits: made by em_aws_creds_global_init */
static struct em_aws_identity *reg;
static bool refresher_running;
static unsigned refresher_gen;
static pthread_t refresher;

void em_aws_creds_global_init(void)
{
	em_cond_init(&reg_cv);
}

bool em_aws_creds_global_cleanup(void)
{
	bool idle;

	pthread_mutex_lock(&reg_mu);
	idle = !reg && !refresher_running;
	pthread_mutex_unlock(&reg_mu);
	if (idle)
		pthread_cond_destroy(&reg_cv);
	return idle;
}

static void identity_destroy(struct em_aws_identity *id)
{
	em_aws_provider_free(id->prov);
	em_aws_creds_wipe(&id->creds);
	pthread_mutex_destroy(&id->mu);
	pthread_mutex_destroy(&id->fetch_mu);
	free(id->key);
	free(id);
}

/* Drops a reference with reg_mu held; returns the identity to destroy
 * (outside the lock: an assume-role provider closes its base identity). */
static struct em_aws_identity *unref_locked(struct em_aws_identity *id)
{
	if (--id->refs > 0)
		return NULL;
	for (struct em_aws_identity **pp = &reg; *pp; pp = &(*pp)->next) {
		if (*pp == id) {
			*pp = id->next;
			break;
		}
	}
	return id;
}

static int64_t next_refresh(const struct em_aws_creds *c, int64_t now_wall)
{
	int64_t t;

	if (c->expires_ms == 0)
		return 0;
	t = c->expires_ms - EM_AWS_REFRESH_AHEAD_MS;
	return t < now_wall + BG_MIN_GAP_MS ? now_wall + BG_MIN_GAP_MS : t;
}

static void *refresher_main(void *arg);

/* With reg_mu held. */
static void ensure_refresher_locked(void)
{
	if (refresher_running)
		return;
	if (pthread_create(&refresher, NULL, refresher_main, (void *)(uintptr_t)refresher_gen) == 0)
		refresher_running = true;
	else
		em_warn("aws: cannot start the credentials refresh thread; credentials are then refreshed on use");
}

/* Runs the provider with fetch_mu held; on success replaces the cached
 * credentials. Returns 0 or -1 with err. */
static int fetch_locked(struct em_aws_identity *id, int64_t timeout_ms, struct em_err *err)
{
	struct em_aws_creds fresh = {0};
	int64_t now;
	int rc;

	if (timeout_ms <= 0)
		return em_err_set(err, EM_E_UNAVAILABLE, "%s: no time left to fetch credentials", id->prov->name);
	rc = id->prov->fetch(id->prov, timeout_ms, &fresh, err);
	now = em_now_ms();
	pthread_mutex_lock(&id->mu);
	id->fetches++;
	if (rc == 0) {
		em_aws_creds_wipe(&id->creds);
		id->creds = fresh;
		id->have = true;
		id->fetched_wall = now;
		id->bg_failures = 0;
		id->next_bg_wall = next_refresh(&fresh, now);
	}
	pthread_mutex_unlock(&id->mu);
	if (rc == 0 && fresh.expires_ms) {
		pthread_mutex_lock(&reg_mu);
		ensure_refresher_locked();
		pthread_cond_broadcast(&reg_cv);
		pthread_mutex_unlock(&reg_mu);
	}
	return rc;
}

static bool usable(const struct em_aws_identity *id, int64_t now_wall)
{
	return id->have && (id->creds.expires_ms == 0 || id->creds.expires_ms - now_wall > EXPIRY_MARGIN_MS);
}

int em_aws_identity_creds(struct em_aws_identity *id, int64_t timeout_ms, struct em_aws_creds *out,
			  struct em_err *err)
{
	int rc = 0;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&id->mu);
	if (usable(id, em_now_ms())) {
		rc = em_aws_creds_copy(out, &id->creds);
		pthread_mutex_unlock(&id->mu);
		return rc ? em_err_set(err, EM_E_INTERNAL, "out of memory") : 0;
	}
	pthread_mutex_unlock(&id->mu);

	pthread_mutex_lock(&id->fetch_mu);
	pthread_mutex_lock(&id->mu);
	bool fresh = usable(id, em_now_ms()); /* another thread may have fetched meanwhile */
	pthread_mutex_unlock(&id->mu);
	if (!fresh)
		rc = fetch_locked(id, timeout_ms, err);
	pthread_mutex_unlock(&id->fetch_mu);

	pthread_mutex_lock(&id->mu);
	if (rc != 0 && id->have && (id->creds.expires_ms == 0 || id->creds.expires_ms > em_now_ms()))
		rc = 0; /* a failed early refresh: the old credentials still work */
	if (rc == 0 && em_aws_creds_copy(out, &id->creds) != 0)
		rc = em_err_set(err, EM_E_INTERNAL, "out of memory");
	pthread_mutex_unlock(&id->mu);
	return rc;
}

static bool same_creds(const struct em_aws_creds *a, const struct em_aws_creds *b)
{
	return a->access_key_id && b->access_key_id && strcmp(a->access_key_id, b->access_key_id) == 0 &&
	       a->secret_access_key && b->secret_access_key &&
	       strcmp(a->secret_access_key, b->secret_access_key) == 0 &&
	       !!a->session_token == !!b->session_token &&
	       (!a->session_token || strcmp(a->session_token, b->session_token) == 0);
}

int em_aws_identity_refresh_after_auth_error(struct em_aws_identity *id, const char *used_akid, int64_t timeout_ms)
{
	struct em_aws_creds before = {0};
	struct em_err err = {0};
	int64_t now = em_mono_ms();
	int retry = 0;

	pthread_mutex_lock(&id->fetch_mu);
	pthread_mutex_lock(&id->mu);
	if (id->have && used_akid && id->creds.access_key_id && strcmp(id->creds.access_key_id, used_akid) != 0) {
		/* refreshed by someone else since that request was signed */
		pthread_mutex_unlock(&id->mu);
		pthread_mutex_unlock(&id->fetch_mu);
		return 1;
	}
	if (id->forced_mono && now - id->forced_mono < EM_AWS_FORCED_REFRESH_MIN_MS) {
		pthread_mutex_unlock(&id->mu);
		pthread_mutex_unlock(&id->fetch_mu);
		return 0;
	}
	id->forced_mono = now;
	if (em_aws_creds_copy(&before, &id->creds) != 0)
		memset(&before, 0, sizeof(before));
	pthread_mutex_unlock(&id->mu);

	if (fetch_locked(id, timeout_ms, &err) == 0) {
		pthread_mutex_lock(&id->mu);
		retry = !same_creds(&before, &id->creds);
		pthread_mutex_unlock(&id->mu);
		em_info("aws: %s credentials of %s refreshed after an expired/invalid token answer%s",
			id->prov->name, id->key, retry ? "" : " (unchanged)");
	} else {
		em_warn("aws: forced refresh of %s credentials of %s failed: %s", id->prov->name, id->key, err.msg);
	}
	pthread_mutex_unlock(&id->fetch_mu);
	em_aws_creds_wipe(&before);
	return retry;
}

uint64_t em_aws_identity_fetches(const struct em_aws_identity *id)
{
	uint64_t n;

	pthread_mutex_lock((pthread_mutex_t *)&id->mu);
	n = id->fetches;
	pthread_mutex_unlock((pthread_mutex_t *)&id->mu);
	return n;
}

const char *em_aws_identity_key(const struct em_aws_identity *id)
{
	return id->key;
}

/* The background refresher: sleeps until the earliest identity is due,
 * refreshes it, and exits when its generation is over. */
static void *refresher_main(void *arg)
{
	unsigned gen = (unsigned)(uintptr_t)arg;

	pthread_mutex_lock(&reg_mu);
	while (gen == refresher_gen) {
		struct em_aws_identity *due = NULL;
		int64_t now = em_now_ms(), earliest = 0;

		for (struct em_aws_identity *id = reg; id; id = id->next) {
			int64_t t;
			pthread_mutex_lock(&id->mu);
			t = id->next_bg_wall;
			pthread_mutex_unlock(&id->mu);
			if (!t)
				continue;
			if (t <= now && !due)
				due = id;
			else if (!earliest || t < earliest)
				earliest = t;
		}
		if (!due) {
			if (earliest) {
				/* Due times are wall clock (they follow expiry); the wait is
				 * monotonic and at most a minute, so a clock step is seen soon. */
				int64_t wait = earliest - now < 60000 ? earliest - now : 60000;
				em_cond_wait_until(&reg_cv, &reg_mu, em_mono_ms() + wait);
			} else {
				pthread_cond_wait(&reg_cv, &reg_mu);
			}
			continue;
		}
		due->refs++;
		pthread_mutex_unlock(&reg_mu);

		struct em_err err = {0};
		pthread_mutex_lock(&due->fetch_mu);
		pthread_mutex_lock(&due->mu);
		bool still_due = due->next_bg_wall && due->next_bg_wall <= em_now_ms();
		pthread_mutex_unlock(&due->mu);
		if (still_due) {
			if (fetch_locked(due, BG_TIMEOUT_MS, &err) == 0) {
				em_complain_release(&due->complain, "aws: %s credentials of %s refreshed again",
						    due->prov->name, due->key);
				em_debug("aws: %s credentials of %s refreshed ahead of expiry", due->prov->name, due->key);
			} else {
				int64_t n = em_now_ms(), backoff;
				pthread_mutex_lock(&due->mu);
				due->bg_failures++;
				backoff = (int64_t)BG_MIN_GAP_MS << (due->bg_failures < 4 ? due->bg_failures : 4);
				due->next_bg_wall = n + backoff;
				pthread_mutex_unlock(&due->mu);
				em_complain(&due->complain, n, EM_LOG_WARN, "aws: background refresh of %s credentials of %s: %s",
					    due->prov->name, due->key, err.msg);
			}
		}
		pthread_mutex_unlock(&due->fetch_mu);

		pthread_mutex_lock(&reg_mu);
		struct em_aws_identity *dead = unref_locked(due);
		if (dead) {
			pthread_mutex_unlock(&reg_mu);
			identity_destroy(dead);
			pthread_mutex_lock(&reg_mu);
		}
		if (!reg && gen == refresher_gen) {
			/* the last identity went away while we refreshed it */
			refresher_gen++;
			refresher_running = false;
			pthread_detach(pthread_self());
			break;
		}
	}
	pthread_mutex_unlock(&reg_mu);
	return NULL;
}

/* "static:<hash>" / "chain", then "|role:<arn>|ext:<hash>": no secrets. */
static char *make_key(const struct em_aws_auth_cfg *a, bool with_role)
{
	char buf[1024], h[65];
	const char *akid = cfg_akid(a), *role = cfg_role(a);
	size_t n;

	if (akid) {
		char *mat;
		size_t ml = strlen(akid) + strlen(a->secret_access_key) + (a->session_token ? strlen(a->session_token) : 0) + 3;
		mat = malloc(ml);
		if (!mat)
			return NULL;
		snprintf(mat, ml, "%s\n%s\n%s", akid, a->secret_access_key, a->session_token ? a->session_token : "");
		em_sha256_hex(mat, strlen(mat), h);
		em_wipe(mat, ml);
		free(mat);
		n = (size_t)snprintf(buf, sizeof(buf), "static:%.16s", h);
	} else {
		n = (size_t)snprintf(buf, sizeof(buf), "chain");
	}
	if (with_role && role && n < sizeof(buf)) {
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "|role:%s", role);
		if (nz(a->external_id) && n < sizeof(buf)) {
			em_sha256_hex(a->external_id, strlen(a->external_id), h);
			snprintf(buf + n, sizeof(buf) - n, "|ext:%.12s", h);
		}
	}
	return strdup(buf);
}

static const char *sts_region_for(const char *metric_region)
{
	const char *r = getenv("AWS_REGION");

	if (!nz(r))
		r = getenv("AWS_DEFAULT_REGION");
	return nz(r) ? r : metric_region;
}

static struct em_aws_identity *open_key(const struct em_aws_auth_cfg *a, const char *region, bool with_role,
					struct em_err *err)
{
	struct em_aws_identity *id = NULL, *found = NULL;
	struct em_aws_provider *prov = NULL;
	char *key = make_key(a, with_role);
	const char *role = with_role ? cfg_role(a) : NULL;

	if (!key) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		return NULL;
	}
	pthread_mutex_lock(&reg_mu);
	for (found = reg; found; found = found->next)
		if (strcmp(found->key, key) == 0)
			break;
	if (found)
		found->refs++;
	pthread_mutex_unlock(&reg_mu);
	if (found) {
		free(key);
		return found;
	}

	/* Built outside the lock: an assume-role identity opens its base first. */
	if (role) {
		struct em_aws_identity *base = open_key(a, region, false, err);
		if (!base)
			goto out;
		prov = em_aws_provider_assume_role(base, role, nz(a->external_id), sts_region_for(region));
		if (!prov) {
			em_aws_identity_close(base);
			em_err_set(err, EM_E_INTERNAL, "out of memory");
			goto out;
		}
	} else if (cfg_akid(a)) {
		prov = em_aws_provider_static(cfg_akid(a), a->secret_access_key, a->session_token);
		if (!prov) {
			em_err_set(err, EM_E_INTERNAL, "out of memory");
			goto out;
		}
	} else {
		prov = em_aws_provider_chain(NULL, sts_region_for(region), err);
		if (!prov)
			goto out;
	}
	id = calloc(1, sizeof(*id));
	if (!id) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		goto out;
	}
	id->key = key;
	id->prov = prov;
	id->refs = 1;
	pthread_mutex_init(&id->mu, NULL);
	pthread_mutex_init(&id->fetch_mu, NULL);

	pthread_mutex_lock(&reg_mu);
	/* Another thread may have created the same identity meanwhile. */
	for (found = reg; found; found = found->next)
		if (strcmp(found->key, key) == 0)
			break;
	if (found) {
		found->refs++;
		pthread_mutex_unlock(&reg_mu);
		identity_destroy(id);
		return found;
	}
	id->next = reg;
	reg = id;
	pthread_mutex_unlock(&reg_mu);
	em_debug("aws: identity %s uses %s credentials", id->key, prov->name);
	return id;
out:
	em_aws_provider_free(prov);
	free(key);
	return NULL;
}

struct em_aws_identity *em_aws_identity_open(const struct em_aws_auth_cfg *a, const char *region, struct em_err *err)
{
	return open_key(a, region, true, err);
}

void em_aws_identity_close(struct em_aws_identity *id)
{
	struct em_aws_identity *dead;
	pthread_t join_me;
	bool join = false;

	if (!id)
		return;
	pthread_mutex_lock(&reg_mu);
	dead = unref_locked(id);
	if (!reg && refresher_running && !pthread_equal(pthread_self(), refresher)) {
		refresher_gen++;
		refresher_running = false;
		join_me = refresher;
		join = true;
		pthread_cond_broadcast(&reg_cv);
	}
	pthread_mutex_unlock(&reg_mu);
	if (join)
		pthread_join(join_me, NULL);
	if (dead)
		identity_destroy(dead);
}
