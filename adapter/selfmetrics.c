/* selfmetrics.c - the server's own Prometheus metrics: families declared once, series as lock-free handles, process_*. */
#include "selfmetrics.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adapter/util/text.h"

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct em_sm_series {
	struct em_sm_series *hnext;        /* in the family's index */
	struct em_sm_series *prev, *next;  /* the family's list, in creation order (the rendering order) */
	struct em_sm_family *fam;
	uint32_t hash;
	int refs;                          /* em_sm_acquire holders; under fam->lock */
	bool pinned;                       /* em_sm_series: kept for the life of the process */
	atomic_bool touched;               /* updated at least once: rendered */
	_Atomic uint64_t bits;             /* the value as a double; histograms: the sum */
	_Atomic uint64_t *counts;          /* histograms: NBUCKETS + 1 (above the last), non-cumulative */
	char *labels;
};

/* Families that have a series, in the order of their first one. Taken once
 * per family (when its first series appears) and by renders; never on an
 * update. */
static pthread_mutex_t families_mu = PTHREAD_MUTEX_INITIALIZER;
static struct em_sm_family *families, **families_tail = &families;

static double from_bits(uint64_t b)
{
	double d;

	memcpy(&d, &b, sizeof(d));
	return d;
}

static uint64_t to_bits(double d)
{
	uint64_t b;

	memcpy(&b, &d, sizeof(b));
	return b;
}

/* fam->lock held (either mode). */
static struct em_sm_series *find(const struct em_sm_family *f, const char *labels, uint32_t h)
{
	if (!f->nindex)
		return NULL;
	for (struct em_sm_series *s = f->index[h & (f->nindex - 1)]; s; s = s->hnext)
		if (s->hash == h && strcmp(s->labels, labels) == 0)
			return s;
	return NULL;
}

/* fam->lock held for writing: doubles the index once it is full. */
static int grow(struct em_sm_family *f)
{
	size_t n = f->nindex ? f->nindex * 2 : 16;
	struct em_sm_series **ix;

	if (f->nseries < f->nindex)
		return 0;
	ix = calloc(n, sizeof(*ix));
	if (!ix)
		return f->nindex ? 0 : -1;   /* a full index still works, only slower */
	for (struct em_sm_series *s = f->head; s; s = s->next) {
		s->hnext = ix[s->hash & (n - 1)];
		ix[s->hash & (n - 1)] = s;
	}
	free(f->index);
	f->index = ix;
	f->nindex = n;
	return 0;
}

static void link_family(struct em_sm_family *f)
{
	if (atomic_load_explicit(&f->linked, memory_order_acquire))
		return;
	pthread_mutex_lock(&families_mu);
	if (!atomic_load_explicit(&f->linked, memory_order_relaxed)) {
		*families_tail = f;
		families_tail = &f->next;
		atomic_store_explicit(&f->linked, true, memory_order_release);
	}
	pthread_mutex_unlock(&families_mu);
}

static struct em_sm_series *get(struct em_sm_family *f, const char *labels, bool counted)
{
	uint32_t h;
	struct em_sm_series *s;
	size_t ln, extra;

	if (!f)
		return NULL;
	labels = labels ? labels : "";
	h = em_hash_str(labels);
	if (!counted) {
		pthread_rwlock_rdlock(&f->lock);
		s = find(f, labels, h);
		pthread_rwlock_unlock(&f->lock);
		if (s && s->pinned)
			return s;
	}
	pthread_rwlock_wrlock(&f->lock);
	s = find(f, labels, h);
	if (!s && grow(f) == 0) {
		ln = strlen(labels) + 1;
		extra = f->type == EM_SM_HISTOGRAM ? (NBUCKETS + 1) * sizeof(uint64_t) : 0;
		s = calloc(1, sizeof(*s) + extra + ln);
		if (s) {
			s->fam = f;
			s->hash = h;
			if (extra)
				s->counts = (_Atomic uint64_t *)(void *)(s + 1);
			s->labels = (char *)(s + 1) + extra;
			memcpy(s->labels, labels, ln);
			s->hnext = f->index[h & (f->nindex - 1)];
			f->index[h & (f->nindex - 1)] = s;
			s->prev = f->tail;
			if (f->tail)
				f->tail->next = s;
			else
				f->head = s;
			f->tail = s;
			f->nseries++;
		}
	}
	if (s) {
		if (counted)
			s->refs++;
		else
			s->pinned = true;
	}
	pthread_rwlock_unlock(&f->lock);
	if (s)
		link_family(f);
	return s;
}

