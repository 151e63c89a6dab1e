/* import_keda.c - `extmetrics import-keda`: KEDA ScaledObjects to extmetrics config entries and HPAs. */
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

#define MAX_INPUT (16u << 20)
#define HPA_MAX_WINDOW 3600   /* the HPA's upper bound for stabilizationWindowSeconds */

/* ---------------------------------------------------------------- tables */

/* Trigger types that extmetrics serves, and the metadata key KEDA uses as the
 * HPA target. def: KEDA's default when the key is absent (NULL: required).
 * pick: when the key depends on other metadata, the function that picks it
 * and its default (redis-streams: the scale factor; rabbitmq: mode/value or
 * the deprecated queueLength). */
struct trig_kind {
	const char *type;
	const char *target_key;
	const char *def;
	const char *(*pick)(yaml_document_t *d, yaml_node_t *md, const char **def);
};

static const char *streams_target(yaml_document_t *d, yaml_node_t *md, const char **def);
static const char *rabbitmq_target(yaml_document_t *d, yaml_node_t *md, const char **def);

static const struct trig_kind trig_kinds[] = {
	{"aws-sqs-queue", "queueLength", "5", NULL},
	{"aws-cloudwatch", "targetMetricValue", NULL, NULL},
	{"prometheus", "threshold", NULL, NULL},
	{"postgresql", "targetQueryValue", NULL, NULL},
	{"mysql", "queryValue", NULL, NULL},
	{"redis", "listLength", "5", NULL},
	{"redis-cluster", "listLength", "5", NULL},
	{"redis-sentinel", "listLength", "5", NULL},
	{"redis-streams", NULL, NULL, streams_target},
	{"redis-cluster-streams", NULL, NULL, streams_target},
	{"redis-sentinel-streams", NULL, NULL, streams_target},
	{"rabbitmq", NULL, NULL, rabbitmq_target},
	{"metrics-api", "targetValue", NULL, NULL},
	/* cron serves desiredReplicas while active: AverageValue 1 gives that many pods. */
	{"cron", NULL, "1", NULL},
};

static const struct trig_kind *trig_kind_find(const char *type)
{
	for (size_t i = 0; i < sizeof(trig_kinds) / sizeof(trig_kinds[0]); i++)
		if (strcmp(trig_kinds[i].type, type) == 0)
			return &trig_kinds[i];
	return NULL;
}

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
	char **names;   /* metric names used so far */
	size_t nnames;
	struct secret_use *secrets;
	size_t nsecrets;
	int n_so, n_hpa, n_metrics, n_problems;
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

static void name_add(struct ctx *c, const char *name)
{
	char **n = realloc(c->names, (c->nnames + 1) * sizeof(*n));

	if (!n) {
		c->oom = true;
		return;
	}
	c->names = n;
	if ((c->names[c->nnames] = xstrdup(c, name)))
		c->nnames++;
}

/* Metric names go in URL paths and HPA specs: keep [a-z0-9-_], map the rest to '-'. */
static void sanitize(char *s)
{
	for (char *p = s; *p; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
		else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			*p = '-';
	}
}

