/* fuzz_prometheus.c - libFuzzer target: Prometheus query answers (em_prom_parse_response) in every multipleSeries mode. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scalers/prometheus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum em_prom_multi modes[] = {EM_PROM_MULTI_ERROR, EM_PROM_MULTI_SUM, EM_PROM_MULTI_MAX,
						   EM_PROM_MULTI_MIN, EM_PROM_MULTI_AVG, EM_PROM_MULTI_ITEMS};
	struct em_prom_cfg c;
	struct em_sample s;
	struct em_err e;
	unsigned sel = size ? data[0] : 0;
	int rc;

	memset(&c, 0, sizeof(c));
	c.serverAddress = "http://127.0.0.1:9090";
	c.query = "sum(queue_depth)";
	c.multi = modes[sel % 6];
	c.ignoreNullValues = (sel & 8) != 0;
	c.auth = EM_PROM_AUTH_BEARER;
	c.bearer = c.bearerToken = "fuzz-bearer-token-Zq9";
	em_err_clear(&e);
	/* the first byte picks the mode; the rest is the body */
	rc = em_prom_parse_response(size ? (const char *)data + 1 : "", size ? size - 1 : 0, (sel & 16) ? 400 : 200, &c,
				    &s, &e);
	if (rc == 0) {
		if (!isfinite(s.value) || fabs(s.value) > EM_VALUE_MAX || s.n_series > EM_PROM_MAX_ITEMS)
			abort();
		if (s.n_series && c.multi != EM_PROM_MULTI_ITEMS)
			abort();
		for (size_t i = 0; i < s.n_series; i++)
			if (!isfinite(s.series[i].value) || s.series[i].labels.n > EM_PROM_MAX_LABELS)
				abort();
	} else {
		if (!e.msg[0] || e.kind == EM_OK || s.series || s.n_series)
			abort();
		/* the secret is never quoted, whatever the body echoes */
		if (strstr(e.msg, c.bearer))
			abort();
	}
	em_sample_free(&s);
	return 0;
}
