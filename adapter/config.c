/* config.c - loading and validating the YAML configuration with file:line:col errors; the settings table's loader. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/sha.h>
#include <yaml.h>

#include "log.h"
#include "adapter/util/strbuf.h"
#include "adapter/util/files.h"
#include "adapter/util/secret.h"
#include "adapter/util/text.h"

#define DEFAULT_MAX_INSTANCES 100
#define IDLE_MIN_MS 60000
#define MAX_SECRET_FILE (1 << 20)
#define MAX_CONFIG_FILE (16 << 20)

static void list_add(char ***v, size_t *n, const char *file, int line, int col, const char *key, const char *what,
		     const char *fmt, va_list ap)
{
	char msg[1024], full[1400];
	char **nv;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	snprintf(full, sizeof(full), "%s:%d:%d: %s: %s%s", file, line, col, key ? key : "-", what, msg);
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return;
	*v = nv;
	nv[*n] = strdup(full);
	if (nv[*n])
		(*n)++;
}

void em_errlist_add(struct em_errlist *l, const char *file, int line, int col, const char *key,
		    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	list_add(&l->msgs, &l->n, file, line, col, key, "", fmt, ap);
	va_end(ap);
}

void em_errlist_warn(struct em_errlist *l, const char *file, int line, int col, const char *key,
		     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	list_add(&l->warns, &l->nwarns, file, line, col, key, "warning: ", fmt, ap);
	va_end(ap);
}

void em_errlist_free(struct em_errlist *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->msgs[i]);
	free(l->msgs);
	for (size_t i = 0; i < l->nwarns; i++)
		free(l->warns[i]);
	free(l->warns);
	memset(l, 0, sizeof(*l));
}

void em_rawopts_free(struct em_rawopts *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free((char *)r->items[i].name);
		em_free_secret((char *)r->items[i].value);   /* values may be secrets */
	}
	free(r->items);
	r->items = NULL;
	r->n = 0;
}

/* Adds name = value (copied), written at line:col, from src. The new item is
 * returned so flags can be set; NULL out of memory. */
static struct em_rawopt *rawopts_add(struct em_rawopts *r, const char *name, const char *value, int line, int col,
				     enum em_optsrc src)
{
	struct em_rawopt *n = realloc(r->items, (r->n + 1) * sizeof(*n));

	if (!n)
		return NULL;
	r->items = n;
	memset(&n[r->n], 0, sizeof(n[r->n]));
	n[r->n].name = strdup(name);
	n[r->n].value = value ? strdup(value) : NULL;
	n[r->n].line = line;
	n[r->n].col = col;
	n[r->n].src = src;
	if (!n[r->n].name || (value && !n[r->n].value)) {
		free((char *)n[r->n].name);
		free((char *)n[r->n].value);
		return NULL;
	}
	return &r->items[r->n++];
}

/* The same, for a value written in the config file itself. */
static void rawopts_add_literal(struct em_rawopts *r, const char *name, const char *value, int line, int col,
				enum em_optsrc src)
{
	struct em_rawopt *o = rawopts_add(r, name, value, line, col, src);

	if (o)
		o->literal = true;
}

/* A value whose source is not read (EM_CFG_SKIP_SECRETS): a placeholder. */
static void rawopts_add_unresolved(struct em_rawopts *r, const char *name, int line, int col, enum em_optsrc src)
{
	struct em_rawopt *o = rawopts_add(r, name, "unresolved", line, col, src);

	if (o)
		o->unresolved = true;
}

static void metric_def_free(struct em_metric_def *m)
{
	free(m->name);
	for (size_t i = 0; i < m->n_namespaces; i++)
		free(m->namespaces[i]);
	free(m->namespaces);
	free(m->type);
	em_rawopts_free(&m->raw);
	em_kvlist_free(&m->labels);
	free(m->fingerprint);
	for (size_t i = 0; i < m->n_inputs; i++)
		free(m->inputs[i]);
	free(m->inputs);
}

void em_config_free(struct em_config *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->server.listen);
	free(c->server.metrics_listen);
	free(c->server.cert_file);
	free(c->server.key_file);
	em_auth_conf_free(&c->server.auth);
	for (size_t i = 0; i < c->n_metrics; i++)
		metric_def_free(&c->metrics[i]);
	free(c->metrics);
	free(c);
}

const struct em_metric_def *em_config_find(const struct em_config *c, const char *name)
{
	for (size_t i = 0; c && i < c->n_metrics; i++)
		if (strcmp(c->metrics[i].name, name) == 0)
			return &c->metrics[i];
	return NULL;
}

bool em_metric_allows_ns(const struct em_metric_def *m, const char *ns)
{
	for (size_t i = 0; i < m->n_namespaces; i++)
		if (strcmp(m->namespaces[i], "*") == 0 || strcmp(m->namespaces[i], ns) == 0)
			return true;
	return false;
}

/* ---- YAML walking ---------------------------------------------------- */

struct em_loader {
	const char *file;
	yaml_document_t *doc;
	struct em_errlist *errs;
	unsigned flags;
};

#define LINE(n) ((int)(n)->start_mark.line + 1)
#define COL(n) ((int)(n)->start_mark.column + 1)

static void lerr(struct em_loader *L, yaml_node_t *n, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void lerr(struct em_loader *L, yaml_node_t *n, const char *key, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	em_errlist_add(L->errs, L->file, n ? LINE(n) : 0, n ? COL(n) : 0, key, "%s", msg);
}

static const char *scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *node(struct em_loader *L, int id)
{
	return yaml_document_get_node(L->doc, id);
}

/* What a KEDA user may write where extmetrics has something else. */
static const struct {
	const char *key, *hint;
} keda_hints[] = {
	{"triggers", "a KEDA ScaledObject's key: convert ScaledObjects with `extmetrics import-keda FILE`"},
	{"scaleTargetRef", "a KEDA ScaledObject's key: convert ScaledObjects with `extmetrics import-keda FILE`"},
	{"spec", "a Kubernetes object's key: convert KEDA ScaledObjects with `extmetrics import-keda FILE`"},
	{"authenticationRef", "KEDA's reference to a TriggerAuthentication: write its parameters under auth.params "
			      "(`extmetrics import-keda` translates them)"},
	{"metricType", "the target type is the HPA's (spec.metrics[].external.target.type), not the metric's"},
	{"useCachedMetrics", "not needed: every value is served from memory, polled in the background"},
};

static void unknown_key(struct em_loader *L, yaml_node_t *k, const char *ks, const char *where,
			const char *const *allowed)
{
	const char *best = NULL;
	size_t best_d = 3;

	for (size_t i = 0; i < sizeof(keda_hints) / sizeof(keda_hints[0]); i++) {
		if (strcmp(keda_hints[i].key, ks) == 0) {
			lerr(L, k, ks, "unknown key in %s (%s)", where, keda_hints[i].hint);
			return;
		}
	}
	for (const char *const *a = allowed; *a; a++) {
		size_t d = em_text_distance(ks, *a, strlen(ks) < 4 ? 1 : 2);
		if (d < best_d && d <= (strlen(ks) < 4 ? 1u : 2u)) {
			best_d = d;
			best = *a;
		}
	}
	if (best)
		lerr(L, k, ks, "unknown key in %s (did you mean %s?)", where, best);
	else
		lerr(L, k, ks, "unknown key in %s", where);
}

/* Checks that map's keys are all in allowed (NULL-terminated) and unique. */
static void check_keys(struct em_loader *L, yaml_node_t *map, const char *where, const char *const *allowed)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(L, p->key);
		const char *ks = scalar(k);
		bool ok = false;

		if (!ks) {
			lerr(L, k, where, "keys must be strings");
			continue;
		}
		for (const char *const *a = allowed; *a; a++)
			if (strcmp(*a, ks) == 0)
				ok = true;
		if (!ok)
			unknown_key(L, k, ks, where, allowed);
		for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
			const char *qs = scalar(node(L, q->key));
			if (qs && strcmp(qs, ks) == 0)
				lerr(L, k, ks, "duplicate key in %s", where);
		}
	}
}

