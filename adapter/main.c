/* main.c - the extmetrics binary: global set-up (libcurl, scaler init hooks), then the command argv[1] names (cli/commands.c). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "adapter/cli/cli.h"
#include "adapter/util/http.h"
#include "scalers/scaler.h"

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : NULL;
	const struct em_command *cmd;
	struct em_err err = {0};
	int rc;

	if (!name || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
		em_commands_usage(name ? stdout : stderr);
		return name ? 0 : 2;
	}
	cmd = em_command_find(strcmp(name, "--version") == 0 ? "version" : name);
	if (!cmd) {
		fprintf(stderr, "unknown command \"%s\"\n", name);
		em_commands_usage(stderr);
		return 2;
	}
	/* A backend that closes its end must be an error, not the end of the
	 * process: OpenSSL (Redis over TLS) and libmariadb write with write(2),
	 * in get as in serve. */
	signal(SIGPIPE, SIG_IGN);
	/* Once, before any thread runs: never lazily on a poller thread. */
	if (em_http_global_init() != 0) {
		fprintf(stderr, "libcurl initialisation failed\n");
		return 1;
	}
	if (em_scalers_init(&err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		em_http_global_cleanup();
		return 1;
	}
	rc = cmd->run(argc - 1, argv + 1);
	em_scalers_cleanup();
	em_http_global_cleanup();
	return rc;
}
