/* options.c - parsing scaler options from raw text following their declared tables. */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "adapter/util/secret.h"
#include "adapter/util/text.h"

const char *em_opt_type_name(enum em_opt_type t)
{
	switch (t) {
	case EM_OPT_STRING: return "string";
	case EM_OPT_INT: return "int";
	case EM_OPT_FLOAT: return "float";
	case EM_OPT_BOOL: return "bool";
	case EM_OPT_DURATION: return "duration";
	case EM_OPT_SECONDS: return "seconds";
	case EM_OPT_MAP: return "map";
	case EM_OPT_ENUM: return "enum";
	default: return "?";
	}
}

int em_parse_bool(const char *s, bool *out)
{
	/* Go strconv.ParseBool */
	static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
	static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};

	for (size_t i = 0; i < 6; i++) {
		if (strcmp(s, t[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, f[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* The JSON number grammar, which is what KEDA's typed config decodes numbers
 * with (encoding/json): -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?.
 * integer: only -?(0|[1-9][0-9]*), which is what a Go int accepts there. */
static bool json_number(const char *s, bool integer)
{
	const char *p = s;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return false;
	if (integer)
		return *p == '\0';
	if (*p == '.') {
		p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

int em_parse_int(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!json_number(s, true))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

int em_parse_float(const char *s, double *out)
{
	char *end;
	double v;

	if (!json_number(s, false))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	/* Go refuses overflow (ErrRange with ±Inf); an underflow reads as 0 or a
	 * subnormal there and here alike. */
	if (*end || isnan(v) || isinf(v))
		return -1;
	*out = v;
	return 0;
}

void em_kvlist_free(struct em_kvlist *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].key);
		free(l->items[i].value);
	}
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

const char *em_kvlist_get(const struct em_kvlist *l, const char *key)
{
	for (size_t i = 0; l && i < l->n; i++)
		if (strcmp(l->items[i].key, key) == 0)
			return l->items[i].value;
	return NULL;
}

static char *trimdup(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return strndup(s, n);
}

int em_parse_map(const char *s, struct em_kvlist *out)
{
	/* KEDA: split at ',', each entry trimmed and split at '=' into exactly two
	 * parts, each trimmed; an empty entry (a trailing comma) is an error. */
	const char *p = s;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		const char *eq = memchr(p, '=', n);
		struct em_kv *ni;
		char *k, *v;

		if (!eq || memchr(eq + 1, '=', n - (size_t)(eq - p) - 1))
			goto out;
		k = trimdup(p, (size_t)(eq - p));
		v = trimdup(eq + 1, n - (size_t)(eq - p) - 1);
		ni = realloc(out->items, (out->n + 1) * sizeof(*ni));
		if (!k || !v || !ni || !*k) {
			free(k);
			free(v);
			if (ni)
				out->items = ni;
			goto out;
		}
		out->items = ni;
		out->items[out->n].key = k;
		out->items[out->n].value = v;
		out->n++;
		if (!comma) {
			rc = 0;
			goto out;
		}
		p = comma + 1;
	}
out:
	if (rc != 0)
		em_kvlist_free(out);
	return rc;
}

/* ---- reporting ---------------------------------------------------------- */

static void vreport(struct em_optdiag *d, bool warning, const char *key, const char *fmt, va_list ap)
{
	char msg[EM_ERR_MSG_MAX];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (warning)
		d->warnings++;
	else
		d->errors++;
	if (d->report)
		d->report(d->arg, warning, key, msg);
}

int em_opt_error(struct em_optdiag *d, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(d, false, key, fmt, ap);
	va_end(ap);
	return -1;
}

void em_opt_warn(struct em_optdiag *d, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(d, true, key, fmt, ap);
	va_end(ap);
}

int em_opt_error_err(struct em_optdiag *d, const struct em_err *err)
{
	const char *msg = err->msg;
	const char *colon = strstr(msg, ": ");
	size_t n = colon ? (size_t)(colon - msg) : 0;
	char key[64];

	if (n == 0 || n >= sizeof(key) || strcspn(msg, " \t") < n)
		return em_opt_error(d, NULL, "%s", msg);
	memcpy(key, msg, n);
	key[n] = '\0';
	return em_opt_error(d, key, "%s", colon + 2);
}

static void first_error(void *arg, bool warning, const char *key, const char *msg)
{
	struct em_err *err = arg;

	if (warning || err->kind != EM_OK)
		return;
	if (key)
		em_err_set(err, EM_E_CONFIG, "%s: %s", key, msg);
	else
		em_err_set(err, EM_E_CONFIG, "%s", msg);
}

void em_optdiag_to_err(struct em_optdiag *d, struct em_err *err)
{
	memset(d, 0, sizeof(*d));
	d->report = first_error;
	d->arg = err;
}

/* ---- lookups -------------------------------------------------------------- */

static const struct em_rawopt *find_raw(const struct em_rawopts *raw, const char *name)
{
	for (size_t i = 0; name && raw && i < raw->n; i++)
		if (strcmp(raw->items[i].name, name) == 0)
			return &raw->items[i];
	return NULL;
}

const struct em_option *em_options_find(const struct em_option *table, const char *name)
{
	for (const struct em_option *o = table; o->name; o++)
		if (strcmp(o->name, name) == 0 || (o->alias && strcmp(o->alias, name) == 0))
			return o;
	return NULL;
}

static bool contains_nocase(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return true;
	return false;
}

/* How far key is from candidate, or SIZE_MAX when it is not a likely typo. */
static size_t typo_score(const char *key, const char *cand)
{
	size_t kl = strlen(key), cl = strlen(cand);
	size_t max = kl < 4 ? 1 : kl < 9 ? 2 : 3;
	size_t d = em_text_distance(key, cand, max);

	if (d <= max)
		return d;
	/* "region" for "awsRegion", "queueURLs" for "queueURL" */
	if (kl >= 4 && cl >= 4 && (contains_nocase(cand, key) || contains_nocase(key, cand)))
		return 4 + (kl > cl ? kl - cl : cl - kl);
	return SIZE_MAX;
}

const char *em_options_suggest(const struct em_option *table, const char *key)
{
	const char *best = NULL;
	size_t best_score = SIZE_MAX;

	for (const struct em_option *o = table; o->name; o++) {
		const char *names[2] = {o->name, o->alias};
		for (size_t i = 0; i < 2; i++) {
			size_t sc = names[i] ? typo_score(key, names[i]) : SIZE_MAX;
			if (sc < best_score) {
				best_score = sc;
				best = names[i];
			}
		}
	}
	return best;
}

static int parse_one(const struct em_option *o, const char *text, void *cfg, struct em_err *err)
{
	char *field = (char *)cfg + o->offset;
	double num = 0;

	switch (o->type) {
	case EM_OPT_STRING: {
		char *s = strdup(text);
		if (!s)
			return em_err_set(err, EM_E_CONFIG, "out of memory");
		free(*(char **)field);
		*(char **)field = s;
		return 0;
	}
	case EM_OPT_ENUM: {
		for (const char *const *c = o->choices; c && *c; c++) {
			if (strcmp(*c, text) == 0) {
				char *s = strdup(text);
				if (!s)
					return em_err_set(err, EM_E_CONFIG, "out of memory");
				free(*(char **)field);
				*(char **)field = s;
				return 0;
			}
		}
		{
			char list[256] = "";
			size_t off = 0;
			for (const char *const *c = o->choices; c && *c && off < sizeof(list); c++)
				off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
							c == o->choices ? "" : ", ", *c);
			if (o->flags & EM_OPT_SECRET)
				return em_err_set(err, EM_E_CONFIG, "invalid value, must be one of: %s", list);
			return em_err_set(err, EM_E_CONFIG, "invalid value \"%s\", must be one of: %s", text, list);
		}
	}
	case EM_OPT_INT: {
		int64_t v;
		if (em_parse_int(text, &v) != 0)
			return em_err_set(err, EM_E_CONFIG, "invalid integer \"%s\"", text);
		*(int64_t *)field = v;
		num = (double)v;
		break;
	}
	case EM_OPT_SECONDS: {
		int64_t v;
		if (em_parse_int(text, &v) != 0)
			return em_err_set(err, EM_E_CONFIG, "invalid integer number of seconds \"%s\"", text);
		*(int64_t *)field = v;
		num = (double)v;
		break;
	}
	case EM_OPT_FLOAT: {
		double v;
		if (em_parse_float(text, &v) != 0)
			return em_err_set(err, EM_E_CONFIG, "invalid number \"%s\"", text);
		*(double *)field = v;
		num = v;
		break;
	}
	case EM_OPT_BOOL: {
		bool v;
		if (em_parse_bool(text, &v) != 0)
			return em_err_set(err, EM_E_CONFIG, "invalid boolean \"%s\" (true or false)", text);
		*(bool *)field = v;
		return 0;
	}
	case EM_OPT_DURATION: {
		int64_t v;
		if (em_parse_duration_ms(text, &v) != 0)
			return em_err_set(err, EM_E_CONFIG,
					  "invalid duration \"%s\" (e.g. 30s, 1m30s, or integer milliseconds)", text);
		*(int64_t *)field = v;
		num = (double)v / 1000.0;
		break;
	}
	case EM_OPT_MAP: {
		struct em_kvlist *l = (struct em_kvlist *)field;
		em_kvlist_free(l);
		if (em_parse_map(text, l) != 0)
			return em_err_set(err, EM_E_CONFIG, "invalid map, expected key=value,key2=value2");
		return 0;
	}
	default:
		return em_err_set(err, EM_E_CONFIG, "unsupported option type");
	}
	if ((o->flags & EM_OPT_BOUNDED) && (num < o->min || num > o->max))
		return em_err_set(err, EM_E_CONFIG, "value %s out of range [%g, %g]", text, o->min, o->max);
	return 0;
}

/* Keys of a KEDA trigger (or ScaledObject) pasted into metadata. */
static const char *paste_hint(const char *key)
{
	static const char *const trigger_keys[] = {"type", "metadata", "authenticationRef", "metricType",
						   "useCachedMetrics", "name", NULL};
	static const char *const so_keys[] = {"triggers", "scaleTargetRef", "spec", "apiVersion", "kind",
					      "minReplicaCount", "maxReplicaCount", "advanced", NULL};

	for (size_t i = 0; trigger_keys[i]; i++)
		if (strcmp(key, trigger_keys[i]) == 0)
			return " (a key of the KEDA trigger itself, not of its metadata: paste only the trigger's metadata here)";
	for (size_t i = 0; so_keys[i]; i++)
		if (strcmp(key, so_keys[i]) == 0)
			return " (a key of a KEDA ScaledObject: convert ScaledObjects with `extmetrics import-keda FILE`)";
	return "";
}

/* KEDA dropped metricName from every trigger's metadata (v2.12) and ignores it
 * since; scalers that read a key of that name (aws-cloudwatch) declare it. */
#define METRICNAME_NOTE                                                                                 \
	"ignored: KEDA removed metricName from trigger metadata in v2.12 (kedacore/keda#4899) and ignores " \
	"it; the metric's name is this entry's name"

static void check_unknown(const struct em_option *table, const struct em_rawopts *raw, struct em_optdiag *d)
{
	for (size_t i = 0; raw && i < raw->n; i++) {
		const char *k = raw->items[i].name;
		const char *sug;

		if (em_options_find(table, k))
			continue;
		if (strcmp(k, "metricName") == 0) {
			em_opt_warn(d, k, METRICNAME_NOTE);
			continue;
		}
		sug = em_options_suggest(table, k);
		if (sug)
			em_opt_error(d, k, "unknown parameter \"%s\" (did you mean \"%s\"?)", k, sug);
		else
			em_opt_error(d, k, "unknown parameter \"%s\"%s", k, paste_hint(k));
	}
}

static bool raw_given(const struct em_rawopt *r)
{
	const char *v = r ? r->value : NULL;

	if (!v)
		return false;
	while (isspace((unsigned char)*v))
		v++;
	return *v != '\0';
}

/* Which raw value of o counts, KEDA's way: its name, else its alias; empty
 * ones are absent. Warns about what is ignored. */
static const struct em_rawopt *pick_raw(const struct em_option *o, const struct em_rawopts *raw, struct em_optdiag *d)
{
	const struct em_rawopt *r[2] = {find_raw(raw, o->name), find_raw(raw, o->alias)};
	const struct em_rawopt *use = NULL;

	for (size_t i = 0; i < 2; i++) {
		if (!r[i])
			continue;
		if (o->flags & EM_OPT_IGNORED) {
			em_opt_warn(d, r[i]->name, "ignored: %s", o->note ? o->note : "KEDA ignores it");
			r[i] = NULL;
		} else if ((o->flags & EM_OPT_NOMETA) && r[i]->src == EM_SRC_METADATA) {
			em_opt_warn(d, r[i]->name, "ignored in metadata: %s", o->note ? o->note : "KEDA ignores it there");
			r[i] = NULL;
		}
	}
	for (size_t i = 0; i < 2 && !use; i++)
		if (raw_given(r[i]))
			use = r[i];
	if (use == r[0] && raw_given(r[1]) && strcmp(r[0]->value, r[1]->value) != 0)
		em_opt_warn(d, r[1]->name, "ignored: %s is set too and KEDA reads it first", o->name);
	if (use && (o->flags & EM_OPT_DEPRECATED))
		em_opt_warn(d, use->name, "%s", o->note ? o->note : "deprecated in KEDA");
	if (use && (o->flags & EM_OPT_METAWARN) && use->src == EM_SRC_METADATA)
		em_opt_warn(d, use->name, "in metadata: %s", o->note ? o->note : "KEDA reads it elsewhere");
	return use;
}

int em_options_parse(const struct em_option *table, const struct em_rawopts *raw, void *cfg, struct em_optdiag *d)
{
	int before = d->errors;

	check_unknown(table, raw, d);
	for (const struct em_option *o = table; o->name; o++) {
		const struct em_rawopt *r = pick_raw(o, raw, d);
		const char *text = NULL, *key = r ? r->name : o->name;
		char *trimmed = NULL;
		struct em_err err = {0};

		if (o->flags & EM_OPT_IGNORED)
			continue;
		if (r) {
			trimmed = trimdup(r->value, strlen(r->value));
			if (!trimmed) {
				em_opt_error(d, key, "out of memory");
				continue;
			}
			text = trimmed;
		}
		if (!text && (o->flags & EM_OPT_REQUIRED)) {
			em_opt_error(d, o->name, "missing required parameter \"%s\"", o->name);
			continue;
		}
		if (!text)
			text = o->def;
		if (text && parse_one(o, text, cfg, &err) != 0)
			em_opt_error(d, key, "%s", err.msg);
		free(trimmed);
	}
	return d->errors > before ? -1 : 0;
}

void em_options_free(const struct em_option *table, void *cfg)
{
	if (!cfg)
		return;
	for (const struct em_option *o = table; o->name; o++) {
		char *field = (char *)cfg + o->offset;
		if (o->type == EM_OPT_STRING || o->type == EM_OPT_ENUM) {
			char **s = (char **)field;
			if (o->flags & EM_OPT_SECRET)
				em_free_secret(*s);
			else
				free(*s);
			*s = NULL;
		} else if (o->type == EM_OPT_MAP) {
			em_kvlist_free((struct em_kvlist *)field);
		}
	}
}

size_t em_options_secrets(const struct em_option *table, const void *cfg, const char **out, size_t max)
{
	size_t n = 0;

	for (const struct em_option *o = table; o->name && n < max; o++) {
		const char *field = (const char *)cfg + o->offset;
		if (!(o->flags & EM_OPT_SECRET))
			continue;
		if (o->type == EM_OPT_STRING || o->type == EM_OPT_ENUM) {
			const char *s = *(char *const *)field;
			if (s && *s)
				out[n++] = s;
		} else if (o->type == EM_OPT_MAP) {
			const struct em_kvlist *l = (const struct em_kvlist *)field;
			for (size_t i = 0; i < l->n && n < max; i++)
				if (*l->items[i].value)
					out[n++] = l->items[i].value;
		}
	}
	return n;
}
