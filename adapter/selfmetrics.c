/* selfmetrics.c - the server's own Prometheus metrics: counters, gauges, histograms, process_*. */
#include "selfmetrics.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum fam_type { FAM_COUNTER, FAM_GAUGE, FAM_HISTOGRAM };

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct series {
	struct series *next;
	char *labels;
	double value;              /* counter/gauge; histogram: sum */
	uint64_t count;            /* histogram */
	uint64_t bucket[NBUCKETS]; /* histogram, non-cumulative */
};

struct family {
	struct family *next;
	char *name;
	char *help;
	enum fam_type type;
	struct series *series;
	struct series **tail;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct family *families;
static struct family **fam_tail = &families;

static struct family *family_get(const char *name, const char *help, enum fam_type type)
{
	struct family *f;

	for (f = families; f; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->name = strdup(name);
	f->help = strdup(help ? help : name);
	if (!f->name || !f->help) {
		free(f->name);
		free(f->help);
		free(f);
		return NULL;
	}
	f->type = type;
	f->tail = &f->series;
	*fam_tail = f;
	fam_tail = &f->next;
	return f;
}

static struct series *series_get(struct family *f, const char *labels)
{
	struct series *s;

	for (s = f->series; s; s = s->next)
		if (strcmp(s->labels, labels) == 0)
			return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->labels = strdup(labels);
	if (!s->labels) {
		free(s);
		return NULL;
	}
	*f->tail = s;
	f->tail = &s->next;
	return s;
}

void em_counter_add(const char *name, const char *help, const char *labels, double delta)
{
	struct family *f;
	struct series *s;

	pthread_mutex_lock(&lock);
	if ((f = family_get(name, help, FAM_COUNTER)) && (s = series_get(f, labels ? labels : "")))
		s->value += delta;
	pthread_mutex_unlock(&lock);
}

void em_gauge_set(const char *name, const char *help, const char *labels, double value)
{
	struct family *f;
	struct series *s;

	pthread_mutex_lock(&lock);
	if ((f = family_get(name, help, FAM_GAUGE)) && (s = series_get(f, labels ? labels : "")))
		s->value = value;
	pthread_mutex_unlock(&lock);
}

void em_gauge_del(const char *name, const char *labels)
{
	pthread_mutex_lock(&lock);
	for (struct family *f = families; f; f = f->next) {
		struct series **pp;
		if (strcmp(f->name, name) != 0)
			continue;
		for (pp = &f->series; *pp; pp = &(*pp)->next) {
			struct series *s = *pp;
			if (strcmp(s->labels, labels) != 0)
				continue;
			*pp = s->next;
			if (f->tail == &s->next)
				f->tail = pp;
			free(s->labels);
			free(s);
			break;
		}
		break;
	}
	pthread_mutex_unlock(&lock);
}

void em_histogram_observe(const char *name, const char *help, const char *labels, double value)
{
	struct family *f;
	struct series *s;

	pthread_mutex_lock(&lock);
	if ((f = family_get(name, help, FAM_HISTOGRAM)) && (s = series_get(f, labels ? labels : ""))) {
		size_t i;
		for (i = 0; i < NBUCKETS && value > buckets[i]; i++)
			;
		if (i < NBUCKETS)
			s->bucket[i]++;
		s->count++;
		s->value += value;
	}
	pthread_mutex_unlock(&lock);
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

	pthread_mutex_lock(&lock);
	for (struct family *f = families; f; f = f->next) {
		if (!f->series)
			continue;
		em_sb_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, tnames[f->type]);
		for (struct series *s = f->series; s; s = s->next) {
			if (f->type != FAM_HISTOGRAM) {
				render_series(out, f->name, "", s->labels, NULL, s->value);
				continue;
			}
			uint64_t cum = 0;
			char le[32];
			for (size_t i = 0; i < NBUCKETS; i++) {
				cum += s->bucket[i];
				snprintf(le, sizeof(le), "le=\"%g\"", buckets[i]);
				render_series(out, f->name, "_bucket", s->labels, le, (double)cum);
			}
			render_series(out, f->name, "_bucket", s->labels, "le=\"+Inf\"", (double)s->count);
			render_series(out, f->name, "_sum", s->labels, NULL, s->value);
			render_series(out, f->name, "_count", s->labels, NULL, (double)s->count);
		}
	}
	pthread_mutex_unlock(&lock);
	render_process(out);
}

void em_selfmetrics_reset(void)
{
	pthread_mutex_lock(&lock);
	while (families) {
		struct family *f = families;
		families = f->next;
		while (f->series) {
			struct series *s = f->series;
			f->series = s->next;
			free(s->labels);
			free(s);
		}
		free(f->name);
		free(f->help);
		free(f);
	}
	fam_tail = &families;
	pthread_mutex_unlock(&lock);
}
