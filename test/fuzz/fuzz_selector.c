/* fuzz_selector.c - libFuzzer target: em_selector_parse on arbitrary bytes, with invariants on what it returns. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/options.h"
#include "apiservice/selector.h"
#include "fuzz.h"

static void check_structure(const struct em_selector *sel)
{
	for (size_t i = 0; i < sel->n; i++) {
		const struct em_sel_req *r = &sel->reqs[i];
		size_t klen = strlen(r->key);

		CHECK(klen > 0 && klen <= 253 + 1 + 63);
		CHECK(i == 0 || strcmp(sel->reqs[i - 1].key, r->key) <= 0);
		if (r->op == EM_SEL_EXISTS || r->op == EM_SEL_NOTEXISTS)
			CHECK(r->nvalues == 0);
		else
			CHECK(r->nvalues >= 1);
		if (r->op != EM_SEL_IN && r->op != EM_SEL_NOTIN && r->op != EM_SEL_EXISTS && r->op != EM_SEL_NOTEXISTS)
			CHECK(r->nvalues == 1);
		for (size_t j = 0; j < r->nvalues; j++) {
			CHECK(strlen(r->values[j]) <= 63);
			CHECK(j == 0 || strcmp(r->values[j - 1], r->values[j]) < 0);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct em_selector sel, again;
	struct em_err err = {0};

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	if (em_selector_parse(s, &sel, &err) < 0) {
		CHECK(err.kind == EM_E_BADREQUEST);
		CHECK(err.msg[0] != '\0');
		CHECK(sel.n == 0 && sel.reqs == NULL);
		free(s);
		return 0;
	}
	check_structure(&sel);

	/* matching: no labels, then labels made of the selector's own keys with
	 * values taken from the input */
	struct em_kvlist none = {NULL, 0};
	bool m0 = em_selector_matches(&sel, NULL);
	CHECK(m0 == em_selector_matches(&sel, &none));
	struct em_kv kvs[16];
	struct em_kvlist labels = {kvs, 0};
	for (size_t i = 0; i < sel.n && labels.n < 16; i++) {
		const struct em_sel_req *r = &sel.reqs[i];
		kvs[labels.n].key = r->key;
		kvs[labels.n].value = r->nvalues ? r->values[(size + i) % r->nvalues] : s;
		labels.n++;
	}
	(void)em_selector_matches(&sel, &labels);

	/* equalities: exactly the =, == and one-value in requirements, in key order */
	struct em_kvlist eq;
	CHECK(em_selector_equalities(&sel, &eq) == 0);
	size_t neq = 0;
	for (size_t i = 0; i < sel.n; i++) {
		const struct em_sel_req *r = &sel.reqs[i];
		if ((r->op == EM_SEL_EQ || r->op == EM_SEL_DEQ || r->op == EM_SEL_IN) && r->nvalues == 1) {
			CHECK(neq < eq.n);
			CHECK(!strcmp(eq.items[neq].key, r->key) && !strcmp(eq.items[neq].value, r->values[0]));
			neq++;
		}
	}
	CHECK(neq == eq.n);
	em_kvlist_free(&eq);

	/* String() round trip */
	char *str = em_selector_string(&sel);
	CHECK(str != NULL);
	CHECK(em_selector_parse(str, &again, &err) == 0);
	CHECK(again.n == sel.n);
	char *str2 = em_selector_string(&again);
	CHECK(str2 && !strcmp(str, str2));
	for (size_t i = 0; i < sel.n; i++)
		CHECK(again.reqs[i].op == sel.reqs[i].op && !strcmp(again.reqs[i].key, sel.reqs[i].key));
	CHECK(em_selector_matches(&again, &labels) == em_selector_matches(&sel, &labels));
	free(str);
	free(str2);
	em_selector_free(&again);
	em_selector_free(&sel);
	free(s);
	return 0;
}
