/* tz.c - TZif loading, POSIX TZ footer rules, and Go-compatible UTC <-> local conversions. */
#include "tz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECS_PER_DAY 86400
#define TZIF_MAX_FILE (1u << 20)     /* real files are < 10 KiB */
#define TZIF_MAX_TIMES (1u << 18)
#define TZIF_MAX_CHARS (1u << 16)
#define TZIF_MAX_LEAPS (1u << 16)
/* Times are clamped to +-2^56 s (about 2.3 billion years) so that no
 * arithmetic below can overflow, whatever a caller passes in. */
#define TZ_TIME_LIMIT ((int64_t)1 << 56)

struct tz_type {
	int32_t off;
	bool isdst;
	char abbr[EM_TZ_ABBR_MAX];
};

enum rule_kind { RULE_JULIAN, RULE_DOY, RULE_MWD };

struct tz_rule {
	enum rule_kind kind;
	int day, week, mon;
	int32_t time;               /* seconds after local midnight; may be < 0 or > 24h */
};

/* A parsed POSIX TZ string (the TZif footer). */
struct tz_posix {
	bool ok;                    /* parsed; otherwise the table's last entry holds forever (as Go) */
	bool has_dst;
	char std_abbr[EM_TZ_ABBR_MAX], dst_abbr[EM_TZ_ABBR_MAX];
	int32_t std_off, dst_off;   /* seconds east of UTC */
	struct tz_rule start, end;
};

struct em_tz {
	char *name;
	int64_t *when;              /* ascending transition instants; at least one */
	uint8_t *idx;               /* type index per transition */
	size_t ntx;
	struct tz_type *types;
	size_t ntypes;
	size_t first;               /* type before the first transition */
	struct tz_posix ext;
};

/* ---------------------------------------------------------------------------
 * Calendar arithmetic (proleptic Gregorian, days counted from 1970-01-01).
 * The day <-> date conversions use the usual 400-year era decomposition with
 * years starting on March 1, so leap days fall at the end of a "year".
 */

int64_t em_floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static int64_t floormod(int64_t a, int64_t b)
{
	int64_t r = a % b;

	if (r != 0 && ((r < 0) != (b < 0)))
		r += b;
	return r;
}

static int64_t clamp64(int64_t v, int64_t lim)
{
	if (v > lim)
		return lim;
	if (v < -lim)
		return -lim;
	return v;
}

bool em_is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int em_days_in_month(int64_t y, int m)
{
	static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m < 1 || m > 12)
		return 0;
	return dim[m - 1] + (m == 2 && em_is_leap(y));
}

int64_t em_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;
	int mp;

	y -= m <= 2;
	era = em_floordiv(y, 400);
	yoe = y - era * 400;                             /* 0..399 */
	mp = m > 2 ? m - 3 : m + 9;                      /* March = 0 */
	doy = (153 * mp + 2) / 5 + d - 1;                /* 0..365 */
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;     /* 0..146096 */
	return era * 146097 + doe - 719468;
}

void em_civil_from_days(int64_t days, int64_t *year, int *month, int *day)
{
	int64_t z = days + 719468;
	int64_t era = em_floordiv(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int m = (int)(mp < 10 ? mp + 3 : mp - 9);

	*day = (int)(doy - (153 * mp + 2) / 5 + 1);
	*month = m;
	*year = yoe + era * 400 + (m <= 2);
}

/* ---------------------------------------------------------------------------
 * POSIX TZ strings, e.g. "CET-1CEST,M3.5.0,M10.5.0/3" or "<+0530>-5:30".
 * Grammar and defaults as Go's tzset (src/time/zoneinfo.go): names of 3+
 * characters or <quoted>, offsets [+-]hh[:mm[:ss]] up to 167 h (RFC 8536),
 * DST offset defaulting to std + 1 h, rules defaulting to ",M3.2.0,M11.1.0",
 * rule times defaulting to 02:00 and possibly negative or beyond 24 h.
 */

static bool posix_num(const char **s, int min, int max, int *out)
{
	const char *p = *s;
	int v = 0;

	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (*p - '0');
		if (v > max)
			return false;
		p++;
	}
	if (v < min)
		return false;
	*out = v;
	*s = p;
	return true;
}

