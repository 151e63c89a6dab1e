/* flags.c - the flags serve, get and check-config share, loading the config they name, and what other commands' getopt loops share. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "adapter/config.h"
#include "adapter/log.h"

static int parse(int argc, char **argv, struct em_cli_flags *f, const char *usage)
{
	static const struct {
		const char *name;
		size_t off;
	} opts[] = {
		{"--config", offsetof(struct em_cli_flags, config)},
		{"--listen", offsetof(struct em_cli_flags, listen)},
		{"--metrics-listen", offsetof(struct em_cli_flags, metrics_listen)},
		{"--tls-cert-file", offsetof(struct em_cli_flags, cert)},
		{"--tls-key-file", offsetof(struct em_cli_flags, key)},
		{"--log-level", offsetof(struct em_cli_flags, level)},
		{"--log-format", offsetof(struct em_cli_flags, format)},
		{"--selector", offsetof(struct em_cli_flags, selector)},
	};

	memset(f, 0, sizeof(*f));
	/* argv[0] is the command */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		size_t k;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage, stdout);
			f->help = 1;
			return 0;
		}
		if (strcmp(a, "--demo") == 0) {
			f->demo = 1;
			continue;
		}
		if (strcmp(a, "--skip-secrets") == 0) {
			f->skip_secrets = 1;
			continue;
		}
		if (strncmp(a, "--", 2) != 0 || strcmp(a, "--") == 0) {
			if (f->npos == 8) {
				fprintf(stderr, "too many arguments\n%s", usage);
				return -1;
			}
			f->pos[f->npos++] = a;
			continue;
		}
		for (k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
			size_t n = strlen(opts[k].name);
			if (strncmp(a, opts[k].name, n) != 0)
				continue;
			if (a[n] == '=') {
				*(const char **)((char *)f + opts[k].off) = a + n + 1;
				break;
			}
			if (a[n] == '\0') {
				if (i + 1 >= argc) {
					fprintf(stderr, "%s needs a value\n", opts[k].name);
					return -1;
				}
				*(const char **)((char *)f + opts[k].off) = argv[++i];
				break;
			}
		}
		if (k == sizeof(opts) / sizeof(opts[0])) {
			fprintf(stderr, "unknown option %s\n%s", a, usage);
			return -1;
		}
	}
	return 0;
}

int em_cli_parse_flags(int argc, char **argv, struct em_cli_flags *f, const char *usage, int npos)
{
	if (parse(argc, argv, f, usage) != 0)
		return 2;
	if (f->help)
		return 0;
	if (f->npos != npos) {
		fputs(usage, stderr);
		return 2;
	}
	return -1;
}

int em_cli_logging(const struct em_cli_flags *f)
{
	enum em_loglevel lvl = EM_LOG_INFO;
	bool json = false;

	if (f->level && em_log_parse_level(f->level, &lvl) != 0) {
		fprintf(stderr, "--log-level must be debug, info, warn or error\n");
		return -1;
	}
	if (f->format) {
		if (strcmp(f->format, "json") == 0)
			json = true;
		else if (strcmp(f->format, "text") != 0) {
			fprintf(stderr, "--log-format must be text or json\n");
			return -1;
		}
	}
	em_log_setup(lvl, json);
	return 0;
}

struct em_config *em_cli_load(const struct em_cli_flags *f, bool metrics_only)
{
	struct em_errlist errs = {0};
	struct em_config *c;

	if (f->demo)
		c = em_config_load_mem("<demo>", em_demo_config, strlen(em_demo_config), &errs);
	else if (f->config)
		c = em_config_load_ex(f->config, metrics_only ? EM_CFG_METRICS_ONLY : 0, &errs);
	else {
		fprintf(stderr, "--config FILE (or --demo) is required\n");
		return NULL;
	}
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.msgs[i]);
	for (size_t i = 0; i < errs.nwarns; i++)
		em_warn("%s", errs.warns[i]);
	em_errlist_free(&errs);
	return c;
}

int em_cli_getopt_other(const char *cmd, int c, char **argv, void (*usage)(FILE *))
{
	if (c == 'h') {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "%s: unknown or incomplete option \"%s\"\n", cmd, argv[optind - 1]);
	usage(stderr);
	return 2;
}

int em_cli_getopt_rest(const char *cmd, int argc, char **argv)
{
	if (optind >= argc)
		return 0;
	fprintf(stderr, "%s: unexpected argument \"%s\"\n", cmd, argv[optind]);
	return 2;
}
