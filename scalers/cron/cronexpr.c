/* cronexpr.c - robfig/cron v3 parser (fields, names, descriptors, CRON_TZ) and SpecSchedule.Next. */
#include "scalers/scaler.h"
#include "cronexpr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_FIELDS 64

struct bounds {
	unsigned min, max;
	const char *const *names;   /* names[i] stands for the value min + i */
};

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
					  "jul", "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const struct bounds b_minutes = {0, 59, NULL};
static const struct bounds b_hours = {0, 23, NULL};
static const struct bounds b_dom = {1, 31, NULL};
static const struct bounds b_months = {1, 12, month_names};
static const struct bounds b_dow = {0, 6, dow_names};

/* ---------------------------------------------------------------------------
 * Go-compatible message pieces.
 */

/* Go's strconv.Atoi on a 64-bit platform. 0, or -1 with Go's error text. */
static int go_atoi(const char *s, int64_t *out, char *msg, size_t cap)
{
	const char *p = s;
	bool neg = false;
	uint64_t v = 0;
	char q[160];
	const char *why = "invalid syntax";

	if (*p == '+' || *p == '-') {
		neg = *p == '-';
		p++;
	}
	if (!*p)
		goto out;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			goto out;
		if (v > (UINT64_MAX - 9) / 10) {
			why = "value out of range";
			goto out;
		}
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > (uint64_t)INT64_MAX + (neg ? 1 : 0)) {
			why = "value out of range";
			goto out;
		}
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
out:
	em_go_quote_to(q, sizeof(q), s);
	snprintf(msg, cap, "strconv.Atoi: parsing %s: %s", q, why);
	return -1;
}

/* ---------------------------------------------------------------------------
 * Parsing (robfig/cron v3 parser.go semantics).
 */

static uint64_t get_bits(uint64_t min, uint64_t max, uint64_t step)
{
	uint64_t bits = 0;

	for (uint64_t i = min; i <= max && i < 64; i += step) {
		bits |= UINT64_C(1) << i;
		if (step > 63)
			break;
	}
	return bits;
}

static uint64_t all_bits(const struct bounds *r)
{
	return get_bits(r->min, r->max, 1) | EM_CRON_STAR;
}

/* mustParseInt: a non-negative decimal (Go's strconv.Atoi spelling). */
static int parse_uint(const char *s, uint64_t *out, struct em_err *err)
{
	char msg[256];
	int64_t v;

	if (go_atoi(s, &v, msg, sizeof(msg)) != 0)
		return em_err_set(err, EM_E_CONFIG, "failed to parse int from %s: %s", s, msg);
	if (v < 0)
		return em_err_set(err, EM_E_CONFIG, "negative number (%lld) not allowed: %s", (long long)v, s);
	*out = (uint64_t)v;
	return 0;
}

/* parseIntOrName: a name of the field (any case, whole text) or a number. */
static int int_or_name(const char *s, const struct bounds *r, uint64_t *out, struct em_err *err)
{
	for (size_t i = 0; r->names && r->names[i]; i++) {
		if (strcasecmp(s, r->names[i]) == 0) {
			*out = r->min + i;
			return 0;
		}
	}
	return parse_uint(s, out, err);
}