static yaml_node_t *get(struct em_loader *L, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		const char *ks = scalar(node(L, p->key));
		if (ks && strcmp(ks, key) == 0)
			return node(L, p->value);
	}
	return NULL;
}

static int want_map(struct em_loader *L, yaml_node_t *n, const char *key)
{
	if (n && n->type != YAML_MAPPING_NODE) {
		lerr(L, n, key, "must be a mapping");
		return -1;
	}
	return 0;
}

static char *get_str(struct em_loader *L, yaml_node_t *map, const char *key, bool required, yaml_node_t *parent)
{
	yaml_node_t *n = get(L, map, key);
	const char *s;

	if (!n) {
		if (required)
			lerr(L, parent ? parent : map, key, "missing required key");
		return NULL;
	}
	s = scalar(n);
	if (!s) {
		lerr(L, n, key, "must be a string");
		return NULL;
	}
	if (required && !*s) {
		lerr(L, n, key, "must not be empty");
		return NULL;
	}
	return strdup(s);
}

static void get_duration(struct em_loader *L, yaml_node_t *map, const char *key, int64_t *out)
{
	yaml_node_t *n = get(L, map, key);
	const char *s = scalar(n);

	if (!n)
		return;
	/* A bare number is ambiguous here: KEDA's pollingInterval is seconds,
	 * metadata durations are milliseconds. Ask for the unit. */
	if (s && *s && strspn(s, "0123456789") == strlen(s))
		lerr(L, n, key, "duration \"%s\" needs a unit (e.g. %ss)", s, s);
	else if (!s || em_parse_duration_ms(s, out) != 0)
		lerr(L, n, key, "invalid duration \"%s\" (e.g. 30s, 1m30s, 500ms)", s ? s : "");
	else if (*out <= 0)
		lerr(L, n, key, "must be greater than zero");
}

/* polling: demand | eager; *given tells whether the key is there. */
static void get_polling(struct em_loader *L, yaml_node_t *map, enum em_polling *out, bool *given)
{
	yaml_node_t *n = get(L, map, "polling");
	const char *s = scalar(n);

	if (given)
		*given = n != NULL;
	if (!n)
		return;
	if (s && strcmp(s, "demand") == 0)
		*out = EM_POLL_DEMAND;
	else if (s && strcmp(s, "eager") == 0)
		*out = EM_POLL_EAGER;
	else
		lerr(L, n, "polling", "must be demand (poll while requested) or eager (poll always), got \"%s\"",
		     s ? s : "");
}

static void get_int(struct em_loader *L, yaml_node_t *map, const char *key, int64_t min, int64_t max, int64_t *out)
{
	yaml_node_t *n = get(L, map, key);
	const char *s = scalar(n);

	if (!n)
		return;
	if (!s || em_parse_int(s, out) != 0)
		lerr(L, n, key, "invalid integer \"%s\"", s ? s : "");
	else if (*out < min || *out > max)
		lerr(L, n, key, "must be between %lld and %lld", (long long)min, (long long)max);
}

/* ---- server.auth: lists, front-proxy fields, rules ------------------- */

void em_strlist_free(struct em_strlist *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
	l->set = false;
}

bool em_strlist_has(const struct em_strlist *l, const char *s)
{
	for (size_t i = 0; l && i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

int em_strlist_copy(struct em_strlist *dst, const struct em_strlist *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->set = true;
	for (size_t i = 0; i < src->n; i++)
		if (em_strv_push(&dst->v, &dst->n, src->v[i]) != 0)
			return -1;
	return 0;
}

bool em_strlist_equal(const struct em_strlist *a, const struct em_strlist *b)
{
	if (a->set != b->set || a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return false;
	return true;
}

const struct em_rh_field em_rh_fields[EM_RH_NLISTS] = {
#define EM_RH_ROW(key, cm, def, flags, field, help) \
	{key, cm, def, ((flags) & EM_SET_HEADERS) != 0, offsetof(struct em_rh_lists, field)},
	EM_RH_LISTS(EM_RH_ROW)
#undef EM_RH_ROW
};

struct em_strlist *em_rh_list(struct em_rh_lists *l, size_t i)
{
	return (struct em_strlist *)((char *)l + em_rh_fields[i].offset);
}

const struct em_strlist *em_rh_list_c(const struct em_rh_lists *l, size_t i)
{
	return (const struct em_strlist *)((const char *)l + em_rh_fields[i].offset);
}

void em_rh_lists_free(struct em_rh_lists *l)
{
	for (size_t i = 0; l && i < EM_RH_NLISTS; i++)
		em_strlist_free(em_rh_list(l, i));
}

void em_auth_conf_free(struct em_auth_conf *a)
{
	if (!a)
		return;
	free(a->client_ca_file);
	free(a->rh_ca_file);
	em_rh_lists_free(&a->rh);
	em_strlist_free(&a->users);
	em_strlist_free(&a->groups);
	for (size_t i = 0; i < a->n_rules; i++) {
		em_strlist_free(&a->rules[i].users);
		em_strlist_free(&a->rules[i].groups);
		em_strlist_free(&a->rules[i].namespaces);
		em_strlist_free(&a->rules[i].metrics);
	}
	free(a->rules);
	free(a->kube_url);
	free(a->kube_ca_file);
	free(a->kube_token_file);
	memset(a, 0, sizeof(*a));
}

/* A list of non-empty strings; a bare scalar is not accepted (a typo such as
 * `allowedNames: front-proxy-client` would otherwise silently mean one name). */
static void get_strlist(struct em_loader *L, yaml_node_t *map, const char *key, struct em_strlist *out)
{
	yaml_node_t *n = get(L, map, key);
	size_t cnt;

	if (!n)
		return;
	if (n->type != YAML_SEQUENCE_NODE) {
		lerr(L, n, key, "must be a list of strings");
		return;
	}
	cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	out->set = true;
	out->v = calloc(cnt ? cnt : 1, sizeof(char *));
	for (size_t i = 0; out->v && i < cnt; i++) {
		yaml_node_t *it = node(L, n->data.sequence.items.start[i]);
		const char *s = scalar(it);
		if (!s || !*s) {
			lerr(L, it, key, "entries must be non-empty strings");
			continue;
		}
		if ((out->v[out->n] = strdup(s)))
			out->n++;
	}
}

static void get_bool(struct em_loader *L, yaml_node_t *map, const char *key, bool *out)
{
	yaml_node_t *n = get(L, map, key);
	const char *s = scalar(n);

	if (!n)
		return;
	if (s && (strcmp(s, "true") == 0 || strcmp(s, "True") == 0))
		*out = true;
	else if (s && (strcmp(s, "false") == 0 || strcmp(s, "False") == 0))
		*out = false;
	else
		lerr(L, n, key, "must be true or false");
}

/* A file the server will read at start: catch typos at load time. */
static char *get_file(struct em_loader *L, yaml_node_t *map, const char *key, bool required, yaml_node_t *parent)
{
	char *path = get_str(L, map, key, required, parent);
	FILE *f;

	if (!path)
		return NULL;
	f = fopen(path, "r");
	if (!f) {
		lerr(L, get(L, map, key), key, "cannot read %s: %s", path, strerror(errno));
		return path;
	}
	fclose(f);
	return path;
}

/* HTTP header names as RFC 9110 tokens. */
static void check_header_names(struct em_loader *L, yaml_node_t *map, const char *key, const struct em_strlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		for (const char *p = l->v[i]; *p; p++) {
			if (!isalnum((unsigned char)*p) && !strchr("!#$%&'*+-.^_`|~", *p)) {
				lerr(L, get(L, map, key), key, "\"%s\" is not a valid HTTP header name", l->v[i]);
				break;
			}
		}
	}
}

static void load_rule(struct em_loader *L, yaml_node_t *r, struct em_authz_rule *out)
{
	static const char *const keys[] = {"users", "groups", "namespaces", "metrics", NULL};

	if (want_map(L, r, "rules") != 0)
		return;
	check_keys(L, r, "an authorization rule", keys);
	get_strlist(L, r, "users", &out->users);
	get_strlist(L, r, "groups", &out->groups);
	get_strlist(L, r, "namespaces", &out->namespaces);
	get_strlist(L, r, "metrics", &out->metrics);
	if (out->users.n == 0 && out->groups.n == 0)
		lerr(L, r, "rules", "a rule needs users or groups");
	if (!out->namespaces.set)
		lerr(L, r, "namespaces", "missing required key (list namespaces, or [\"*\"] for all)");
	if (!out->metrics.set)
		lerr(L, r, "metrics", "missing required key (list metric names, or [\"*\"] for all)");
}

static int add_rule(struct em_auth_conf *a, struct em_authz_rule **out)
{
	struct em_authz_rule *n = realloc(a->rules, (a->n_rules + 1) * sizeof(*n));

	if (!n)
		return -1;
	a->rules = n;
	*out = &n[a->n_rules++];
	memset(*out, 0, sizeof(**out));
	return 0;
}

static int strlist_star(struct em_strlist *l)
{
	l->v = calloc(1, sizeof(char *));
	if (!l->v || !(l->v[0] = strdup("*")))
		return -1;
	l->n = 1;
	l->set = true;
	return 0;
}

/* ---- the settings table's loader (the rows are in settings.c) ------------ */

/* The key node of key in map (errors about a key that should not be there
 * point at it), or NULL. */
static yaml_node_t *get_key_node(struct em_loader *L, yaml_node_t *map, const char *key)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(L, p->key);
		if (scalar(k) && strcmp(scalar(k), key) == 0)
			return k;
	}
	return NULL;
}

