/* fuzz_import_keda.c - libFuzzer target: import-keda on any YAML never crashes, leaks or writes what would not load. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/cli/import_keda.h"
#include "adapter/config.h"
#include "adapter/log.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct em_keda_src src = {.name = "fuzz.yaml", .text = (const char *)data, .len = size};
	struct em_keda_out out;
	int rc;

	em_log_setup(EM_LOG_ERROR, false);
	rc = em_keda_translate(&src, 1, NULL, &out);
	CHECK(rc >= EM_KEDA_OK && rc <= EM_KEDA_JOBS);
	CHECK(out.diag != NULL);
	CHECK(rc != EM_KEDA_OK || out.n_problems == 0);   /* every reason given makes it partial */
	if (rc == EM_KEDA_OK || rc == EM_KEDA_PARTIAL) {
		/* what would be written loads, as check-config --skip-secrets */
		struct em_errlist errs = {0};
		struct em_config *c;
		CHECK(out.config && out.hpa && out.secrets);
		c = em_config_load_mem_ex("fuzz", out.config, strlen(out.config), EM_CFG_METRICS_ONLY | EM_CFG_SKIP_SECRETS,
					  &errs);
		CHECK(c != NULL);
		CHECK(out.n_hpas >= 0 && out.n_hpas <= out.n_scaledobjects);
		em_config_free(c);
		em_errlist_free(&errs);
	} else {
		CHECK(out.config == NULL && out.hpa == NULL);
	}
	em_keda_out_free(&out);
	return 0;
}