static bool posix_name(const char **s, char *out)
{
	const char *p = *s, *b, *e;
	size_t n;

	if (*p == '<') {
		b = p + 1;
		e = strchr(b, '>');
		if (!e)
			return false;
		*s = e + 1;
	} else {
		b = p;
		e = p;
		while (*e && !strchr("0123456789,-+", *e))
			e++;
		if (e - b < 3)
			return false;
		*s = e;
	}
	n = (size_t)(e - b);
	if (n >= EM_TZ_ABBR_MAX)
		n = EM_TZ_ABBR_MAX - 1;
	memcpy(out, b, n);
	out[n] = '\0';
	return true;
}

/* [+-]hh[:mm[:ss]] -> seconds, sign as written. */
static bool posix_offset(const char **s, int32_t *out)
{
	const char *p = *s;
	bool neg = false;
	int h, m = 0, sec = 0;

	if (*p == '+') {
		p++;
	} else if (*p == '-') {
		neg = true;
		p++;
	}
	if (!posix_num(&p, 0, 24 * 7, &h))
		return false;
	if (*p == ':') {
		p++;
		if (!posix_num(&p, 0, 59, &m))
			return false;
		if (*p == ':') {
			p++;
			if (!posix_num(&p, 0, 59, &sec))
				return false;
		}
	}
	*out = (int32_t)((h * 3600 + m * 60 + sec) * (neg ? -1 : 1));
	*s = p;
	return true;
}

static bool posix_rule(const char **s, struct tz_rule *r)
{
	const char *p = *s;

	memset(r, 0, sizeof(*r));
	if (*p == 'J') {
		p++;
		r->kind = RULE_JULIAN;
		if (!posix_num(&p, 1, 365, &r->day))
			return false;
	} else if (*p == 'M') {
		p++;
		r->kind = RULE_MWD;
		if (!posix_num(&p, 1, 12, &r->mon) || *p++ != '.')
			return false;
		if (!posix_num(&p, 1, 5, &r->week) || *p++ != '.')
			return false;
		if (!posix_num(&p, 0, 6, &r->day))
			return false;
	} else {
		r->kind = RULE_DOY;
		if (!posix_num(&p, 0, 365, &r->day))
			return false;
	}
	r->time = 2 * 3600;
	if (*p == '/') {
		p++;
		if (!posix_offset(&p, &r->time))
			return false;
	}
	*s = p;
	return true;
}

static bool posix_parse(const char *s, struct tz_posix *z)
{
	int32_t off;

	memset(z, 0, sizeof(*z));
	if (!posix_name(&s, z->std_abbr) || !posix_offset(&s, &off))
		return false;
	z->std_off = -off;          /* POSIX offsets are west of UTC */
	if (*s == '\0' || *s == ',') {
		z->ok = true;           /* no daylight time */
		return true;
	}
	if (!posix_name(&s, z->dst_abbr))
		return false;
	if (*s == '\0' || *s == ',' || *s == ';') {
		z->dst_off = z->std_off + 3600;
	} else {
		if (!posix_offset(&s, &off))
			return false;
		z->dst_off = -off;
	}
	if (*s == '\0')
		s = ",M3.2.0,M11.1.0";  /* tzcode's default rules */
	if (*s != ',' && *s != ';')
		return false;
	s++;
	if (!posix_rule(&s, &z->start) || *s != ',')
		return false;
	s++;
	if (!posix_rule(&s, &z->end) || *s != '\0')
		return false;
	z->has_dst = true;
	z->ok = true;
	return true;
}

/* Seconds from the start of `year` (UTC) at which rule r takes effect, for a
 * zone currently at offset off. */
