/* composite.c - the "composite" metric: KEDA's scalingModifiers, a formula over other configured metrics' cached values. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formula.h"
#include "scalers/scaler.h"

struct composite_cfg {
	char *formula;
	double target;
	double activation;
	char *metric_type;
	struct em_kvlist inputs;   /* NAME=METRIC; filled from the formula's names when absent */
};

static const char *const metric_types[] = {"AverageValue", "Value", NULL};

static const struct em_option composite_options[] = {
	{.name = "formula", .type = EM_OPT_STRING, .flags = EM_OPT_REQUIRED | EM_OPT_NOENV,
	 .offset = offsetof(struct composite_cfg, formula),
	 .help = "KEDA scalingModifiers formula over the inputs' values, e.g. max(queue / 10, rps / 100)"},
	{.name = "target", .type = EM_OPT_FLOAT, .flags = EM_OPT_REQUIRED | EM_OPT_TARGET,
	 .offset = offsetof(struct composite_cfg, target),
	 .help = "the HPA target of the result (above 0), as scalingModifiers.target"},
	{.name = "activationTarget", .type = EM_OPT_FLOAT, .def = "0", .flags = EM_OPT_ACTIVATION,
	 .offset = offsetof(struct composite_cfg, activation),
	 .help = "active (scale from zero) when the result is above this"},
	{.name = "metricType", .type = EM_OPT_ENUM, .def = "AverageValue", .choices = metric_types,
	 .offset = offsetof(struct composite_cfg, metric_type),
	 .help = "the HPA target type (the HPA's business; checked as KEDA does)"},
	{.name = "inputs", .type = EM_OPT_MAP, .flags = EM_OPT_NOENV, .offset = offsetof(struct composite_cfg, inputs),
	 .help = "NAME=METRIC,...: the configured metric each name of the formula reads; absent: the names "
		 "are metric names"},
	EM_OPTIONS_END,
};

/* KEDA knows no such variable; say what it does rather than "unknown name". */
static void unknown_name(struct em_optdiag *d, const char *name, int col)
{
	if (strcmp(name, "current_replicas") == 0)
		em_opt_error(d, "formula",
			     "unknown name current_replicas at column %d: the formula's names are input (KEDA: trigger) "
			     "values, and KEDA has no current replica count among them: it rejects this formula",
			     col);
	else
		em_opt_error(d, "formula", "unknown name %s at column %d (not among inputs)", name, col);
}

static int composite_validate(void *p, struct em_optdiag *d)
{
	struct composite_cfg *c = p;
	struct em_formula *f;
	char msg[256];
	int before = d->errors;

	/* KEDA: ParseFloat(target) must give a number above 0. */
	if (c->target <= 0)
		em_opt_error(d, "target", "must be above 0 (KEDA: error converting target for scalingModifiers)");
	f = em_formula_parse(c->formula, msg, sizeof(msg));
	if (!f)
		return em_opt_error(d, "formula", "%s", msg);
	if (c->inputs.n == 0) {
		/* The names are metric names: inputs NAME=NAME. */
		for (size_t i = 0; i < em_formula_nvars(f); i++) {
			struct em_kv *n = realloc(c->inputs.items, (c->inputs.n + 1) * sizeof(*n));
			if (!n)
				break;
			c->inputs.items = n;
			n[c->inputs.n].key = strdup(em_formula_var(f, i));
			n[c->inputs.n].value = strdup(em_formula_var(f, i));
			if (!n[c->inputs.n].key || !n[c->inputs.n].value) {
				free(n[c->inputs.n].key);
				free(n[c->inputs.n].value);
				em_opt_error(d, "inputs", "out of memory");
				break;
			}
			c->inputs.n++;
		}
	} else {
		for (size_t i = 0; i < em_formula_nvars(f); i++)
			if (!em_kvlist_get(&c->inputs, em_formula_var(f, i)))
				unknown_name(d, em_formula_var(f, i), em_formula_var_col(f, i));
		for (size_t i = 0; i < c->inputs.n; i++) {
			size_t v;
			for (v = 0; v < em_formula_nvars(f); v++)
				if (strcmp(em_formula_var(f, v), c->inputs.items[i].key) == 0)
					break;
			if (v == em_formula_nvars(f))
				em_opt_warn(d, "inputs", "%s is not used by the formula (its metric is still polled)",
					    c->inputs.items[i].key);
		}
	}
	if (em_formula_nvars(f) == 0)
		em_opt_warn(d, "formula", "reads no input: the metric is a constant");
	em_formula_free(f);
	return d->errors > before ? -1 : 0;
}

