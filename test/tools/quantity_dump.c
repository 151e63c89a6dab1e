/* quantity_dump.c - test helper: reads doubles (one a line, hex floats welcome) and prints em_quantity_format() of each. */
#include <stdio.h>
#include <stdlib.h>

#include "apiservice/quantity.h"

int main(void)
{
	char line[256];

	while (fgets(line, sizeof(line), stdin)) {
		char buf[EM_QUANTITY_BUF], *end;
		double v = strtod(line, &end);

		if (end == line) {
			fprintf(stderr, "not a number: %s", line);
			return 2;
		}
		em_quantity_format(v, buf, sizeof(buf));
		printf("%s\n", buf);
	}
	return 0;
}
