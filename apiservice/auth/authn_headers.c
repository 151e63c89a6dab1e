/* authn_headers.c - identities: users, the front proxy's identity headers, bearer tokens. */
#include "auth.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "adapter/util/text.h"

/* ======================== users ======================== */

void em_user_free(struct em_user *u)
{
	if (!u)
		return;
	free(u->name);
	free(u->uid);
	for (size_t i = 0; i < u->n_groups; i++)
		free(u->groups[i]);
	free(u->groups);
	for (size_t i = 0; i < u->n_extra; i++) {
		free(u->extra[i].key);
		for (size_t j = 0; j < u->extra[i].n; j++)
			free(u->extra[i].values[j]);
		free(u->extra[i].values);
	}
	free(u->extra);
	memset(u, 0, sizeof(*u));
}

static int set_str(char **dst, const char *s)
{
	char *c = strdup(s);

	if (!c)
		return -1;
	free(*dst);
	*dst = c;
	return 0;
}

int em_user_set_name(struct em_user *u, const char *name)
{
	return set_str(&u->name, name);
}

int em_user_set_uid(struct em_user *u, const char *uid)
{
	return set_str(&u->uid, uid);
}

bool em_user_in_group(const struct em_user *u, const char *group)
{
	for (size_t i = 0; i < u->n_groups; i++)
		if (strcmp(u->groups[i], group) == 0)
			return true;
	return false;
}

int em_user_add_group(struct em_user *u, const char *group)
{
	if (em_user_in_group(u, group))
		return 0;
	return em_strv_push(&u->groups, &u->n_groups, group);
}

int em_user_add_extra(struct em_user *u, const char *key, const char *value)
{
	struct em_user_extra *e = NULL;

	for (size_t i = 0; i < u->n_extra && !e; i++)
		if (strcmp(u->extra[i].key, key) == 0)
			e = &u->extra[i];
	if (!e) {
		struct em_user_extra *ne = realloc(u->extra, (u->n_extra + 1) * sizeof(*ne));
		if (!ne)
			return -1;
		u->extra = ne;
		e = &ne[u->n_extra];
		memset(e, 0, sizeof(*e));
		if (!(e->key = strdup(key)))
			return -1;
		u->n_extra++;
	}
	return em_strv_push(&e->values, &e->n, value);
}

/* ======================== request headers ======================== */

/* First value of header name (case-insensitive), or NULL. */
static const char *first_value(const struct em_header *h, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(h[i].name, name) == 0)
			return h[i].value ? h[i].value : "";
	return NULL;
}

static const char *first_nonempty(const struct em_strlist *names, const struct em_header *h, size_t n)
{
	for (size_t i = 0; names && i < names->n; i++) {
		const char *v = first_value(h, n, names->v[i]);
		if (v && *v)
			return v;
	}
	return NULL;
}

/* strings.ToLower then url.PathUnescape; an undecodable key stays as is. */
static char *extra_key(const char *rest)
{
	size_t n = strlen(rest), bad;
	char *low = malloc(n + 1), *out = malloc(n + 1);

	if (!low || !out) {
		free(low);
		free(out);
		return NULL;
	}
	for (size_t i = 0; i <= n; i++)
		low[i] = (char)tolower((unsigned char)rest[i]);
	out[em_percent_decode(low, n, out, false, &bad)] = '\0';
	if (bad) {
		free(out);
		return low;
	}
	free(low);
	return out;
}

/* Values of the group headers, names in configured order, values in arrival
 * order, empty ones and repeats dropped. A user may be in thousands of groups
 * (one header each), so repeats are found with a hash set, not a scan. */
static int add_header_groups(struct em_user *u, const struct em_strlist *groups, const struct em_header *h, size_t n)
{
	const char **seen = NULL;
	size_t cap = 16;
	int rc = -1;

	while (cap < 2 * n)
		cap *= 2;
	if (!(seen = calloc(cap, sizeof(*seen))))
		goto out;
	for (size_t g = 0; g < groups->n; g++)
		for (size_t i = 0; i < n; i++) {
			const char *v = h[i].value;
			size_t at;
			if (!v || !*v || strcasecmp(h[i].name, groups->v[g]) != 0)
				continue;
			for (at = em_hash_str(v) & (cap - 1); seen[at] && strcmp(seen[at], v) != 0; at = (at + 1) & (cap - 1))
				;
			if (seen[at])
				continue;
			seen[at] = v;
			if (em_strv_push(&u->groups, &u->n_groups, v) != 0)
				goto out;
		}
	rc = 0;
out:
	free(seen);
	return rc;
}

int em_reqheader_user(const struct em_rh_lists *names, const struct em_header *h, size_t n, struct em_user *u)
{
	const struct em_strlist *groups = &names->group_headers, *prefixes = &names->extra_prefixes;
	struct em_user nu = {0};
	const char *name = first_nonempty(&names->username_headers, h, n), *uid;

	if (!name)
		return 0;
	if (em_user_set_name(&nu, name) != 0)
		goto out;
	uid = first_nonempty(&names->uid_headers, h, n);
	if (uid && em_user_set_uid(&nu, uid) != 0)
		goto out;
	if (add_header_groups(&nu, groups, h, n) != 0)
		goto out;
	for (size_t p = 0; p < prefixes->n; p++) {
		const char *pre = prefixes->v[p];
		size_t pl = strlen(pre);
		for (size_t i = 0; i < n; i++) {
			char *key;
			int rc;
			if (strncasecmp(h[i].name, pre, pl) != 0 || !h[i].name[pl])
				continue;
			if (!(key = extra_key(h[i].name + pl)))
				goto out;
			rc = em_user_add_extra(&nu, key, h[i].value ? h[i].value : "");
			free(key);
			if (rc != 0)
				goto out;
		}
	}
	em_user_free(u);
	*u = nu;
	return 1;
out:
	em_user_free(&nu);
	return -1;
}

bool em_reqheader_is_identity(const struct em_rh_lists *names, const char *name)
{
	const struct em_strlist *exact[] = {&names->username_headers, &names->uid_headers, &names->group_headers};
	const struct em_strlist *prefixes = &names->extra_prefixes;

	for (size_t k = 0; k < 3; k++)
		for (size_t i = 0; i < exact[k]->n; i++)
			if (strcasecmp(exact[k]->v[i], name) == 0)
				return true;
	for (size_t i = 0; i < prefixes->n; i++)
		if (strncasecmp(name, prefixes->v[i], strlen(prefixes->v[i])) == 0)
			return true;
	return false;
}

char *em_bearer_token(const char *authorization)
{
	const char *s = authorization, *sp, *tok, *end;

	if (!s)
		return NULL;
	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	/* strings.SplitN(auth, " ", 3): "Bearer", the token, and the rest ignored. */
	sp = memchr(s, ' ', (size_t)(end - s));
	if (!sp || sp - s != 6 || strncasecmp(s, "bearer", 6) != 0)
		return NULL;
	tok = sp + 1;
	sp = memchr(tok, ' ', (size_t)(end - tok));
	if (sp)
		end = sp;
	if (end == tok)
		return NULL;
	return strndup(tok, (size_t)(end - tok));
}
