/* cli.h - the extmetrics commands: one table (commands.c), one file per command. */
#ifndef EM_CLI_H
#define EM_CLI_H

#include <stdbool.h>
#include <stdio.h>

struct em_certs;
struct em_config;
struct em_scaler;

/* One command: main finds it by name and runs it with argv[0] = the name.
 * run returns the exit code (2: usage error). */
struct em_command {
	const char *name;
	const char *summary;                 /* one line of `extmetrics --help` */
	int (*run)(int argc, char **argv);
};

extern const struct em_command em_commands[];   /* ends with a NULL name */
const struct em_command *em_command_find(const char *name);
void em_commands_usage(FILE *f);                 /* `extmetrics --help` */

/* The commands (adapter/cli/<name>.c). */
int em_cmd_serve(int argc, char **argv);
int em_cmd_get(int argc, char **argv);
int em_cmd_check_config(int argc, char **argv);
int em_cmd_gen_certs(int argc, char **argv);
int em_cmd_import_keda(int argc, char **argv);
int em_cmd_scalers(int argc, char **argv);
int em_cmd_settings(int argc, char **argv);
int em_cmd_status(int argc, char **argv);
int em_cmd_version(int argc, char **argv);

/* ---- shared by serve, get and check-config (flags.c) ---- */

struct em_cli_flags {
	const char *config, *listen, *metrics_listen, *cert, *key, *level, *format, *selector;
	int demo, help, skip_secrets;
	const char *pos[8];
	int npos;
};

/* Parses argv[1..]: --NAME VALUE or --NAME=VALUE, --demo, --skip-secrets, and exactly npos
 * positionals. -1: go on; else the exit code to return at once (0 after
 * --help printed usage, 2 after a usage error was printed). */
int em_cli_parse_flags(int argc, char **argv, struct em_cli_flags *f, const char *usage, int npos);
/* --log-level and --log-format. 0, or -1 after a message. */
int em_cli_logging(const struct em_cli_flags *f);
/* The config of --config (or --demo), errors printed on stderr; NULL when
 * invalid. metrics_only: a file with just `metrics:` will do (get). */
struct em_config *em_cli_load(const struct em_cli_flags *f, bool metrics_only);

/* For commands parsing their own options with getopt_long (gen-certs,
 * status): what a returned c that is none of theirs means: 'h' prints
 * usage on stdout (0), anything else names the option on stderr with the
 * usage (2). */
int em_cli_getopt_other(const char *cmd, int c, char **argv, void (*usage)(FILE *));
/* After those options: 0, or 2 after naming the first unexpected argument. */
int em_cli_getopt_rest(const char *cmd, int argc, char **argv);

/* The demo config `make run` serves (cron metrics; no cloud account). */
extern const char em_demo_config[];

/* ---- gen-certs ---- */

/* Returns malloc'd YAML: a kubernetes.io/tls Secret (tls.crt, tls.key,
 * ca.crt), or the APIService v1beta1.external.metrics.k8s.io merge patch
 * setting spec.caBundle. NULL when out of memory. */
char *em_certs_secret_yaml(const struct em_certs *c, const char *secret_name, const char *ns);
char *em_certs_apiservice_patch(const struct em_certs *c);

/* ---- status ---- */

/* The table `extmetrics status` prints on out for a GET /status body
 * (outside input: anything else is refused cleanly). 0, or -1 with why
 * (cap bytes) and nothing printed. */
int em_status_print(const char *body, size_t len, FILE *out, char *why, size_t cap);

/* ---- scalers ---- */

/* One scaler's option table as Markdown (the README's tables). */
void em_scalerdoc_print(const struct em_scaler *sc);

#endif
