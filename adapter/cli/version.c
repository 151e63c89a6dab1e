/* version.c - `extmetrics version`: the version this binary was built from. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int em_cmd_version(int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		puts("usage: extmetrics version\n\nPrints the version.");
		return 0;
	}
	printf("extmetrics %s\n", EM_VERSION);
	return 0;
}
