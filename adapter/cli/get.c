/* get.c - `extmetrics get`: one metric fetched once through its scaler, answered exactly as the server would. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "adapter/config.h"
#include "adapter/log.h"
#include "adapter/registry.h"
#include "adapter/util/strbuf.h"
#include "apiservice/api.h"

static const char *const usage_get =
	"usage: extmetrics get (--config FILE | --demo) NAMESPACE METRIC [--selector SELECTOR]\n"
	"\n"
	"Fetches METRIC once through its scaler, as the HPA would see it from NAMESPACE, and prints the\n"
	"ExternalMetricValueList JSON on stdout (exit 0), or the Status JSON on stderr (exit 1).\n";

int em_cmd_get(int argc, char **argv)
{
	struct em_cli_flags f;
	struct em_config *c;
	struct em_registry *reg;
	struct em_err err = {0};
	struct em_api_req req = {.method = "GET", .accept = "application/json"};
	struct em_api_resp resp;
	struct em_strbuf path;
	int rc;

	if ((rc = em_cli_parse_flags(argc, argv, &f, usage_get, 2)) >= 0)
		return rc;
	if (em_cli_logging(&f) != 0)
		return 2;
	if (!f.level)
		em_log_setup(EM_LOG_WARN, false);
	c = em_cli_load(&f, true);
	if (!c)
		return 1;
	reg = em_registry_new(c, EM_REG_ON_GET, &err);
	if (!reg) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	em_sb_init(&path);
	em_sb_printf(&path, "/apis/external.metrics.k8s.io/v1beta1/namespaces/%s/%s", f.pos[0], f.pos[1]);
	req.path = path.buf;
	req.label_selector = f.selector;
	em_api_handle(reg, &req, &resp);
	rc = resp.code == 200 ? 0 : 1;
	fputs(resp.body ? resp.body : "", rc ? stderr : stdout);
	free(resp.body);
	em_sb_free(&path);
	em_registry_free(reg);
	return rc;
}