/* 1 when cond holds in c, 0 when not (*failed: the part that does not),
 * -1 when an enum it reads is 0: unset, or invalid and already reported. */
static int cond_state(const struct em_set_cond *cond, const struct em_config *c, const struct em_set_cond **failed)
{
	const void *p = (const char *)c + cond->offset;
	int v, st;

	if (cond->also && (st = cond_state(cond->also, c, failed)) != 1)
		return st;
	v = cond->is_bool ? (int)*(const bool *)p : *(const int *)p;
	if (!cond->is_bool && v == 0)
		return -1;
	if (cond->values & (1u << v))
		return 1;
	if (failed)
		*failed = cond;
	return 0;
}

static bool is_required(const struct em_setting *s, const struct em_config *c, unsigned flags)
{
	if (s->flags & EM_SET_REQUIRED)
		return !((s->flags & EM_SET_SERVING) && (flags & EM_CFG_METRICS_ONLY));
	return s->required_if && cond_state(s->required_if, c, NULL) == 1;
}

/* The default (settings hold nothing secret: a plain free will do). */
static void set_default(const struct em_setting *s, struct em_config *c)
{
	void *p = (char *)c + s->offset;
	const char *def = s->def;

	if (def && s->def_if && cond_state(s->def_if, c, NULL) != 1)
		def = NULL;
	switch (s->type) {
	case EM_SET_STRING:
	case EM_SET_FILE:
		free(*(char **)p);
		*(char **)p = def ? strdup(def) : NULL;
		break;
	case EM_SET_INT:
		*(int64_t *)p = 0;
		if (def)
			em_parse_int(def, p);
		break;
	case EM_SET_DURATION:
		*(int64_t *)p = 0;
		if (def)
			em_parse_duration_ms(def, p);
		break;
	case EM_SET_BOOL:
		*(bool *)p = def && strcmp(def, "true") == 0;
		break;
	case EM_SET_ENUM:
		*(int *)p = 0;
		for (const struct em_set_choice *ch = s->choices; def && ch->name; ch++)
			if (strcmp(ch->name, def) == 0)
				*(int *)p = ch->value;
		break;
	default:
		/* lists: a default list is the authenticator's (em_rh_fields), used
		 * when neither the config nor the cluster sets one */
		break;
	}
}

/* One of choices; an invalid value leaves 0 (what depends on it is then skipped). */
static void get_enum(struct em_loader *L, yaml_node_t *map, const char *key, const struct em_set_choice *choices,
		     int *out)
{
	yaml_node_t *n = get(L, map, key);
	const char *s = scalar(n);
	struct em_strbuf list;

	for (const struct em_set_choice *ch = choices; s && ch->name; ch++) {
		if (strcmp(ch->name, s) == 0) {
			*out = ch->value;
			return;
		}
	}
	*out = 0;
	em_sb_init(&list);
	for (const struct em_set_choice *ch = choices; ch->name; ch++)
		em_sb_printf(&list, "%s%s", ch == choices ? "" : ", ", ch->name);
	lerr(L, n, key, "invalid value \"%s\", must be one of: %s", s ? s : "", list.buf ? list.buf : "");
	em_sb_free(&list);
}

/* "missing required key", or the row's own words; an enum lists its values. */
static void missing(struct em_loader *L, const struct em_setting *s, yaml_node_t *map)
{
	struct em_strbuf msg;

	em_sb_init(&msg);
	em_sb_puts(&msg, s->missing ? s->missing : "missing required key");
	for (const struct em_set_choice *ch = s->choices; !s->missing && ch && ch->name; ch++)
		em_sb_printf(&msg, "%s%s", ch == s->choices ? " (" : ch[1].name ? ", " : " or ", ch->name);
	em_sb_puts(&msg, s->choices && !s->missing ? ")" : "");
	lerr(L, map, em_setting_key(s), "%s", msg.buf ? msg.buf : "");
	em_sb_free(&msg);
}

static void load_rules(struct em_loader *L, yaml_node_t *rules, const char *key, struct em_auth_conf *a)
{
	struct em_authz_rule *r;

	if (rules->type != YAML_SEQUENCE_NODE) {
		lerr(L, rules, key, "must be a list");
		return;
	}
	for (yaml_node_item_t *it = rules->data.sequence.items.start; it < rules->data.sequence.items.top; it++)
		if (add_rule(a, &r) == 0)
			load_rule(L, node(L, *it), r);
}