static int64_t rule_time(int64_t year, const struct tz_rule *r, int32_t off)
{
	int64_t s = 0;

	switch (r->kind) {
	case RULE_JULIAN:            /* Jn: 1..365, February 29 never counted */
		s = (int64_t)(r->day - 1) * SECS_PER_DAY;
		if (em_is_leap(year) && r->day >= 60)
			s += SECS_PER_DAY;
		break;
	case RULE_DOY:               /* n: 0..365, February 29 counted */
		s = (int64_t)r->day * SECS_PER_DAY;
		break;
	case RULE_MWD: {             /* Mm.w.d: weekday d of week w (5 = last) of month m */
		int64_t first = em_days_from_civil(year, r->mon, 1);
		int dow = (int)floormod(first + 4, 7);   /* 1970-01-01 was a Thursday */
		int d = r->day - dow;
		int dim = em_days_in_month(year, r->mon);

		if (d < 0)
			d += 7;
		for (int i = 1; i < r->week && d + 7 < dim; i++)
			d += 7;
		s = (first - em_days_from_civil(year, 1, 1) + d) * SECS_PER_DAY;
		break;
	}
	}
	return s + r->time - off;
}

/* The footer rule at sec, for sec after the last transition (last_tx).
 * Reports the same start/end as Go's tzset: exact around this year's two
 * transitions, otherwise the year's bounds (narrower than the truth, which
 * time.Date's algorithm tolerates). */
static void posix_lookup(const struct tz_posix *z, int64_t last_tx, int64_t sec, struct em_tz_info *out)
{
	int64_t days, year, ysec, ystart, start, end;
	int month, day;
	const char *sname = z->std_abbr, *dname = z->dst_abbr;
	int32_t soff = z->std_off, doff = z->dst_off;
	bool sdst = false, ddst = true;

	if (!z->has_dst) {
		out->offset = z->std_off;
		out->isdst = false;
		snprintf(out->abbr, sizeof(out->abbr), "%s", z->std_abbr);
		out->start = last_tx;
		out->end = INT64_MAX;
		return;
	}
	days = em_floordiv(sec, SECS_PER_DAY);
	em_civil_from_days(days, &year, &month, &day);
	ysec = (days - em_days_from_civil(year, 1, 1)) * SECS_PER_DAY + floormod(sec, SECS_PER_DAY);
	ystart = sec - ysec;
	start = rule_time(year, &z->start, z->std_off);
	end = rule_time(year, &z->end, z->dst_off);
	if (end < start) {
		/* Southern hemisphere: daylight time spans the new year. */
		int64_t t = start;
		const char *n = sname;
		int32_t o = soff;

		start = end;
		end = t;
		sname = dname;
		dname = n;
		soff = doff;
		doff = o;
		sdst = true;
		ddst = false;
	}
	if (ysec < start) {
		out->offset = soff;
		out->isdst = sdst;
		snprintf(out->abbr, sizeof(out->abbr), "%s", sname);
		out->start = ystart;
		out->end = ystart + start;
	} else if (ysec >= end) {
		out->offset = soff;
		out->isdst = sdst;
		snprintf(out->abbr, sizeof(out->abbr), "%s", sname);
		out->start = ystart + end;
		out->end = ystart + 365 * SECS_PER_DAY;
	} else {
		out->offset = doff;
		out->isdst = ddst;
		snprintf(out->abbr, sizeof(out->abbr), "%s", dname);
		out->start = ystart + start;
		out->end = ystart + end;
	}
}

/* ---------------------------------------------------------------------------
 * Zones.
 */

void em_tz_free(struct em_tz *tz)
{
	if (!tz)
		return;
	free(tz->name);
	free(tz->when);
	free(tz->idx);
	free(tz->types);
	free(tz);
}

const char *em_tz_name(const struct em_tz *tz)
{
	return tz ? tz->name : "UTC";
}

