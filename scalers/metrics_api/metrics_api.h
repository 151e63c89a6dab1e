/* metrics_api.h - the metrics-api scaler: config and auth, value readers (JSON, YAML, Prometheus text), quantities. */
#ifndef EM_METRICS_API_H
#define EM_METRICS_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scalers/scaler.h"

#define MA_MAX_BODY (8u << 20)

enum ma_format { MA_JSON = 1, MA_YAML, MA_PROMETHEUS };

/* The Kubernetes Quantity in s as a float (apimachinery's ParseQuantity,
 * then AsApproximateFloat64): [+-]digits[.digits] then a binary (Ki Mi Gi
 * Ti Pi Ei), decimal (n u m k M G T P E) or exponent (e3, E-2) suffix.
 * 0, or -1 when s is not one. */
int ma_quantity_parse(const char *s, size_t n, double *out);

/* A GJSON path's syntax, checked at load: 0, or -1 with a config error. */
int ma_gjson_check(const char *path, struct em_err *err);

/* A Prometheus metric selector: name{label="v", l2!="v", l3=~"re", l4!~"re"}
 * (or {__name__="name", ...}). */
#define MA_MAX_MATCHERS 16
struct ma_matcher {
	char name[128];
	char *value;
	int op;                /* '=', '!', '~' (=~), '^' (!~) */
	void *re;              /* compiled regex_t for =~ and !~ */
};
struct ma_selector {
	char metric[256];
	struct ma_matcher m[MA_MAX_MATCHERS];
	size_t n;
};
int ma_selector_parse(const char *s, struct ma_selector *out, struct em_err *err);
void ma_selector_free(struct ma_selector *s);   /* NULL-safe; leaves it zeroed */

/* The value at path in a JSON, YAML or Prometheus text body, read as KEDA
 * reads it: numbers, and strings that are Quantities ("10Ki"); anything
 * else, a missing path or a malformed body is an error (EM_E_UNAVAILABLE)
 * naming what was found. The value is checked: finite, at most 2^53 in
 * size. sel: the parsed valueLocation for MA_PROMETHEUS. */
int ma_value(enum ma_format f, const char *body, size_t len, const char *path, const struct ma_selector *sel,
	     double *out, struct em_err *err);

#endif