/* One range: `*` | `?` | N | N-M, each optionally /STEP. */
static int get_range(const char *expr, const struct bounds *r, uint64_t *bits, struct em_err *err)
{
	char buf[256];
	char *slash, *parts[3], *lh[3];
	size_t nparts = 0, nlh = 0;
	uint64_t start, end, step = 1, extra = 0;
	char *p;

	if (strlen(expr) >= sizeof(buf))
		return em_err_set(err, EM_E_CONFIG, "failed to parse int from %.32s...: value too long", expr);
	snprintf(buf, sizeof(buf), "%s", expr);

	/* strings.Split(expr, "/") then strings.Split(part0, "-"), keeping
	 * empty pieces, as Go does. */
	p = buf;
	parts[nparts++] = p;
	while ((slash = strchr(p, '/')) != NULL) {
		*slash = '\0';
		p = slash + 1;
		if (nparts < 3)
			parts[nparts] = p;
		nparts++;
	}
	p = parts[0];
	lh[nlh++] = p;
	while ((slash = strchr(p, '-')) != NULL) {
		*slash = '\0';
		p = slash + 1;
		if (nlh < 3)
			lh[nlh] = p;
		nlh++;
	}

	if (strcmp(lh[0], "*") == 0 || strcmp(lh[0], "?") == 0) {
		start = r->min;
		end = r->max;
		extra = EM_CRON_STAR;
	} else {
		if (int_or_name(lh[0], r, &start, err) != 0)
			return -1;
		if (nlh == 1) {
			end = start;
		} else if (nlh == 2) {
			if (int_or_name(lh[1], r, &end, err) != 0)
				return -1;
		} else {
			return em_err_set(err, EM_E_CONFIG, "too many hyphens: %s", expr);
		}
	}
	if (nparts == 2) {
		if (parse_uint(parts[1], &step, err) != 0)
			return -1;
		if (nlh == 1)
			end = r->max;       /* N/step means N-max/step */
		if (step > 1)
			extra = 0;          /* "*\/2" is not a star for the day rule */
	} else if (nparts > 2) {
		return em_err_set(err, EM_E_CONFIG, "too many slashes: %s", expr);
	}
	if (start < r->min)
		return em_err_set(err, EM_E_CONFIG, "beginning of range (%llu) below minimum (%u): %s",
				  (unsigned long long)start, r->min, expr);
	if (end > r->max)
		return em_err_set(err, EM_E_CONFIG, "end of range (%llu) above maximum (%u): %s",
				  (unsigned long long)end, r->max, expr);
	if (start > end)
		return em_err_set(err, EM_E_CONFIG, "beginning of range (%llu) beyond end of range (%llu): %s",
				  (unsigned long long)start, (unsigned long long)end, expr);
	if (step == 0)
		return em_err_set(err, EM_E_CONFIG, "step of range should be a positive number: %s", expr);
	*bits = get_bits(start, end, step) | extra;
	return 0;
}

