/* fuzz_mysql.c - libFuzzer target: Go MySQL DSNs (connectionString) and column text as values. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scalers/mysql/mysql_scaler.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct my_target t;
	struct em_err err;
	double v;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (my_parse_dsn(s, &t, &err) == 0) {
		free(my_target_key(&t));
		my_target_free(&t);
	}
	my_value_from_text((const char *)data, size, false, s, &v, &err);
	free(my_statement(true, (int64_t)size, s));
	free(s);
	return 0;
}