struct em_sm_series *em_sm_series(struct em_sm_family *f, const char *labels)
{
	return get(f, labels, false);
}

struct em_sm_series *em_sm_acquire(struct em_sm_family *f, const char *labels)
{
	return get(f, labels, true);
}

void em_sm_release(struct em_sm_series *s)
{
	struct em_sm_family *f;
	struct em_sm_series **pp;

	if (!s)
		return;
	f = s->fam;
	pthread_rwlock_wrlock(&f->lock);
	if (--s->refs > 0 || s->pinned) {
		pthread_rwlock_unlock(&f->lock);
		return;
	}
	for (pp = &f->index[s->hash & (f->nindex - 1)]; *pp != s; pp = &(*pp)->hnext)
		;
	*pp = s->hnext;
	if (s->prev)
		s->prev->next = s->next;
	else
		f->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		f->tail = s->prev;
	f->nseries--;
	pthread_rwlock_unlock(&f->lock);
	free(s);
}

static void add_double(_Atomic uint64_t *a, double d)
{
	uint64_t old = atomic_load_explicit(a, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(a, &old, to_bits(from_bits(old) + d), memory_order_relaxed,
						      memory_order_relaxed))
		;
}

void em_sm_count_result(struct em_sm_family *f, const char *result)
{
	char labels[64];

	snprintf(labels, sizeof(labels), "result=\"%s\"", result);
	em_sm_add(em_sm_series(f, labels), 1);
}

void em_sm_add(struct em_sm_series *s, double delta)
{
	if (!s)
		return;
	add_double(&s->bits, delta);
	atomic_store_explicit(&s->touched, true, memory_order_release);
}

void em_sm_set(struct em_sm_series *s, double value)
{
	if (!s)
		return;
	atomic_store_explicit(&s->bits, to_bits(value), memory_order_relaxed);
	atomic_store_explicit(&s->touched, true, memory_order_release);
}

void em_sm_observe(struct em_sm_series *s, double value)
{
	size_t i;

	if (!s || !s->counts)
		return;
	for (i = 0; i < NBUCKETS && value > buckets[i]; i++)
		;
	atomic_fetch_add_explicit(&s->counts[i], 1, memory_order_relaxed);
	add_double(&s->bits, value);
	atomic_store_explicit(&s->touched, true, memory_order_release);
}

double em_sm_value(const struct em_sm_series *s)
{
	return s ? from_bits(atomic_load_explicit(&s->bits, memory_order_relaxed)) : 0;
}

void em_label_escape(const char *in, char *out, size_t cap)
{
	size_t o = 0;

	if (!cap)
		return;
	for (; in && *in && o + 2 < cap; in++) {
		if (*in == '\\' || *in == '"') {
			out[o++] = '\\';
			out[o++] = *in;
		} else if (*in == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *in;
		}
	}
	out[o] = '\0';
}

static void fmt_value(struct em_strbuf *out, double v)
{
	if (isnan(v))
		em_sb_puts(out, "NaN");
	else if (isinf(v))
		em_sb_puts(out, v > 0 ? "+Inf" : "-Inf");
	else
		em_sb_printf(out, "%.17g", v);
}

static void render_series(struct em_strbuf *out, const char *name, const char *suffix, const char *labels,
			  const char *extra, double v)
{
	const bool has = labels && *labels, hasx = extra && *extra;

	em_sb_printf(out, "%s%s", name, suffix);
	if (has || hasx)
		em_sb_printf(out, "{%s%s%s}", has ? labels : "", has && hasx ? "," : "", hasx ? extra : "");
	em_sb_puts(out, " ");
	fmt_value(out, v);
	em_sb_puts(out, "\n");
}

