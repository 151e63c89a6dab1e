/* settings.h - the daemon's own settings (server:, defaults:) declared once as data: name, type, default, bounds, reload, help. */
#ifndef EM_SETTINGS_H
#define EM_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter/util/strbuf.h"

struct em_config;
struct em_loader;              /* config.c's YAML walker */
struct yaml_node_s;

enum em_set_type {
	EM_SET_END = 0,    /* terminates the table */
	EM_SET_SECTION,    /* a mapping of the rows named "<its name>.KEY" */
	EM_SET_STRING,     /* char * (NULL when absent without a default) */
	EM_SET_FILE,       /* char *, a path checked readable at load time */
	EM_SET_INT,        /* int64_t in [min, max] */
	EM_SET_DURATION,   /* int64_t milliseconds: a Go duration with a unit, > 0 */
	EM_SET_BOOL,       /* bool: true or false */
	EM_SET_ENUM,       /* an enum (int): one of .choices */
	EM_SET_STRLIST,    /* struct em_strlist: a list of non-empty strings */
	EM_SET_RULES,      /* authorization rules: struct em_auth_conf's rules and n_rules */
};

/* Row flags. */
#define EM_SET_REQUIRED  0x01u  /* absent: "KEY: missing required key", at its section */
#define EM_SET_RELOAD    0x02u  /* a reload applies it; without: it needs a restart */
#define EM_SET_SERVING   0x04u  /* EM_SET_REQUIRED only to serve (`get` reads metrics-only files) */
#define EM_SET_HTTPS     0x08u  /* STRING: an https:// URL */
#define EM_SET_HEADERS   0x10u  /* STRLIST: entries are HTTP header names */
#define EM_SET_NEED_ONE  0x20u  /* STRLIST: when given, it names at least one header */
#define EM_SET_NOFIELD   0x40u  /* stored by its section's check (offset unused) */

/* One word of an EM_SET_ENUM. */
struct em_set_choice {
	const char *name;
	int value;
};

/* "This key is used only while setting X (read before it) has one of these
 * values": an enum or bool field of struct em_config. */
struct em_set_cond {
	const struct em_set_cond *also;  /* must hold too, and is checked first */
	size_t offset;                   /* of the field in struct em_config */
	bool is_bool;                    /* bool field; else an enum (int) */
	unsigned values;                 /* bit (1u << value) for each value that satisfies it */
	bool at_key;                     /* the error points at the key (else at its value) */
	const char *msg;                 /* the error for the key given otherwise */
	const char *when;                /* the README's words for it ("in mode delegated"); NULL: unsaid */
};

struct em_setting {
	const char *name;                       /* dotted path, e.g. "server.auth.cacheTTL" */
	enum em_set_type type;
	const char *def;                        /* default as YAML writes it; NULL: none (or computed: see help) */
	unsigned flags;                         /* EM_SET_* */
	int64_t min, max;                       /* EM_SET_INT */
	const struct em_set_choice *choices;    /* EM_SET_ENUM: ends with a NULL name */
	const struct em_set_cond *only;         /* used only while it holds (NULL: always) */
	const struct em_set_cond *required_if;  /* required only while it holds */
	const struct em_set_cond *def_if;       /* def applies only while it holds (else the zero value) */
	size_t offset;                          /* of the field in struct em_config */
	const char *missing;                    /* EM_SET_REQUIRED: what to say instead of "missing required key" */
	const char *help;                       /* one line for the README */
	/* EM_SET_SECTION: cross-field checks and computed defaults once its
	 * rows are read (config.c) */
	void (*check)(struct em_loader *L, struct yaml_node_s *node, struct em_config *c);
};

/* The table: sections first, then their rows, in the order they are read
 * (and their errors reported). Ends with an EM_SET_END row. */
extern const struct em_setting em_settings[];

/* The section checks the table names (config.c). */
void em_settings_check_auth(struct em_loader *L, struct yaml_node_s *node, struct em_config *c);
void em_settings_check_authorization(struct em_loader *L, struct yaml_node_s *node, struct em_config *c);

/* Key names: the last component of s->name; the section a row belongs to
 * is its name without that component. */
const char *em_setting_key(const struct em_setting *s);
bool em_setting_in(const struct em_setting *s, const struct em_setting *section);

/* The value of s in c as text (for comparing configs, not for display of
 * secrets: settings hold none). Appended to out. */
void em_setting_value(const struct em_setting *s, const struct em_config *c, struct em_strbuf *out);

/* Every setting's value in c, one string per row of em_settings (for
 * telling what a reload changed). NULL when out of memory; free with
 * em_settings_values_free (NULL-safe). */
char **em_settings_values(const struct em_config *c);
void em_settings_values_free(char **v);

/* Appends to names the settings ("server.threads, server.tls.certFile")
 * whose value in c differs from old (em_settings_values of the config in
 * effect) and that a reload does not apply; returns how many. */
size_t em_settings_restart_needed(char *const *old, const struct em_config *c, struct em_strbuf *names);

/* The README's settings table (Markdown), from the rows. */
void em_settings_markdown(struct em_strbuf *out);

#endif
