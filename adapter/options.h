/* options.h - scaler options declared as data: name, type, default, required, bounds, secret. */
#ifndef EM_OPTIONS_H
#define EM_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter/util/duration.h"
#include "adapter/util/err.h"
#include "adapter/util/secret.h"       /* em_scrub */

enum em_opt_type {
	EM_OPT_END = 0,   /* terminates a table */
	EM_OPT_STRING,    /* char * (strdup'd; NULL when absent and no default) */
	EM_OPT_INT,       /* int64_t; KEDA rejects "5.5" */
	EM_OPT_FLOAT,     /* double */
	EM_OPT_BOOL,      /* bool; Go strconv.ParseBool spellings */
	EM_OPT_DURATION,  /* int64_t milliseconds; Go duration ("30s") or integer */
	EM_OPT_SECONDS,   /* int64_t seconds; integer seconds as KEDA takes them */
	EM_OPT_MAP,       /* struct em_kvlist; written "k=v,k2=v2" */
	EM_OPT_ENUM,      /* char *, one of .choices */
};

/* Option flags. */
#define EM_OPT_REQUIRED  0x01u  /* missing => `missing required parameter "<name>"` */
#define EM_OPT_SECRET    0x02u  /* never logged; scrubbed from error messages */
#define EM_OPT_NOENV     0x04u  /* <name>FromEnv is not accepted */
#define EM_OPT_BOUNDED   0x08u  /* min/max apply (numbers) */

struct em_kv {
	char *key;
	char *value;
};

struct em_kvlist {
	struct em_kv *items;
	size_t n;
};

struct em_option {
	const char *name;         /* KEDA metadata key, verbatim */
	enum em_opt_type type;
	const char *def;          /* default as text (NULL: none) */
	unsigned flags;
	double min, max;          /* with EM_OPT_BOUNDED */
	size_t offset;            /* offsetof() into the scaler's config struct */
	const char *const *choices; /* EM_OPT_ENUM: NULL-terminated */
	const char *help;         /* one line for the README table */
};

#define EM_OPTIONS_END { .name = NULL, .type = EM_OPT_END }

/* Where a raw option value comes from. The config layer fills these from the
 * metric's `metadata` (scalars), `<name>FromEnv` keys, and the `params`
 * value sources ({value}, {fromEnv}, {fromFile}). */
struct em_rawopt {
	const char *name;
	const char *value;   /* resolved text, trimmed by the parser */
	int line, col;       /* position in the config file, 0 if unknown */
	bool literal;        /* written in the config file itself (not from env or a file) */
};

struct em_rawopts {
	struct em_rawopt *items;
	size_t n;
};

/* Parses raw options into cfg (a zeroed struct of the scaler's config size)
 * following table. Unknown keys are errors. On error returns -1 with err set
 * (kind EM_E_CONFIG) and *bad_key set to the offending key (for line info);
 * cfg may then hold partial allocations: always call em_options_free(). */
int em_options_parse(const struct em_option *table, const struct em_rawopts *raw, void *cfg,
		     const char **bad_key, struct em_err *err);

/* Frees every string and map that em_options_parse() allocated in cfg. NULL-safe. */
void em_options_free(const struct em_option *table, void *cfg);

/* Copies every secret option's current value of cfg into out[] (up to max,
 * non-empty values only) so error messages can be scrubbed. Returns count. */
size_t em_options_secrets(const struct em_option *table, const void *cfg, const char **out, size_t max);


/* Single-value parsers shared with the config loader; 0 on success. */
int em_parse_bool(const char *s, bool *out);
int em_parse_int(const char *s, int64_t *out);
int em_parse_float(const char *s, double *out);
int em_parse_map(const char *s, struct em_kvlist *out);
void em_kvlist_free(struct em_kvlist *l);
const char *em_kvlist_get(const struct em_kvlist *l, const char *key);

const char *em_opt_type_name(enum em_opt_type t);

#endif