/* A row given in map: parsed into its field. */
static void load_value(struct em_loader *L, const struct em_setting *s, yaml_node_t *map, struct em_config *c)
{
	const char *key = em_setting_key(s);
	bool required = is_required(s, c, L->flags);
	void *p = (char *)c + s->offset;
	char **str = p;
	struct em_strlist *list = p;

	switch (s->type) {
	case EM_SET_STRING:
		free(*str);
		*str = get_str(L, map, key, required, map);
		if (*str && (s->flags & EM_SET_HTTPS) && strncmp(*str, "https://", 8) != 0)
			lerr(L, get(L, map, key), key, "must be an https:// URL");
		break;
	case EM_SET_FILE:
		free(*str);
		*str = get_file(L, map, key, required, map);
		break;
	case EM_SET_INT:
		get_int(L, map, key, s->min, s->max, p);
		break;
	case EM_SET_DURATION:
		get_duration(L, map, key, p);
		break;
	case EM_SET_BOOL:
		get_bool(L, map, key, p);
		break;
	case EM_SET_ENUM:
		get_enum(L, map, key, s->choices, p);
		break;
	case EM_SET_STRLIST:
		get_strlist(L, map, key, list);
		if (s->flags & EM_SET_HEADERS)
			check_header_names(L, map, key, list);
		if ((s->flags & EM_SET_NEED_ONE) && list->set && list->n == 0)
			lerr(L, get(L, map, key), key, "must name at least one header");
		break;
	case EM_SET_RULES:
		load_rules(L, get(L, map, key), key, &c->server.auth);
		break;
	default:
		break;
	}
}

/* Reads the rows of section sec (NULL: the top level) from map, in table
 * order: each gets its default, then its value when given. A NULL map (an
 * absent section) sets the defaults only. */
static void load_section(struct em_loader *L, const struct em_setting *sec, yaml_node_t *map, struct em_config *c)
{
	const char *keys[48];
	size_t nk = 0;

	for (const struct em_setting *s = em_settings; s->name && nk + 2 < sizeof(keys) / sizeof(keys[0]); s++)
		if (em_setting_in(s, sec))
			keys[nk++] = em_setting_key(s);
	if (!sec)
		keys[nk++] = "metrics";   /* the metric definitions: load_doc's */
	keys[nk] = NULL;
	if (map)
		check_keys(L, map, sec ? sec->name : "the top level", keys);
	for (const struct em_setting *s = em_settings; s->name; s++) {
		const char *key = em_setting_key(s);
		const struct em_set_cond *failed = NULL;
		yaml_node_t *n;

		if (!em_setting_in(s, sec))
			continue;
		set_default(s, c);
		n = map ? get(L, map, key) : NULL;
		if (map && !n && is_required(s, c, L->flags))
			missing(L, s, map);
		if (n && s->only && cond_state(s->only, c, &failed) != 1) {
			/* not used here: said (unless what decides was invalid), then skipped */
			if (failed)
				lerr(L, failed->at_key ? get_key_node(L, map, key) : n, key, "%s", failed->msg);
			n = NULL;
		}
		if (s->type == EM_SET_SECTION) {
			if (n && want_map(L, n, key) != 0)
				n = NULL;
			load_section(L, s, n, c);
		} else if (n) {
			load_value(L, s, map, c);
		}
	}
	if (map && sec && sec->check)
		sec->check(L, map, c);
}

void em_settings_check_auth(struct em_loader *L, yaml_node_t *auth, struct em_config *c)
{
	struct em_auth_conf *a = &c->server.auth;

	if (a->mode != EM_AUTH_DELEGATED && a->mode != EM_AUTH_CLIENTCERT)
		return; /* none, or an invalid mode (reported) */
	if (a->authz_mode == EM_AUTHZ_UNSET)
		a->authz_mode = a->mode == EM_AUTH_DELEGATED ? EM_AUTHZ_SAR : EM_AUTHZ_ALLOW_AUTHENTICATED;
	if (a->mode == EM_AUTH_DELEGATED && !a->from_cluster && !a->client_ca_file && !a->rh_ca_file &&
	    !a->token_review)
		lerr(L, auth, "auth", "no way to authenticate: set fromCluster, clientCAFile, requestHeader or tokenReview "
				      "(or mode: none for local development)");
}

void em_settings_check_authorization(struct em_loader *L, yaml_node_t *z, struct em_config *c)
{
	struct em_auth_conf *a = &c->server.auth;
	struct em_authz_rule *r;

	if (a->authz_mode != EM_AUTHZ_STATIC)
		return;
	/* users and groups: everything, everywhere; the first rule. */
	if (a->users.set || a->groups.set) {
		if (add_rule(a, &r) != 0)
			return;
		memmove(&a->rules[1], &a->rules[0], (a->n_rules - 1) * sizeof(*r));
		r = &a->rules[0];
		memset(r, 0, sizeof(*r));
		if ((a->users.set && em_strlist_copy(&r->users, &a->users) != 0) ||
		    (a->groups.set && em_strlist_copy(&r->groups, &a->groups) != 0) || strlist_star(&r->namespaces) != 0 ||
		    strlist_star(&r->metrics) != 0)
			return;
	}
	if (a->n_rules == 0)
		lerr(L, z, "authorization", "mode static needs users, groups or rules (otherwise it denies everything)");
}

/* ---- metrics: ------------------------------------------------------- */

/* The SHA-256 of n bytes as 64 hex digits (malloc'd): fingerprints and keys
 * compared for equality, kept small and free of what they were made from. */
static char *sha256_hex(const void *p, size_t n)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char *out = malloc(2 * sizeof(md) + 1);

	if (!out)
		return NULL;
	SHA256((const unsigned char *)p, n, md);
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return out;
}

/* A value source: a scalar, or {value: X} / {fromEnv: NAME} / {fromFile: PATH}. */
static void load_value_source(struct em_loader *L, const char *name, yaml_node_t *v, struct em_rawopts *raw)
{
	static const char *const keys[] = {"value", "fromEnv", "fromFile", NULL};
	yaml_node_t *src;
	char why[512];

	if (scalar(v)) {
		rawopts_add_literal(raw, name, scalar(v), LINE(v), COL(v), EM_SRC_AUTH);
		return;
	}
	if (want_map(L, v, name) != 0)
		return;
	check_keys(L, v, name, keys);
	if (v->data.mapping.pairs.top - v->data.mapping.pairs.start != 1) {
		lerr(L, v, name, "a value source has exactly one of value, fromEnv, fromFile");
		return;
	}
	if ((src = get(L, v, "value")) && scalar(src)) {
		rawopts_add_literal(raw, name, scalar(src), LINE(src), COL(src), EM_SRC_AUTH);
	} else if ((L->flags & EM_CFG_SKIP_SECRETS) && ((src = get(L, v, "fromEnv")) || (src = get(L, v, "fromFile"))) &&
		   scalar(src)) {
		rawopts_add_unresolved(raw, name, LINE(src), COL(src), EM_SRC_AUTH);
	} else if ((src = get(L, v, "fromEnv")) && scalar(src)) {
		const char *e = getenv(scalar(src));
		if (!e)
			lerr(L, src, name, "environment variable %s is not set", scalar(src));
		else
			rawopts_add(raw, name, e, LINE(src), COL(src), EM_SRC_AUTH);
	} else if ((src = get(L, v, "fromFile")) && scalar(src)) {
		char *val = em_read_file(scalar(src), MAX_SECRET_FILE, EM_READ_TRIM_NL, NULL, why, sizeof(why));
		if (!val) {
			lerr(L, src, name, "%s", why);
		} else {
			rawopts_add(raw, name, val, LINE(src), COL(src), EM_SRC_AUTH);
			em_free_secret(val);
		}
	} else {
		lerr(L, v, name, "value source must be a string");
	}
}

