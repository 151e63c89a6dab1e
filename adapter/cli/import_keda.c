/* import_keda.c - `extmetrics import-keda`: KEDA ScaledObjects to extmetrics config entries and HPAs, checked by the config loader. */
#include "import_keda.h"
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "adapter/config.h"
#include "scalers/composite/formula.h"
#include "scalers/scaler.h"

#define MAX_INPUT (16u << 20)
#define HPA_MAX_WINDOW 3600   /* the HPA's upper bound for stabilizationWindowSeconds */
#define EXTMETRICS_NS "extmetrics"   /* the namespace and Deployment of manifests/base */
#define CHECK_NAME "import-keda"     /* the file name the loader's messages about our output carry */

/* TriggerAuthentication sources extmetrics has no equivalent for. */
static const char *const unsupported_sources[] = {"hashiCorpVault", "azureKeyVault", "gcpSecretManager",
						  "awsSecretManager", "configMapTargetRef", "filePath",
						  "boundServiceAccountToken", "oauth2", NULL};

/* ---------------------------------------------------------------- state */

struct doc {
	const char *file;
	yaml_document_t d;
};

struct obj {
	struct doc *doc;
	yaml_node_t *node;
	const char *kind;
};

struct secret_use {
	char *ns, *name, *key;
};

struct ctx {
	const struct em_keda_opts *opts;
	struct doc *docs;
	size_t ndocs;
	struct obj *objs;
	size_t nobjs;
	FILE *cfg, *hpa, *diag;
	char **names;   /* metric names given out; those of a refused ScaledObject are taken back */
	size_t nnames;
	struct secret_use *secrets;   /* the same for Secrets read */
	size_t nsecrets;
	int n_so, n_jobs, n_hpa, n_metrics, n_problems, n_refused;
	long trig;   /* index of the trigger being translated, -1 outside triggers */
	bool oom;
};

/* What one ScaledObject is being translated as, for messages. */
struct so_ref {
	struct doc *doc;
	const char *kind;
	const char *ns;
	const char *name;
};

static const char *dir_of(const struct ctx *c)
{
	return c->opts->secrets_dir ? c->opts->secrets_dir : EM_KEDA_SECRETS_DIR;
}

/* ---------------------------------------------------------------- YAML access */

static yaml_node_t *node_at(yaml_document_t *d, int idx)
{
	return yaml_document_get_node(d, idx);
}

static yaml_node_t *map_get(yaml_document_t *d, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(d, p->key);
		if (k && k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, key) == 0)
			return node_at(d, p->value);
	}
	return NULL;
}

static const char *scalar(yaml_node_t *n)
{
	if (!n || n->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)n->data.scalar.value;
}

