/* clock.c - the clocks: monotonic for every wait, deadline and interval; wall time only for what is shown or sent. */
#include "clock.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

static _Atomic(const struct em_clock *) injected;

void em_clock_use(const struct em_clock *c)
{
	atomic_store(&injected, c);
}

int64_t em_mono_ms(void)
{
	const struct em_clock *c = atomic_load_explicit(&injected, memory_order_relaxed);
	struct timespec ts;

	if (c)
		return c->mono_ms();
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double em_mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t em_now_ms(void)
{
	const struct em_clock *c = atomic_load_explicit(&injected, memory_order_relaxed);
	struct timespec ts;

	if (c)
		return c->now_ms();
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void em_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}

int em_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_ms)
{
	struct timespec ts = {.tv_sec = (time_t)(deadline_ms / 1000), .tv_nsec = (long)(deadline_ms % 1000) * 1000000L};

	if (deadline_ms < 0)
		ts = (struct timespec){0, 0};
	return pthread_cond_timedwait(cv, mu, &ts);
}

void em_sleep_ms(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

void em_rfc3339(int64_t ms, char *out, size_t cap)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!cap)
		return;
	out[0] = '\0';
	/* strftime leaves out undefined when it does not fit: empty, never a cut time */
	if (!gmtime_r(&t, &tm) || strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		out[0] = '\0';
}
