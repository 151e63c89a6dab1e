/* selector.h - Kubernetes label selectors: labels.Parse, Matches and String, in C. */
#ifndef EM_SELECTOR_H
#define EM_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "adapter/util/err.h"
#include "adapter/options.h"

enum em_sel_op {
	EM_SEL_EQ,        /* k=v */
	EM_SEL_DEQ,       /* k==v */
	EM_SEL_NEQ,       /* k!=v */
	EM_SEL_IN,        /* k in (a,b) */
	EM_SEL_NOTIN,     /* k notin (a,b) */
	EM_SEL_EXISTS,    /* k */
	EM_SEL_NOTEXISTS, /* !k */
	EM_SEL_GT,        /* k>5 */
	EM_SEL_LT,        /* k<5 */
};

/* One requirement. values are sorted and unique (Go's sets.String.List());
 * EXISTS/NOTEXISTS have none (values NULL, nvalues 0). */
struct em_sel_req {
	char *key;
	enum em_sel_op op;
	char **values;
	size_t nvalues;
};

/* Requirements ANDed, sorted by key (stable for equal keys). n == 0 matches everything. */
struct em_selector {
	struct em_sel_req *reqs;
	size_t n;
};

/* Parses s like apimachinery's labels.Parse ("" or NULL = everything).
 * On success returns 0 and fills *out (free it with em_selector_free()).
 * On error returns -1 with *out empty, err->kind EM_E_BADREQUEST and
 * err->msg Kubernetes' own text (truncated to EM_ERR_MSG_MAX-1 bytes; like
 * Go it may carry the input's bytes raw, so it is not always valid UTF-8).
 * Out of memory gives EM_E_INTERNAL. */
int em_selector_parse(const char *s, struct em_selector *out, struct em_err *err);

/* Frees everything in sel and empties it. NULL-safe. */
void em_selector_free(struct em_selector *sel);

/* Kubernetes Matches(): every requirement must hold. != and notin match an
 * absent label; gt/lt parse the label's value as a base-10 int64 and fail
 * when it is absent or not an integer. labels may be NULL (no labels). */
bool em_selector_matches(const struct em_selector *sel, const struct em_kvlist *labels);

/* The equality requirements (=, ==, and `in` with exactly one value) as
 * key/value pairs sorted by key (a key required twice appears twice).
 * Returns 0, or -1 on out of memory with *out empty. Free with em_kvlist_free(). */
int em_selector_equalities(const struct em_selector *sel, struct em_kvlist *out);

/* Go's Selector.String(): requirements joined by ',', e.g. "a in (x,y),!b,c=d".
 * Parsing it again gives the same selector. Returns a malloc'd string ("" for
 * the empty selector), NULL on out of memory. */
char *em_selector_string(const struct em_selector *sel);

/* The operator's spelling in String() ("=", "==", "!=", "in", "notin", "exists",
 * "!", ">", "<"). */
const char *em_sel_op_name(enum em_sel_op op);

#endif
