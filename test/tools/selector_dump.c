/* selector_dump.c - test helper: parses hex-encoded selectors (one a line) and prints hex results. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apiservice/selector.h"

/* Input lines are hex so any byte (whitespace, quotes, UTF-8) survives.
 * Output per line: "OK <hex of String()>" or "ERR <hex of the message>". */
static int unhex(const char *in, char *out, size_t cap)
{
	size_t n = 0;

	for (; in[0] && in[0] != '\n'; in += 2) {
		unsigned v;
		if (!in[1] || sscanf(in, "%2x", &v) != 1 || n + 1 >= cap)
			return -1;
		out[n++] = (char)v;
	}
	out[n] = '\0';
	return 0;
}

static void puthex(const char *s)
{
	for (; *s; s++)
		printf("%02x", (unsigned char)*s);
}

int main(void)
{
	static char line[65536], sel_text[32768];

	while (fgets(line, sizeof(line), stdin)) {
		struct em_selector sel;
		struct em_err err = {0};

		if (unhex(line, sel_text, sizeof(sel_text)) < 0) {
			fprintf(stderr, "bad input line\n");
			return 2;
		}
		if (em_selector_parse(sel_text, &sel, &err) < 0) {
			printf("ERR ");
			puthex(err.msg);
		} else {
			char *s = em_selector_string(&sel);
			printf("OK ");
			puthex(s ? s : "");
			free(s);
			em_selector_free(&sel);
		}
		printf("\n");
		fflush(stdout);
	}
	return 0;
}
