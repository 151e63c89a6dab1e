/* cronexpr.h - cron expressions parsed and stepped exactly like robfig/cron v3 (as KEDA uses it). */
#ifndef EM_CRONEXPR_H
#define EM_CRONEXPR_H

#include <stdbool.h>
#include <stdint.h>

#include "scalers/scaler.h"
#include "tz.h"

/* A parsed schedule: one bit per allowed value (bit 63 marks a field written
 * as `*` or `?` without a step > 1, which decides the day-of-month /
 * day-of-week rule). Immutable after parsing: safe to share between threads. */
struct em_cron {
	uint64_t second, minute, hour, dom, month, dow;
	int64_t every_s;            /* "@every D": fires every every_s seconds (> 0), fields unused */
	struct em_tz *zone;         /* from a "CRON_TZ=Zone " / "TZ=Zone " prefix, else NULL */
	bool never;                 /* some field can match nothing: Next is always the zero time */
};

#define EM_CRON_STAR (UINT64_C(1) << 63)

/* Accept "@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly",
 * "@annually" and "@every <Go duration>" (robfig's Descriptor option, on in
 * cron.ParseStandard and cron.New's default parser). Without it the parser is
 * cron.NewParser(Minute|Hour|Dom|Month|Dow), the one KEDA's cron scaler
 * validates with, which answers "parser does not accept descriptors: ...". */
#define EM_CRON_DESCRIPTORS 0x01u

/* What Next returns when no time matches within five years: Go's zero
 * time.Time{} (January 1, year 1, UTC) in Unix seconds, as robfig does. */
#define EM_CRON_ZERO_TIME INT64_C(-62135596800)

/* Parses spec: five whitespace-separated fields (minute hour day-of-month
 * month day-of-week) each a comma list of `*`, `?`, N, N-M, with /STEP
 * (N/STEP means N-max/STEP), month names jan..dec and weekday names sun..sat
 * (any case); weekdays 0..6 (7 is rejected, as robfig does); an optional
 * "CRON_TZ=Zone " or "TZ=Zone " prefix. Error messages are robfig's, e.g.
 * "expected exactly 5 fields, found 4: [0 6 * *]",
 * "end of range (60) above maximum (59): 60",
 * "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax".
 * On error returns -1 with err set (EM_E_CONFIG) and *out empty. */
int em_cron_parse(const char *spec, unsigned flags, struct em_cron *out, struct em_err *err);

void em_cron_free(struct em_cron *c);     /* frees the prefix zone; NULL-safe */

/* robfig's SpecSchedule.Next: the first activation strictly after the
 * instant t_ms (Unix milliseconds), computed on local wall time in the
 * schedule's own zone (prefix) or else in zone (NULL = UTC). Returns Unix
 * seconds, or EM_CRON_ZERO_TIME when nothing matches within five years.
 *
 * Daylight-saving behaviour is robfig v3's, reproduced step by step (spec.go
 * Next: month, day, hour, minute and second loops; candidate days built with
 * time.Date, hours and minutes stepped by adding absolute hours/minutes):
 * - spring forward: wall times inside the gap never occur, so a schedule for
 *   them is skipped that day ("30 2 * * *" in Berlin on the last Sunday of
 *   March next fires at 02:30 the day after); hourly schedules go 01:00 ->
 *   03:00 local;
 * - fall back: the repeated hour is visited twice, so "0 1 * * *" in New York
 *   fires at 01:00 EDT and again at 01:00 EST (robfig's own tests: "1am
 *   nightly job (runs twice)");
 * - days whose midnight does not exist are fixed up as robfig does (hour 23
 *   -> +1 h, hour 1 -> -1 h).
 * "@every D" is Go's ConstantDelaySchedule: the whole second of t plus D
 * (D rounded down to whole seconds, at least one second). */
int64_t em_cron_next(const struct em_cron *c, const struct em_tz *zone, int64_t t_ms);

#endif
