/* commands.c - the command table: main dispatches from it and `extmetrics --help` lists it. */
#include <string.h>

#include "cli.h"

const struct em_command em_commands[] = {
	{"serve", "serve the API (HTTPS) and /metrics (HTTP)", em_cmd_serve},
	{"get", "fetch one metric once through its scaler and print the result", em_cmd_get},
	{"status", "a running server's metrics: state, value served, last success and error", em_cmd_status},
	{"check-config", "validate a config file", em_cmd_check_config},
	{"gen-certs", "make a CA and a serving certificate for the APIService", em_cmd_gen_certs},
	{"import-keda", "translate KEDA ScaledObjects into extmetrics config and HPA manifests", em_cmd_import_keda},
	{"scalers", "print every scaler's options (Markdown)", em_cmd_scalers},
	{"settings", "print the server: and defaults: settings (Markdown)", em_cmd_settings},
	{"version", "print the version", em_cmd_version},
	{NULL, NULL, NULL},
};

const struct em_command *em_command_find(const char *name)
{
	for (const struct em_command *c = em_commands; name && c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

void em_commands_usage(FILE *f)
{
	fputs("usage: extmetrics COMMAND [options]\n"
	      "\n"
	      "A Kubernetes external metrics API server (external.metrics.k8s.io/v1beta1).\n"
	      "\n"
	      "commands:\n",
	      f);
	for (const struct em_command *c = em_commands; c->name; c++)
		fprintf(f, "  %-15s%s\n", c->name, c->summary);
	fputs("\nRun `extmetrics COMMAND --help` for a command's options.\n", f);
}
