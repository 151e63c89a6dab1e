/* fuzz_status.c - libFuzzer target: em_status_print (the `extmetrics status` table) on an arbitrary GET /status answer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/cli/cli.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = NULL, why[256] = "";
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	int rc;

	if (!out)
		return 0;
	rc = em_status_print((const char *)data, size, out, why, sizeof(why));
	fclose(out);
	CHECK(rc == 0 || rc == -1);
	if (rc == 0) {
		/* a table with its header, or the one line saying there is nothing */
		CHECK(len > 0 && text[len - 1] == '\n');
		CHECK(strncmp(text, "METRIC ", 7) == 0 || strcmp(text, "No metrics configured.\n") == 0);
	} else {
		CHECK(len == 0 && why[0]);
	}
	free(text);
	return 0;
}