/* Which type holds before the first transition: Go's lookupFirstZone (the
 * tzcode 2013g rule): type 0 if no transition uses it; else, if the first
 * transition is to daylight time, the nearest standard type before it; else
 * the first standard type; else type 0. */
static size_t first_type(const struct em_tz *tz, size_t real_ntx)
{
	bool used = false;

	for (size_t i = 0; i < real_ntx; i++)
		if (tz->idx[i] == 0)
			used = true;
	if (!used)
		return 0;
	if (real_ntx > 0 && tz->types[tz->idx[0]].isdst) {
		for (size_t zi = tz->idx[0]; zi-- > 0;)
			if (!tz->types[zi].isdst)
				return zi;
	}
	for (size_t zi = 0; zi < tz->ntypes; zi++)
		if (!tz->types[zi].isdst)
			return zi;
	return 0;
}

/* Allocates a zone with ntx transitions (at least one: a zone without
 * transitions gets one at the beginning of time, as Go does) and ntypes types. */
static struct em_tz *tz_alloc(const char *name, size_t ntx, size_t ntypes)
{
	struct em_tz *tz = calloc(1, sizeof(*tz));
	size_t n = ntx ? ntx : 1;

	if (!tz)
		return NULL;
	tz->name = strdup(name ? name : "");
	tz->when = calloc(n, sizeof(*tz->when));
	tz->idx = calloc(n, sizeof(*tz->idx));
	tz->types = calloc(ntypes ? ntypes : 1, sizeof(*tz->types));
	if (!tz->name || !tz->when || !tz->idx || !tz->types) {
		em_tz_free(tz);
		return NULL;
	}
	tz->ntx = n;
	tz->ntypes = ntypes;
	if (ntx == 0)
		tz->when[0] = INT64_MIN;
	return tz;
}

static struct em_tz *tz_utc(const char *name)
{
	struct em_tz *tz = tz_alloc(name, 0, 1);

	if (tz)
		snprintf(tz->types[0].abbr, sizeof(tz->types[0].abbr), "UTC");
	return tz;
}

int em_tz_from_posix(const char *name, const char *rule, struct em_tz **out, struct em_err *err)
{
	struct tz_posix z;
	struct em_tz *tz;

	*out = NULL;
	if (!rule || !posix_parse(rule, &z))
		return em_err_set(err, EM_E_CONFIG, "invalid POSIX TZ rule \"%s\"", rule ? rule : "");
	tz = tz_alloc(name, 0, 1);
	if (!tz)
		return em_err_set(err, EM_E_INTERNAL, "out of memory");
	tz->types[0].off = z.std_off;
	snprintf(tz->types[0].abbr, sizeof(tz->types[0].abbr), "%s", z.std_abbr);
	tz->ext = z;
	*out = tz;
	return 0;
}

/* ---------------------------------------------------------------------------
 * TZif (RFC 8536).
 */

struct rd {
	const unsigned char *p;
	size_t n, off;
};

