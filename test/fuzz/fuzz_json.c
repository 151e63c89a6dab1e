/* fuzz_json.c - libFuzzer target: the bounded JSON reader agrees with jansson on what is JSON, within its depth and number limits. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct em_json j;
	json_error_t je;
	json_t *t;
	char why[96];
	int ours;

	em_json_init(&j, (const char *)data, size);
	ours = em_json_skip(&j) == 0 && em_json_end(&j) == 0;
	if (!ours) {
		/* errors say where and what, never a byte of the input */
		em_json_error(&j, why, sizeof(why));
		if (strncmp(why, "invalid JSON at byte ", 21) != 0 || j.error_at > size)
			abort();
	}
	/* jansson stops at a NUL byte; the reader refuses it: compare the rest */
	if (memchr(data, '\0', size))
		return 0;
	t = json_loadb((const char *)data, size, JSON_DECODE_ANY, &je);
	if (t && !ours && strcmp(j.error, "nested too deeply") != 0) {
		fprintf(stderr, "jansson accepts what the reader refuses: %s\n", why);
		abort();
	}
	/* jansson refuses numbers beyond its integer and double range; the reader
	 * only checks their grammar (values are judged by em_value_check) */
	if (!t && ours && !strstr(je.text, "too big") && !strstr(je.text, "overflow")) {
		fprintf(stderr, "the reader accepts what jansson refuses: %s\n", je.text);
		abort();
	}
	json_decref(t);
	return 0;
}
