/* fuzz_postgresql.c - libFuzzer target: the text of a query's first value (em_pg_value_from_text) and libpq messages made one line. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scalers/postgresql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), line[256];
	struct em_err e;
	double v = 0;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (em_pg_value_from_text(text, false, size ? data[0] : 0, &v, &e) == 0) {
		if (!isfinite(v) || fabs(v) > EM_VALUE_MAX)
			abort();
	} else if (!e.msg[0] || e.kind != EM_E_UNAVAILABLE) {
		abort();
	}
	em_pg_one_line(text, line, sizeof(line));
	for (const char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20)
			abort();
	free(text);
	return 0;
}
