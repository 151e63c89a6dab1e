/* test_formula.c - scalingModifiers formulas: KEDA's own test formulas, expr-lang's precedence and typing, errors. */
#include "harness.h"

#include "scalers/composite/formula.h"

/* Variables a, b, c, x, trig_one.. are given these values wherever they appear. */
static double value_of(const char *name)
{
	static const struct { const char *n; double v; } vals[] = {
		{"a", 2}, {"b", 3}, {"c", 10}, {"x", 4}, {"trig_one", 1}, {"trig_two", 2}, {"trig_three", 3},
		{"workload_trig", 4}, {"cron_trig", 6}, {"trigger1", 5}, {"trigger2", 7}, {"zero", 0},
		{"current_replicas", 3},
	};
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		if (strcmp(vals[i].n, name) == 0)
			return vals[i].v;
	return -1;
}

/* A formula's value, or its parse / evaluation error in msg (then NAN). */
static double run(const char *text, char *msg, size_t cap)
{
	struct em_formula *f = em_formula_parse(text, msg, cap);
	double vals[64], out = NAN;

	if (!f)
		return NAN;
	for (size_t i = 0; i < em_formula_nvars(f); i++)
		vals[i] = value_of(em_formula_var(f, i));
	if (em_formula_eval(f, vals, &out, msg, cap) != 0)
		out = NAN;
	em_formula_free(f);
	return out;
}

TEST(values)
{
	static const struct {
		const char *text;
		double want;
	} t[] = {
		/* KEDA's tests and docs (pkg/scaling/modifiers/formula_test.go, scaledobject_webhook_test.go,
		 * tests/internals/scaling_modifiers) */
		{"workload_trig + cron_trig", 10},
		{"trigger1 + trigger2", 12},
		{"x * 2", 8},
		{"workload_trig < 5 ? cron_trig + workload_trig : 5", 10},
		{"float(workload_trig + 1)", 5},
		{"float(trig_one < 2 ? trig_one+trig_two >= 2 ? 5 : 10 : 0)", 5},
		{"float(float(trig_two < 5 ? trig_one + trig_two : 5))", 3},
		{"count([trig_one,trig_two,trig_three],{#>1}) > 1 ? 5 : 0", 5},
		{"trig_one ?? trig_two ?? 5", 1},
		{"ceil(current_replicas * 1.5)", 5},
		/* expr-lang precedence and associativity */
		{"1 + 2 * 3", 7},
		{"(1 + 2) * 3", 9},
		{"10 / 4", 2.5},
		{"7 % 3", 1},
		{"-2 ** 2", -4},
		{"2 ** 3 ** 2", 512},
		{"2 ^ 3", 8},
		{"a - b - c", -11},
		{"c / a / 5", 1},
		{"a + b ?? c", 5},
		{"1 < x < 5 ? 1 : 0", 1},
		{"1 < x < 3 ? 1 : 0", 0},
		{"!true ? 1 : 2", 2},
		{"not (a > b) ? 1 : 2", 1},
		{"a > 1 && b > 1 ? 1 : 0", 1},
		{"a > 5 || b > 5 ? 1 : 0", 0},
		{"a > 1 and b > 5 or c == 10 ? 1 : 0", 1},
		{"true ? false ? 1 : 2 : 3", 2},
		{"a > 1 ? b : c > 1 ? 4 : 5", 3},
		/* builtins */
		{"min(a, b, 1.5)", 1.5},
		{"max([a, b, c])", 10},
		{"abs(-3) + floor(2.7) + round(2.5)", 8},
		{"int(-2.7)", -2},
		{"sum([a, b], {# * 2})", 10},
		{"sum([a, b, c])", 15},
		{"mean([1, 2, 3, 4])", 2.5},
		{"median([3, 1, 2])", 2},
		{"median([4, 1, 3, 2])", 2.5},
		{"all([a, b], {# > 1}) ? 1 : 0", 1},
		{"any([a, b], # > 2) ? 1 : 0", 1},
		{"none([a, b], {# > 5}) ? 1 : 0", 1},
		{"one([a, b, c], {# > 2}) ? 1 : 0", 0},
		{"count([a, b, c], {count([1, 2], {# > 1}) == 1})", 3},
		/* literals */
		{"1_000 + 0x10 + 0b11 + 0o7", 1026},
		{"1e3 + 2.5E-1", 1000.25},
		{" \ta\n+ b ", 5},
	};
	char msg[256];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		double v = run(t[i].text, msg, sizeof(msg));
		if (!(fabs(v - t[i].want) < 1e-9))
			TH_FAIL("%s: got %g (%s), want %g", t[i].text, v, msg, t[i].want);
	}
}

