/* check_config.c - `extmetrics check-config FILE`: every error of a config, or ok. */
#include <stdio.h>

#include "cli.h"
#include "adapter/config.h"
#include "adapter/log.h"

static const char *const usage_check =
	"usage: extmetrics check-config FILE\n"
	"\n"
	"Validates FILE: exit 0, or print every error as FILE:LINE:COL: KEY: message and exit 1.\n";

int em_cmd_check_config(int argc, char **argv)
{
	struct em_cli_flags f;
	struct em_errlist errs = {0};
	struct em_config *c;
	int rc;

	if ((rc = em_cli_parse_flags(argc, argv, &f, usage_check, 1)) >= 0)
		return rc;
	em_log_setup(EM_LOG_WARN, false); /* warnings (literal secrets) go to stderr */
	c = em_config_load(f.pos[0], &errs);
	for (size_t i = 0; i < errs.n; i++)
		printf("%s\n", errs.msgs[i]);
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