static bool raw_has(const struct em_rawopts *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->items[i].name, name) == 0)
			return true;
	return false;
}

static void load_metadata(struct em_loader *L, yaml_node_t *md, struct em_metric_def *m)
{
	if (!md)
		return;
	if (want_map(L, md, "metadata") != 0)
		return;
	for (yaml_node_pair_t *p = md->data.mapping.pairs.start; p < md->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(L, p->key), *v = node(L, p->value);
		const char *ks = scalar(k), *vs = scalar(v);
		size_t kl;

		if (!ks) {
			lerr(L, k, "metadata", "keys must be strings");
			continue;
		}
		if (!vs) {
			lerr(L, v, ks, "metadata values must be strings (quote numbers and lists)");
			continue;
		}
		if (raw_has(&m->raw, ks)) {
			lerr(L, k, ks, "duplicate key in metadata");
			continue;
		}
		kl = strlen(ks);
		/* KEDA: <name>FromEnv reads the value from the (pod's) environment. */
		if (kl > 7 && strcmp(ks + kl - 7, "FromEnv") == 0) {
			char base[256];
			const char *e;
			snprintf(base, sizeof(base), "%.*s", (int)(kl - 7), ks);
			if (raw_has(&m->raw, base)) {
				lerr(L, k, ks, "both %s and %s are set", base, ks);
				continue;
			}
			if (L->flags & EM_CFG_SKIP_SECRETS) {
				rawopts_add_unresolved(&m->raw, base, LINE(v), COL(v), EM_SRC_FROMENV);
				continue;
			}
			e = getenv(vs);
			if (!e) {
				lerr(L, v, ks, "environment variable %s is not set", vs);
				continue;
			}
			rawopts_add(&m->raw, base, e, LINE(v), COL(v), EM_SRC_FROMENV);
			continue;
		}
		rawopts_add_literal(&m->raw, ks, vs, LINE(v), COL(v), EM_SRC_METADATA);
	}
}

