/* log.c - leveled logging to stderr as text or JSON, with per-key complaint back-off. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "adapter/util/clock.h"
#include "adapter/util/secret.h"
#include "adapter/util/strbuf.h"

static enum em_loglevel min_level = EM_LOG_INFO;
static bool as_json;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const names[] = {"debug", "info", "warn", "error"};

void em_log_setup(enum em_loglevel level, bool json)
{
	min_level = level;
	as_json = json;
}

int em_log_parse_level(const char *s, enum em_loglevel *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcasecmp(s, names[i]) == 0) {
			*out = (enum em_loglevel)i;
			return 0;
		}
	}
	return -1;
}

bool em_log_enabled(enum em_loglevel level)
{
	return level >= min_level;
}

static void vlog(enum em_loglevel level, const char *fmt, va_list ap)
{
	char msg[2048], ts[40], *whole;
	int64_t now = em_now_ms();
	time_t secs = (time_t)(now / 1000);
	struct tm tm;

	if (level < min_level)
		return;
	/* scrubbed whole, then cut: no half secret at the cut */
	whole = em_vformat_scrubbed(fmt, ap);
	em_copy_cut(msg, sizeof(msg), whole ? whole : "(out of memory formatting a log line)");
	em_free_secret(whole);
	gmtime_r(&secs, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(now % 1000));
	pthread_mutex_lock(&log_lock);
	if (as_json) {
		struct em_strbuf sb;

		em_sb_init(&sb);
		em_sb_printf(&sb, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, names[level]);
		em_sb_json_str(&sb, msg);
		em_sb_puts(&sb, "}\n");
		if (sb.buf)
			fputs(sb.buf, stderr);
		em_sb_free(&sb);
	} else {
		fprintf(stderr, "%s %-5s %s\n", ts, names[level], msg);
	}
	pthread_mutex_unlock(&log_lock);
}

void em_log(enum em_loglevel level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

void em_complain(struct em_complain *c, int64_t now_ms, enum em_loglevel level, const char *fmt, ...)
{
	va_list ap;

	if (c->complained && now_ms < c->next_ms)
		return;
	c->interval_ms = c->interval_ms ? c->interval_ms * 2 : 1000;
	if (c->interval_ms > 3600 * 1000)
		c->interval_ms = 3600 * 1000;
	c->next_ms = now_ms + c->interval_ms;
	c->complained = true;
	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

void em_complain_release(struct em_complain *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->complained)
		return;
	memset(c, 0, sizeof(*c));
	va_start(ap, fmt);
	vlog(EM_LOG_INFO, fmt, ap);
	va_end(ap);
}
