/* fuzz_config.c - libFuzzer target: the YAML config loader must never crash or leak on any input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/config.h"
#include "adapter/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct em_errlist errs = {0};
	struct em_config *c;
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	em_log_setup(EM_LOG_ERROR, false);
	c = em_config_load_mem("fuzz.yaml", text, size, &errs);
	/* Either a config or at least one error, never both or neither. */
	if ((c != NULL) == (errs.n != 0))
		abort();
	for (size_t i = 0; i < errs.n; i++)
		if (strncmp(errs.msgs[i], "fuzz.yaml:", 10) != 0)
			abort();
	em_config_free(c);
	em_errlist_free(&errs);
	free(text);
	return 0;
}
