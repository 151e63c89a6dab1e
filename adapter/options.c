/* options.c - parsing scaler options from raw text following their declared tables. */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "adapter/util/secret.h"

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

int em_parse_int(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!*s || isspace((unsigned char)*s))
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

	if (!*s || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno == ERANGE || *end || isnan(v) || isinf(v))
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
	/* KEDA: "k=v,k2=v2"; entries trimmed; empty entries skipped. */
	const char *p = s;

	memset(out, 0, sizeof(*out));
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		const char *eq = memchr(p, '=', n);
		struct em_kv *ni;
		char *k, *v;

		if (n == 0 || strspn(p, " \t") >= n) {
			p += n + (comma ? 1 : 0);
			continue;
		}
		if (!eq)
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
		p += n + (comma ? 1 : 0);
	}
	return 0;
out:
	em_kvlist_free(out);
	return -1;
}

static const struct em_rawopt *find_raw(const struct em_rawopts *raw, const char *name)
{
	for (size_t i = 0; raw && i < raw->n; i++)
		if (strcmp(raw->items[i].name, name) == 0)
			return &raw->items[i];
	return NULL;
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

int em_options_parse(const struct em_option *table, const struct em_rawopts *raw, void *cfg,
		     const char **bad_key, struct em_err *err)
{
	*bad_key = NULL;
	/* Unknown keys first: a typo should not hide behind a missing-key error. */
	for (size_t i = 0; raw && i < raw->n; i++) {
		const struct em_option *o;
		for (o = table; o->name; o++)
			if (strcmp(o->name, raw->items[i].name) == 0)
				break;
		if (!o->name) {
			*bad_key = raw->items[i].name;
			return em_err_set(err, EM_E_CONFIG, "unknown parameter \"%s\"", raw->items[i].name);
		}
	}
	for (const struct em_option *o = table; o->name; o++) {
		const struct em_rawopt *r = find_raw(raw, o->name);
		const char *text = NULL;
		char *trimmed = NULL;
		int rc;

		if (r && r->value) {
			trimmed = trimdup(r->value, strlen(r->value));
			if (!trimmed)
				return em_err_set(err, EM_E_CONFIG, "out of memory");
			if (*trimmed)
				text = trimmed;
		}
		if (!text && (o->flags & EM_OPT_REQUIRED)) {
			free(trimmed);
			*bad_key = o->name;
			return em_err_set(err, EM_E_CONFIG, "missing required parameter \"%s\"", o->name);
		}
		if (!text)
			text = o->def;
		rc = text ? parse_one(o, text, cfg, err) : 0;
		free(trimmed);
		if (rc != 0) {
			*bad_key = o->name;
			return -1;
		}
	}
	return 0;
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
