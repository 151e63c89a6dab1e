/* log.h - leveled logging to stderr as text or JSON, with per-key complaint back-off. */
#ifndef EM_LOG_H
#define EM_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum em_loglevel { EM_LOG_DEBUG, EM_LOG_INFO, EM_LOG_WARN, EM_LOG_ERROR };

void em_log_setup(enum em_loglevel level, bool json);
int em_log_parse_level(const char *s, enum em_loglevel *out);
bool em_log_enabled(enum em_loglevel level);
void em_log(enum em_loglevel level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define em_debug(...) em_log(EM_LOG_DEBUG, __VA_ARGS__)
#define em_info(...)  em_log(EM_LOG_INFO, __VA_ARGS__)
#define em_warn(...)  em_log(EM_LOG_WARN, __VA_ARGS__)
#define em_error(...) em_log(EM_LOG_ERROR, __VA_ARGS__)

/* A repeated failure is logged once, then again only after a doubling
 * back-off (1 s .. 1 h); recovery is logged once (collectd's c_complain). */
struct em_complain {
	int64_t next_ms;
	int64_t interval_ms;
	bool complained;
};

void em_complain(struct em_complain *c, int64_t now_ms, enum em_loglevel level, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void em_complain_release(struct em_complain *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