/* SO-TRIGGER, then NS-SO-TRIGGER, then a numeric suffix: unique within one run. */
static void metric_name(struct ctx *c, const struct so_ref *so, const char *tname, char *out, size_t cap)
{
	snprintf(out, cap, "%s-%s", so->name, tname);
	sanitize(out);
	if (name_used(c, out)) {
		snprintf(out, cap, "%s-%s-%s", so->ns, so->name, tname);
		sanitize(out);
	}
	if (name_used(c, out)) {
		size_t len = strlen(out);
		for (int i = 2; name_used(c, out); i++)
			snprintf(out + len, cap - len, "-%d", i);
	}
	name_add(c, out);
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

/* ---------------------------------------------------------------- authentication */

/* The parts of a TriggerAuthentication that become a metric's `auth:`. */
struct auth_out {
	const char *pod_identity;   /* "aws" or NULL */
	const char *role_arn;
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

static void translate_auth(struct ctx *c, const struct so_ref *so, struct obj *ta, struct auth_out *a)
{
	yaml_document_t *d = &ta->doc->d;
	yaml_node_t *spec = map_get(d, ta->node, "spec");
	yaml_node_t *n;
	struct so_ref ref = {.doc = ta->doc, .kind = ta->kind, .ns = obj_ns(ta), .name = obj_name(ta)};
	const char *dir = c->opts->secrets_dir ? c->opts->secrets_dir : EM_KEDA_SECRETS_DIR;
	static const char *const known[] = {"podIdentity", "secretTargetRef", "env", NULL};

	if (!spec || spec->type != YAML_MAPPING_NODE) {
		problem(c, &ref, ta->node, "spec", "missing");
		return;
	}
	unknown_keys(c, &ref, d, spec, "spec.", known);

	n = map_get(d, spec, "podIdentity");
	if (n && n->type == YAML_MAPPING_NODE) {
		const char *prov = map_str(d, n, "provider");
		const char *owner = map_str(d, n, "identityOwner");
		static const char *const pi_known[] = {"provider", "roleArn", "identityOwner", NULL};
		unknown_keys(c, &ref, d, n, "spec.podIdentity.", pi_known);
		if (!prov || strcmp(prov, "none") == 0) {
			/* nothing to do */
		} else if (strcmp(prov, "aws") == 0 || strcmp(prov, "aws-eks") == 0) {
			a->pod_identity = "aws";
			a->role_arn = map_str(d, n, "roleArn");
			a->any = true;
			if (strcmp(prov, "aws-eks") == 0)
				note(c, &ref, n, "spec.podIdentity.provider",
				     "aws-eks becomes podIdentity aws: the extmetrics ServiceAccount needs the IRSA role");
			if (owner && strcmp(owner, "workload") == 0)
				problem(c, &ref, map_get(d, n, "identityOwner"), "spec.podIdentity.identityOwner",
					"extmetrics cannot borrow the workload's identity; set roleArn to the workload's role "
					"(assumed on top of extmetrics' own identity)");
		} else {
			problem(c, &ref, map_get(d, n, "provider"), "spec.podIdentity.provider",
				"provider \"%s\" is not supported (aws only)", prov);
		}
	}

	n = map_get(d, spec, "secretTargetRef");
	if (n && n->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
			yaml_node_t *e = node_at(d, *it);
			const char *param = map_str(d, e, "parameter"), *sname = map_str(d, e, "name"),
				   *key = map_str(d, e, "key");
			if (!param || !sname || !key) {
				problem(c, &ref, e, "spec.secretTargetRef", "needs parameter, name and key");
				continue;
			}
			fputs("        ", a->params);
			put_key(a->params, param);
			fputs(": {fromFile: ", a->params);
			{
				char path[1024];
				snprintf(path, sizeof(path), "%s/%s/%s", dir, sname, key);
				put_q(a->params, path);
			}
			fputs("}\n", a->params);
			secret_add(c, ref.ns ? ref.ns : (so->ns ? so->ns : "default"), sname, key);
			a->any = true;
		}
	}

	n = map_get(d, spec, "env");
	if (n && n->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
			yaml_node_t *e = node_at(d, *it);
			const char *param = map_str(d, e, "parameter"), *var = map_str(d, e, "name");
			if (!param || !var) {
				problem(c, &ref, e, "spec.env", "needs parameter and name");
				continue;
			}
			fputs("        ", a->params);
			put_key(a->params, param);
			fputs(": {fromEnv: ", a->params);
			put_q(a->params, var);
			fputs("}\n", a->params);
			note(c, &ref, e, "spec.env",
			     "%s is read from the extmetrics container's environment, not the workload's: set it there",
			     var);
			a->any = true;
		}
	}
}

