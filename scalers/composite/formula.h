/* formula.h - KEDA scalingModifiers formulas: the expr-lang subset they use, parsed by hand and evaluated on numbers (pure). */
#ifndef EM_FORMULA_H
#define EM_FORMULA_H

#include <stdbool.h>
#include <stddef.h>

/* What is accepted, with expr-lang's precedence, associativity and typing:
 *   numbers (1, 2.5, 1e3, 1_000, 0x1F), true, false, names (the variables)
 *   unary - + ! not;  ** ^ (right);  * / %;  + -;  == != < <= > >= (chained:
 *   a < b < c is a < b && b < c);  && and;  || or;  ?? (not mixed with other
 *   operators unless parenthesized);  c ? a : b (lowest, right-nested)
 *   abs ceil floor round int float (one number); min max (numbers, or one
 *   array); sum mean median (an array; sum also with a predicate mapping
 *   each element); count all any none one (an array and a predicate);
 *   arrays [a, b, ...] as arguments of those; predicates {# > 1} or # > 1
 *   with # the element.
 * Division is always a float division; % takes integers only (expr refuses
 * it on floats, and every variable is a float). The result must be a number
 * (KEDA wraps the formula in float()). Limits: 4096 bytes, 512 nodes, 64
 * levels of nesting. */

#define EM_FORMULA_MAX_TEXT 4096
#define EM_FORMULA_MAX_NODES 512
#define EM_FORMULA_MAX_DEPTH 64

struct em_formula;

/* Parses and type-checks text. The names it uses become its variables, in
 * order of first use. NULL with a message ("... at column N") on error. */
struct em_formula *em_formula_parse(const char *text, char *msg, size_t cap);
void em_formula_free(struct em_formula *f);   /* NULL-safe */

size_t em_formula_nvars(const struct em_formula *f);
const char *em_formula_var(const struct em_formula *f, size_t i);
int em_formula_var_col(const struct em_formula *f, size_t i);   /* 1-based column of its first use */

/* Evaluates with vals[i] the value of variable i. 0 with *out, or -1 with a
 * message (a result that is NaN or infinite, an integer % by zero). */
int em_formula_eval(const struct em_formula *f, const double *vals, double *out, char *msg, size_t cap);

#endif
