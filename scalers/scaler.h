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
#include "adapter/selfmetrics.h"      /* EM_SM_FAMILY, em_sm_series, em_sm_add */
#include "adapter/util/clock.h"       /* em_mono_ms, em_now_ms, em_cond_*, em_sleep_ms */
#include "adapter/util/duration.h"    /* Go's time.ParseDuration */
#include "adapter/util/err.h"         /* struct em_err */
#include "adapter/util/files.h"       /* em_read_file */
#include "adapter/util/goquote.h"     /* Go's strconv.Quote */
#include "adapter/util/http.h"        /* the libcurl client */
#include "adapter/util/json.h"        /* the bounded JSON reader, for every answer */
#include "adapter/util/keyed.h"       /* objects shared by key (a pool per server) */
#include "adapter/util/pool.h"        /* connections per target: shared slots, reconnect back-off */
#include "adapter/util/secret.h"      /* em_free_secret, em_wipe */
#include "adapter/util/strbuf.h"      /* em_strbuf */
#include "adapter/util/text.h"        /* em_hexval, em_percent_decode, em_strv_push */
#include "adapter/util/tlspem.h"      /* PEM CAs, certificate and key into an OpenSSL context */

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

/* ---- numbers from outside (scalers/value.c) ----------------------------------
 * Every number a backend sends is checked before any arithmetic and before
 * it is served: no signed overflow, and no NaN, infinity, negative count or
 * absurd size served as if it were a reading (least of all as a healthy 0).
 * Every scaler converts and checks with these. */

/* The largest value served: 2^53, past which integer counts lose precision
 * in a double (and well below the Quantity's limit of 2^63 milli-units). */
#define EM_VALUE_MAX 9007199254740992.0

enum em_value_kind {
	EM_VALUE_GAUGE,   /* any finite reading; a negative one is served as 0 (the Quantity's documented clamp) */
	EM_VALUE_COUNT,   /* a count (messages, rows, items): negative is an error */
};

/* 0 when v may be served as a reading of that kind; else -1 with err
 * (EM_E_UNAVAILABLE): "<what> is NaN", "... is +Inf", "... is -3, but a
 * count cannot be negative", "... is 1.797e+308, above the largest value
 * served (2^53)". */
int em_value_check(double v, enum em_value_kind kind, const char *what, struct em_err *err);

/* The same for a count a backend sent as an integer (a JSON integer, a
 * column): 0 when 0 <= v <= EM_VALUE_MAX, judged exactly (a double would
 * round 2^53 + 1 down to 2^53); else -1 with err. */
int em_count_check(int64_t v, const char *what, struct em_err *err);

/* A count written in decimal (text[0..n): an SQS attribute, a Redis
 * reply): ASCII digits only, at most EM_VALUE_MAX. 0, or -1 with err
 * quoting a short escaped excerpt of the text. */
int em_count_parse(const char *text, size_t n, const char *what, int64_t *out, struct em_err *err);

/* *acc += v for counts (both within [0, EM_VALUE_MAX]): -1 with err when the
 * sum passes EM_VALUE_MAX; never a signed overflow. */
int em_count_add(int64_t *acc, int64_t v, const char *what, struct em_err *err);

/* A decimal number as backends write it (text[0..n), no surrounding space):
 * sign, digits, fraction, exponent, or the words NaN / Inf / Infinity
 * (any case, signed), which em_value_check then judges. Hex floats and
 * anything else: -1. */
int em_number_parse(const char *text, size_t n, double *out);

/* Passed to every fetch. */
struct em_fetch_ctx {
	int64_t timeout_ms;      /* the whole fetch must give up after this */
	int64_t now_ms;          /* wall clock (Unix ms) at the start of the poll */
	const char *metric;      /* metric name, for messages */
};

/* Capability flags (struct em_scaler.flags): what the core may do with a
 * scaler's instances, declared instead of guessed from its hooks. */
#define EM_SCALER_BATCH 0x1u   /* batch_key and fetch_batch are set; fetch is optional */
#define EM_SCALER_COMPUTED 0x2u /* input and compute are set, no fetch: a value computed from other metrics' */

/* A scaler. Add one by writing scalers/NAME.c (or scalers/NAME/ when it brings
 * helpers of its own, as cron/ and aws/) with a `const struct em_scaler
 * em_scaler_NAME` and one line in scalers/scalers.def.
 *
 * Who calls what (the concurrency contract; registry.h has the core's side):
 * - global_init runs once, on the main thread, before any other hook and
 *   before any thread starts; global_cleanup once at exit, after the
 *   commands return. A hook shared by several scalers (the same function)
 *   runs once.
 * - validate runs when a config is loaded (main thread, no lock) and before
 *   open. validate and open run on whichever thread creates the instance:
 *   the main thread (start-up, reloads: with the registry lock held) or an
 *   HTTP thread (a templated instance's first request, or `extmetrics get`:
 *   without it). So they must not block for long, and must not call back
 *   into the registry.
 *   Different instances are opened, fetched and closed at the same time
 *   on different threads: anything a scaler shares between instances (a
 *   connection pool, a client, a credential cache) is its own to lock.
 * - fetch / fetch_batch run on a poller worker thread (the main thread for
 *   `extmetrics get`) without any core lock.
 *   One instance is in at most one fetch at a time (the poller marks it in
 *   flight), and the core owns it meanwhile: it is neither fetched again
 *   nor closed until the fetch returns, even when its metric is removed by
 *   a reload. A fetch may block, but no longer than ctx->timeout_ms.
 * - batch_key runs on the poller's scheduler thread with the registry lock
 *   held: it must be quick and must not block.
 * - close runs once per instance, on any thread, without any core lock,
 *   after its last fetch has returned.
 * - With EM_SCALER_COMPUTED: open and close run once per config snapshot
 *   (open on the main thread when it is loaded, no lock; close when its
 *   last user lets it go, with the registry lock held); compute runs on the thread answering a
 *   request (an HTTP thread, or main for `extmetrics get`), with the
 *   registry lock held, for every request: it must be quick, allocate
 *   nothing it keeps, and never block. input runs at load, no lock.
 * - A scaler may call the core services included above (log, selfmetrics,
 *   clock, http, keyed...) from any hook; they take their own locks, which
 *   come after the registry's (registry -> selfmetrics -> log). */