/* A comma list of ranges; empty items are skipped (strings.FieldsFunc). */
static int get_field(const char *field, const struct bounds *r, uint64_t *bits, struct em_err *err)
{
	const char *p = field;

	*bits = 0;
	while (*p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (n > 0) {
			char item[256];
			uint64_t b = 0;

			if (n >= sizeof(item))
				return em_err_set(err, EM_E_CONFIG, "failed to parse int from %.32s...: value too long", p);
			memcpy(item, p, n);
			item[n] = '\0';
			if (get_range(item, r, &b, err) != 0)
				return -1;
			*bits |= b;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int parse_descriptor(const char *d, struct em_cron *c, struct em_err *err)
{
	static const char every[] = "@every ";

	c->second = 1;
	c->minute = 1;
	c->hour = 1;
	c->dom = all_bits(&b_dom);
	c->month = all_bits(&b_months);
	c->dow = all_bits(&b_dow);
	if (strcmp(d, "@yearly") == 0 || strcmp(d, "@annually") == 0) {
		c->dom = UINT64_C(1) << 1;
		c->month = UINT64_C(1) << 1;
	} else if (strcmp(d, "@monthly") == 0) {
		c->dom = UINT64_C(1) << 1;
	} else if (strcmp(d, "@weekly") == 0) {
		c->dow = 1;
	} else if (strcmp(d, "@daily") == 0 || strcmp(d, "@midnight") == 0) {
		/* defaults above */
	} else if (strcmp(d, "@hourly") == 0) {
		c->hour = all_bits(&b_hours);
	} else if (strncmp(d, every, sizeof(every) - 1) == 0) {
		char msg[256];
		int64_t ns;

		if (em_go_parse_duration(d + sizeof(every) - 1, &ns, msg, sizeof(msg)) != 0)
			return em_err_set(err, EM_E_CONFIG, "failed to parse duration %s: %s", d, msg);
		/* cron.Every: at least one second, rounded down to whole seconds. */
		c->every_s = ns < 1000000000 ? 1 : ns / 1000000000;
	} else {
		return em_err_set(err, EM_E_CONFIG, "unrecognized descriptor: %s", d);
	}
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Whether some field can never match (then robfig searches five years and
 * returns the zero time; we answer at once). */
static bool never_matches(const struct em_cron *c)
{
	uint64_t dom = c->dom & ~EM_CRON_STAR, dow = c->dow & ~EM_CRON_STAR;

	if (c->every_s)
		return false;
	if (!(c->second & ~EM_CRON_STAR) || !(c->minute & ~EM_CRON_STAR) ||
	    !(c->hour & ~EM_CRON_STAR) || !(c->month & ~EM_CRON_STAR))
		return true;
	if ((c->dom & EM_CRON_STAR) || (c->dow & EM_CRON_STAR))
		return !dom || !dow;
	return !dom && !dow;
}

void em_cron_free(struct em_cron *c)
{
	if (!c)
		return;
	em_tz_free(c->zone);
	memset(c, 0, sizeof(*c));
}

int em_cron_parse(const char *spec, unsigned flags, struct em_cron *cron, struct em_err *err)
{
	static const struct bounds *const order[5] = {&b_minutes, &b_hours, &b_dom, &b_months, &b_dow};
	char *copy = NULL, *s, *fields[MAX_FIELDS];
	uint64_t *dst[5];
	size_t nf = 0;
	int rc = -1;

	memset(cron, 0, sizeof(*cron));
	if (!spec || !spec[0])
		return em_err_set(err, EM_E_CONFIG, "empty spec string");
	copy = strdup(spec);
	if (!copy)
		return em_err_set(err, EM_E_INTERNAL, "out of memory");
	s = copy;

	/* "TZ=Zone rest" / "CRON_TZ=Zone rest": the zone ends at the first space. */
	if (strncmp(s, "TZ=", 3) == 0 || strncmp(s, "CRON_TZ=", 8) == 0) {
		char *eq = strchr(s, '='), *sp = strchr(s, ' ');
		struct em_err zerr;

		if (sp)
			*sp = '\0';
		if (em_tz_load(eq + 1, &cron->zone, &zerr) != 0) {
			em_err_set(err, EM_E_CONFIG, "provided bad location %s: %s", eq + 1, zerr.msg);
			goto out;
		}
		s = sp ? sp + 1 : s + strlen(s);
		while (is_space(*s))
			s++;
		for (size_t n = strlen(s); n > 0 && is_space(s[n - 1]); n--)
			s[n - 1] = '\0';
	}

	if (s[0] == '@') {
		if (!(flags & EM_CRON_DESCRIPTORS)) {
			em_err_set(err, EM_E_CONFIG, "parser does not accept descriptors: %s", s);
			goto out;
		}
		rc = parse_descriptor(s, cron, err);
		goto out;
	}

	/* strings.Fields */
	for (char *p = s; *p;) {
		while (is_space(*p))
			p++;
		if (!*p)
			break;
		if (nf < MAX_FIELDS)
			fields[nf] = p;
		nf++;
		while (*p && !is_space(*p))
			p++;
		if (*p)
			*p++ = '\0';
	}
	if (nf != 5) {
		char list[EM_ERR_MSG_MAX];
		size_t n = 0;

		list[0] = '\0';
		for (size_t i = 0; i < nf && i < MAX_FIELDS && n < sizeof(list); i++) {
			int k = snprintf(list + n, sizeof(list) - n, "%s%s", i ? " " : "", fields[i]);

			if (k < 0)
				break;
			n += (size_t)k;
		}
		em_err_set(err, EM_E_CONFIG, "expected exactly 5 fields, found %zu: [%s]", nf, list);
		goto out;
	}
	cron->second = 1;    /* the standard parser has no seconds field: "0" */
	dst[0] = &cron->minute;
	dst[1] = &cron->hour;
	dst[2] = &cron->dom;
	dst[3] = &cron->month;
	dst[4] = &cron->dow;
	for (int i = 0; i < 5; i++)
		if (get_field(fields[i], order[i], dst[i], err) != 0)
			goto out;
	rc = 0;
out:
	free(copy);
	if (rc == 0)
		cron->never = never_matches(cron);
	else
		em_cron_free(cron);
	return rc;
}

/* ---------------------------------------------------------------------------
 * Next (robfig/cron v3 spec.go SpecSchedule.Next, step by step).
 *
 * robfig works on a Go time.Time in the schedule's location. Here that is a
 * Unix second plus its local broken-down form; `date()` is Go's time.Date
 * (em_tz_from_local: same gap/overlap choice), `add()` is Time.Add (absolute
 * seconds). The loops, the order of resets, the `added` flag, the five-year
 * limit and the midnight fix-up are robfig's, so DST days come out the same.
 */

struct gt {
	const struct em_tz *loc;
	int64_t u;
	struct em_tm tm;
};

static void gt_set(struct gt *t, int64_t u)
{
	t->u = u;
	em_tz_to_local(t->loc, u, &t->tm);
}

static void gt_date(struct gt *t, int64_t y, int64_t mo, int64_t d, int64_t h, int64_t mi, int64_t s)
{
	gt_set(t, em_tz_from_local(t->loc, y, mo, d, h, mi, s));
}

static bool has(uint64_t bits, int v)
{
	return v >= 0 && v < 63 && (bits >> v & 1);
}

static bool day_matches(const struct em_cron *c, const struct em_tm *tm)
{
	bool dom = has(c->dom, tm->day), dow = has(c->dow, tm->wday);

	if ((c->dom & EM_CRON_STAR) || (c->dow & EM_CRON_STAR))
		return dom && dow;
	return dom || dow;
}

/* Five years of matching hours are well under a million steps; the cap only
 * guarantees that no zone data, however odd, can hang a poller thread. */
#define STEP_GUARD() do { if (++steps > 1000000) return EM_CRON_ZERO_TIME; } while (0)

int64_t em_cron_next(const struct em_cron *c, const struct em_tz *zone, int64_t t_ms)
{
	struct gt t;
	bool added = false;
	int64_t year_limit;
	long steps = 0;

	if (c->every_s > 0)
		return em_floordiv(t_ms, 1000) + c->every_s;
	if (c->never)
		return EM_CRON_ZERO_TIME;
	t.loc = c->zone ? c->zone : zone;
	/* Start at the earliest possible time: the upcoming whole second. */
	gt_set(&t, em_floordiv(t_ms, 1000) + 1);
	year_limit = t.tm.year + 5;

wrap:
	if (t.tm.year > year_limit)
		return EM_CRON_ZERO_TIME;

	while (!has(c->month, t.tm.month)) {
		STEP_GUARD();
		if (!added) {
			added = true;
			gt_date(&t, t.tm.year, t.tm.month, 1, 0, 0, 0);
		}
		gt_date(&t, t.tm.year, t.tm.month + 1, t.tm.day, t.tm.hour, t.tm.min, t.tm.sec);
		if (t.tm.month == 1)
			goto wrap;
	}

	while (!day_matches(c, &t.tm)) {
		STEP_GUARD();
		if (!added) {
			added = true;
			gt_date(&t, t.tm.year, t.tm.month, t.tm.day, 0, 0, 0);
		}
		gt_date(&t, t.tm.year, t.tm.month, t.tm.day + 1, t.tm.hour, t.tm.min, t.tm.sec);
		/* Midnight may not exist (or may exist twice): move back to hour 0. */
		if (t.tm.hour != 0) {
			if (t.tm.hour > 12)
				gt_set(&t, t.u + (int64_t)(24 - t.tm.hour) * 3600);
			else
				gt_set(&t, t.u - (int64_t)t.tm.hour * 3600);
		}
		if (t.tm.day == 1)
			goto wrap;
	}

	while (!has(c->hour, t.tm.hour)) {
		STEP_GUARD();
		if (!added) {
			added = true;
			gt_date(&t, t.tm.year, t.tm.month, t.tm.day, t.tm.hour, 0, 0);
		}
		gt_set(&t, t.u + 3600);
		if (t.tm.hour == 0)
			goto wrap;
	}

	while (!has(c->minute, t.tm.min)) {
		STEP_GUARD();
		if (!added) {
			added = true;
			/* Time.Truncate(time.Minute) works on absolute time, not wall
			 * time; Go's zero time is a whole minute in Unix seconds. */
			gt_set(&t, em_floordiv(t.u, 60) * 60);
		}
		gt_set(&t, t.u + 60);
		if (t.tm.min == 0)
			goto wrap;
	}

	while (!has(c->second, t.tm.sec)) {
		STEP_GUARD();
		added = true;   /* Truncate(time.Second) is a no-op on whole seconds */
		gt_set(&t, t.u + 1);
		if (t.tm.sec == 0)
			goto wrap;
	}
	return t.u;
}

#undef STEP_GUARD
