/* fuzz_import_keda.c - libFuzzer target: import-keda's translation of any YAML (em_keda_translate). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/cli/import_keda.h"
#include "adapter/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct em_keda_src src = {.name = "fuzz.yaml", .text = (const char *)data, .len = size};
	struct em_keda_opts opts = {.secrets_dir = "/nonexistent"};
	struct em_keda_out out;
	int rc;

	em_log_setup(EM_LOG_ERROR, false);
	memset(&out, 0, sizeof(out));
	rc = em_keda_translate(&src, 1, &opts, &out);
	if (rc < EM_KEDA_OK || rc > EM_KEDA_NONE)
		abort();
	if (rc == EM_KEDA_OK && out.n_problems != 0)
		abort();
	if ((rc == EM_KEDA_OK || rc == EM_KEDA_PARTIAL) && (!out.config || !out.hpa || out.n_hpas > out.n_scaledobjects))
		abort();
	em_keda_out_free(&out);
	return 0;
}