TEST(errors)
{
	static const struct {
		const char *text, *msg;
	} t[] = {
		{"", "empty formula at column 1"},
		{"1 +", "unexpected end of formula at column 4"},
		{"(1", "expected ')' at column 3"},
		{"a b", "unexpected b at column 3"},
		{"foo(1)", "unknown function foo at column 1"},
		{"'x'", "strings are not supported at column 1"},
		{"nil", "nil is not supported (a variable here is never nil) at column 1"},
		{"true", "the formula gives a boolean, not a number at column 1"},
		{"[1, 2]", "the formula gives an array, not a number at column 1"},
		{"1 ? 2 : 3", "the condition of ?: must be a boolean, got a number at column 3"},
		{"a > 1 ? 1 : true", "the two results of ?: must both be numbers or both booleans at column 7"},
		{"x % 2", "% takes integers only (every variable is a float; expr refuses it too) at column 3"},
		{"a ?? b + c", "operator + and ?? cannot be mixed: wrap either in parentheses at column 8"},
		{"not 1 < 2 ? 1 : 2", "not needs a boolean at column 1"},
		{"a + true", "this operator needs numbers, got a number and a boolean at column 3"},
		{"a == true ? 1 : 0", "mismatched types a number and a boolean at column 3"},
		/* chained: (a == 2) && (2 != false), as expr reads it */
		{"a == 2 != false ? 1 : 0", "mismatched types a number and a boolean at column 8"},
		{"a && b", "&& needs booleans, got a number and a number at column 3"},
		{"[1] + 1", "an array can only be an argument of min, max, sum, mean, median, count, all, any, none or one at column 5"},
		{"count([a], {# + 1})", "count takes an array and a predicate giving booleans, e.g. {# > 1} at column 1"},
		{"abs(a, b)", "abs takes one number at column 1"},
		{"min()", "min takes at least one number at column 1"},
		{"# > 1 ? 1 : 0", "# is the element of a predicate, e.g. count([a, b], {# > 1}) at column 1"},
		{".5", "a number must not start with '.' at column 1"},
		{"a @ b", "unexpected character '@' at column 3"},
		{"99999999999999999999", "integer literal is too large at column 1"},
		{"a / zero", "the formula gives +Inf (a division by zero?)"},
		{"zero / zero", "the formula gives NaN (a division by zero?)"},
		{"7 % (1 - 1)", "integer divide by zero (%)"},
	};
	char msg[256];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		double v = run(t[i].text, msg, sizeof(msg));
		if (!isnan(v) || strcmp(msg, t[i].msg) != 0)
			TH_FAIL("%s: got %g \"%s\", want \"%s\"", t[i].text, v, msg, t[i].msg);
	}
}

TEST(variables_in_order_of_first_use_with_columns)
{
	char msg[128];
	struct em_formula *f = em_formula_parse("ceil(current_replicas * 1.5) + queue - current_replicas", msg, sizeof(msg));

	EXPECT(f != NULL);
	if (!f)
		return;
	EXPECT_INT(em_formula_nvars(f), 2);
	EXPECT_STR(em_formula_var(f, 0), "current_replicas");
	EXPECT_INT(em_formula_var_col(f, 0), 6);
	EXPECT_STR(em_formula_var(f, 1), "queue");
	EXPECT_INT(em_formula_var_col(f, 1), 32);
	EXPECT(em_formula_var(f, 2) == NULL);
	em_formula_free(f);
}

TEST(limits)
{
	char text[EM_FORMULA_MAX_TEXT + 2], msg[128];

	memset(text, '(', 70);
	text[70] = '1';
	memset(text + 71, ')', 70);
	text[141] = '\0';
	EXPECT(em_formula_parse(text, msg, sizeof(msg)) == NULL);
	EXPECT(strstr(msg, "nested too deeply") != NULL);
	for (size_t i = 0; i + 4 < sizeof(text); i += 4)
		memcpy(text + i, "a + ", 4);
	text[EM_FORMULA_MAX_TEXT] = 'a';
	text[EM_FORMULA_MAX_TEXT + 1] = '\0';
	EXPECT(em_formula_parse(text, msg, sizeof(msg)) == NULL);
	EXPECT_STR(msg, "formula longer than 4096 bytes");
	/* 300 additions make more than 512 nodes */
	for (int i = 0; i < 300; i++)
		memcpy(text + 4 * i, "a + ", 4);
	memcpy(text + 1200, "1", 2);
	EXPECT(em_formula_parse(text, msg, sizeof(msg)) == NULL);
	EXPECT(strstr(msg, "formula too long") != NULL);
}
