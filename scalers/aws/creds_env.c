/* creds_env.c - credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN. */
#include <stdlib.h>
#include <string.h>

#include "credentials.h"

struct env_prov {
	struct em_aws_provider p;
	em_getenv_fn env;
};

static int env_fetch(struct em_aws_provider *p, int64_t timeout_ms, struct em_aws_creds *out, struct em_err *err)
{
	em_getenv_fn env = ((struct env_prov *)p)->env;
	const char *akid = env("AWS_ACCESS_KEY_ID"), *secret = env("AWS_SECRET_ACCESS_KEY");
	const char *token = env("AWS_SESSION_TOKEN");
	struct em_aws_creds c = {.access_key_id = (char *)akid, .secret_access_key = (char *)secret,
				 .session_token = token && token[0] ? (char *)token : NULL};

	(void)timeout_ms;
	if (!akid || !akid[0])
		return em_err_set(err, EM_E_UNAVAILABLE, "env: AWS_ACCESS_KEY_ID is not set");
	if (!secret || !secret[0])
		return em_err_set(err, EM_E_UNAVAILABLE, "env: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
	if (em_aws_creds_copy(out, &c) != 0)
		return em_err_set(err, EM_E_INTERNAL, "out of memory");
	return 0;
}

static void env_destroy(struct em_aws_provider *p)
{
	free(p);
}

struct em_aws_provider *em_aws_provider_env(em_getenv_fn env, char *why, size_t cap)
{
	struct env_prov *e;
	const char *akid;

	if (!env)
		env = em_aws_getenv;
	akid = env("AWS_ACCESS_KEY_ID");
	if (!akid || !akid[0]) {
		em_aws_why(why, cap, "AWS_ACCESS_KEY_ID not set");
		return NULL;
	}
	e = em_aws_provider_alloc(sizeof(*e), "env", env_fetch, env_destroy);
	if (!e) {
		em_aws_why(why, cap, "out of memory");
		return NULL;
	}
	e->env = env;
	return &e->p;
}