static void render_process(struct em_strbuf *out)
{
	long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	unsigned long utime = 0, stime = 0, vsize = 0;
	unsigned long long starttime = 0;
	long rss = 0;
	char buf[2048];
	FILE *f;
	int fds = 0;
	DIR *d;
	double boot = 0;

	f = fopen("/proc/self/stat", "r");
	if (f) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		char *p;
		buf[n] = '\0';
		fclose(f);
		p = strrchr(buf, ')');
		/* fields after ") ": state(3) ... utime(14) stime(15) ... starttime(22) vsize(23) rss(24) */
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d %llu %lu %ld",
				&utime, &stime, &starttime, &vsize, &rss) != 5)
			utime = stime = 0;
	}
	f = fopen("/proc/stat", "r");
	if (f) {
		while (fgets(buf, sizeof(buf), f))
			if (strncmp(buf, "btime ", 6) == 0)
				boot = strtod(buf + 6, NULL);
		fclose(f);
	}
	d = opendir("/proc/self/fd");
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)))
			if (e->d_name[0] != '.')
				fds++;
		closedir(d);
		fds--; /* the directory stream itself */
	}
	em_sb_puts(out, "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
			"# TYPE process_cpu_seconds_total counter\n");
	em_sb_printf(out, "process_cpu_seconds_total %.2f\n", (double)(utime + stime) / (double)ticks);
	em_sb_puts(out, "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
			"# TYPE process_resident_memory_bytes gauge\n");
	em_sb_printf(out, "process_resident_memory_bytes %ld\n", rss * page);
	em_sb_puts(out, "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
			"# TYPE process_virtual_memory_bytes gauge\n");
	em_sb_printf(out, "process_virtual_memory_bytes %lu\n", vsize);
	em_sb_puts(out, "# HELP process_open_fds Number of open file descriptors.\n"
			"# TYPE process_open_fds gauge\n");
	em_sb_printf(out, "process_open_fds %d\n", fds);
	em_sb_puts(out, "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
			"# TYPE process_start_time_seconds gauge\n");
	em_sb_printf(out, "process_start_time_seconds %.2f\n", boot + (double)starttime / (double)ticks);
}

void em_selfmetrics_render(struct em_strbuf *out)
{
	static const char *const tnames[] = {"counter", "gauge", "histogram"};
	struct em_sm_family *f;

	/* families_mu is never taken under a family's lock: this order is safe. */
	pthread_mutex_lock(&families_mu);
	for (f = families; f; f = f->next) {
		bool header = false;
		pthread_rwlock_rdlock(&f->lock);
		for (struct em_sm_series *s = f->head; s; s = s->next) {
			if (!atomic_load_explicit(&s->touched, memory_order_acquire))
				continue;
			if (!header) {
				em_sb_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, tnames[f->type]);
				header = true;
			}
			if (f->type != EM_SM_HISTOGRAM) {
				render_series(out, f->name, "", s->labels, NULL, em_sm_value(s));
				continue;
			}
			uint64_t cum = 0;
			char le[32];
			for (size_t i = 0; i < NBUCKETS; i++) {
				cum += atomic_load_explicit(&s->counts[i], memory_order_relaxed);
				snprintf(le, sizeof(le), "le=\"%g\"", buckets[i]);
				render_series(out, f->name, "_bucket", s->labels, le, (double)cum);
			}
			/* count = every bucket read once: +Inf and _count always agree */
			cum += atomic_load_explicit(&s->counts[NBUCKETS], memory_order_relaxed);
			render_series(out, f->name, "_bucket", s->labels, "le=\"+Inf\"", (double)cum);
			render_series(out, f->name, "_sum", s->labels, NULL, em_sm_value(s));
			render_series(out, f->name, "_count", s->labels, NULL, (double)cum);
		}
		pthread_rwlock_unlock(&f->lock);
	}
	pthread_mutex_unlock(&families_mu);
	render_process(out);
}

void em_selfmetrics_reset(void)
{
	struct em_sm_family *f;

	pthread_mutex_lock(&families_mu);
	for (f = families; f; f = f->next) {
		pthread_rwlock_rdlock(&f->lock);
		for (struct em_sm_series *s = f->head; s; s = s->next) {
			atomic_store(&s->touched, false);
			atomic_store(&s->bits, to_bits(0));
			for (size_t i = 0; s->counts && i <= NBUCKETS; i++)
				atomic_store(&s->counts[i], 0);
		}
		pthread_rwlock_unlock(&f->lock);
	}
	pthread_mutex_unlock(&families_mu);
}