static bool rd_skip(struct rd *r, size_t k)
{
	if (k > r->n - r->off)
		return false;
	r->off += k;
	return true;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_hdr {
	int version;
	uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static bool tzif_header(struct rd *r, struct tzif_hdr *h)
{
	const unsigned char *p = r->p + r->off;

	if (!rd_skip(r, 44) || memcmp(p, "TZif", 4) != 0)
		return false;
	h->version = p[4] == 0 ? 1 : p[4] - '0';
	if (h->version < 1 || h->version > 9)
		return false;
	h->isutcnt = be32(p + 20);
	h->isstdcnt = be32(p + 24);
	h->leapcnt = be32(p + 28);
	h->timecnt = be32(p + 32);
	h->typecnt = be32(p + 36);
	h->charcnt = be32(p + 40);
	return h->typecnt >= 1 && h->typecnt <= 256 && h->charcnt >= 1 &&
	       h->charcnt <= TZIF_MAX_CHARS && h->timecnt <= TZIF_MAX_TIMES &&
	       h->leapcnt <= TZIF_MAX_LEAPS &&
	       (h->isutcnt == 0 || h->isutcnt == h->typecnt) &&
	       (h->isstdcnt == 0 || h->isstdcnt == h->typecnt);
}

static size_t tzif_block_len(const struct tzif_hdr *h, size_t tsize)
{
	return (size_t)h->timecnt * tsize + h->timecnt + (size_t)h->typecnt * 6 + h->charcnt +
	       (size_t)h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

int em_tz_from_tzif(const char *name, const unsigned char *data, size_t len, struct em_tz **out,
		    struct em_err *err)
{
	struct rd r = {data, len, 0};
	struct tzif_hdr h;
	struct em_tz *tz = NULL;
	const unsigned char *times, *idxs, *types, *chars;
	size_t tsize = 4;

	*out = NULL;
	if (!data || !tzif_header(&r, &h))
		goto out;
	if (h.version >= 2) {
		/* Skip the 32-bit block; the second header describes 64-bit data. */
		if (!rd_skip(&r, tzif_block_len(&h, 4)) || !tzif_header(&r, &h))
			goto out;
		tsize = 8;
	}
	times = r.p + r.off;
	idxs = times + (size_t)h.timecnt * tsize;
	types = idxs + h.timecnt;
	chars = types + (size_t)h.typecnt * 6;
	if (!rd_skip(&r, tzif_block_len(&h, tsize)))
		goto out;

	tz = tz_alloc(name, h.timecnt, h.typecnt);
	if (!tz)
		return em_err_set(err, EM_E_INTERNAL, "out of memory");
	for (uint32_t i = 0; i < h.typecnt; i++) {
		const unsigned char *t = types + (size_t)i * 6;
		uint32_t off = be32(t);
		unsigned desig = t[5];
		size_t n = 0;

		if (t[4] > 1 || desig >= h.charcnt)
			goto out;
		tz->types[i].off = (int32_t)off;
		if (tz->types[i].off < -25 * 3600 || tz->types[i].off > 26 * 3600)
			goto out;
		tz->types[i].isdst = t[4] == 1;
		while (desig + n < h.charcnt && chars[desig + n] && n < EM_TZ_ABBR_MAX - 1)
			n++;
		memcpy(tz->types[i].abbr, chars + desig, n);
		tz->types[i].abbr[n] = '\0';
	}
	for (uint32_t i = 0; i < h.timecnt; i++) {
		const unsigned char *t = times + (size_t)i * tsize;

		tz->when[i] = tsize == 8 ? be64(t) : (int64_t)(int32_t)be32(t);
		tz->idx[i] = idxs[i];
		if (idxs[i] >= h.typecnt || (i > 0 && tz->when[i] <= tz->when[i - 1]))
			goto out;
	}
	tz->first = first_type(tz, h.timecnt);
	if (h.timecnt == 0)
		tz->idx[0] = (uint8_t)tz->first;

	/* The footer: "\n" POSIX-TZ "\n", for instants after the last transition.
	 * A footer that does not parse is ignored, as Go ignores it. */
	if (h.version >= 2 && r.off < r.n && r.p[r.off] == '\n') {
		const unsigned char *b = r.p + r.off + 1;
		const unsigned char *e = memchr(b, '\n', r.n - r.off - 1);

		if (e && e - b > 0 && e - b < 256) {
			char footer[256];

			memcpy(footer, b, (size_t)(e - b));
			footer[e - b] = '\0';
			posix_parse(footer, &tz->ext);
		}
	}
	*out = tz;
	return 0;
out:
	em_tz_free(tz);
	return em_err_set(err, EM_E_CONFIG, "malformed time zone information for %s", name ? name : "");
}

/* Reads a whole regular file of at most TZIF_MAX_FILE bytes. 0, or -1 with errno. */
static int read_small_file(const char *path, unsigned char **buf, size_t *len)
{
	struct stat st;
	unsigned char *b = NULL;
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*buf = NULL;
	*len = 0;
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0)
		goto out;
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)TZIF_MAX_FILE) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EFBIG;
		goto out;
	}
	b = malloc((size_t)st.st_size + 1);
	if (!b)
		goto out;
	while (n < (size_t)st.st_size) {
		ssize_t k = read(fd, b + n, (size_t)st.st_size - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	*buf = b;
	*len = n;
	return 0;
out:
	free(b);
	close(fd);
	return -1;
}

/* Tries dir/name. 1 = loaded, 0 = not there (keep looking), -1 = error set. */
static int load_from(const char *dir, const char *name, const char *zname, struct em_tz **out,
		     struct em_err *err)
{
	char path[4096];
	unsigned char *buf;
	size_t len;
	int n, rc;

	if (dir && dir[0])
		n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	else
		n = snprintf(path, sizeof(path), "%s", name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return 0;
	if (read_small_file(path, &buf, &len) != 0)
		return 0;
	rc = em_tz_from_tzif(zname, buf, len, out, err);
	free(buf);
	return rc == 0 ? 1 : -1;
}

/* The system zone directories Go searches on Unix, in its order. */
static const char *const zone_dirs[] = {
	"/usr/share/zoneinfo", "/usr/share/lib/zoneinfo", "/usr/lib/locale/TZ", "/etc/zoneinfo",
};

static int load_named(const char *name, const char *zname, struct em_tz **out, struct em_err *err)
{
	const char *zi = getenv("ZONEINFO");
	struct stat st;
	int rc;

	if (zi && zi[0] && stat(zi, &st) == 0 && S_ISDIR(st.st_mode)) {
		rc = load_from(zi, name, zname, out, err);
		if (rc != 0)
			return rc < 0 ? -1 : 0;
	}
	for (size_t i = 0; i < sizeof(zone_dirs) / sizeof(zone_dirs[0]); i++) {
		rc = load_from(zone_dirs[i], name, zname, out, err);
		if (rc != 0)
			return rc < 0 ? -1 : 0;
	}
	return em_err_set(err, EM_E_CONFIG, "unknown time zone %s", name);
}

/* Go's time.Local: $TZ unset -> /etc/localtime; $TZ "" -> UTC; ":name" or
 * "name" -> that zone (an absolute path is read as a file); anything that
 * fails to load -> UTC. */
static int load_local(struct em_tz **out, struct em_err *err)
{
	const char *tz = getenv("TZ");
	struct em_err ignored;

	if (!tz) {
		if (load_from(NULL, "/etc/localtime", "Local", out, &ignored) == 1)
			return 0;
	} else if (tz[0]) {
		if (tz[0] == ':')
			tz++;
		if (tz[0] == '/') {
			const char *zn = strcmp(tz, "/etc/localtime") == 0 ? "Local" : tz;

			if (load_from(NULL, tz, zn, out, &ignored) == 1)
				return 0;
		} else if (tz[0] && strcmp(tz, "UTC") != 0) {
			if (load_named(tz, tz, out, &ignored) == 0)
				return 0;
		}
	}
	*out = tz_utc("UTC");
	return *out ? 0 : em_err_set(err, EM_E_INTERNAL, "out of memory");
}

int em_tz_load(const char *name, struct em_tz **out, struct em_err *err)
{
	*out = NULL;
	if (!name || !name[0] || strcmp(name, "UTC") == 0) {
		*out = tz_utc("UTC");
		return *out ? 0 : em_err_set(err, EM_E_INTERNAL, "out of memory");
	}
	if (strcmp(name, "Local") == 0)
		return load_local(out, err);
	/* No IANA name contains "..", or starts with a slash (Go's rule): keeps
	 * the lookup inside the zone directories. */
	if (strstr(name, "..") || name[0] == '/' || name[0] == '\\')
		return em_err_set(err, EM_E_CONFIG, "time: invalid location name");
	if (strlen(name) > 255)
		return em_err_set(err, EM_E_CONFIG, "unknown time zone %.64s...", name);
	return load_named(name, name, out, err);
}

/* ---------------------------------------------------------------------------
 * Conversions.
 */

void em_tz_lookup(const struct em_tz *tz, int64_t t, struct em_tz_info *out)
{
	const struct tz_type *ty;
	size_t lo, hi;

	memset(out, 0, sizeof(*out));
	t = clamp64(t, TZ_TIME_LIMIT);
	if (!tz) {
		snprintf(out->abbr, sizeof(out->abbr), "UTC");
		out->start = INT64_MIN;
		out->end = INT64_MAX;
		return;
	}
	if (t < tz->when[0]) {
		ty = &tz->types[tz->first];
		out->offset = ty->off;
		out->isdst = ty->isdst;
		memcpy(out->abbr, ty->abbr, sizeof(out->abbr));
		out->start = INT64_MIN;
		out->end = tz->when[0];
		return;
	}
	/* Largest i with when[i] <= t. */
	lo = 0;
	hi = tz->ntx;
	while (hi - lo > 1) {
		size_t m = lo + (hi - lo) / 2;

		if (t < tz->when[m])
			hi = m;
		else
			lo = m;
	}
	if (lo == tz->ntx - 1 && tz->ext.ok) {
		posix_lookup(&tz->ext, tz->when[lo], t, out);
		return;
	}
	ty = &tz->types[tz->idx[lo]];
	out->offset = ty->off;
	out->isdst = ty->isdst;
	memcpy(out->abbr, ty->abbr, sizeof(out->abbr));
	out->start = tz->when[lo];
	out->end = lo + 1 < tz->ntx ? tz->when[lo + 1] : INT64_MAX;
}

void em_tz_to_local(const struct em_tz *tz, int64_t t, struct em_tm *out)
{
	struct em_tz_info info;
	int64_t local, days, secs;

	t = clamp64(t, TZ_TIME_LIMIT);
	em_tz_lookup(tz, t, &info);
	local = t + info.offset;
	days = em_floordiv(local, SECS_PER_DAY);
	secs = local - days * SECS_PER_DAY;
	em_civil_from_days(days, &out->year, &out->month, &out->day);
	out->hour = (int)(secs / 3600);
	out->min = (int)(secs / 60 % 60);
	out->sec = (int)(secs % 60);
	out->wday = (int)floormod(days + 4, 7);
	out->yday = (int)(days - em_days_from_civil(out->year, 1, 1)) + 1;
	out->offset = info.offset;
	out->isdst = info.isdst;
	memcpy(out->abbr, info.abbr, sizeof(out->abbr));
}

int64_t em_tz_from_local(const struct em_tz *tz, int64_t year, int64_t month, int64_t day,
			 int64_t hour, int64_t min, int64_t sec)
{
	struct em_tz_info info;
	int64_t m0, unix, utc;

	/* Clamp so the sums below cannot overflow (far beyond any real use). */
	year = clamp64(year, 1000000000);
	month = clamp64(month, 1000000000);
	day = clamp64(day, (int64_t)1 << 40);
	hour = clamp64(hour, (int64_t)1 << 40);
	min = clamp64(min, (int64_t)1 << 40);
	sec = clamp64(sec, (int64_t)1 << 46);

	m0 = month - 1;
	year += em_floordiv(m0, 12);
	m0 = floormod(m0, 12);
	unix = (em_days_from_civil(year, (int)m0 + 1, 1) + day - 1) * SECS_PER_DAY + hour * 3600 + min * 60 + sec;

	/* Go's time.Date: guess with the offset in effect at "wall time as
	 * UTC"; if the result lies outside that offset's period, use the offset
	 * in effect at the result instead. */
	em_tz_lookup(tz, unix, &info);
	if (info.offset != 0) {
		utc = unix - info.offset;
		if (utc < info.start || utc >= info.end)
			em_tz_lookup(tz, utc, &info);
		unix -= info.offset;
	}
	return unix;
}
