/* duration.h - Go's time.ParseDuration, exactly, and the option form built on it (bare integer = milliseconds). */
#ifndef EM_DURATION_H
#define EM_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Go's time.ParseDuration: "300ms", "-1.5h", "1h2m3.5s", units ns us µs μs
 * ms s m h, "0" alone without a unit; no exponents, no hex, no spaces.
 * 0 with *ns, or -1 with Go's message in msg ("time: invalid duration
 * \"1e3s\"", "time: missing unit in duration \"1\"", "time: unknown unit
 * \"x\" in duration \"1x\""). */
int em_go_parse_duration(const char *s, int64_t *ns, char *msg, size_t msgcap);

/* A duration option as KEDA takes them: a bare integer ([+]digits) is
 * milliseconds, anything else a Go duration (rounded to the nearest
 * millisecond). Negative values are refused. 0 or -1. */
int em_parse_duration_ms(const char *s, int64_t *out_ms);

#endif
