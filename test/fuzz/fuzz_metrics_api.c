/* fuzz_metrics_api.c - libFuzzer target: metrics-api answers (JSON, YAML, Prometheus text), selectors, paths, quantities. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scalers/metrics_api/metrics_api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = {"a.b", "items.#", "items.#(name==\"x\").n", "a.*.0", "x\\.y", "items.1.q"};
	char *s = malloc(size + 1);
	struct ma_selector sel;
	struct em_err err;
	double v;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	ma_value(MA_JSON, s, size, paths[size % 6], NULL, &v, &err);
	ma_value(MA_YAML, s, size, paths[size % 6][0] == 'i' ? "items.1.q" : "a.b", NULL, &v, &err);
	if (ma_selector_parse("q{a=\"b\",c!=\"\",d=~\"x.*\"}", &sel, &err) == 0) {
		ma_value(MA_PROMETHEUS, s, size, "q", &sel, &v, &err);
		ma_selector_free(&sel);
	}
	if (ma_selector_parse(s, &sel, &err) == 0)
		ma_selector_free(&sel);
	/* the input as a path over a fixed document */
	if (ma_gjson_check(s, &err) == 0)
		ma_value(MA_JSON, "{\"a\":{\"b\":[1,{\"c\":\"2Ki\"}]},\"items\":[{\"name\":\"x\",\"n\":3}]}", 56, s, NULL, &v,
			 &err);
	ma_quantity_parse(s, size, &v);
	free(s);
	return 0;
}
