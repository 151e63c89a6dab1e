/* check_config.c - `extmetrics check-config FILE`: every error of a config, or ok. */
#include <stdio.h>

#include "cli.h"
#include "adapter/config.h"
#include "adapter/log.h"

static const char *const usage_check =
	"usage: extmetrics check-config [--skip-secrets] FILE\n"
	"\n"
	"Validates FILE: exit 0, or print every error as FILE:LINE:COL: KEY: message and exit 1.\n"
	"Warnings (keys accepted but ignored or deprecated, secrets written in the file) go to stderr.\n"
	"--skip-secrets: do not read fromFile, fromEnv and <key>FromEnv values (Secrets mounted only in the\n"
	"cluster, variables set only in the pod); everything else is checked.\n";

int em_cmd_check_config(int argc, char **argv)
{
	struct em_cli_flags f;
	struct em_errlist errs = {0};
	struct em_config *c;
	int rc;

	if ((rc = em_cli_parse_flags(argc, argv, &f, usage_check, 1)) >= 0)
		return rc;
	em_log_setup(EM_LOG_WARN, false); /* warnings go to stderr */
	c = em_config_load_ex(f.pos[0], f.skip_secrets ? EM_CFG_SKIP_SECRETS : 0, &errs);
	for (size_t i = 0; i < errs.n; i++)
		printf("%s\n", errs.msgs[i]);
	for (size_t i = 0; i < errs.nwarns; i++)
		fprintf(stderr, "%s\n", errs.warns[i]);
	em_errlist_free(&errs);
	if (!c)
		return 1;
	if (c->server.auth.mode == EM_AUTH_NONE)
		em_warn("%s: server.auth.mode is none: every client that reaches the port can read every metric",
			f.pos[0]);
	printf("%s: ok (%zu metrics)\n", f.pos[0], c->n_metrics);
	em_config_free(c);
	return 0;
}