/* ---------------------------------------------------------------- ScaledObject */

struct so_common {
	long polling_s;
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

/* The redis-streams target key for the scale factor KEDA picks: lagCount with a
 * consumerGroup and a non-zero lagCount, pendingEntriesCount with a group,
 * streamLength without (both default 5). */
static const char *streams_target(yaml_document_t *d, yaml_node_t *md, const char **def)
{
	const char *group = map_str(d, md, "consumerGroup"), *lag = map_str(d, md, "lagCount");

	*def = "5";
	if (!group || !*group)
		return "streamLength";
	if (lag && *lag && strspn(lag, "0 ") != strlen(lag)) {
		*def = NULL;
		return "lagCount";
	}
	return "pendingEntriesCount";
}

/* The rabbitmq target key as KEDA's validateTrigger reads the metadata: the
 * deprecated queueLength alone, else value (required with a mode; without
 * mode, value and queueLength: QueueLength with 20). */
static const char *rabbitmq_target(yaml_document_t *d, yaml_node_t *md, const char **def)
{
	const char *ql = map_str(d, md, "queueLength"), *mode = map_str(d, md, "mode"), *v = map_str(d, md, "value");

	*def = NULL;
	if (ql && *ql && strspn(ql, "0. ") != strlen(ql) && (!mode || !*mode) && (!v || !*v))
		return "queueLength";
	if ((!mode || !*mode) && (!v || !*v) && (!ql || !*ql))
		*def = "20";
	return "value";
}

/* One External trigger: a config entry in c->cfg and a metric in hm.
 * Returns true when written. */
static bool translate_trigger(struct ctx *c, const struct so_ref *so, yaml_document_t *d, yaml_node_t *trig, size_t idx,
			      size_t ntrig, const struct so_common *com, FILE *hm)
{
	static const char *const known[] = {"type", "metadata", "name", "metricType", "authenticationRef",
					    "useCachedMetrics", NULL};
	const char *type = map_str(d, trig, "type");
	const char *tname = map_str(d, trig, "name");
	const char *mtype = map_str(d, trig, "metricType");
	yaml_node_t *md = map_get(d, trig, "metadata");
	yaml_node_t *aref = map_get(d, trig, "authenticationRef");
	const struct trig_kind *tk;
	const char *target, *target_key, *target_def;
	char qty[64], mname[256], suffix[128], field[64];
	struct auth_out auth = {0};
	bool ok = false, value_type;
	double tval = 0;

	snprintf(field, sizeof(field), "spec.triggers[]");
	if (!trig || trig->type != YAML_MAPPING_NODE || !type) {
		problem(c, so, trig, field, "a trigger needs a type");
		return false;
	}
	if (strcmp(type, "cpu") == 0 || strcmp(type, "memory") == 0) {
		unknown_keys(c, so, d, trig, "spec.triggers[].", known);
		return translate_resource_trigger(c, so, d, trig, type, hm);
	}
	tk = trig_kind_find(type);
	if (!tk) {
		problem(c, so, map_get(d, trig, "type"), field, "trigger type \"%s\" has no extmetrics scaler", type);
		return false;
	}
	unknown_keys(c, so, d, trig, "spec.triggers[].", known);
	target_key = tk->target_key;
	target_def = tk->def;
	if (md && md->type != YAML_MAPPING_NODE) {
		problem(c, so, md, "spec.triggers[].metadata", "not a mapping");
		return false;
	}

	if (!mtype || strcmp(mtype, "AverageValue") == 0) {
		value_type = false;
	} else if (strcmp(mtype, "Value") == 0) {
		value_type = true;
	} else {
		problem(c, so, map_get(d, trig, "metricType"), "spec.triggers[].metricType",
			"\"%s\": only AverageValue and Value apply to external metrics", mtype);
		return false;
	}

	if (tk->pick)
		target_key = tk->pick(d, md, &target_def);
	target = target_key ? map_str(d, md, target_key) : NULL;
	if (!target)
		target = target_def;
	if (!target) {
		problem(c, so, md ? md : trig, "spec.triggers[].metadata", "missing required parameter \"%s\"",
			target_key);
		return false;
	}
	if (target_quantity(target, &tval, qty, sizeof(qty)) != 0) {
		char f2[128];
		snprintf(f2, sizeof(f2), "spec.triggers[].metadata.%s", target_key);
		problem(c, so, map_get(d, md, target_key), f2, "\"%s\" is not a positive number", target);
		return false;
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
		translate_auth(c, so, ta, &auth);
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
	metric_name(c, so, suffix, mname, sizeof(mname));

	/* The config entry. */
	fputs("  - name: ", c->cfg);
	put_q(c->cfg, mname);
	fputs("\n    namespaces: [", c->cfg);
	put_q(c->cfg, so->ns);
	fputs("]\n    type: ", c->cfg);
	put_q(c->cfg, type);
	fputc('\n', c->cfg);
	if (map_len(md) > 0) {
		fputs("    metadata:\n", c->cfg);
		for (yaml_node_pair_t *p = md->data.mapping.pairs.start; p < md->data.mapping.pairs.top; p++) {
			yaml_node_t *k = node_at(d, p->key), *v = node_at(d, p->value);
			const char *ks = scalar(k);
			if (!ks)
				continue;
			if (!scalar(v)) {
				char f2[300];
				snprintf(f2, sizeof(f2), "spec.triggers[].metadata.%s", ks);
				problem(c, so, v, f2, "metadata values must be strings");
				continue;
			}
			/* KEDA ignores metricName everywhere but CloudWatch, where it is the metric. */
			if (strcmp(ks, "metricName") == 0 && strcmp(type, "aws-cloudwatch") != 0) {
				note(c, so, k, "spec.triggers[].metadata.metricName", "dropped (KEDA ignores it too)");
				continue;
			}
			if (strlen(ks) > 7 && strcmp(ks + strlen(ks) - 7, "FromEnv") == 0)
				note(c, so, k, "spec.triggers[].metadata",
				     "%s: %s is read from the extmetrics container's environment, not the workload's", ks,
				     scalar(v));
			fputs("      ", c->cfg);
			put_key(c->cfg, ks);
			fputs(": ", c->cfg);
			put_q(c->cfg, scalar(v));
			fputc('\n', c->cfg);
		}
	}
	if (auth.any) {
		fputs("    auth:\n", c->cfg);
		if (auth.pod_identity)
			fprintf(c->cfg, "      podIdentity: %s\n", auth.pod_identity);
		if (auth.role_arn) {
			fputs("      roleArn: ", c->cfg);
			put_q(c->cfg, auth.role_arn);
			fputc('\n', c->cfg);
		}
		if (auth.params_len > 0)
			fprintf(c->cfg, "      params:\n%s", auth.params_buf);
	}
	fprintf(c->cfg, "    pollingInterval: %lds\n", com->polling_s);
	if (com->have_fallback) {
		if (value_type) {
			problem(c, so, com->fb_node, "spec.fallback",
				"trigger %s has metricType Value: KEDA's fallback applies to AverageValue only", mname);
		} else {
			char fq[64];
			/* KEDA serves replicas x target so that the HPA computes `replicas`. */
			fmt_decimal(tval * (double)com->fb_replicas, fq, sizeof(fq));
			fprintf(c->cfg, "    fallback: {failureThreshold: %ld, value: \"%s\"}\n", com->fb_threshold, fq);
		}
	}

	/* The HPA metric. */
	fputs("    - type: External\n      external:\n        metric:\n          name: ", hm);
	put_q(hm, mname);
	fputs("\n          selector:\n            matchLabels:\n              scaledobject.keda.sh/name: ", hm);
	put_q(hm, so->name);
	fputc('\n', hm);
	if (value_type)
		fprintf(hm, "        target:\n          type: Value\n          value: \"%s\"\n", qty);
	else
		fprintf(hm, "        target:\n          type: AverageValue\n          averageValue: \"%s\"\n", qty);
	c->n_metrics++;
	ok = true;
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
	yaml_node_t *str, *adv, *hpac = NULL, *beh = NULL, *fb, *trigs, *n;
	struct so_ref so = {.doc = o->doc, .kind = "ScaledObject", .ns = obj_ns(o), .name = obj_name(o)};
	struct so_common com = {.polling_s = 30};
	const char *tname, *tkind, *tapi, *hpa_name;
	long minr = 0, maxr = 100, cool = -1, v;
	size_t ntrig, n_ext = 0, n_res = 0;
	char *hm_buf = NULL;
	size_t hm_len = 0;
	FILE *hm = NULL;

	c->n_so++;
	if (!so.name) {
		problem(c, &so, o->node, "metadata.name", "missing");
		return;
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
		return;
	}
	unknown_keys(c, &so, d, spec, "spec.", spec_known);

	if ((n = map_get(d, spec, "idleReplicaCount")) && !is_null(n))
		problem(c, &so, n, "spec.idleReplicaCount", "an HPA has no idle replica count; minReplicas is used");
	if (get_int(c, &so, d, spec, "initialCooldownPeriod", "spec.initialCooldownPeriod", 0, INT32_MAX, &v) == 1 && v)
		problem(c, &so, map_get(d, spec, "initialCooldownPeriod"), "spec.initialCooldownPeriod",
			"an HPA has no initial cooldown");

	str = map_get(d, spec, "scaleTargetRef");
	tname = map_str(d, str, "name");
	if (!tname) {
		problem(c, &so, str ? str : spec, "spec.scaleTargetRef.name", "missing");
		return;
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
	    get_int(c, &so, d, spec, "cooldownPeriod", "spec.cooldownPeriod", 0, INT32_MAX, &cool) < 0)
		return;
	if (minr > maxr) {
		problem(c, &so, map_get(d, spec, "minReplicaCount"), "spec.minReplicaCount", "%ld exceeds maxReplicaCount %ld",
			minr, maxr);
		return;
	}
	if (cool > HPA_MAX_WINDOW) {
		problem(c, &so, map_get(d, spec, "cooldownPeriod"), "spec.cooldownPeriod",
			"%lds exceeds the HPA's longest stabilization window: %ds used", cool, HPA_MAX_WINDOW);
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
		if ((n = map_get(d, adv, "scalingModifiers")) && !is_null(n))
			problem(c, &so, n, "spec.advanced.scalingModifiers",
				"an HPA cannot combine metrics with a formula (it takes the largest proposal); "
				"compute the combination in the backend, e.g. one PromQL query");
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
	if (!trigs || trigs->type != YAML_SEQUENCE_NODE || trigs->data.sequence.items.top == trigs->data.sequence.items.start) {
		problem(c, &so, trigs ? trigs : spec, "spec.triggers", "missing or empty");
		return;
	}
	ntrig = (size_t)(trigs->data.sequence.items.top - trigs->data.sequence.items.start);
	hm = open_memstream(&hm_buf, &hm_len);
	if (!hm) {
		c->oom = true;
		return;
	}
	for (size_t i = 0; i < ntrig; i++) {
		yaml_node_t *t = node_at(d, trigs->data.sequence.items.start[i]);
		const char *ty = map_str(d, t, "type");
		bool res = ty && (strcmp(ty, "cpu") == 0 || strcmp(ty, "memory") == 0);
		c->trig = (long)i;
		bool done = translate_trigger(c, &so, d, t, i, ntrig, &com, hm);
		c->trig = -1;
		if (done) {
			if (res)
				n_res++;
			else
				n_ext++;
		}
	}
	fclose(hm);
	if (n_ext + n_res == 0) {
		problem(c, &so, trigs, "spec.triggers", "no trigger could be translated: no HPA written");
		goto out;
	}
	if (minr == 0 && (c->opts->no_scale_to_zero || n_ext == 0)) {
		if (n_ext == 0)
			problem(c, &so, map_get(d, spec, "minReplicaCount"), "spec.minReplicaCount",
				"0 needs an External metric in the HPA: minReplicas 1 used");
		minr = 1;
	} else if (minr == 0) {
		note(c, &so, map_get(d, spec, "minReplicaCount") ? map_get(d, spec, "minReplicaCount") : spec,
		     "spec.minReplicaCount", "0: the HPA needs the HPAScaleToZero feature gate "
		     "(else the API server rejects minReplicas 0: use --no-scale-to-zero)");
	}

	fputs("---\n", c->hpa);
	fprintf(c->hpa, "# From ScaledObject %s/%s (%s:%lu)\n", so.ns, so.name, o->doc->file,
		(unsigned long)o->node->start_mark.line + 1);
	if (minr == 0)
		fputs("# minReplicas 0 needs the HPAScaleToZero feature gate.\n", c->hpa);
	fputs("apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: ", c->hpa);
	put_q(c->hpa, hpa_name);
	fputs("\n  namespace: ", c->hpa);
	put_q(c->hpa, so.ns);
	fputs("\nspec:\n  scaleTargetRef:\n    apiVersion: ", c->hpa);
	put_q(c->hpa, tapi);
	fputs("\n    kind: ", c->hpa);
	put_q(c->hpa, tkind);
	fputs("\n    name: ", c->hpa);
	put_q(c->hpa, tname);
	fprintf(c->hpa, "\n  minReplicas: %ld\n  maxReplicas: %ld\n  metrics:\n", minr, maxr);
	fputs(hm_buf, c->hpa);
	emit_behavior(c, &so, d, beh, cool, c->hpa);
	c->n_hpa++;
out:
	free(hm_buf);
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
	free(out->diag);
	memset(out, 0, sizeof(*out));
}

int em_keda_translate(const struct em_keda_src *srcs, size_t n, const struct em_keda_opts *opts,
		      struct em_keda_out *out)
{
	static const struct em_keda_opts defaults = {0};
	struct ctx c = {.opts = opts ? opts : &defaults, .trig = -1};
	char *cfg_buf = NULL, *hpa_buf = NULL;
	size_t cfg_len = 0, hpa_len = 0, diag_len = 0;
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
			problem(&c, &ref, o->node, NULL, "jobs are not scaled by an HPA");
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
		fputs("import-keda: no ScaledObject in the input\n", c.diag);
		rc = EM_KEDA_NONE;
		goto out;
	}
	rc = c.n_problems ? EM_KEDA_PARTIAL : EM_KEDA_OK;
out:
	close_stream(&c.cfg, &cfg_buf);
	close_stream(&c.hpa, &hpa_buf);
	if (rc == EM_KEDA_OK || rc == EM_KEDA_PARTIAL) {
		const char *dir = c.opts->secrets_dir ? c.opts->secrets_dir : EM_KEDA_SECRETS_DIR;
		char *cfg = NULL;
		size_t cl = 0;
		FILE *f = open_memstream(&cfg, &cl);
		if (f) {
			fputs("# extmetrics config entries imported from KEDA (extmetrics import-keda).\n"
			      "# Merge them under `metrics:` of the extmetrics config.\n", f);
			if (c.nsecrets) {
				fprintf(f, "# Copy these Secrets into the extmetrics namespace and mount each one\n"
					   "# read-only at %s/<secret name>:\n", dir);
				for (size_t i = 0; i < c.nsecrets; i++)
					fprintf(f, "#   %s/%s key %s\n", c.secrets[i].ns, c.secrets[i].name, c.secrets[i].key);
			}
			fputs(cfg_len ? "metrics:\n" : "metrics: []\n", f);
			if (cfg_buf)
				fputs(cfg_buf, f);
			if (fclose(f) == 0)
				out->config = cfg;
			else
				free(cfg);
		}
		out->hpa = hpa_buf;
		hpa_buf = NULL;
		if (!out->config || !out->hpa)
			rc = EM_KEDA_EINPUT;
	}
	free(cfg_buf);
	free(hpa_buf);
	if (c.diag)
		fclose(c.diag);
	if (!out->diag)
		out->diag = strdup("");
	out->n_scaledobjects = c.n_so;
	out->n_hpas = c.n_hpa;
	out->n_metrics = c.n_metrics;
	out->n_problems = c.n_problems;
	for (size_t i = 0; i < c.ndocs; i++)
		yaml_document_delete(&c.docs[i].d);
	free(c.docs);
	free(c.objs);
	for (size_t i = 0; i < c.nnames; i++)
		free(c.names[i]);
	free(c.names);
	for (size_t i = 0; i < c.nsecrets; i++) {
		free(c.secrets[i].ns);
		free(c.secrets[i].name);
		free(c.secrets[i].key);
	}
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
		"usage: extmetrics import-keda [--out-config FILE] [--out-hpa FILE] [--secrets-dir DIR]\n"
		"                              [--no-scale-to-zero] FILE...\n"
		"Reads KEDA ScaledObjects, TriggerAuthentications and ClusterTriggerAuthentications\n"
		"(multi-document YAML, or `kubectl get -o yaml` lists; FILE - is stdin) and writes\n"
		"extmetrics config entries and autoscaling/v2 HorizontalPodAutoscalers. Without\n"
		"--out-config/--out-hpa both go to stdout. secretTargetRef values become files under\n"
		"DIR/<secret>/<key> (default %s). Whatever cannot be translated is\n"
		"reported on stderr as FILE:LINE:COL: KIND NS/NAME: FIELD: not translated: why.\n"
		"Exit codes: 0 all translated; 1 usage, unreadable or invalid YAML (nothing written);\n"
		"2 written, but something was not translated; 3 no ScaledObject found (nothing written).\n",
		EM_KEDA_SECRETS_DIR);
}

int em_cmd_import_keda(int argc, char **argv)
{
	static const struct option opts[] = {
		{"out-config", required_argument, NULL, 'c'},
		{"out-hpa", required_argument, NULL, 'H'},
		{"secrets-dir", required_argument, NULL, 's'},
		{"no-scale-to-zero", no_argument, NULL, 'z'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct em_keda_opts ko = {0};
	const char *out_cfg = NULL, *out_hpa = NULL;
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
		case 's': ko.secrets_dir = optarg; break;
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
		if (out_cfg && write_out(out_cfg, out.config) != 0) {
			fprintf(stderr, "import-keda: %s: %s\n", out_cfg, strerror(errno));
			rc = EM_KEDA_EINPUT;
			goto out;
		}
		if (out_hpa && write_out(out_hpa, out.hpa) != 0) {
			fprintf(stderr, "import-keda: %s: %s\n", out_hpa, strerror(errno));
			rc = EM_KEDA_EINPUT;
			goto out;
		}
		if (!out_cfg)
			fputs(out.config, stdout);
		if (!out_hpa)
			fputs(out.hpa, stdout);
		fprintf(stderr, "import-keda: %d ScaledObject(s): %d metric(s), %d HPA(s), %d thing(s) not translated\n",
			out.n_scaledobjects, out.n_metrics, out.n_hpas, out.n_problems);
	}
out:
	for (size_t i = 0; i < n; i++)
		free((char *)srcs[i].text);
	free(srcs);
	em_keda_out_free(&out);
	return rc;
}