static void load_metric_auth(struct em_loader *L, yaml_node_t *auth, struct em_metric_def *m)
{
	static const char *const keys[] = {"podIdentity", "roleArn", "externalID", "params", NULL};
	static const char *const direct[] = {"podIdentity", "roleArn", "externalID"};
	yaml_node_t *params;

	if (!auth || want_map(L, auth, "auth") != 0)
		return;
	check_keys(L, auth, "metric auth", keys);
	for (size_t i = 0; i < 3; i++) {
		yaml_node_t *v = get(L, auth, direct[i]);
		if (!v)
			continue;
		if (!scalar(v))
			lerr(L, v, direct[i], "must be a string");
		else if (raw_has(&m->raw, direct[i]))
			lerr(L, v, direct[i], "also set in metadata");
		else
			rawopts_add_literal(&m->raw, direct[i], scalar(v), LINE(v), COL(v), EM_SRC_AUTH);
	}
	params = get(L, auth, "params");
	if (!params || want_map(L, params, "params") != 0)
		return;
	for (yaml_node_pair_t *p = params->data.mapping.pairs.start; p < params->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(L, p->key);
		const char *ks = scalar(k);
		if (!ks) {
			lerr(L, k, "params", "keys must be strings");
			continue;
		}
		if (raw_has(&m->raw, ks)) {
			lerr(L, k, ks, "set twice (metadata and auth.params)");
			continue;
		}
		load_value_source(L, ks, node(L, p->value), &m->raw);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *em_rawopts_key(const struct em_rawopts *r)
{
	struct em_strbuf sb;
	char **lines = calloc(r->n ? r->n : 1, sizeof(*lines));
	char *out;

	if (!lines)
		return NULL;
	em_sb_init(&sb);
	for (size_t i = 0; i < r->n; i++) {
		struct em_strbuf l;
		em_sb_init(&l);
		em_sb_json_str(&l, r->items[i].name);
		em_sb_puts(&l, "=");
		em_sb_json_str(&l, r->items[i].value ? r->items[i].value : "");
		lines[i] = em_sb_steal(&l);
	}
	qsort(lines, r->n, sizeof(*lines), cmp_str);
	for (size_t i = 0; i < r->n; i++) {
		em_sb_puts(&sb, lines[i] ? lines[i] : "");
		em_sb_puts(&sb, ";");
		em_free_secret(lines[i]);
	}
	free(lines);
	if (sb.oom) {
		em_sb_free(&sb);
		return NULL;
	}
	/* A digest, not the text: the options hold secrets, and keys are kept
	 * for as long as their instance lives. */
	out = sha256_hex(sb.buf ? sb.buf : "", sb.len);
	em_wipe(sb.buf, sb.len);
	em_sb_free(&sb);
	return out;
}

static char *fingerprint(const struct em_metric_def *m)
{
	struct em_strbuf sb;
	char *rk = em_rawopts_key(&m->raw), *out;

	em_sb_init(&sb);
	em_sb_printf(&sb, "%s|%s|%lld|%lld|%lld|%lld|%d|%lld|%.17g|%lld|%d|", m->name, m->type,
		     (long long)m->polling_ms, (long long)m->timeout_ms, (long long)m->stale_ms,
		     (long long)m->idle_ms, m->has_fallback, (long long)m->fallback_threshold, m->fallback_value,
		     (long long)m->max_instances, (int)m->polling);
	em_sb_printf(&sb, "%lld|", (long long)m->max_instances_per_ns);
	for (size_t i = 0; i < m->n_namespaces; i++)
		em_sb_printf(&sb, "ns=%s,", m->namespaces[i]);
	for (size_t i = 0; i < m->labels.n; i++)
		em_sb_printf(&sb, "l=%s=%s,", m->labels.items[i].key, m->labels.items[i].value);
	em_sb_puts(&sb, rk ? rk : "");
	free(rk);
	/* kept for every metric: 64 hex digits, not the text (10,000 metrics) */
	out = sb.oom ? NULL : sha256_hex(sb.buf ? sb.buf : "", sb.len);
	em_sb_free(&sb);
	return out;
}

/* Label names and values as Kubernetes accepts them in metricLabels. */
static bool valid_label_value(const char *v)
{
	size_t n = strlen(v);

	if (n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		if (!isalnum((unsigned char)c) && c != '-' && c != '_' && c != '.')
			return false;
		if ((i == 0 || i == n - 1) && !isalnum((unsigned char)c))
			return false;
	}
	return true;
}

static const struct em_rawopt *raw_find(const struct em_rawopts *r, const char *name)
{
	for (size_t i = 0; name && i < r->n; i++)
		if (strcmp(r->items[i].name, name) == 0)
			return &r->items[i];
	return NULL;
}

/* Secrets belong in the environment or in mounted files, not in a ConfigMap. */
static void warn_literal_secrets(struct em_loader *L, const struct em_metric_def *m)
{
	for (size_t i = 0; i < m->raw.n; i++) {
		const struct em_rawopt *r = &m->raw.items[i];
		const struct em_option *o = em_options_find(m->scaler->options, r->name);
		if (o && (o->flags & EM_OPT_SECRET) && r->literal && r->value && *r->value && !strstr(r->value, "${"))
			em_errlist_warn(L->errs, L->file, r->line, r->col, r->name,
					"secret written in the config file; prefer %sFromEnv, or auth.params with "
					"{fromEnv: VAR} or {fromFile: PATH}", r->name);
	}
}

/* Where a metric's option problems go: each at the line of its key. */
struct opt_report_ctx {
	struct em_loader *L;
	const struct em_metric_def *m;
	yaml_node_t *entry;
};

static void opt_report(void *arg, bool warning, const char *key, const char *msg)
{
	struct opt_report_ctx *x = arg;
	const struct em_rawopt *r = raw_find(&x->m->raw, key);
	const struct em_option *o = r || !key ? NULL : em_options_find(x->m->scaler->options, key);
	int line, col;

	/* a problem with an option written under KEDA's other name for it is shown there */
	if (o)
		r = raw_find(&x->m->raw, strcmp(o->name, key) == 0 ? o->alias : o->name);
	if (r)
		key = r->name;
	line = r ? r->line : LINE(x->entry);
	col = r ? r->col : COL(x->entry);

	/* Sample values (templates) and placeholders (--skip-secrets) can be
	 * wrong where the real ones will not be. */
	if (!warning && r && (r->unresolved || (r->value && strstr(r->value, "${"))))
		return;
	if (warning)
		em_errlist_warn(x->L->errs, x->L->file, line, col, key ? key : "metadata", "%s", msg);
	else
		em_errlist_add(x->L->errs, x->L->file, line, col, key ? key : "metadata", "%s", msg);
}

/* Checks a templated or plain entry against its scaler's table by parsing
 * and validating (templated ones with sample values), reporting every
 * problem. */
static void check_scaler_options(struct em_loader *L, struct em_metric_def *m, yaml_node_t *entry)
{
	struct em_rawopts filled = {0};
	struct em_kvlist sample = {0};
	struct em_kv kv[64];
	struct em_err err = {0};
	struct opt_report_ctx x = {L, m, entry};
	struct em_optdiag d = {.report = opt_report, .arg = &x};
	void *cfg = NULL;
	size_t nk = 0;

	/* Sample values for ${selector.KEY}: every key referenced gets "x". */
	for (size_t i = 0; i < m->raw.n && nk < 64; i++) {
		const char *p = m->raw.items[i].value;
		while (p && (p = strstr(p, "${selector.")) && nk < 64) {
			const char *e = strchr(p, '}');
			if (!e)
				break;
			kv[nk].key = strndup(p + 11, (size_t)(e - p - 11));
			kv[nk].value = strdup("x");
			nk++;
			p = e;
		}
	}
	sample.items = kv;
	sample.n = nk;
	if (em_template_fill(m, "default", &sample, &filled, &err) != 0) {
		lerr(L, entry, "metadata", "%s", err.msg);
		goto out;
	}
	cfg = calloc(1, m->scaler->config_size ? m->scaler->config_size : 1);
	if (!cfg)
		goto out;
	if (em_options_parse(m->scaler->options, &filled, cfg, &d) == 0 &&
	    (!m->scaler->validate || m->scaler->validate(cfg, &d) == 0) && m->scaler->input) {
		const char *in;
		for (size_t i = 0; (in = m->scaler->input(cfg, i)) != NULL; i++)
			if (em_strv_push(&m->inputs, &m->n_inputs, in) != 0)
				lerr(L, entry, "metadata", "out of memory");
	}
out:
	if (cfg) {
		warn_literal_secrets(L, m);
		em_options_free(m->scaler->options, cfg);
		free(cfg);
	}
	for (size_t i = 0; i < nk; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	em_rawopts_free(&filled);
}

static void load_metric(struct em_loader *L, yaml_node_t *e, struct em_config *c, struct em_metric_def *m)
{
	static const char *const keys[] = {"name", "namespaces", "type", "metadata", "auth", "labels",
					   "pollingInterval", "timeout", "staleAfter", "fallback",
					   "maxInstances", "maxInstancesPerNamespace", "polling", NULL};
	static const char *const fbkeys[] = {"failureThreshold", "value", NULL};
	yaml_node_t *ns, *labels, *fb;
	size_t nerr;
	bool polling_given = false;

	m->line = LINE(e);
	m->col = COL(e);
	if (e->type != YAML_MAPPING_NODE) {
		lerr(L, e, "metrics", "each metric must be a mapping");
		return;
	}
	check_keys(L, e, "metric", keys);
	m->name = get_str(L, e, "name", true, e);
	m->type = get_str(L, e, "type", true, e);
	if (m->name && (strchr(m->name, '/') || strchr(m->name, '%') || strcmp(m->name, ".") == 0 ||
			strcmp(m->name, "..") == 0))
		lerr(L, get(L, e, "name"), "name", "must not contain '/' or '%%' nor be '.' or '..' (the HPA rejects such names)");
	/* client-go lowercases the resource segment of the URL: an uppercase
	 * name would be configured but never asked for. */
	for (const char *p = m->name; p && *p; p++)
		if (*p >= 'A' && *p <= 'Z') {
			lerr(L, get(L, e, "name"), "name",
			     "must be lowercase: the HPA controller (client-go) lowercases the metric name in its request "
			     "URL, so \"%s\" could never be asked for", m->name);
			break;
		}
	ns = get(L, e, "namespaces");
	if (!ns) {
		lerr(L, e, "namespaces", "missing required key (list the namespaces allowed to read this metric, or [\"*\"])");
	} else if (ns->type != YAML_SEQUENCE_NODE || ns->data.sequence.items.top == ns->data.sequence.items.start) {
		lerr(L, ns, "namespaces", "must be a non-empty list");
	} else {
		size_t n = (size_t)(ns->data.sequence.items.top - ns->data.sequence.items.start);
		m->namespaces = calloc(n, sizeof(char *));
		for (size_t i = 0; m->namespaces && i < n; i++) {
			yaml_node_t *it = node(L, ns->data.sequence.items.start[i]);
			if (!scalar(it) || !*scalar(it)) {
				lerr(L, it, "namespaces", "entries must be non-empty strings");
				continue;
			}
			m->namespaces[m->n_namespaces++] = strdup(scalar(it));
		}
	}
	if (m->type) {
		m->scaler = em_scaler_find(m->type);
		if (!m->scaler) {
			size_t n;
			const struct em_scaler *const *all = em_scaler_all(&n);
			char list[512] = "";
			size_t off = 0;
			for (size_t i = 0; i < n && off < sizeof(list); i++)
				off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "", all[i]->type);
			lerr(L, get(L, e, "type"), "type", "unknown scaler type \"%s\" (known: %s)", m->type, list);
		}
	}
	/* The scaler's options are checked unless reading them failed (a variable
	 * not set, a file not readable): every other error comes with theirs. */
	nerr = L->errs->n;
	load_metadata(L, get(L, e, "metadata"), m);
	load_metric_auth(L, get(L, e, "auth"), m);
	if (L->errs->n != nerr)
		nerr = SIZE_MAX;
	labels = get(L, e, "labels");
	if (labels && want_map(L, labels, "labels") == 0) {
		for (yaml_node_pair_t *p = labels->data.mapping.pairs.start; p < labels->data.mapping.pairs.top; p++) {
			const char *k = scalar(node(L, p->key)), *v = scalar(node(L, p->value));
			struct em_kv *ni;
			if (!k || !v || !valid_label_value(v) || !*k) {
				lerr(L, node(L, p->value), k ? k : "labels", "label values must be valid Kubernetes label values");
				continue;
			}
			ni = realloc(m->labels.items, (m->labels.n + 1) * sizeof(*ni));
			if (!ni)
				continue;
			m->labels.items = ni;
			ni[m->labels.n].key = strdup(k);
			ni[m->labels.n].value = strdup(v);
			m->labels.n++;
		}
	}
	m->polling_ms = c->def_polling_ms;
	m->timeout_ms = c->def_timeout_ms;
	m->stale_ms = 0;
	m->max_instances = DEFAULT_MAX_INSTANCES;
	get_duration(L, e, "pollingInterval", &m->polling_ms);
	get_duration(L, e, "timeout", &m->timeout_ms);
	get_duration(L, e, "staleAfter", &m->stale_ms);
	get_int(L, e, "maxInstances", 1, 100000, &m->max_instances);
	m->polling = c->def_polling;
	get_polling(L, e, &m->polling, &polling_given);
	/* One namespace must not take every instance of a shared templated
	 * metric: by default a quarter each, unless only one may read it. */
	m->max_instances_per_ns = m->n_namespaces == 1 && m->namespaces[0] && strcmp(m->namespaces[0], "*") != 0
					  ? m->max_instances
					  : (m->max_instances + 3) / 4;
	get_int(L, e, "maxInstancesPerNamespace", 1, m->max_instances, &m->max_instances_per_ns);
	if (!m->stale_ms)
		m->stale_ms = 3 * m->polling_ms;
	m->idle_ms = 10 * m->polling_ms;
	fb = get(L, e, "fallback");
	if (fb && want_map(L, fb, "fallback") == 0) {
		yaml_node_t *v = get(L, fb, "value");
		check_keys(L, fb, "fallback", fbkeys);
		m->has_fallback = true;
		m->fallback_threshold = 3;
		get_int(L, fb, "failureThreshold", 1, 1000000, &m->fallback_threshold);
		if (!v)
			lerr(L, fb, "value", "missing required key");
		else if (!scalar(v) || em_parse_float(scalar(v), &m->fallback_value) != 0 || !(m->fallback_value >= 0) ||
			 m->fallback_value > EM_VALUE_MAX)
			lerr(L, v, "value", "must be a non-negative number of at most 2^53");
	}
	for (size_t i = 0; i < m->raw.n; i++)
		if (m->raw.items[i].value && strstr(m->raw.items[i].value, "${"))
			m->templated = true;
	/* A templated instance no request asked for in two polls (and a minute,
	 * four HPA periods) is dropped: junk selectors are not polled for long. */
	if (m->templated)
		m->idle_ms = 2 * m->polling_ms > IDLE_MIN_MS ? 2 * m->polling_ms : IDLE_MIN_MS;
	if (m->templated && polling_given && m->polling == EM_POLL_EAGER)
		lerr(L, get(L, e, "polling"), "polling",
		     "a templated metric cannot be polled eagerly: its instances exist only once requests name them");
	if (m->scaler && (m->scaler->flags & EM_SCALER_COMPUTED)) {
		/* Computed from cached values on each request: nothing of its own
		 * is polled, and one value serves every namespace. */
		static const char *const unused[] = {"pollingInterval", "timeout", "staleAfter", "maxInstances",
						     "polling"};
		for (size_t i = 0; i < sizeof(unused) / sizeof(unused[0]); i++)
			if (get(L, e, unused[i]))
				lerr(L, get(L, e, unused[i]), unused[i],
				     "not used by a %s metric: it is computed from its inputs' cached values (set it on "
				     "them)", m->type);
		if (m->templated)
			lerr(L, e, "metadata", "a %s metric cannot use ${...} templates", m->type);
	}
	if (m->scaler && nerr != SIZE_MAX)
		check_scaler_options(L, m, e);
	m->fingerprint = fingerprint(m);
}

/* ${namespace} and ${selector.KEY}; anything else after ${ is an error. */
int em_template_fill(const struct em_metric_def *def, const char *ns, const struct em_kvlist *sel_eq,
		     struct em_rawopts *out, struct em_err *err)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < def->raw.n; i++) {
		const struct em_rawopt *r = &def->raw.items[i];
		const char *p = r->value;
		struct em_rawopt *added;
		struct em_strbuf sb;
		char *v;

		em_sb_init(&sb);
		while (p && *p) {
			const char *d = strstr(p, "${"), *e;
			if (!d) {
				em_sb_puts(&sb, p);
				break;
			}
			em_sb_add(&sb, p, (size_t)(d - p));
			e = strchr(d, '}');
			if (!e) {
				em_wipe(sb.buf, sb.len);
				em_sb_free(&sb);
				em_rawopts_free(out);
				return em_err_set(err, EM_E_CONFIG, "%s: unterminated placeholder", r->name);
			}
			if ((size_t)(e - d) == 11 && strncmp(d, "${namespace}", 12) == 0) {
				em_sb_puts(&sb, ns);
			} else if (strncmp(d, "${selector.", 11) == 0) {
				char key[320];
				const char *val;
				snprintf(key, sizeof(key), "%.*s", (int)(e - d - 11), d + 11);
				val = em_kvlist_get(sel_eq, key);
				if (!val) {
					em_wipe(sb.buf, sb.len);
					em_sb_free(&sb);
					em_rawopts_free(out);
					return em_err_set(err, EM_E_BADREQUEST,
							  "metric %s needs a labelSelector with %s=VALUE", def->name, key);
				}
				em_sb_puts(&sb, val);
			} else {
				em_wipe(sb.buf, sb.len);
				em_sb_free(&sb);
				em_rawopts_free(out);
				return em_err_set(err, EM_E_CONFIG,
						  "%s: unknown placeholder %.*s (use ${namespace} or ${selector.KEY})",
						  r->name, (int)(e - d + 1), d);
			}
			p = e + 1;
		}
		v = em_sb_steal(&sb);
		if (!v || !(added = rawopts_add(out, r->name, v, r->line, r->col, r->src))) {
			em_free_secret(v);
			em_rawopts_free(out);
			return em_err_set(err, EM_E_INTERNAL, "out of memory");
		}
		added->literal = r->literal;
		added->unresolved = r->unresolved;
		em_free_secret(v); /* filled values may be secrets */
	}
	return 0;
}

