/* fuzz_cron.c - libFuzzer target: cron expressions (parse + Next), TZif data and POSIX TZ rules. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scalers/cron/cronexpr.h"
#include "scalers/cron/tz.h"
#include "fuzz.h"

static struct em_tz *berlin, *new_york;

static void lookups(const struct em_tz *z, int64_t seed)
{
	static const int64_t probes[] = {INT64_MIN, -62135596800LL, -1, 0, 1711846800LL, 4118126400LL, INT64_MAX};
	struct em_tz_info info;
	struct em_tm tm;

	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		em_tz_lookup(z, probes[i], &info);
		CHECK(info.start <= info.end);
		em_tz_to_local(z, probes[i] ^ seed, &tm);
		CHECK(tm.month >= 1 && tm.month <= 12 && tm.day >= 1 && tm.day <= 31);
		CHECK(tm.hour >= 0 && tm.hour < 24 && tm.min >= 0 && tm.min < 60 && tm.sec >= 0 && tm.sec < 60);
		(void)em_tz_from_local(z, tm.year, tm.month, tm.day, tm.hour, tm.min, tm.sec);
	}
}

/* First byte: 0 = TZif data, 1 = POSIX TZ rule, else a cron expression. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct em_err err = {0};
	char *text;

	if (!berlin) {
		em_tz_load("Europe/Berlin", &berlin, &err);
		em_tz_load("America/New_York", &new_york, &err);
	}
	if (size < 1)
		return 0;
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';

	if (data[0] == 0) {
		struct em_tz *z = NULL;

		if (em_tz_from_tzif("fuzz", data + 1, size - 1, &z, &err) == 0) {
			lookups(z, (int64_t)size);
			em_tz_free(z);
		} else {
			CHECK(z == NULL && err.msg[0]);
		}
	} else if (data[0] == 1) {
		struct em_tz *z = NULL;

		if (em_tz_from_posix("fuzz", text, &z, &err) == 0) {
			lookups(z, (int64_t)size);
			em_tz_free(z);
		} else {
			CHECK(z == NULL);
		}
	} else {
		struct em_cron c;

		if (em_cron_parse(text, EM_CRON_DESCRIPTORS, &c, &err) == 0) {
			static const int64_t starts[] = {0, 1711846000000LL, 1729990000000LL, 4118126400000LL};

			for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
				const struct em_tz *z = (i & 1) ? new_york : berlin;
				int64_t n = em_cron_next(&c, z, starts[i]);

				/* Strictly later, or the zero time. */
				CHECK(n == EM_CRON_ZERO_TIME || n * 1000 > starts[i]);
			}
			em_cron_free(&c);
		} else {
			CHECK(c.zone == NULL && err.msg[0]);
		}
	}
	free(text);
	return 0;
}