struct em_scaler {
	const char *type;                   /* KEDA trigger type, e.g. "aws-sqs-queue" */
	const struct em_option *options;    /* parsed into a zeroed struct of config_size */
	size_t config_size;
	const char *summary;                /* one line for the README */
	unsigned flags;                     /* EM_SCALER_* */

	/* Optional, once per process (see above): set up and tear down what all
	 * instances share (a client, a registry, a library). init: 0, or -1
	 * with err, and the process does not start. cleanup may find instances
	 * still open (a fetch stuck at shutdown is left running): it must leave
	 * alone what they use. */
	int (*global_init)(struct em_err *err);
	void (*global_cleanup)(void);

	/* KEDA's HPA target when no option is flagged EM_OPT_TARGET: a constant
	 * (cron: "1"). import-keda reads the target facts from the option table:
	 * EM_OPT_TARGET (its .def KEDA's default), EM_OPT_ACTIVATION, aliases,
	 * ignored keys. */
	const char *fixed_target;
	/* When several options are flagged EM_OPT_TARGET, which one KEDA targets
	 * for a trigger's metadata (redis-streams: its scale factor; rabbitmq:
	 * value or the deprecated queueLength), and in *def KEDA's default for it
	 * then (NULL: required); get(md, key) reads a metadata value, NULL when
	 * absent. Pure: import-keda calls it. */
	const char *(*target_key)(const char *(*get)(const void *md, const char *key), const void *md,
				  const char **def);

	/* Optional cross-field checks and derived fields, after options are parsed
	 * without error. Reports every problem to d (em_opt_error, em_opt_warn),
	 * each naming its key, and returns -1 when any was an error. */
	int (*validate)(void *cfg, struct em_optdiag *d);

	/* Creates an instance. cfg is owned by the core and outlives the instance. */
	void *(*open)(const void *cfg, struct em_err *err);

	/* Fetches one sample; 0 on success, -1 with err set (EM_E_UNAVAILABLE for
	 * backend trouble). Runs on a poller thread; must honour ctx->timeout_ms.
	 * Optional with EM_SCALER_BATCH: the core then calls fetch_batch with n = 1. */
	int (*fetch)(void *inst, const struct em_fetch_ctx *ctx, struct em_sample *out,
		     struct em_err *err);

	void (*close)(void *inst);          /* NULL-safe */

	/* With EM_SCALER_BATCH: instances whose batch_key() strings are equal and that
	 * fall due in the same poll round are handed to fetch_batch together
	 * (SQS: same queue and identity -> one call; CloudWatch: same window ->
	 * one GetMetricData). rcs[i] is 0 or -1 with errs[i] set. */
	const char *(*batch_key)(void *inst);
	void (*fetch_batch)(void **insts, size_t n, const struct em_fetch_ctx *ctx,
			    struct em_sample *outs, struct em_err *errs, int *rcs);

	/* With EM_SCALER_COMPUTED, instead of fetch, for a metric computed from
	 * other configured metrics (composite): input(cfg, i) names the i-th metric it reads (NULL past
	 * the last), and compute() gets their values, in that order, from the
	 * cache (never a backend call; on the request path). The core refuses
	 * missing, templated or computed inputs at load and serves an error
	 * while an input has no value to serve. */
	const char *(*input)(const void *cfg, size_t i);
	int (*compute)(void *inst, const double *values, size_t n, struct em_sample *out, struct em_err *err);
};

/* Registry of compiled-in scalers (scalers/scalers.c, from scalers.def). */
const struct em_scaler *em_scaler_find(const char *type);
const struct em_scaler *const *em_scaler_all(size_t *n);
/* Runs every scaler's global_init once (main, before any thread starts);
 * 0, or -1 with err prefixed by the scaler's type. A second call does nothing. */
int em_scalers_init(struct em_err *err);
/* Runs the global_cleanup hooks, in reverse order (main, at exit). */
void em_scalers_cleanup(void);
/* Checks a descriptor against the rules above (hooks present for its flags);
 * 0, or -1 with err. em_scalers_init checks every compiled-in one. */
int em_scaler_check(const struct em_scaler *sc, struct em_err *err);

#endif
