/* options.h - scaler options declared as data: name, alias, type, default, required, bounds, secret, KEDA's role. */
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
	EM_OPT_INT,       /* int64_t; a JSON integer, as KEDA decodes it ("5.5", "+5", "05" refused) */
	EM_OPT_FLOAT,     /* double; a JSON number, as KEDA decodes it ("1e3" yes, ".5", "0x10", "NaN" no) */
	EM_OPT_BOOL,      /* bool; Go strconv.ParseBool spellings */
	EM_OPT_DURATION,  /* int64_t milliseconds; Go duration ("30s") or integer */
	EM_OPT_SECONDS,   /* int64_t seconds; integer seconds as KEDA takes them */
	EM_OPT_MAP,       /* struct em_kvlist; written "k=v,k2=v2" */
	EM_OPT_ENUM,      /* char *, one of .choices */
};

/* Option flags. */
#define EM_OPT_REQUIRED   0x01u  /* missing => `missing required parameter "<name>"` */
#define EM_OPT_SECRET     0x02u  /* never logged; scrubbed from error messages */
#define EM_OPT_NOENV      0x04u  /* <name>FromEnv is not accepted */
#define EM_OPT_BOUNDED    0x08u  /* min/max apply (numbers) */
#define EM_OPT_IGNORED    0x10u  /* a key KEDA accepts and ignores: accepted, not parsed, warned with .note */
#define EM_OPT_DEPRECATED 0x20u  /* used, and warned with .note */
#define EM_OPT_NOMETA     0x40u  /* KEDA ignores it in trigger metadata (reads it from a TriggerAuthentication
				  * only): a literal metadata value is ignored too, with a warning (.note) */
#define EM_OPT_TARGET     0x80u  /* KEDA's HPA target (import-keda); .def is KEDA's default */
#define EM_OPT_ACTIVATION 0x100u /* only decides activity (KEDA: 0 <-> 1 replicas) */
#define EM_OPT_METAWARN   0x200u /* used, but a literal metadata value is warned about with .note */

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
	const char *alias;        /* another name KEDA reads for it, after name (authMode for authModes) */
	const char *note;         /* the warning of EM_OPT_IGNORED, _DEPRECATED, _NOMETA, _METAWARN */
};

#define EM_OPTIONS_END { .name = NULL, .type = EM_OPT_END }

/* Where a raw option value was written. */
enum em_optsrc {
	EM_SRC_METADATA = 0,   /* metadata: KEY (KEDA's trigger metadata) */
	EM_SRC_FROMENV,        /* metadata: KEYFromEnv (KEDA's resolvedEnv) */
	EM_SRC_AUTH,           /* auth.params / auth.podIdentity, roleArn, externalID (KEDA's authParams) */
};

/* Where a raw option value comes from. The config layer fills these from the
 * metric's `metadata` (scalars), `<name>FromEnv` keys, and the `params`
 * value sources ({value}, {fromEnv}, {fromFile}). */
struct em_rawopt {
	const char *name;
	const char *value;   /* resolved text, trimmed by the parser */
	int line, col;       /* position in the config file, 0 if unknown */
	bool literal;        /* written in the config file itself (not from env or a file) */
	enum em_optsrc src;
	bool unresolved;     /* a placeholder: its source (a file, a variable) was not read (check-config --skip-secrets) */
};

struct em_rawopts {
	struct em_rawopt *items;
	size_t n;
};

/* Where the problems of one metric's options go: every error and warning,
 * each about one key (key NULL: the metric as a whole). */
struct em_optdiag {
	void (*report)(void *arg, bool warning, const char *key, const char *msg);
	void *arg;
	int errors, warnings;
};

/* Reports an error about key; returns -1 (for `return em_opt_error(...)`). */
int em_opt_error(struct em_optdiag *d, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void em_opt_warn(struct em_optdiag *d, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Reports err (from a check written with em_err: "key: message", the key
 * one word) as an error about that key; returns -1. For scalers whose
 * checks stop at their first problem. */
int em_opt_error_err(struct em_optdiag *d, const struct em_err *err);

/* A diag that keeps the first error in err as "key: message" (EM_E_CONFIG)
 * and drops warnings: for options parsed again at run time. */
void em_optdiag_to_err(struct em_optdiag *d, struct em_err *err);

/* Parses raw options into cfg (a zeroed struct of the scaler's config size)
 * following table, reporting every problem to d: unknown keys (with the
 * closest known key as a suggestion), bad values, missing required ones;
 * ignored and deprecated keys are warnings. -1 when any error was reported;
 * cfg may then hold partial allocations: always call em_options_free(). */
int em_options_parse(const struct em_option *table, const struct em_rawopts *raw, void *cfg, struct em_optdiag *d);

/* Frees every string and map that em_options_parse() allocated in cfg. NULL-safe. */
void em_options_free(const struct em_option *table, void *cfg);

/* The known key (name or alias) of table closest to an unknown key, by edit
 * distance ignoring case (transpositions count once), or NULL when none is
 * close: "queueLenght" -> "queueLength", "region" -> "awsRegion". */
const char *em_options_suggest(const struct em_option *table, const char *key);

/* The option named name (or with that alias); NULL when unknown. */
const struct em_option *em_options_find(const struct em_option *table, const char *name);

/* Copies every secret option's current value of cfg into out[] (up to max,
 * non-empty values only) so error messages can be scrubbed. Returns count. */
size_t em_options_secrets(const struct em_option *table, const void *cfg, const char **out, size_t max);


/* Single-value parsers shared with the config loader; 0 on success. */
int em_parse_bool(const char *s, bool *out);
int em_parse_int(const char *s, int64_t *out);      /* a JSON integer in int64 range */
int em_parse_float(const char *s, double *out);     /* a finite JSON number */
int em_parse_map(const char *s, struct em_kvlist *out);
void em_kvlist_free(struct em_kvlist *l);
const char *em_kvlist_get(const struct em_kvlist *l, const char *key);

const char *em_opt_type_name(enum em_opt_type t);

#endif
