/* fuzz_formula.c - libFuzzer target: scalingModifiers formulas (parse, type check, evaluate). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scalers/composite/formula.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const double probes[] = {0, 1, -1, 2.5, 1e300, -0.0};
	char *text = malloc(size + 1), msg[256];
	struct em_formula *f;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	f = em_formula_parse(text, msg, sizeof(msg));
	if (!f) {
		CHECK(msg[0] != '\0');
		free(text);
		return 0;
	}
	CHECK(em_formula_nvars(f) <= 64);
	for (size_t i = 0; i < em_formula_nvars(f); i++) {
		CHECK(em_formula_var(f, i) && *em_formula_var(f, i));
		CHECK(em_formula_var_col(f, i) >= 1 && (size_t)em_formula_var_col(f, i) <= size);
	}
	for (size_t p = 0; p < sizeof(probes) / sizeof(probes[0]); p++) {
		double vals[64], out;
		for (size_t i = 0; i < 64; i++)
			vals[i] = probes[(p + i) % (sizeof(probes) / sizeof(probes[0]))];
		if (em_formula_eval(f, vals, &out, msg, sizeof(msg)) == 0)
			CHECK(isfinite(out));
		else
			CHECK(msg[0] != '\0');
	}
	em_formula_free(f);
	free(text);
	return 0;
}