/* A computed metric's inputs: metrics of this file, polled ones (not
 * templated, not computed themselves). */
static void check_inputs(struct em_loader *L, const struct em_config *c)
{
	for (size_t i = 0; i < c->n_metrics; i++) {
		const struct em_metric_def *m = &c->metrics[i];
		for (size_t k = 0; k < m->n_inputs; k++) {
			const struct em_metric_def *in = em_config_find(c, m->inputs[k]);
			const char *why = NULL;
			if (!in)
				why = "no such metric in this config";
			else if (in == m)
				why = "the metric itself";
			else if (in->scaler && (in->scaler->flags & EM_SCALER_COMPUTED))
				why = "a computed metric itself (inputs must be polled metrics)";
			else if (in->templated)
				why = "a templated metric (it has one value per request, not one to read)";
			if (why)
				em_errlist_add(L->errs, L->file, m->line, m->col, "inputs", "input metric \"%s\": %s",
					       m->inputs[k], why);
		}
	}
}

static struct em_config *load_doc(struct em_loader *L, yaml_document_t *doc)
{
	struct em_config *c = calloc(1, sizeof(*c));
	yaml_node_t *root = yaml_document_get_root_node(doc), *metrics;
	size_t n, nslots, *seen;

	if (!c)
		return NULL;
	c->path = strdup(L->file);
	if (!root || root->type != YAML_MAPPING_NODE) {
		load_section(L, NULL, NULL, c); /* the defaults */
		lerr(L, root, "-", "the config must be a mapping with server, defaults and metrics");
		return c;
	}
	/* A whole KEDA object pasted as the config: one clear error, not ten. */
	if (get(L, root, "kind") && get(L, root, "spec") && !get(L, root, "metrics")) {
		const char *kind = scalar(get(L, root, "kind"));
		load_section(L, NULL, NULL, c); /* the defaults */
		lerr(L, get(L, root, "kind"), "kind", "this is a Kubernetes object (kind: %s), not an extmetrics config; "
		     "convert KEDA ScaledObjects with `extmetrics import-keda FILE`", kind ? kind : "?");
		return c;
	}
	/* server: and defaults: (and the top level's keys) from the settings table */
	load_section(L, NULL, root, c);
	metrics = get(L, root, "metrics");
	if (!metrics) {
		lerr(L, root, "metrics", "missing required key");
		return c;
	}
	if (metrics->type != YAML_SEQUENCE_NODE) {
		lerr(L, metrics, "metrics", "must be a list");
		return c;
	}
	n = (size_t)(metrics->data.sequence.items.top - metrics->data.sequence.items.start);
	c->metrics = calloc(n ? n : 1, sizeof(*c->metrics));
	for (nslots = 16; nslots < 2 * n; nslots *= 2)
		;
	/* names seen so far, 1 + index (open addressing): duplicates found in
	 * O(n), not by comparing every pair (10,000 metrics) */
	seen = calloc(nslots, sizeof(*seen));
	if (!c->metrics || !seen) {
		free(seen);
		return c;
	}
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *e = node(L, metrics->data.sequence.items.start[i]);
		struct em_metric_def *m = &c->metrics[c->n_metrics++];
		size_t at;
		load_metric(L, e, c, m);
		if (!m->name)
			continue;
		for (at = em_hash_str(m->name) & (nslots - 1); seen[at]; at = (at + 1) & (nslots - 1))
			if (strcmp(c->metrics[seen[at] - 1].name, m->name) == 0)
				break;
		if (seen[at])
			lerr(L, get(L, e, "name"), "name", "duplicate metric name \"%s\" (first defined at line %d)", m->name,
			     c->metrics[seen[at] - 1].line);
		else
			seen[at] = i + 1;
	}
	free(seen);
	check_inputs(L, c);
	return c;
}

