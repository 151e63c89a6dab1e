/* scaler.h - the scaler interface: a descriptor (type, option table, open/fetch/close) and the core services a scaler may use. */
#ifndef EM_SCALER_H
#define EM_SCALER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the core offers a scaler; scalers include this header and no other
 * of adapter/. */
#include "adapter/log.h"              /* em_debug .. em_error, em_complain */
#include "adapter/options.h"          /* option tables; em_parse_*, em_kvlist, em_scrub */
#include "adapter/selfmetrics.h"      /* em_counter_add, em_gauge_set, em_histogram_observe */
#include "adapter/util/clock.h"       /* em_mono_ms, em_now_ms, em_cond_*, em_sleep_ms */
#include "adapter/util/duration.h"    /* Go's time.ParseDuration */
#include "adapter/util/err.h"         /* struct em_err */
#include "adapter/util/files.h"       /* em_read_file */
#include "adapter/util/goquote.h"     /* Go's strconv.Quote */
#include "adapter/util/http.h"        /* the libcurl client */
#include "adapter/util/keyed.h"       /* objects shared by key (a pool per server) */
#include "adapter/util/pool.h"        /* connections per target: shared slots, reconnect back-off */
#include "adapter/util/secret.h"      /* em_free_secret, em_wipe */
#include "adapter/util/strbuf.h"      /* em_strbuf */
#include "adapter/util/text.h"        /* em_hexval, em_percent_decode, em_strv_push */

/* One labelled value, for scalers that return several series (Prometheus
 * multipleSeries: items). */
struct em_series {
	struct em_kvlist labels;
	double value;
};

/* What one fetch yields. `active` follows KEDA: value > activation threshold.
 * n_series == 0: a single value in `value`. n_series > 0: one item each
 * (value is then their sum, used for activation and own metrics). */
struct em_sample {
	double value;
	bool active;
	struct em_series *series;
	size_t n_series;
};

void em_sample_free(struct em_sample *s);                 /* NULL-safe; leaves s zeroed */
int em_sample_copy(struct em_sample *dst, const struct em_sample *src);

/* Passed to every fetch. */
struct em_fetch_ctx {
	int64_t timeout_ms;      /* the whole fetch must give up after this */
	int64_t now_ms;          /* wall clock (Unix ms) at the start of the poll */
	const char *metric;      /* metric name, for messages */
};

/* A scaler. Add one by writing scalers/NAME.c (or scalers/NAME/ when it brings
 * helpers of its own, as cron/ and aws/) with a `const struct em_scaler
 * em_scaler_NAME` and one line in scalers/scalers.def. */
struct em_scaler {
	const char *type;                   /* KEDA trigger type, e.g. "aws-sqs-queue" */
	const struct em_option *options;    /* parsed into a zeroed struct of config_size */
	size_t config_size;
	const char *summary;                /* one line for the README */

	/* Optional cross-field checks and derived fields, after options are parsed.
	 * Errors are EM_E_CONFIG and name the key first: "key: message". */
	int (*validate)(void *cfg, struct em_err *err);

	/* Creates an instance. cfg is owned by the core and outlives the instance. */
	void *(*open)(const void *cfg, struct em_err *err);

	/* Fetches one sample; 0 on success, -1 with err set (EM_E_UNAVAILABLE for
	 * backend trouble). Runs on a poller thread; must honour ctx->timeout_ms. */
	int (*fetch)(void *inst, const struct em_fetch_ctx *ctx, struct em_sample *out,
		     struct em_err *err);

	void (*close)(void *inst);          /* NULL-safe */

	/* Optional batching: instances whose batch_key() strings are equal and that
	 * fall due in the same poll round are handed to fetch_batch together
	 * (SQS: same queue and identity -> one call; CloudWatch: same window ->
	 * one GetMetricData). rcs[i] is 0 or -1 with errs[i] set. */
	const char *(*batch_key)(void *inst);
	void (*fetch_batch)(void **insts, size_t n, const struct em_fetch_ctx *ctx,
			    struct em_sample *outs, struct em_err *errs, int *rcs);
};

/* Registry of compiled-in scalers (scalers/scalers.c, from scalers.def). */
const struct em_scaler *em_scaler_find(const char *type);
const struct em_scaler *const *em_scaler_all(size_t *n);

#endif
