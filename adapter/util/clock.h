/* clock.h - the clocks: monotonic for every wait, deadline and interval; wall time only for what is shown or sent. */
#ifndef EM_CLOCK_H
#define EM_CLOCK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds: deadlines, intervals, back-offs. */
int64_t em_mono_ms(void);
/* The same in seconds with nanosecond resolution: short durations (request latency histograms). */
double em_mono_seconds(void);
/* CLOCK_REALTIME in Unix milliseconds: timestamps served, signed or logged. */
int64_t em_now_ms(void);
/* Unix ms as RFC 3339 UTC to the second ("2024-05-01T12:00:00Z"); cap >= 21. */
void em_rfc3339(int64_t ms, char *out, size_t cap);

/* A condition variable whose timed waits count on CLOCK_MONOTONIC, so a step
 * of the wall clock neither stalls nor hurries them (pthread_cond_init with
 * pthread_condattr_setclock). */
void em_cond_init(pthread_cond_t *cv);
/* Waits on a cv made by em_cond_init until deadline_ms (em_mono_ms() time).
 * Returns what pthread_cond_timedwait returns (ETIMEDOUT once it passed). */
int em_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_ms);

/* The one clock, mockable (as collectd's cdtime): tests install their own
 * em_mono_ms/em_now_ms with em_clock_use and every decision (due times,
 * idle times, deadlines, cache ages) follows it; NULL restores the
 * system's. Waits (em_cond_wait_until, em_sleep_ms) still take real time. */
struct em_clock {
	int64_t (*mono_ms)(void);
	int64_t (*now_ms)(void);
};
void em_clock_use(const struct em_clock *c);

/* Sleeps ms milliseconds (monotonic; a signal does not cut it short). */
void em_sleep_ms(int64_t ms);

#endif
