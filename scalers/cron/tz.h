/* tz.h - IANA time zones read from TZif files: pure, thread-safe UTC <-> local time conversions. */
#ifndef EM_TZ_H
#define EM_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scalers/scaler.h"

/* A loaded zone. Immutable after loading, so one zone may be used by any
 * number of threads at once without locking. Never touches TZ or the C library's local-time calls. */
struct em_tz;

#define EM_TZ_ABBR_MAX 16

/* What is in effect at one instant: the offset, whether it is daylight time,
 * the abbreviation, and the instants [start, end) around it during which the
 * same offset certainly holds (as Go's Location.lookup reports them: exact
 * next to transitions, possibly narrower elsewhere). */
struct em_tz_info {
	int32_t offset;             /* seconds east of UTC */
	bool isdst;
	char abbr[EM_TZ_ABBR_MAX];
	int64_t start, end;         /* Unix seconds; INT64_MIN / INT64_MAX when open */
};

/* Broken-down local time. */
struct em_tm {
	int64_t year;
	int month;                  /* 1..12 */
	int day;                    /* 1..31 */
	int hour, min, sec;
	int wday;                   /* 0 = Sunday */
	int yday;                   /* 1..366 */
	int32_t offset;             /* seconds east of UTC */
	bool isdst;
	char abbr[EM_TZ_ABBR_MAX];
};

/* Loads a zone the way Go's time.LoadLocation does: "" and "UTC" are UTC;
 * "Local" follows $TZ (unset: /etc/localtime; empty or unloadable: UTC);
 * other names are files under $ZONEINFO (when it is a directory) then
 * /usr/share/zoneinfo. Names containing ".." or starting with '/' or '\' are
 * rejected ("time: invalid location name"); a missing zone gives
 * "unknown time zone NAME". Errors are EM_E_CONFIG. 0 or -1. */
int em_tz_load(const char *name, struct em_tz **out, struct em_err *err);

/* Parses TZif data (RFC 8536 v1..v4; the 64-bit block and the POSIX TZ
 * footer are used when present). name is only remembered. */
int em_tz_from_tzif(const char *name, const unsigned char *data, size_t len, struct em_tz **out,
		    struct em_err *err);

/* A zone made of a POSIX TZ rule alone, e.g. "CET-1CEST,M3.5.0,M10.5.0/3"
 * (the TZif footer syntax, with the RFC 8536 extensions). */
int em_tz_from_posix(const char *name, const char *rule, struct em_tz **out, struct em_err *err);

void em_tz_free(struct em_tz *tz);          /* NULL-safe */
const char *em_tz_name(const struct em_tz *tz);

/* The zone in effect at Unix second t. */
void em_tz_lookup(const struct em_tz *tz, int64_t t, struct em_tz_info *out);

/* Unix second t as local broken-down time. */
void em_tz_to_local(const struct em_tz *tz, int64_t t, struct em_tm *out);

/* Local wall time -> Unix seconds, with exactly the rules of Go's time.Date
 * (robfig/cron builds its candidate times with time.Date, so matching it
 * matters more than being "nice"):
 * - out-of-range fields are normalized first (month 13 = January of the next
 *   year, day 32 = a day after the 31st, hour 24 = next midnight, ...);
 * - the offset is the one in effect at the instant "wall time read as UTC";
 *   if wall time minus that offset falls outside the period of that offset,
 *   the offset in effect at that instant is used instead.
 * Consequences (verified against Go's source, src/time/time.go Date, and
 * golang/go#50223): a wall time inside a spring-forward gap moves FORWARD by
 * the gap in zones east of UTC (Berlin 02:30 -> 03:30 CEST) but BACKWARD in
 * zones west of UTC (New York 02:30 -> 01:30 EST); an ambiguous wall time in
 * a fall-back overlap resolves to the LATER instant (standard time) east of
 * UTC (Berlin 02:30 -> CET) and to the EARLIER one (daylight time) west of
 * UTC (New York 01:30 -> EDT). So "gap forward, overlap earlier" only holds
 * west of UTC for overlaps and east of UTC for gaps. */
int64_t em_tz_from_local(const struct em_tz *tz, int64_t year, int64_t month, int64_t day,
			 int64_t hour, int64_t min, int64_t sec);

/* Proleptic Gregorian calendar helpers (pure). */
int64_t em_floordiv(int64_t a, int64_t b);                       /* rounds towards minus infinity */
bool em_is_leap(int64_t year);
int em_days_in_month(int64_t year, int month);
int64_t em_days_from_civil(int64_t year, int month, int day);   /* days since 1970-01-01 */
void em_civil_from_days(int64_t days, int64_t *year, int *month, int *day);

#endif
