/* harness.h - a tiny unit test harness: TEST() registers, EXPECT_*() records, TAP-like output. */
#ifndef EM_HARNESS_H
#define EM_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*th_fn)(void);
struct th_case { const char *name; th_fn fn; };

extern struct th_case th_cases[];
extern int th_ncases;
extern int th_failed_checks;

#define TH_MAX_CASES 512

#define TEST(name)                                                          \
	static void name(void);                                             \
	__attribute__((constructor)) static void th_reg_##name(void)        \
	{                                                                   \
		if (th_ncases < TH_MAX_CASES)                               \
			th_cases[th_ncases++] = (struct th_case){#name, name}; \
	}                                                                   \
	static void name(void)

#define TH_FAIL(...)                                                        \
	do {                                                                \
		th_failed_checks++;                                         \
		printf("#   %s:%d: ", __FILE__, __LINE__);                      \
		printf(__VA_ARGS__);                                        \
		printf("\n");                                               \
	} while (0)

#define EXPECT(cond)                                                        \
	do {                                                                \
		if (!(cond))                                                \
			TH_FAIL("expected %s", #cond);                       \
	} while (0)

#define EXPECT_INT(a, b)                                                    \
	do {                                                                \
		long long th_a = (long long)(a), th_b = (long long)(b);     \
		if (th_a != th_b)                                           \
			TH_FAIL("%s == %lld, expected %lld", #a, th_a, th_b); \
	} while (0)

#define EXPECT_STR(a, b)                                                    \
	do {                                                                \
		const char *th_a = (a), *th_b = (b);                        \
		if (!th_a || !th_b || strcmp(th_a, th_b) != 0)              \
			TH_FAIL("%s == \"%s\", expected \"%s\"", #a,         \
				th_a ? th_a : "(null)", th_b ? th_b : "(null)"); \
	} while (0)

#define EXPECT_DBL(a, b, eps)                                               \
	do {                                                                \
		double th_a = (a), th_b = (b);                              \
		if (!(fabs(th_a - th_b) <= (eps)))                          \
			TH_FAIL("%s == %.17g, expected %.17g", #a, th_a, th_b); \
	} while (0)

#ifdef TH_MAIN
#include "adapter/util/http.h"
#include "scalers/scaler.h"

struct th_case th_cases[TH_MAX_CASES];
int th_ncases;
int th_failed_checks;

int main(void)
{
	int passed = 0, failed = 0;
	struct em_err err = {0};

	/* The process set-up main.c does, so scalers run as in the binary. */
	if (em_http_global_init() != 0 || em_scalers_init(&err) != 0) {
		printf("Bail out! set-up: %s\n", err.msg);
		return 1;
	}
	printf("1..%d\n", th_ncases);
	for (int i = 0; i < th_ncases; i++) {
		int before = th_failed_checks;
		th_cases[i].fn();
		if (th_failed_checks == before) {
			passed++;
			printf("ok %d - %s\n", i + 1, th_cases[i].name);
		} else {
			failed++;
			printf("not ok %d - %s\n", i + 1, th_cases[i].name);
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	em_scalers_cleanup();
	em_http_global_cleanup();
	return failed ? 1 : 0;
}
#endif

#endif