static const char *composite_input(const void *p, size_t i)
{
	const struct composite_cfg *c = p;

	return i < c->inputs.n ? c->inputs.items[i].value : NULL;
}

struct composite_inst {
	const struct composite_cfg *cfg;
	struct em_formula *f;
	size_t *input_of;   /* formula variable -> input index */
};

static void composite_close(void *p)
{
	struct composite_inst *c = p;

	if (!c)
		return;
	em_formula_free(c->f);
	free(c->input_of);
	free(c);
}

static void *composite_open(const void *p, struct em_err *err)
{
	const struct composite_cfg *cfg = p;
	struct composite_inst *c = calloc(1, sizeof(*c));
	char msg[256];
	int rc = -1;

	if (!c) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		return NULL;
	}
	c->cfg = cfg;
	c->f = em_formula_parse(cfg->formula, msg, sizeof(msg));
	if (!c->f) {
		em_err_set(err, EM_E_CONFIG, "formula: %s", msg);
		goto out;
	}
	c->input_of = calloc(em_formula_nvars(c->f) + 1, sizeof(*c->input_of));
	if (!c->input_of) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		goto out;
	}
	for (size_t v = 0; v < em_formula_nvars(c->f); v++) {
		size_t i;
		for (i = 0; i < cfg->inputs.n; i++)
			if (strcmp(cfg->inputs.items[i].key, em_formula_var(c->f, v)) == 0)
				break;
		if (i == cfg->inputs.n) {
			em_err_set(err, EM_E_CONFIG, "formula: unknown name %s", em_formula_var(c->f, v));
			goto out;
		}
		c->input_of[v] = i;
	}
	rc = 0;
out:
	if (rc != 0) {
		composite_close(c);
		return NULL;
	}
	return c;
}

/* An input as KEDA's formula sees it: the value its scaler reported, as a
 * quantity ("%.3f", NaN, infinities and negatives as 0) read back. */
static double keda_input(double v)
{
	char buf[64];

	if (!isfinite(v) || v < 0)
		return 0;
	snprintf(buf, sizeof(buf), "%.3f", v);
	return strtod(buf, NULL);
}

static int composite_compute(void *p, const double *values, size_t n, struct em_sample *out, struct em_err *err)
{
	const struct composite_inst *c = p;
	double vars[64], v;
	char msg[256];

	if (em_formula_nvars(c->f) > sizeof(vars) / sizeof(vars[0]))
		return em_err_set(err, EM_E_INTERNAL, "too many inputs");
	for (size_t i = 0; i < em_formula_nvars(c->f); i++)
		vars[i] = c->input_of[i] < n ? keda_input(values[c->input_of[i]]) : 0;
	if (em_formula_eval(c->f, vars, &v, msg, sizeof(msg)) != 0)
		return em_err_set(err, EM_E_UNAVAILABLE, "formula: %s", msg);
	/* KEDA: Value.SetMilli(int64(result * 1000)), truncating. */
	if (fabs(v) >= 9.2e15)
		return em_err_set(err, EM_E_UNAVAILABLE, "formula: the result %g is out of a quantity's range", v);
	memset(out, 0, sizeof(*out));
	out->value = trunc(v * 1000) / 1000;
	out->active = out->value > c->cfg->activation;
	return 0;
}

const struct em_scaler em_scaler_composite = {
	.type = "composite",
	.options = composite_options,
	.config_size = sizeof(struct composite_cfg),
	.summary = "a formula over other metrics' cached values (KEDA scalingModifiers); no backend call of its own",
	.flags = EM_SCALER_COMPUTED,
	.validate = composite_validate,
	.open = composite_open,
	.close = composite_close,
	.input = composite_input,
	.compute = composite_compute,
};