struct em_config *em_config_load_mem(const char *name, const char *text, size_t len, struct em_errlist *errs)
{
	return em_config_load_mem_ex(name, text, len, 0, errs);
}

/* When a YAML error at index is a tab in the indentation of its line (or
 * the tab it points at), where that tab is, 1-based, and how many lines
 * are indented with a tab, the first five in lines ("3, 7, 9"): libyaml
 * mostly says only "found character that cannot start any token". 0 when
 * the error is something else. */
static size_t tab_indent(const char *text, size_t len, size_t index, int *line, int *col, char *lines, size_t cap)
{
	size_t start = index < len ? index : len, p, n = 0, at = 0;
	int ln = 1;
	bool found = false;

	while (start > 0 && text[start - 1] != '\n')
		start--;
	for (p = start; p < len && (text[p] == ' ' || text[p] == '\t'); p++)
		if (text[p] == '\t' && !found) {
			found = true;
			*col = (int)(p - start) + 1;
		}
	if (!found && index < len && text[index] == '\t') {
		found = true;
		*col = (int)(index - start) + 1;
	}
	if (!found)
		return 0;
	lines[0] = '\0';
	for (p = 0; p < len; p++) {
		bool tab = false;
		size_t q;
		if (p == start)
			*line = ln;
		for (q = p; q < len && (text[q] == ' ' || text[q] == '\t'); q++)
			tab = tab || text[q] == '\t';
		if (tab && n++ < 5)
			at += (size_t)snprintf(lines + at, at < cap ? cap - at : 0, "%s%d", at ? ", " : "", ln);
		while (q < len && text[q] != '\n')
			q++;
		p = q;
		ln++;
	}
	if (n > 5 && at < cap)
		snprintf(lines + at, cap - at, " and %zu more", n - 5);
	return n ? n : 1;
}

struct em_config *em_config_load_mem_ex(const char *name, const char *text, size_t len, unsigned flags,
					struct em_errlist *errs)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	struct em_loader L = {.file = name, .doc = &doc, .errs = errs, .flags = flags};
	struct em_config *c = NULL;
	size_t before = errs->n;

	if (!yaml_parser_initialize(&parser)) {
		em_errlist_add(errs, name, 0, 0, "-", "out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		int tl = 0, tc = 0;
		char tabs[128];
		size_t nt = tab_indent(text, len, parser.problem_mark.index, &tl, &tc, tabs, sizeof(tabs));
		if (nt)
			em_errlist_add(errs, name, tl, tc, "-",
				       "YAML: a tab character indents this line: YAML indents with spaces only (the file "
				       "has tabs in the indentation of line%s %s)", nt > 1 ? "s" : "", tabs);
		else
			em_errlist_add(errs, name, (int)parser.problem_mark.line + 1, (int)parser.problem_mark.column + 1,
				       "-", "YAML: %s%s%s", parser.problem ? parser.problem : "syntax error",
				       parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return NULL;
	}
	c = load_doc(&L, &doc);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (!c && errs->n == before)
		em_errlist_add(errs, name, 0, 0, "-", "out of memory");
	if (errs->n != before) {
		em_config_free(c);
		return NULL;
	}
	return c;
}

struct em_config *em_config_load(const char *path, struct em_errlist *errs)
{
	return em_config_load_ex(path, 0, errs);
}

struct em_config *em_config_load_ex(const char *path, unsigned flags, struct em_errlist *errs)
{
	char why[512];
	char *text;
	struct em_config *c;
	FILE *f = fopen(path, "r");

	if (!f) {
		em_errlist_add(errs, path, 0, 0, "-", "cannot open: %s", strerror(errno));
		return NULL;
	}
	fclose(f);
	text = em_read_file(path, MAX_CONFIG_FILE, 0, NULL, why, sizeof(why));
	if (!text) {
		em_errlist_add(errs, path, 0, 0, "-", "%s", why);
		return NULL;
	}
	c = em_config_load_mem_ex(path, text, strlen(text), flags, errs);
	free(text);
	return c;
}