/* A scalar that YAML would read as null (`~`, `null`, empty plain) counts as absent. */
static bool is_null(yaml_node_t *n)
{
	const char *s = scalar(n);

	if (!n)
		return true;
	if (!s || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
	       strcmp(s, "NULL") == 0;
}

static const char *map_str(yaml_document_t *d, yaml_node_t *map, const char *key)
{
	yaml_node_t *n = map_get(d, map, key);

	return is_null(n) ? NULL : scalar(n);
}

static size_t map_len(yaml_node_t *n)
{
	if (!n || n->type != YAML_MAPPING_NODE)
		return 0;
	return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

/* ---------------------------------------------------------------- diagnostics */

static void vreport(struct ctx *c, bool problem, const struct so_ref *so, yaml_node_t *at, const char *field,
		    const char *fmt, va_list ap)
{
	if (at)
		fprintf(c->diag, "%s:%lu:%lu: ", so->doc->file, (unsigned long)at->start_mark.line + 1,
			(unsigned long)at->start_mark.column + 1);
	else
		fprintf(c->diag, "%s: ", so->doc->file);
	fputs(problem ? "" : "note: ", c->diag);
	fprintf(c->diag, "%s %s%s%s", so->kind, so->ns ? so->ns : "", so->ns ? "/" : "", so->name ? so->name : "(unnamed)");
	/* "spec.triggers[]..." fields get the index of the trigger at hand. */
	if (field && c->trig >= 0 && strncmp(field, "spec.triggers[]", 15) == 0)
		fprintf(c->diag, ": spec.triggers[%ld]%s", c->trig, field + 15);
	else if (field)
		fprintf(c->diag, ": %s", field);
	fputs(problem ? ": not translated: " : ": ", c->diag);
	vfprintf(c->diag, fmt, ap);
	fputc('\n', c->diag);
	if (problem)
		c->n_problems++;
}

static void problem(struct ctx *c, const struct so_ref *so, yaml_node_t *at, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void problem(struct ctx *c, const struct so_ref *so, yaml_node_t *at, const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(c, true, so, at, field, fmt, ap);
	va_end(ap);
}

static void note(struct ctx *c, const struct so_ref *so, yaml_node_t *at, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void note(struct ctx *c, const struct so_ref *so, yaml_node_t *at, const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(c, false, so, at, field, fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------- YAML output */

/* A double-quoted YAML scalar: valid for any text, read back as a string. */
static void put_q(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\t': fputs("\\t", f); break;
		case '\r': fputs("\\r", f); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\x%02x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

/* Re-emits a source scalar: a plain one verbatim (so 60 stays a number and
 * Max a string, exactly as YAML resolved it there), anything else quoted. */
/* A mapping key: plain when it is an identifier-like word YAML reads as a
 * string (not a number, bool or null), else quoted. */
static void put_key(FILE *f, const char *s)
{
	static const char *const special[] = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", NULL};
	bool plain = (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z');

	for (const char *p = s; plain && *p; p++)
		plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
			*p == '-' || *p == '.' || *p == '/';
	for (size_t i = 0; plain && special[i]; i++)
		plain = strcasecmp(s, special[i]) != 0;
	if (plain)
		fputs(s, f);
	else
		put_q(f, s);
}

static void put_scalar(FILE *f, yaml_node_t *n)
{
	const char *s = scalar(n);

	if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && *s && !strchr(s, '\n'))
		fputs(s, f);
	else
		put_q(f, s);
}

static void pad(FILE *f, int n)
{
	for (int i = 0; i < n; i++)
		fputc(' ', f);
}

static void emit_value(FILE *f, yaml_document_t *d, yaml_node_t *v, int indent);

static void emit_map_body(FILE *f, yaml_document_t *d, yaml_node_t *m, int indent, bool first_inline)
{
	bool first = true;

	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(d, p->key);
		if (!(first && first_inline))
			pad(f, indent);
		first = false;
		if (k && k->type == YAML_SCALAR_NODE)
			put_scalar(f, k);
		else
			fputs("\"\"", f);   /* complex keys do not occur in Kubernetes objects */
		fputc(':', f);
		emit_value(f, d, node_at(d, p->value), indent + 2);
	}
}

static void emit_seq_body(FILE *f, yaml_document_t *d, yaml_node_t *s, int indent)
{
	for (yaml_node_item_t *it = s->data.sequence.items.start; it < s->data.sequence.items.top; it++) {
		yaml_node_t *v = node_at(d, *it);
		pad(f, indent);
		fputs("-", f);
		if (v && v->type == YAML_MAPPING_NODE && map_len(v) > 0) {
			fputc(' ', f);
			emit_map_body(f, d, v, indent + 2, true);
		} else {
			emit_value(f, d, v, indent + 2);
		}
	}
}

/* Writes what follows "key:" (or "-"): the value and its line end. */
static void emit_value(FILE *f, yaml_document_t *d, yaml_node_t *v, int indent)
{
	if (!v) {
		fputs(" null\n", f);
		return;
	}
	switch (v->type) {
	case YAML_SCALAR_NODE:
		fputc(' ', f);
		put_scalar(f, v);
		fputc('\n', f);
		break;
	case YAML_MAPPING_NODE:
		if (map_len(v) == 0) {
			fputs(" {}\n", f);
			break;
		}
		fputc('\n', f);
		emit_map_body(f, d, v, indent, false);
		break;
	case YAML_SEQUENCE_NODE:
		if (v->data.sequence.items.top == v->data.sequence.items.start) {
			fputs(" []\n", f);
			break;
		}
		fputc('\n', f);
		emit_seq_body(f, d, v, indent);
		break;
	default:
		fputs(" null\n", f);
	}
}

/* ---------------------------------------------------------------- helpers */

/* Integer fields (replica counts, seconds). 0 ok, -1 not an integer in [lo, hi]. */
static int parse_int(const char *s, long lo, long hi, long *out)
{
	char *end = NULL;
	long v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* An integer field of map: 1 found, 0 absent, -1 invalid (reported). */
static int get_int(struct ctx *c, const struct so_ref *so, yaml_document_t *d, yaml_node_t *map, const char *key,
		   const char *field, long lo, long hi, long *out)
{
	yaml_node_t *n = map_get(d, map, key);

	if (is_null(n))
		return 0;
	if (parse_int(scalar(n), lo, hi, out) != 0) {
		problem(c, so, n, field, "\"%s\" is not an integer in %ld..%ld", scalar(n) ? scalar(n) : "(not a scalar)", lo,
			hi);
		return -1;
	}
	return 1;
}

/* A KEDA target ("10", "0.5", "22.5") as a Kubernetes quantity: whole numbers
 * plain, others in milli-units, as KEDA's NewMilliQuantity(v*1000) does. */
static int target_quantity(const char *s, double *val, char *out, size_t cap)
{
	char *end = NULL;
	double v;
	long long milli;

	if (!s)
		return -1;
	while (*s == ' ' || *s == '\t')
		s++;
	errno = 0;
	v = strtod(s, &end);
	while (end && (*end == ' ' || *end == '\t'))
		end++;
	if (errno || end == s || *end || !isfinite(v) || v <= 0 || v > 9e15)
		return -1;
	milli = llround(v * 1000.0);
	if (milli <= 0)
		return -1;
	if (val)
		*val = (double)milli / 1000.0;
	if (milli % 1000 == 0)
		snprintf(out, cap, "%lld", milli / 1000);
	else
		snprintf(out, cap, "%lldm", milli);
	return 0;
}

/* A plain decimal with at most 3 fractional digits and no trailing zeros. */
static void fmt_decimal(double v, char *out, size_t cap)
{
	size_t n;

	snprintf(out, cap, "%.3f", v);
	n = strlen(out);
	while (n > 0 && out[n - 1] == '0')
		out[--n] = '\0';
	if (n > 0 && out[n - 1] == '.')
		out[--n] = '\0';
}

static char *xstrdup(struct ctx *c, const char *s)
{
	char *r = strdup(s);

	if (!r)
		c->oom = true;
	return r;
}

static bool name_used(struct ctx *c, const char *name)
{
	for (size_t i = 0; i < c->nnames; i++)
		if (strcmp(c->names[i], name) == 0)
			return true;
	return false;
}

/* Metric names go in URL paths and HPA specs, and client-go lowercases them
 * in the HPA controller's request URL: [a-z0-9-_] only, the rest as '-'. */
static void sanitize(char *s)
{
	for (char *p = s; *p; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
		else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			*p = '-';
	}
}

/* SO-SUFFIX, then NS-SO-SUFFIX, then a numeric suffix: unique within one run,
 * and the same for the same input. */
static void metric_name(struct ctx *c, const struct so_ref *so, const char *suffix, char *out, size_t cap)
{
	snprintf(out, cap, "%s-%s", so->name, suffix);
	sanitize(out);
	if (name_used(c, out)) {
		snprintf(out, cap, "%s-%s-%s", so->ns, so->name, suffix);
		sanitize(out);
	}
	if (name_used(c, out)) {
		size_t len = strlen(out);
		for (int i = 2; name_used(c, out); i++)
			snprintf(out + len, cap - len, "-%d", i);
	}
	if (em_strv_push(&c->names, &c->nnames, out) != 0)
		c->oom = true;
}

static void secret_add(struct ctx *c, const char *ns, const char *name, const char *key)
{
	struct secret_use *s;

	for (size_t i = 0; i < c->nsecrets; i++)
		if (!strcmp(c->secrets[i].ns, ns) && !strcmp(c->secrets[i].name, name) && !strcmp(c->secrets[i].key, key))
			return;
	s = realloc(c->secrets, (c->nsecrets + 1) * sizeof(*s));
	if (!s) {
		c->oom = true;
		return;
	}
	c->secrets = s;
	s = &c->secrets[c->nsecrets];
	s->ns = xstrdup(c, ns);
	s->name = xstrdup(c, name);
	s->key = xstrdup(c, key);
	c->nsecrets++;
}

/* Takes back the names and Secrets given out since a refused ScaledObject began. */
static void take_back(struct ctx *c, size_t nnames, size_t nsecrets)
{
	while (c->nnames > nnames)
		free(c->names[--c->nnames]);
	while (c->nsecrets > nsecrets) {
		struct secret_use *s = &c->secrets[--c->nsecrets];
		free(s->ns);
		free(s->name);
		free(s->key);
	}
}

static const char *obj_ns(struct obj *o)
{
	return map_str(&o->doc->d, map_get(&o->doc->d, o->node, "metadata"), "namespace");
}

static const char *obj_name(struct obj *o)
{
	return map_str(&o->doc->d, map_get(&o->doc->d, o->node, "metadata"), "name");
}

/* Fails on any key of map not in allowed (NULL-terminated), reporting each. */
static void unknown_keys(struct ctx *c, const struct so_ref *so, yaml_document_t *d, yaml_node_t *map,
			 const char *prefix, const char *const *allowed)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		const char *k = scalar(node_at(d, p->key));
		bool ok = false;
		char field[256];
		for (size_t i = 0; k && allowed[i]; i++)
			if (strcmp(k, allowed[i]) == 0)
				ok = true;
		if (ok)
			continue;
		snprintf(field, sizeof(field), "%s%s", prefix, k ? k : "?");
		problem(c, so, node_at(d, p->key), field, "no extmetrics equivalent");
	}
}

/* ---------------------------------------------------------------- checking with the loader */

/* Loads a `metrics:` text as check-config --skip-secrets would (no server:
 * section, Secrets and variables not read) and reports its errors as
 * problems and its warnings as notes, about field, at node at. */
static int check_entries(struct ctx *c, const struct so_ref *so, yaml_node_t *at, const char *field, const char *text)
{
	struct em_errlist errs = {0};
	struct em_config *cfg = em_config_load_mem_ex(CHECK_NAME, text, strlen(text),
						      EM_CFG_METRICS_ONLY | EM_CFG_SKIP_SECRETS, &errs);
	int rc = cfg ? 0 : -1;

	/* "import-keda:LINE:COL: KEY: message": the key and message are what matter */
	for (size_t i = 0; i < errs.n + errs.nwarns; i++) {
		const char *m = i < errs.n ? errs.msgs[i] : errs.warns[i - errs.n];
		for (int k = 0; k < 3 && m; k++)
			m = strchr(m, ':') ? strchr(m, ':') + 1 : NULL;
		m = m ? m + (*m == ' ') : "";
		if (i < errs.n)
			problem(c, so, at, field, "extmetrics would refuse it: %s", m);
		else
			note(c, so, at, field, "%s", m);
	}
	em_config_free(cfg);
	em_errlist_free(&errs);
	return rc;
}

/* ---------------------------------------------------------------- authentication */

/* The parts of a TriggerAuthentication that become a metric's `auth:`. */
struct auth_out {
	const char *pod_identity;   /* "aws" or NULL */
	const char *role_arn, *external_id;
	FILE *params;               /* "        NAME: {fromFile: ...}\n" lines */
	char *params_buf;
	size_t params_len;
	bool any;
};

static struct obj *find_auth(struct ctx *c, const char *kind, const char *name, const char *ns)
{
	for (size_t i = 0; i < c->nobjs; i++) {
		struct obj *o = &c->objs[i];
		const char *on, *ons;
		if (strcmp(o->kind, kind) != 0)
			continue;
		on = obj_name(o);
		if (!on || strcmp(on, name) != 0)
			continue;
		if (strcmp(kind, "ClusterTriggerAuthentication") == 0)
			return o;
		/* Files often leave namespaces to `kubectl -n`: absent matches anything. */
		ons = obj_ns(o);
		if (!ons || !ns || strcmp(ons, ns) == 0)
			return o;
	}
	return NULL;
}

/* One `NAME: {SOURCE: VALUE}` line of auth.params. */
static void put_param(FILE *f, const char *param, const char *source, const char *value)
{
	fputs("        ", f);
	put_key(f, param);
	fprintf(f, ": {%s: ", source);
	put_q(f, value);
	fputs("}\n", f);
}

/* A TriggerAuthentication's parameters for a trigger of scaler sc. Its
 * problems are this trigger's: each trigger using an unsupported source says
 * so. Parameters the scaler does not read are dropped, as KEDA ignores them. */
static void translate_auth(struct ctx *c, const struct so_ref *so, yaml_node_t *aref, struct obj *ta,
			   const struct em_scaler *sc, struct auth_out *a)
{
	yaml_document_t *d = &ta->doc->d;
	yaml_node_t *spec = map_get(d, ta->node, "spec");
	yaml_node_t *n;
	bool cluster = strcmp(ta->kind, "ClusterTriggerAuthentication") == 0;
	/* KEDA reads a ClusterTriggerAuthentication's Secrets in its own namespace */
	const char *secret_ns = cluster ? (c->opts->keda_namespace ? c->opts->keda_namespace : EM_KEDA_NAMESPACE)
				: obj_ns(ta) ? obj_ns(ta) : so->ns;
	static const char *const known[] = {"podIdentity", "secretTargetRef", "env", NULL};

	if (!spec || spec->type != YAML_MAPPING_NODE) {
		problem(c, so, aref, "spec.triggers[].authenticationRef", "%s %s has no spec", ta->kind, obj_name(ta));
		return;
	}
	for (yaml_node_pair_t *p = spec->data.mapping.pairs.start; p < spec->data.mapping.pairs.top; p++) {
		const char *k = scalar(node_at(d, p->key));
		bool ok = false;
		for (size_t i = 0; k && known[i]; i++)
			ok |= strcmp(k, known[i]) == 0;
		for (size_t i = 0; k && !ok && unsupported_sources[i]; i++)
			if (strcmp(k, unsupported_sources[i]) == 0) {
				problem(c, so, aref, "spec.triggers[].authenticationRef",
					"%s %s takes parameters from %s, which extmetrics cannot read: put them in a "
					"Secret (secretTargetRef)", ta->kind, obj_name(ta), k);
				ok = true;
			}
		if (!ok)
			problem(c, so, aref, "spec.triggers[].authenticationRef", "%s %s: spec.%s has no extmetrics "
				"equivalent", ta->kind, obj_name(ta), k ? k : "?");
	}

	n = map_get(d, spec, "podIdentity");
	if (n && n->type == YAML_MAPPING_NODE) {
		const char *prov = map_str(d, n, "provider");
		const char *owner = map_str(d, n, "identityOwner");
		if (!prov || strcmp(prov, "none") == 0) {
			/* nothing to do */
		} else if (strcmp(prov, "aws") == 0) {
			a->pod_identity = "aws";
			a->role_arn = map_str(d, n, "roleArn");
			a->external_id = map_str(d, n, "externalID");
			a->any = true;
			if (owner && strcmp(owner, "workload") == 0)
				problem(c, so, aref, "spec.triggers[].authenticationRef",
					"%s %s: identityOwner workload makes KEDA assume the workload ServiceAccount's role "
					"(its eks.amazonaws.com/role-arn): write that role as podIdentity.roleArn",
					ta->kind, obj_name(ta));
		} else if (strcmp(prov, "aws-eks") == 0) {
			problem(c, so, aref, "spec.triggers[].authenticationRef",
				"%s %s: podIdentity aws-eks makes KEDA assume the role of the workload's ServiceAccount "
				"(its eks.amazonaws.com/role-arn), which is not in these files: use provider aws with "
				"that roleArn", ta->kind, obj_name(ta));
		} else {
			problem(c, so, aref, "spec.triggers[].authenticationRef",
				"%s %s: podIdentity provider \"%s\" is not supported (aws only)", ta->kind, obj_name(ta), prov);
		}
	}

	n = map_get(d, spec, "secretTargetRef");
	for (yaml_node_item_t *it = n && n->type == YAML_SEQUENCE_NODE ? n->data.sequence.items.start : NULL;
	     it && it < n->data.sequence.items.top; it++) {
		yaml_node_t *e = node_at(d, *it);
		const char *param = map_str(d, e, "parameter"), *sname = map_str(d, e, "name"), *key = map_str(d, e, "key");
		char path[1024];
		if (!param || !sname || !key) {
			problem(c, so, aref, "spec.triggers[].authenticationRef",
				"%s %s: a secretTargetRef needs parameter, name and key", ta->kind, obj_name(ta));
			continue;
		}
		if (!em_options_find(sc->options, param)) {
			note(c, so, aref, "spec.triggers[].authenticationRef", "%s %s: parameter %s dropped: %s does not "
			     "read it (KEDA ignores it too)", ta->kind, obj_name(ta), param, sc->type);
			continue;
		}
		/* They go into file paths and the copy commands: Kubernetes' own rules. */
		if (strlen(sname) > 253 || strspn(sname, "abcdefghijklmnopqrstuvwxyz0123456789.-") != strlen(sname) ||
		    strlen(key) > 253 || strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
					     strlen(key) || key[0] == '.') {
			problem(c, so, aref, "spec.triggers[].authenticationRef", "%s %s: \"%s\" key \"%s\" is not a "
				"valid Secret name and key", ta->kind, obj_name(ta), sname, key);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s/%s/%s", dir_of(c), secret_ns, sname, key);
		put_param(a->params, param, "fromFile", path);
		secret_add(c, secret_ns, sname, key);
		a->any = true;
	}

	n = map_get(d, spec, "env");
	for (yaml_node_item_t *it = n && n->type == YAML_SEQUENCE_NODE ? n->data.sequence.items.start : NULL;
	     it && it < n->data.sequence.items.top; it++) {
		yaml_node_t *e = node_at(d, *it);
		const char *param = map_str(d, e, "parameter"), *var = map_str(d, e, "name");
		if (!param || !var) {
			problem(c, so, aref, "spec.triggers[].authenticationRef", "%s %s: an env entry needs parameter "
				"and name", ta->kind, obj_name(ta));
			continue;
		}
		if (!em_options_find(sc->options, param)) {
			note(c, so, aref, "spec.triggers[].authenticationRef", "%s %s: parameter %s dropped: %s does not "
			     "read it (KEDA ignores it too)", ta->kind, obj_name(ta), param, sc->type);
			continue;
		}
		put_param(a->params, param, "fromEnv", var);
		note(c, so, aref, "spec.triggers[].authenticationRef",
		     "%s is read from the extmetrics container's environment, not the workload's: set it there", var);
		a->any = true;
	}
}

/* ---------------------------------------------------------------- triggers */

struct so_common {
	long polling_s;
	long min_replicas;
	bool have_fallback;
	long fb_threshold, fb_replicas;
	yaml_node_t *fb_node;
};

/* Resource metrics (cpu, memory) stay in the HPA: no adapter involved. */
static bool translate_resource_trigger(struct ctx *c, const struct so_ref *so, yaml_document_t *d, yaml_node_t *trig,
				       const char *type, FILE *hm)
{
	yaml_node_t *md = map_get(d, trig, "metadata");
	const char *mtype = map_str(d, trig, "metricType");
	const char *value = map_str(d, md, "value");
	const char *container = map_str(d, md, "containerName");
	long util;

	if (!mtype)
		mtype = map_str(d, md, "type");   /* deprecated place of the same field */
	if (!mtype)
		mtype = "Utilization";
	if (!value) {
		problem(c, so, trig, "spec.triggers[].metadata.value", "missing");
		return false;
	}
	if (strcmp(mtype, "Utilization") != 0 && strcmp(mtype, "AverageValue") != 0) {
		problem(c, so, trig, "spec.triggers[].metricType", "\"%s\" is not Utilization or AverageValue", mtype);
		return false;
	}
	if (strcmp(mtype, "Utilization") == 0 && parse_int(value, 1, 100000, &util) != 0) {
		problem(c, so, md, "spec.triggers[].metadata.value", "\"%s\" is not a whole percentage", value);
		return false;
	}
	fprintf(hm, "    - type: %s\n", container ? "ContainerResource" : "Resource");
	fprintf(hm, "      %s:\n", container ? "containerResource" : "resource");
	fprintf(hm, "        name: %s\n", type);
	if (container) {
		fputs("        container: ", hm);
		put_q(hm, container);
		fputc('\n', hm);
	}
	if (strcmp(mtype, "Utilization") == 0) {
		fprintf(hm, "        target:\n          type: Utilization\n          averageUtilization: %ld\n", util);
	} else {
		fputs("        target:\n          type: AverageValue\n          averageValue: ", hm);
		put_q(hm, value);
		fputc('\n', hm);
	}
	return true;
}

struct md_ref {
	yaml_document_t *d;
	yaml_node_t *md;
};

static const char *md_get(const void *arg, const char *key)
{
	const struct md_ref *r = arg;

	return r->md ? map_str(r->d, r->md, key) : NULL;
}

/* The HPA target KEDA gives a trigger of sc: the option flagged EM_OPT_TARGET
 * (the one sc->target_key picks when several are), its value, else its
 * default; or the scaler's fixed target. NULL when required and absent;
 * *key names the option. */
static const char *trigger_target(const struct em_scaler *sc, yaml_document_t *d, yaml_node_t *md, const char **key)
{
	struct md_ref ref = {d, md};
	const char *pick_def = NULL;
	const char *pick = sc->target_key ? sc->target_key(md_get, &ref, &pick_def) : NULL;

	*key = NULL;
	if (sc->fixed_target)
		return sc->fixed_target;
	for (const struct em_option *o = sc->options; o->name; o++) {
		const char *v;
		if (!(o->flags & EM_OPT_TARGET) || (pick && strcmp(o->name, pick) != 0))
			continue;
		*key = o->name;
		v = map_str(d, md, o->name);
		if ((!v || !*v) && o->alias)
			v = map_str(d, md, o->alias);
		return v && *v ? v : pick ? pick_def : o->def;
	}
	return NULL;
}

/* Writes the trigger's metadata under `metadata:`, leaving out what KEDA
 * ignores and what would change its meaning here. */
static void put_metadata(struct ctx *c, const struct so_ref *so, yaml_document_t *d, yaml_node_t *md,
			 const struct em_scaler *sc, const struct so_common *com, FILE *f)
{
	bool header = false;

	for (yaml_node_pair_t *p = md ? md->data.mapping.pairs.start : NULL; p && p < md->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(d, p->key), *v = node_at(d, p->value);
		const char *ks = scalar(k);
		const struct em_option *o;
		char f2[300];
		if (!ks)
			continue;
		snprintf(f2, sizeof(f2), "spec.triggers[].metadata.%s", ks);
		if (!scalar(v)) {
			problem(c, so, v, f2, "metadata values must be strings");
			continue;
		}
		o = em_options_find(sc->options, ks);
		if ((!o && strcmp(ks, "metricName") == 0) || (o && (o->flags & EM_OPT_IGNORED))) {
			note(c, so, k, f2, "dropped: KEDA ignores it");
			continue;
		}
		/* KEDA's activation only decides 0 <-> 1 replicas; with a minimum
		 * above 0 it decides nothing, while here an inactive metric reads 0. */
		if (o && (o->flags & EM_OPT_ACTIVATION) && com->min_replicas > 0 && (!o->def || strcmp(scalar(v), o->def))) {
			note(c, so, k, f2, "dropped: with minReplicaCount %ld KEDA never scales to 0, so activation decides "
			     "nothing there, while here an inactive metric reads 0", com->min_replicas);
			continue;
		}
		if (strstr(scalar(v), "${")) {
			problem(c, so, v, f2, "extmetrics reads ${...} as a template of the request, KEDA as text");
			continue;
		}
		if (strlen(ks) > 7 && strcmp(ks + strlen(ks) - 7, "FromEnv") == 0)
			note(c, so, k, f2, "%s is read from the extmetrics container's environment, not the workload's: "
			     "set it there", scalar(v));
		if (!header)
			fputs("    metadata:\n", f);
		header = true;
		fputs("      ", f);
		put_key(f, ks);
		fputs(": ", f);
		put_q(f, scalar(v));
		fputc('\n', f);
	}
}

/* One External metric of the HPA, selected as KEDA's metrics server selects them. */
static void put_external_metric(FILE *hm, const char *metric, const char *so_name, bool value_type, const char *qty)
{
	fputs("    - type: External\n      external:\n        metric:\n          name: ", hm);
	put_q(hm, metric);
	fputs("\n          selector:\n            matchLabels:\n              scaledobject.keda.sh/name: ", hm);
	put_q(hm, so_name);
	fputc('\n', hm);
	if (value_type)
		fprintf(hm, "        target:\n          type: Value\n          value: \"%s\"\n", qty);
	else
		fprintf(hm, "        target:\n          type: AverageValue\n          averageValue: \"%s\"\n", qty);
}

/* The first lines of a config entry. */
static void put_entry_head(FILE *f, const char *metric, const char *ns, const char *type)
{
	fputs("  - name: ", f);
	put_q(f, metric);
	fputs("\n    namespaces: [", f);
	put_q(f, ns);
	fputs("]\n    type: ", f);
	put_q(f, type);
	fputc('\n', f);
}

/* One External trigger: its config entry into f (checked with the loader)
 * and, unless it is a formula's input, its metric into hm. Its metric name
 * goes to mname. Returns true when written. */
static bool translate_trigger(struct ctx *c, const struct so_ref *so, yaml_document_t *d, yaml_node_t *trig, size_t idx,
			      size_t ntrig, const struct so_common *com, FILE *hm, FILE *f, bool input, char *mname,
			      size_t mcap)
{
	static const char *const known[] = {"type", "metadata", "name", "metricType", "authenticationRef",
					    "useCachedMetrics", NULL};
	const char *type = map_str(d, trig, "type");
	const char *tname = map_str(d, trig, "name");
	const char *mtype = map_str(d, trig, "metricType");
	yaml_node_t *md = map_get(d, trig, "metadata");
	yaml_node_t *aref = map_get(d, trig, "authenticationRef");
	const struct em_scaler *sc = type ? em_scaler_find(type) : NULL;
	const char *target = NULL, *target_key = NULL;
	char qty[64], suffix[128];
	struct auth_out auth = {0};
	char *entry = NULL;
	size_t entry_len = 0;
	FILE *e = NULL;
	bool value_type = false, ok = false;
	double tval = 0;

	if (!sc || sc->compute) {
		problem(c, so, map_get(d, trig, "type"), "spec.triggers[]", "trigger type \"%s\" has no extmetrics scaler",
			type);
		return false;
	}
	unknown_keys(c, so, d, trig, "spec.triggers[].", known);
	if (md && md->type != YAML_MAPPING_NODE) {
		problem(c, so, md, "spec.triggers[].metadata", "not a mapping");
		return false;
	}
	if (!input) {
		if (mtype && strcmp(mtype, "Value") == 0) {
			value_type = true;
		} else if (mtype && strcmp(mtype, "AverageValue") != 0) {
			problem(c, so, map_get(d, trig, "metricType"), "spec.triggers[].metricType",
				"\"%s\": only AverageValue and Value apply to external metrics", mtype);
			return false;
		}
		target = trigger_target(sc, d, md, &target_key);
		if (!target) {
			problem(c, so, md ? md : trig, "spec.triggers[].metadata", "missing required parameter \"%s\"",
				target_key ? target_key : "?");
			return false;
		}
		if (target_quantity(target, &tval, qty, sizeof(qty)) != 0) {
			char f2[128];
			snprintf(f2, sizeof(f2), "spec.triggers[].metadata.%s", target_key ? target_key : "?");
			problem(c, so, target_key ? map_get(d, md, target_key) : trig, f2, "\"%s\" is not a positive number",
				target);
			return false;
		}
	}

	if (aref) {
		const char *an = map_str(d, aref, "name");
		const char *ak = map_str(d, aref, "kind");
		struct obj *ta;
		if (!ak)
			ak = "TriggerAuthentication";
		if (!an || (strcmp(ak, "TriggerAuthentication") && strcmp(ak, "ClusterTriggerAuthentication"))) {
			problem(c, so, aref, "spec.triggers[].authenticationRef", "needs a name and kind "
				"TriggerAuthentication or ClusterTriggerAuthentication");
			return false;
		}
		ta = find_auth(c, ak, an, so->ns);
		if (!ta) {
			problem(c, so, aref, "spec.triggers[].authenticationRef", "%s %s not found in the input files",
				ak, an);
			return false;
		}
		auth.params = open_memstream(&auth.params_buf, &auth.params_len);
		if (!auth.params) {
			c->oom = true;
			return false;
		}
		translate_auth(c, so, aref, ta, sc, &auth);
		fclose(auth.params);
		auth.params = NULL;
	}

	/* Name: the trigger's own name, else its type, numbered when the type repeats. */
	if (tname)
		snprintf(suffix, sizeof(suffix), "%s", tname);
	else if (ntrig > 1)
		snprintf(suffix, sizeof(suffix), "%s-%zu", type, idx);
	else
		snprintf(suffix, sizeof(suffix), "%s", type);
	metric_name(c, so, suffix, mname, mcap);

	/* The config entry. */
	e = open_memstream(&entry, &entry_len);
	if (!e) {
		c->oom = true;
		goto out;
	}
	put_entry_head(e, mname, so->ns, type);
	put_metadata(c, so, d, md, sc, com, e);
	if (auth.any) {
		fputs("    auth:\n", e);
		if (auth.pod_identity)
			fprintf(e, "      podIdentity: %s\n", auth.pod_identity);
		if (auth.role_arn) {
			fputs("      roleArn: ", e);
			put_q(e, auth.role_arn);
			fputc('\n', e);
		}
		if (auth.external_id) {
			fputs("      externalID: ", e);
			put_q(e, auth.external_id);
			fputc('\n', e);
		}
		if (auth.params_len > 0)
			fprintf(e, "      params:\n%s", auth.params_buf);
	}
	fprintf(e, "    pollingInterval: %lds\n", com->polling_s);
	if (com->have_fallback && !input) {
		if (value_type) {
			problem(c, so, com->fb_node, "spec.fallback",
				"trigger %s has metricType Value: KEDA's fallback then divides by the ready pods, which "
				"an HPA cannot", mname);
		} else {
			char fq[64];
			/* KEDA serves replicas x target so that the HPA computes `replicas`. */
			fmt_decimal(tval * (double)com->fb_replicas, fq, sizeof(fq));
			fprintf(e, "    fallback: {failureThreshold: %ld, value: \"%s\"}\n", com->fb_threshold, fq);
		}
	}
	if (fclose(e) != 0) {
		e = NULL;
		c->oom = true;
		goto out;
	}
	e = NULL;
	{
		/* what extmetrics would refuse, KEDA's differences included */
		char *doc = NULL;
		size_t dl = 0;
		FILE *df = open_memstream(&doc, &dl);
		if (!df) {
			c->oom = true;
			goto out;
		}
		fprintf(df, "metrics:\n%s", entry);
		fclose(df);
		if (check_entries(c, so, md ? md : trig, "spec.triggers[].metadata", doc) != 0) {
			free(doc);
			goto out;
		}
		free(doc);
	}
	fputs(entry, f);

	if (!input)
		put_external_metric(hm, mname, so->name, value_type, qty);
	c->n_metrics++;
	ok = true;
out:
	if (e)
		fclose(e);
	free(entry);
	free(auth.params_buf);
	return ok;
}

/* The HPA's behavior: KEDA's advanced.horizontalPodAutoscalerConfig.behavior
 * verbatim, with cooldownPeriod as the scale-down stabilization window when
 * the behavior does not set one itself. cool < 0: no cooldownPeriod given. */
static void emit_behavior(struct ctx *c, const struct so_ref *so, yaml_document_t *d, yaml_node_t *beh, long cool,
			  FILE *f)
{
	bool down_seen = false;

	if (beh && beh->type != YAML_MAPPING_NODE) {
		problem(c, so, beh, "spec.advanced.horizontalPodAutoscalerConfig.behavior", "not a mapping");
		beh = NULL;
	}
	if (!beh && cool < 0)
		return;
	fputs("  behavior:\n", f);
	for (yaml_node_pair_t *p = beh ? beh->data.mapping.pairs.start : NULL; beh && p < beh->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node_at(d, p->key), *v = node_at(d, p->value);
		const char *ks = scalar(k);
		if (!ks || (strcmp(ks, "scaleUp") != 0 && strcmp(ks, "scaleDown") != 0)) {
			problem(c, so, k, "spec.advanced.horizontalPodAutoscalerConfig.behavior",
				"\"%s\" is not scaleUp or scaleDown", ks ? ks : "?");
			continue;
		}
		fprintf(f, "    %s:", ks);
		if (strcmp(ks, "scaleDown") == 0 && cool >= 0 && v && v->type == YAML_MAPPING_NODE) {
			yaml_node_t *w = map_get(d, v, "stabilizationWindowSeconds");
			long wv = -1;
			down_seen = true;
			if (w) {
				if (parse_int(scalar(w), 0, HPA_MAX_WINDOW, &wv) != 0 || wv != cool)
					note(c, so, w, "spec.cooldownPeriod",
					     "%lds not used: behavior.scaleDown.stabilizationWindowSeconds is kept", cool);
				emit_value(f, d, v, 6);
			} else {
				fputc('\n', f);
				if (map_len(v) > 0)
					emit_map_body(f, d, v, 6, false);
				fprintf(f, "      stabilizationWindowSeconds: %ld\n", cool);
			}
			continue;
		}
		if (strcmp(ks, "scaleDown") == 0)
			down_seen = true;
		emit_value(f, d, v, 6);
	}
	if (!down_seen && cool >= 0)
		fprintf(f, "    scaleDown:\n      stabilizationWindowSeconds: %ld\n", cool);
}

/* ---------------------------------------------------------------- scalingModifiers */

/* KEDA's ValidateAndCompileScalingModifiers, then: the named triggers the
 * formula reads become inputs (config entries without an HPA metric), and a
 * composite entry computes the formula; the HPA gets that one metric. */
static bool translate_modifiers(struct ctx *c, const struct so_ref *so, yaml_document_t *d, yaml_node_t *sm,
				yaml_node_t *trigs, const struct so_common *com, FILE *f, FILE *hm)
{
	static const char *const sm_known[] = {"formula", "target", "activationTarget", "metricType", NULL};
	const char *formula = map_str(d, sm, "formula"), *target = map_str(d, sm, "target");
	const char *act = map_str(d, sm, "activationTarget"), *mtype = map_str(d, sm, "metricType");
	struct em_formula *fm = NULL;
	char msg[256], qty[64], cname[256];
	char *inputs = NULL;
	size_t inputs_len = 0, ntrig = (size_t)(trigs->data.sequence.items.top - trigs->data.sequence.items.start);
	FILE *in = NULL;
	double tval = 0, aval;
	bool ok = false, first = true;

	unknown_keys(c, so, d, sm, "spec.advanced.scalingModifiers.", sm_known);
	if (!formula) {
		problem(c, so, sm, "spec.advanced.scalingModifiers.formula", "missing (KEDA: error "
			"ScalingModifiers.Formula is mandatory)");
		return false;
	}
	if (!target) {
		problem(c, so, sm, "spec.advanced.scalingModifiers.target", "missing (KEDA: formula is given but target "
			"is empty)");
		return false;
	}
	if (target_quantity(target, &tval, qty, sizeof(qty)) != 0) {
		problem(c, so, map_get(d, sm, "target"), "spec.advanced.scalingModifiers.target",
			"\"%s\" is not a number above 0 (KEDA refuses it too)", target);
		return false;
	}
	if (act && em_parse_float(act, &aval) != 0) {
		problem(c, so, map_get(d, sm, "activationTarget"), "spec.advanced.scalingModifiers.activationTarget",
			"\"%s\" is not a number", act);
		return false;
	}
	if (!mtype)
		mtype = "AverageValue";
	if (strcmp(mtype, "AverageValue") != 0 && strcmp(mtype, "Value") != 0) {
		problem(c, so, map_get(d, sm, "metricType"), "spec.advanced.scalingModifiers.metricType",
			"\"%s\": KEDA takes AverageValue or Value only", mtype);
		return false;
	}
	fm = em_formula_parse(formula, msg, sizeof(msg));
	if (!fm) {
		problem(c, so, map_get(d, sm, "formula"), "spec.advanced.scalingModifiers.formula", "%s", msg);
		return false;
	}
	/* Every name must be a trigger's: KEDA compiles the formula with the
	 * named triggers as its only variables. */
	for (size_t v = 0; v < em_formula_nvars(fm); v++) {
		const char *name = em_formula_var(fm, v);
		bool found = false;
		for (size_t i = 0; i < ntrig && !found; i++) {
			yaml_node_t *t = node_at(d, trigs->data.sequence.items.start[i]);
			const char *tn = map_str(d, t, "name"), *ty = map_str(d, t, "type");
			found = tn && ty && strcmp(tn, name) == 0 && strcmp(ty, "cpu") != 0 && strcmp(ty, "memory") != 0;
		}
		if (found)
			continue;
		if (strcmp(name, "current_replicas") == 0)
			problem(c, so, map_get(d, sm, "formula"), "spec.advanced.scalingModifiers.formula",
				"current_replicas is not a trigger value: KEDA's formula sees only the values of named "
				"triggers, so KEDA rejects this ScaledObject (unknown name current_replicas); the current "
				"replica count is the HPA's, not a metric");
		else
			problem(c, so, map_get(d, sm, "formula"), "spec.advanced.scalingModifiers.formula",
				"%s is not the name of a trigger (KEDA rejects it: unknown name %s)", name, name);
	}
	if (c->oom || !(in = open_memstream(&inputs, &inputs_len)))
		goto out;
	for (size_t i = 0; i < ntrig; i++) {
		yaml_node_t *t = node_at(d, trigs->data.sequence.items.start[i]);
		const char *tn = map_str(d, t, "name"), *ty = map_str(d, t, "type");
		char mname[256];
		bool used = false;
		if (!ty || strcmp(ty, "cpu") == 0 || strcmp(ty, "memory") == 0)
			continue;
		for (size_t v = 0; tn && v < em_formula_nvars(fm); v++)
			used |= strcmp(em_formula_var(fm, v), tn) == 0;
		if (!used) {
			c->trig = (long)i;
			note(c, so, t, "spec.triggers[]", "not read by the formula: not carried over (KEDA polls it, and "
			     "fails the composite metric while it fails)");
			c->trig = -1;
			continue;
		}
		c->trig = (long)i;
		if (translate_trigger(c, so, d, t, i, ntrig, com, hm, f, true, mname, sizeof(mname))) {
			fprintf(in, "%s%s=%s", first ? "" : ",", tn, mname);
			first = false;
		}
		c->trig = -1;
	}
	if (fclose(in) != 0)
		c->oom = true;
	in = NULL;
	metric_name(c, so, "composite", cname, sizeof(cname));
	put_entry_head(f, cname, so->ns, "composite");
	fputs("    metadata:\n      formula: ", f);
	put_q(f, formula);
	fputs("\n      target: ", f);
	put_q(f, target);
	if (act) {
		fputs("\n      activationTarget: ", f);
		put_q(f, act);
	}
	fprintf(f, "\n      metricType: %s\n      inputs: ", mtype);
	put_q(f, inputs ? inputs : "");
	fputc('\n', f);
	if (com->have_fallback) {
		char fq[64];
		if (strcmp(mtype, "Value") == 0) {
			problem(c, so, com->fb_node, "spec.fallback", "scalingModifiers.metricType is Value: KEDA's fallback "
				"then divides by the ready pods, which an HPA cannot");
		} else {
			/* KEDA: fallback.replicas x scalingModifiers.target */
			fmt_decimal(tval * (double)com->fb_replicas, fq, sizeof(fq));
			fprintf(f, "    fallback: {failureThreshold: %ld, value: \"%s\"}\n", com->fb_threshold, fq);
		}
	}
	put_external_metric(hm, cname, so->name, strcmp(mtype, "Value") == 0, qty);
	c->n_metrics++;
	ok = true;
out:
	if (in)
		fclose(in);
	free(inputs);
	em_formula_free(fm);
	return ok;
}

/* A refused ScaledObject (or ScaledJob): one line after its reasons. */
static void refused(struct ctx *c, const struct so_ref *so, yaml_node_t *at, int reasons)
{
	fprintf(c->diag, "%s:%lu:%lu: %s %s/%s: refused: no HPA and no metrics written for it (%d reason%s above): "
		"what could be translated would not scale as KEDA does\n", so->doc->file,
		(unsigned long)at->start_mark.line + 1, (unsigned long)at->start_mark.column + 1, so->kind,
		so->ns ? so->ns : "", so->name ? so->name : "(unnamed)", reasons, reasons == 1 ? "" : "s");
	c->n_refused++;
}

static void translate_so(struct ctx *c, struct obj *o)
{
	static const char *const spec_known[] = {"scaleTargetRef", "pollingInterval", "cooldownPeriod",
						 "initialCooldownPeriod", "idleReplicaCount", "minReplicaCount",
						 "maxReplicaCount", "fallback", "advanced", "triggers", NULL};
	static const char *const adv_known[] = {"horizontalPodAutoscalerConfig", "restoreToOriginalReplicaCount",
						"scalingModifiers", NULL};
	static const char *const hpac_known[] = {"name", "behavior", NULL};
	static const char *const fb_known[] = {"failureThreshold", "replicas", "behavior", NULL};
	static const char *const str_known[] = {"name", "kind", "apiVersion", "envSourceContainerName", NULL};
	yaml_document_t *d = &o->doc->d;
	yaml_node_t *meta = map_get(d, o->node, "metadata");
	yaml_node_t *spec = map_get(d, o->node, "spec");
	yaml_node_t *str, *adv, *hpac = NULL, *beh = NULL, *fb, *trigs, *n, *sm = NULL;
	struct so_ref so = {.doc = o->doc, .kind = "ScaledObject", .ns = obj_ns(o), .name = obj_name(o)};
	struct so_common com = {.polling_s = 30};
	const char *tname, *tkind, *tapi, *hpa_name;
	long minr = 0, maxr = 100, cool = -1, v, idle = -1;
	size_t ntrig, n_ext = 0;
	size_t names0 = c->nnames, secrets0 = c->nsecrets;
	int problems0 = c->n_problems, metrics0 = c->n_metrics;
	char *hm_buf = NULL, *cfg_buf = NULL, *hpa_buf = NULL;
	size_t hm_len = 0, cfg_len = 0, hpa_len = 0;
	FILE *hm = NULL, *f = NULL, *hf = NULL;

	c->n_so++;
	if (!so.name) {
		problem(c, &so, o->node, "metadata.name", "missing");
		goto out;
	}
	if (!so.ns) {
		note(c, &so, meta ? meta : o->node, "metadata.namespace", "absent: using \"default\"");
		so.ns = "default";
	}
	n = map_get(d, meta, "annotations");
	for (yaml_node_pair_t *p = n && n->type == YAML_MAPPING_NODE ? n->data.mapping.pairs.start : NULL;
	     p && p < n->data.mapping.pairs.top; p++) {
		const char *k = scalar(node_at(d, p->key));
		if (k && strncmp(k, "autoscaling.keda.sh/paused", 26) == 0)
			problem(c, &so, node_at(d, p->key), "metadata.annotations", "%s: an HPA cannot be paused; "
				"scale the workload by hand and leave the HPA out until then", k);
	}
	if (!spec || spec->type != YAML_MAPPING_NODE) {
		problem(c, &so, o->node, "spec", "missing");
		goto out;
	}
	unknown_keys(c, &so, d, spec, "spec.", spec_known);

	if (get_int(c, &so, d, spec, "initialCooldownPeriod", "spec.initialCooldownPeriod", 0, INT32_MAX, &v) == 1 && v)
		problem(c, &so, map_get(d, spec, "initialCooldownPeriod"), "spec.initialCooldownPeriod",
			"an HPA has no initial cooldown");

	str = map_get(d, spec, "scaleTargetRef");
	tname = map_str(d, str, "name");
	if (!tname) {
		problem(c, &so, str ? str : spec, "spec.scaleTargetRef.name", "missing");
		goto out;
	}
	unknown_keys(c, &so, d, str, "spec.scaleTargetRef.", str_known);
	tkind = map_str(d, str, "kind");
	tapi = map_str(d, str, "apiVersion");
	if (!tkind)
		tkind = "Deployment";
	if (!tapi)
		tapi = "apps/v1";

	if (get_int(c, &so, d, spec, "minReplicaCount", "spec.minReplicaCount", 0, INT32_MAX, &minr) < 0 ||
	    get_int(c, &so, d, spec, "maxReplicaCount", "spec.maxReplicaCount", 1, INT32_MAX, &maxr) < 0 ||
	    get_int(c, &so, d, spec, "pollingInterval", "spec.pollingInterval", 1, 86400, &com.polling_s) < 0 ||
	    get_int(c, &so, d, spec, "cooldownPeriod", "spec.cooldownPeriod", 0, INT32_MAX, &cool) < 0 ||
	    get_int(c, &so, d, spec, "idleReplicaCount", "spec.idleReplicaCount", 0, INT32_MAX, &idle) < 0)
		goto out;
	if (minr > maxr) {
		problem(c, &so, map_get(d, spec, "minReplicaCount"), "spec.minReplicaCount", "%ld exceeds maxReplicaCount %ld",
			minr, maxr);
		goto out;
	}
	/* KEDA scales to idleReplicaCount while inactive, else to at least minReplicaCount.
	 * Idle 0 with minimum 1 is what an HPA with minReplicas 0 does here (an
	 * active metric is above 0, so it asks for 1 pod at least). */
	if (idle == 0 && minr == 1) {
		note(c, &so, map_get(d, spec, "idleReplicaCount"), "spec.idleReplicaCount",
		     "0 with minReplicaCount 1: minReplicas 0 (scale to zero while inactive)");
		minr = 0;
	} else if (idle >= 0) {
		problem(c, &so, map_get(d, spec, "idleReplicaCount"), "spec.idleReplicaCount",
			"an HPA has no idle replica count (only idleReplicaCount 0 with minReplicaCount 1 has an "
			"equivalent: minReplicas 0)");
	}
	if (minr == 0 && c->opts->no_scale_to_zero) {
		note(c, &so, map_get(d, spec, "minReplicaCount") ? map_get(d, spec, "minReplicaCount") : spec,
		     "spec.minReplicaCount", "0: minReplicas 1 (--no-scale-to-zero): the workload never scales to 0");
		minr = 1;
	}
	com.min_replicas = minr;
	/* KEDA's cooldownPeriod delays only the scaling to 0. */
	if (cool >= 0 && minr > 0) {
		note(c, &so, map_get(d, spec, "cooldownPeriod"), "spec.cooldownPeriod",
		     "ignored: KEDA uses it only to scale to 0, which minReplicas %ld never does", minr);
		cool = -1;
	}
	if (cool > HPA_MAX_WINDOW) {
		problem(c, &so, map_get(d, spec, "cooldownPeriod"), "spec.cooldownPeriod",
			"%lds exceeds the HPA's longest stabilization window (%ds)", cool, HPA_MAX_WINDOW);
		cool = HPA_MAX_WINDOW;
	}

	if ((fb = map_get(d, spec, "fallback")) && !is_null(fb)) {
		const char *fbb = map_str(d, fb, "behavior");
		unknown_keys(c, &so, d, fb, "spec.fallback.", fb_known);
		com.fb_node = fb;
		if (get_int(c, &so, d, fb, "failureThreshold", "spec.fallback.failureThreshold", 1, INT32_MAX,
			    &com.fb_threshold) != 1 ||
		    get_int(c, &so, d, fb, "replicas", "spec.fallback.replicas", 0, INT32_MAX, &com.fb_replicas) != 1) {
			problem(c, &so, fb, "spec.fallback", "needs failureThreshold and replicas");
		} else if (fbb && strcmp(fbb, "static") != 0) {
			problem(c, &so, map_get(d, fb, "behavior"), "spec.fallback.behavior",
				"\"%s\": only static fallback has an equivalent", fbb);
		} else {
			com.have_fallback = true;
		}
	}

	if ((adv = map_get(d, spec, "advanced")) && adv->type == YAML_MAPPING_NODE) {
		unknown_keys(c, &so, d, adv, "spec.advanced.", adv_known);
		if ((n = map_get(d, adv, "scalingModifiers")) && !is_null(n) && map_len(n) > 0)
			sm = n;
		if ((n = map_get(d, adv, "restoreToOriginalReplicaCount")) && !is_null(n))
			note(c, &so, n, "spec.advanced.restoreToOriginalReplicaCount",
			     "ignored: deleting an HPA leaves the replicas where they are");
		hpac = map_get(d, adv, "horizontalPodAutoscalerConfig");
		unknown_keys(c, &so, d, hpac, "spec.advanced.horizontalPodAutoscalerConfig.", hpac_known);
		beh = map_get(d, hpac, "behavior");
		if (is_null(beh))
			beh = NULL;
	}
	hpa_name = map_str(d, hpac, "name");
	if (!hpa_name)
		hpa_name = so.name;

	trigs = map_get(d, spec, "triggers");
	if (!trigs || trigs->type != YAML_SEQUENCE_NODE ||
	    trigs->data.sequence.items.top == trigs->data.sequence.items.start) {
		problem(c, &so, trigs ? trigs : spec, "spec.triggers", "missing or empty");
		goto out;
	}
	ntrig = (size_t)(trigs->data.sequence.items.top - trigs->data.sequence.items.start);
	hm = open_memstream(&hm_buf, &hm_len);
	f = open_memstream(&cfg_buf, &cfg_len);
	if (!hm || !f) {
		c->oom = true;
		goto out;
	}
	for (size_t i = 0; i < ntrig; i++) {
		yaml_node_t *t = node_at(d, trigs->data.sequence.items.start[i]);
		const char *ty = map_str(d, t, "type");
		char mname[256];
		c->trig = (long)i;
		if (!t || t->type != YAML_MAPPING_NODE || !ty)
			problem(c, &so, t, "spec.triggers[]", "a trigger needs a type");
		else if (strcmp(ty, "cpu") == 0 || strcmp(ty, "memory") == 0)
			translate_resource_trigger(c, &so, d, t, ty, hm);
		else if (!sm)
			n_ext += translate_trigger(c, &so, d, t, i, ntrig, &com, hm, f, false, mname, sizeof(mname));
		c->trig = -1;
	}
	if (sm)
		n_ext += translate_modifiers(c, &so, d, sm, trigs, &com, f, hm);
	if (fclose(hm) != 0 || fclose(f) != 0)
		c->oom = true;
	hm = f = NULL;
	if (minr == 0 && n_ext == 0)
		problem(c, &so, map_get(d, spec, "minReplicaCount") ? map_get(d, spec, "minReplicaCount") : spec,
			"spec.minReplicaCount", "0 needs an External metric in the HPA (KEDA refuses it too)");
	/* The HPA, into its own buffer: the behavior may still have problems. */
	if (!(hf = open_memstream(&hpa_buf, &hpa_len))) {
		c->oom = true;
		goto out;
	}
	fprintf(hf, "---\n# From ScaledObject %s/%s (%s:%lu)\n", so.ns, so.name, o->doc->file,
		(unsigned long)o->node->start_mark.line + 1);
	if (minr == 0)
		fputs("# minReplicas 0 needs the HPAScaleToZero feature gate.\n", hf);
	fputs("apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: ", hf);
	put_q(hf, hpa_name);
	fputs("\n  namespace: ", hf);
	put_q(hf, so.ns);
	fputs("\nspec:\n  scaleTargetRef:\n    apiVersion: ", hf);
	put_q(hf, tapi);
	fputs("\n    kind: ", hf);
	put_q(hf, tkind);
	fputs("\n    name: ", hf);
	put_q(hf, tname);
	fprintf(hf, "\n  minReplicas: %ld\n  maxReplicas: %ld\n  metrics:\n", minr, maxr);
	fputs(hm_buf ? hm_buf : "", hf);
	emit_behavior(c, &so, d, beh, cool, hf);
	if (fclose(hf) != 0)
		c->oom = true;
	hf = NULL;
	if (c->n_problems == problems0 && cfg_len) {
		/* the whole ScaledObject's entries once more: a composite needs its inputs beside it */
		char *doc = NULL;
		size_t dl = 0;
		FILE *df = open_memstream(&doc, &dl);
		if (df) {
			fprintf(df, "metrics:\n%s", cfg_buf);
			fclose(df);
			check_entries(c, &so, spec, "spec", doc);
		}
		free(doc);
	}
	if (c->n_problems != problems0 || c->oom)
		goto out;
	if (minr == 0)
		note(c, &so, map_get(d, spec, "minReplicaCount") ? map_get(d, spec, "minReplicaCount") : spec,
		     "spec.minReplicaCount", "0: the HPA needs the HPAScaleToZero feature gate (else the API server "
		     "rejects minReplicas 0: use --no-scale-to-zero)");
	fputs(cfg_buf ? cfg_buf : "", c->cfg);
	fputs(hpa_buf, c->hpa);
	c->n_hpa++;
out:
	if (hm)
		fclose(hm);
	if (f)
		fclose(f);
	if (hf)
		fclose(hf);
	if (c->n_problems != problems0) {
		take_back(c, names0, secrets0);
		c->n_metrics = metrics0;
		refused(c, &so, o->node, c->n_problems - problems0);
	}
	free(hm_buf);
	free(cfg_buf);
	free(hpa_buf);
}

/* ---------------------------------------------------------------- Secrets to bring across */

static int cmp_secret(const void *a, const void *b)
{
	const struct secret_use *x = a, *y = b;
	int r = strcmp(x->ns, y->ns);

	if (!r)
		r = strcmp(x->name, y->name);
	return r ? r : strcmp(x->key, y->key);
}

/* The commands copying each Secret into the extmetrics namespace (as
 * <namespace>.<name>, only the keys read), and the Deployment patch mounting
 * them at DIR/<namespace>/<name>. c->secrets sorted. */
static void write_secrets(struct ctx *c, FILE *f)
{
	size_t vol = 0;

	if (!c->nsecrets)
		return;
	fprintf(f, "# The Secrets the imported config reads (extmetrics import-keda), for the Deployment of\n"
		   "# manifests/base (namespace %s).\n"
		   "# 1. Copy each into namespace %s as <namespace>.<name>, with the keys the config reads:\n",
		EXTMETRICS_NS, EXTMETRICS_NS);
	for (size_t i = 0; i < c->nsecrets;) {
		size_t j = i;
		fprintf(f, "#   kubectl get secret %s -n %s -o go-template='{\"apiVersion\":\"v1\",\"kind\":\"Secret\","
			   "\"type\":\"Opaque\",\"metadata\":{\"name\":\"%s.%s\",\"namespace\":\"%s\"},\"data\":{",
			c->secrets[i].name, c->secrets[i].ns, c->secrets[i].ns, c->secrets[i].name, EXTMETRICS_NS);
		for (; j < c->nsecrets && !strcmp(c->secrets[j].ns, c->secrets[i].ns) &&
		       !strcmp(c->secrets[j].name, c->secrets[i].name); j++)
			fprintf(f, "%s\"%s\":\"{{index .data \"%s\"}}\"", j > i ? "," : "", c->secrets[j].key,
				c->secrets[j].key);
		fputs("}}' | kubectl apply -f -\n", f);
		i = j;
	}
	fprintf(f, "# 2. Mount them where the config reads them: this patch of the extmetrics Deployment (in a\n"
		   "#    kustomization's patches:, or kubectl patch deployment extmetrics -n %s --patch-file FILE).\n"
		   "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: extmetrics\n  namespace: %s\nspec:\n"
		   "  template:\n    spec:\n      containers:\n        - name: extmetrics\n          volumeMounts:\n",
		EXTMETRICS_NS, EXTMETRICS_NS);
	for (size_t i = 0; i < c->nsecrets; i++) {
		if (i && !strcmp(c->secrets[i].ns, c->secrets[i - 1].ns) && !strcmp(c->secrets[i].name, c->secrets[i - 1].name))
			continue;
		fprintf(f, "            - name: keda-secret-%zu\n              mountPath: ", ++vol);
		{
			char path[1024];
			snprintf(path, sizeof(path), "%s/%s/%s", dir_of(c), c->secrets[i].ns, c->secrets[i].name);
			put_q(f, path);
		}
		fputs("\n              readOnly: true\n", f);
	}
	fputs("      volumes:\n", f);
	vol = 0;
	for (size_t i = 0; i < c->nsecrets; i++) {
		if (i && !strcmp(c->secrets[i].ns, c->secrets[i - 1].ns) && !strcmp(c->secrets[i].name, c->secrets[i - 1].name))
			continue;
		fprintf(f, "        - name: keda-secret-%zu\n          secret:\n            secretName: \"%s.%s\"\n",
			++vol, c->secrets[i].ns, c->secrets[i].name);
	}
}

/* ---------------------------------------------------------------- driver */

static void add_obj(struct ctx *c, struct doc *doc, yaml_node_t *node)
{
	const char *kind = map_str(&doc->d, node, "kind");
	struct obj *o;

	if (!kind)
		return;
	o = realloc(c->objs, (c->nobjs + 1) * sizeof(*o));
	if (!o) {
		c->oom = true;
		return;
	}
	c->objs = o;
	c->objs[c->nobjs++] = (struct obj){.doc = doc, .node = node, .kind = kind};
}

static int load_docs(struct ctx *c, const struct em_keda_src *src)
{
	yaml_parser_t p;
	int rc = 0;

	if (!yaml_parser_initialize(&p)) {
		c->oom = true;
		return -1;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)src->text, src->len);
	for (;;) {
		yaml_document_t doc;
		struct doc *nd;
		if (!yaml_parser_load(&p, &doc)) {
			fprintf(c->diag, "%s:%lu:%lu: YAML: %s%s%s\n", src->name, (unsigned long)p.problem_mark.line + 1,
				(unsigned long)p.problem_mark.column + 1, p.problem ? p.problem : "syntax error",
				p.context ? " " : "", p.context ? p.context : "");
			rc = -1;
			break;
		}
		if (!yaml_document_get_root_node(&doc)) {
			yaml_document_delete(&doc);
			break;
		}
		nd = realloc(c->docs, (c->ndocs + 1) * sizeof(*nd));
		if (!nd) {
			yaml_document_delete(&doc);
			c->oom = true;
			rc = -1;
			break;
		}
		c->docs = nd;
		c->docs[c->ndocs].file = src->name;
		c->docs[c->ndocs].d = doc;
		c->ndocs++;
	}
	yaml_parser_delete(&p);
	return rc;
}


static char *close_stream(FILE **f, char **buf)
{
	if (*f)
		fclose(*f);
	*f = NULL;
	return *buf;
}

void em_keda_out_free(struct em_keda_out *out)
{
	if (!out)
		return;
	free(out->config);
	free(out->hpa);
	free(out->secrets);
	free(out->diag);
	memset(out, 0, sizeof(*out));
}

/* The config as written: a header saying how to use it, then `metrics:`. */
static char *config_text(struct ctx *c, const char *entries)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	fputs("# extmetrics config entries imported from KEDA (extmetrics import-keda).\n"
	      "# A whole `metrics:` section: append it to a config holding your `server:` (and `defaults:`)\n"
	      "# sections and no `metrics:` of its own; check the result with check-config (--skip-secrets\n"
	      "# where the Secrets are not mounted).\n", f);
	if (c->nsecrets) {
		fprintf(f, "# It reads these Secrets, copied into namespace %s and mounted under %s/<namespace>/<name>\n"
			   "# (import-keda --out-secrets writes the commands and the Deployment patch):\n",
			EXTMETRICS_NS, dir_of(c));
		for (size_t i = 0; i < c->nsecrets; i++)
			fprintf(f, "#   %s/%s key %s\n", c->secrets[i].ns, c->secrets[i].name, c->secrets[i].key);
	}
	fputs(entries && *entries ? "metrics:\n" : "metrics: []\n", f);
	fputs(entries ? entries : "", f);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

int em_keda_translate(const struct em_keda_src *srcs, size_t n, const struct em_keda_opts *opts,
		      struct em_keda_out *out)
{
	static const struct em_keda_opts defaults = {0};
	struct ctx c = {.opts = opts ? opts : &defaults, .trig = -1};
	char *cfg_buf = NULL, *hpa_buf = NULL, *sec_buf = NULL;
	size_t cfg_len = 0, hpa_len = 0, diag_len = 0, sec_len = 0;
	int rc = EM_KEDA_OK;

	memset(out, 0, sizeof(*out));
	c.diag = open_memstream(&out->diag, &diag_len);
	c.cfg = open_memstream(&cfg_buf, &cfg_len);
	c.hpa = open_memstream(&hpa_buf, &hpa_len);
	if (!c.diag || !c.cfg || !c.hpa) {
		rc = EM_KEDA_EINPUT;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (load_docs(&c, &srcs[i]) != 0) {
			rc = EM_KEDA_EINPUT;
			goto out;
		}
	}
	/* Objects, with `kind: List` (kubectl get -o yaml) unrolled. */
	for (size_t i = 0; i < c.ndocs; i++) {
		yaml_document_t *d = &c.docs[i].d;
		yaml_node_t *root = yaml_document_get_root_node(d);
		const char *kind = map_str(d, root, "kind");
		yaml_node_t *items = map_get(d, root, "items");
		if (kind && strcmp(kind, "List") == 0 && items && items->type == YAML_SEQUENCE_NODE) {
			for (yaml_node_item_t *it = items->data.sequence.items.start; it < items->data.sequence.items.top; it++)
				add_obj(&c, &c.docs[i], node_at(d, *it));
		} else {
			add_obj(&c, &c.docs[i], root);
		}
	}
	for (size_t i = 0; i < c.nobjs && !c.oom; i++) {
		struct obj *o = &c.objs[i];
		const char *api = map_str(&o->doc->d, o->node, "apiVersion");
		struct so_ref ref = {.doc = o->doc, .kind = o->kind, .ns = obj_ns(o), .name = obj_name(o)};
		if (strcmp(o->kind, "ScaledObject") == 0) {
			if (api && strcmp(api, "keda.sh/v1alpha1") != 0)
				note(&c, &ref, o->node, "apiVersion", "\"%s\" read as keda.sh/v1alpha1", api);
			translate_so(&c, o);
		} else if (strcmp(o->kind, "ScaledJob") == 0) {
			c.n_jobs++;
			problem(&c, &ref, o->node, NULL, "a ScaledJob starts a Job per event, which no HPA can do: keep "
				"KEDA's operator for ScaledJobs (they do not use KEDA's metrics server, which extmetrics "
				"replaces), or run the work as a Deployment that an HPA scales");
			c.n_refused++;
		} else if (strcmp(o->kind, "TriggerAuthentication") != 0 &&
			   strcmp(o->kind, "ClusterTriggerAuthentication") != 0) {
			note(&c, &ref, o->node, NULL, "ignored");
		}
	}
	if (c.oom) {
		fputs("import-keda: out of memory\n", c.diag);
		rc = EM_KEDA_EINPUT;
		goto out;
	}
	if (c.n_so == 0) {
		fputs(c.n_jobs ? "import-keda: only ScaledJobs: nothing an HPA can express, nothing written\n"
			       : "import-keda: no ScaledObject in the input\n", c.diag);
		rc = c.n_jobs ? EM_KEDA_JOBS : EM_KEDA_NONE;
		goto out;
	}
	rc = c.n_refused ? EM_KEDA_PARTIAL : EM_KEDA_OK;
out:
	close_stream(&c.cfg, &cfg_buf);
	close_stream(&c.hpa, &hpa_buf);
	if (rc == EM_KEDA_OK || rc == EM_KEDA_PARTIAL) {
		struct em_errlist errs = {0};
		struct em_config *check;
		FILE *sf = open_memstream(&sec_buf, &sec_len);
		if (c.nsecrets)
			qsort(c.secrets, c.nsecrets, sizeof(*c.secrets), cmp_secret);
		out->config = config_text(&c, cfg_buf);
		out->hpa = hpa_buf;
		hpa_buf = NULL;
		if (sf) {
			write_secrets(&c, sf);
			if (fclose(sf) == 0)
				out->secrets = sec_buf;
			else
				free(sec_buf);
			sec_buf = NULL;
		}
		if (!out->config || !out->hpa || !out->secrets) {
			rc = EM_KEDA_EINPUT;
		} else if (!(check = em_config_load_mem_ex(CHECK_NAME, out->config, strlen(out->config),
							   EM_CFG_METRICS_ONLY | EM_CFG_SKIP_SECRETS, &errs))) {
			/* Each entry was checked on its own: this is a bug of ours. */
			fputs("import-keda: the config written would not load, so nothing is written:\n", c.diag);
			for (size_t i = 0; i < errs.n; i++)
				fprintf(c.diag, "  %s\n", errs.msgs[i]);
			rc = EM_KEDA_EINPUT;
		} else {
			em_config_free(check);
		}
		em_errlist_free(&errs);
	}
	free(cfg_buf);
	free(hpa_buf);
	free(sec_buf);
	if (c.diag)
		fclose(c.diag);
	if (!out->diag)
		out->diag = strdup("");
	out->n_scaledobjects = c.n_so;
	out->n_hpas = c.n_hpa;
	out->n_metrics = c.n_metrics;
	out->n_problems = c.n_problems;
	out->n_refused = c.n_refused;
	for (size_t i = 0; i < c.ndocs; i++)
		yaml_document_delete(&c.docs[i].d);
	free(c.docs);
	free(c.objs);
	take_back(&c, 0, 0);
	free(c.names);
	free(c.secrets);
	return rc;
}

/* ---------------------------------------------------------------- command */

static char *read_all(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		size_t r;
		if (n + 4096 + 1 > cap) {
			char *nb;
			cap = cap ? cap * 2 : 8192;
			if (cap > MAX_INPUT + 8192u || !(nb = realloc(buf, cap))) {
				free(buf);
				buf = NULL;
				errno = EFBIG;
				break;
			}
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0) {
			if (ferror(f)) {
				free(buf);
				buf = NULL;
			}
			break;
		}
	}
	if (f != stdin)
		fclose(f);
	if (buf) {
		buf[n] = '\0';
		*len = n;
	}
	return buf;
}


static int write_out(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int rc = 0;

	if (!f)
		return -1;
	if (fputs(text, f) == EOF)
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: extmetrics import-keda [--out-config FILE] [--out-hpa FILE] [--out-secrets FILE]\n"
		"                              [--secrets-dir DIR] [--keda-namespace NS] [--no-scale-to-zero] FILE...\n"
		"Reads KEDA ScaledObjects, TriggerAuthentications and ClusterTriggerAuthentications\n"
		"(multi-document YAML, or `kubectl get -o yaml` lists; FILE - is stdin) and writes\n"
		"extmetrics config entries (a `metrics:` section to append to a config with a server:\n"
		"section) and autoscaling/v2 HorizontalPodAutoscalers; without --out-config/--out-hpa both go\n"
		"to stdout. Everything written is first loaded as check-config --skip-secrets would.\n"
		"A ScaledObject that cannot be carried over with its meaning gets nothing, and stderr says\n"
		"why: FILE:LINE:COL: KIND NS/NAME: FIELD: not translated: why.\n"
		"secretTargetRef values become files DIR/<namespace>/<secret>/<key> (DIR default %s;\n"
		"a ClusterTriggerAuthentication's Secrets are in --keda-namespace, default %s);\n"
		"--out-secrets writes the commands copying those Secrets and the Deployment patch mounting them.\n"
		"Exit codes: 0 all translated; 1 usage, unreadable or invalid YAML, or an output that would not\n"
		"load (nothing written); 2 written, but some objects were refused; 3 no ScaledObject found\n"
		"(nothing written); 4 only ScaledJobs, which no HPA can express (nothing written).\n",
		EM_KEDA_SECRETS_DIR, EM_KEDA_NAMESPACE);
}

int em_cmd_import_keda(int argc, char **argv)
{
	static const struct option opts[] = {
		{"out-config", required_argument, NULL, 'c'},
		{"out-hpa", required_argument, NULL, 'H'},
		{"out-secrets", required_argument, NULL, 'S'},
		{"secrets-dir", required_argument, NULL, 's'},
		{"keda-namespace", required_argument, NULL, 'k'},
		{"no-scale-to-zero", no_argument, NULL, 'z'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct em_keda_opts ko = {0};
	const char *out_cfg = NULL, *out_hpa = NULL, *out_sec = NULL;
	struct em_keda_src *srcs = NULL;
	struct em_keda_out out = {0};
	size_t n = 0;
	int c, rc = EM_KEDA_EINPUT;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': out_cfg = optarg; break;
		case 'H': out_hpa = optarg; break;
		case 'S': out_sec = optarg; break;
		case 's': ko.secrets_dir = optarg; break;
		case 'k': ko.keda_namespace = optarg; break;
		case 'z': ko.no_scale_to_zero = true; break;
		case 'h': usage(stdout); return 0;
		default:
			fprintf(stderr, "import-keda: unknown or incomplete option \"%s\"\n", argv[optind - 1]);
			usage(stderr);
			return EM_KEDA_EINPUT;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "import-keda: no input files\n");
		usage(stderr);
		return EM_KEDA_EINPUT;
	}
	srcs = calloc((size_t)(argc - optind), sizeof(*srcs));
	if (!srcs)
		return EM_KEDA_EINPUT;
	for (int i = optind; i < argc; i++, n++) {
		size_t len = 0;
		char *text = read_all(argv[i], &len);
		if (!text) {
			fprintf(stderr, "import-keda: %s: %s\n", argv[i], strerror(errno ? errno : EIO));
			goto out;
		}
		srcs[n] = (struct em_keda_src){.name = strcmp(argv[i], "-") == 0 ? "<stdin>" : argv[i], .text = text, .len = len};
	}
	rc = em_keda_translate(srcs, n, &ko, &out);
	if (out.diag)
		fputs(out.diag, stderr);
	if (rc == EM_KEDA_OK || rc == EM_KEDA_PARTIAL) {
		const struct { const char *path, *text; } files[] = {
			{out_cfg, out.config}, {out_hpa, out.hpa}, {out_sec, out.secrets}};
		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			if (files[i].path && write_out(files[i].path, files[i].text) != 0) {
				fprintf(stderr, "import-keda: %s: %s\n", files[i].path, strerror(errno));
				rc = EM_KEDA_EINPUT;
				goto out;
			}
		}
		if (!out_cfg)
			fputs(out.config, stdout);
		if (!out_hpa)
			fputs(out.hpa, stdout);
		if (!out_sec && out.secrets[0])
			fputs("import-keda: the config reads Secrets: --out-secrets FILE writes how to bring them across\n",
			      stderr);
		fprintf(stderr, "import-keda: %d ScaledObject(s): %d metric(s), %d HPA(s); %d refused\n",
			out.n_scaledobjects, out.n_metrics, out.n_hpas, out.n_refused);
	}
out:
	for (size_t i = 0; i < n; i++)
		free((char *)srcs[i].text);
	free(srcs);
	em_keda_out_free(&out);
	return rc;
}
