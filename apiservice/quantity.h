/* quantity.h - canonical Kubernetes DecimalSI Quantity text for a metric value. */
#ifndef EM_QUANTITY_H
#define EM_QUANTITY_H

#include <stddef.h>

/* The smallest buffer em_quantity_format() needs ("9223372036854775807m" and a NUL fit). */
#define EM_QUANTITY_BUF 32

/* Writes the canonical DecimalSI Quantity text for v into buf (cap >= 32),
 * as apimachinery's Quantity.String() prints NewMilliQuantity(round(v*1000)):
 * v rounded to milli-units (like "%.3f"), trailing zeros moved into an SI
 * suffix whose exponent is a multiple of 3 (n u m "" k M G T P E).
 * NaN, +-Inf, negatives and -0 give "0" (KEDA clamps negatives to 0); values
 * whose milli-units do not fit an int64 (>= ~9.22e15) give the largest
 * representable, "9223372036854775807m". Returns the length written (0 only
 * when cap is 0; the text is truncated, NUL-terminated, when cap < 32). */
size_t em_quantity_format(double v, char *buf, size_t cap);

#endif
