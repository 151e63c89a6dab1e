/* test_scalers.c - the scaler descriptors: the rules em_scaler_check enforces, on every compiled-in scaler and on bad ones. */
#include "harness.h"

#include "scalers/scaler.h"

static void *dummy_open(const void *cfg, struct em_err *err)
{
	(void)cfg;
	(void)err;
	return NULL;
}

static void dummy_close(void *inst)
{
	(void)inst;
}

static int dummy_fetch(void *inst, const struct em_fetch_ctx *ctx, struct em_sample *out, struct em_err *err)
{
	(void)inst;
	(void)ctx;
	(void)out;
	(void)err;
	return 0;
}

static const char *dummy_key(void *inst)
{
	(void)inst;
	return "k";
}

static void dummy_batch(void **insts, size_t n, const struct em_fetch_ctx *ctx, struct em_sample *outs,
			struct em_err *errs, int *rcs)
{
	(void)insts;
	(void)n;
	(void)ctx;
	(void)outs;
	(void)errs;
	(void)rcs;
}

static const char *dummy_input(const void *cfg, size_t i)
{
	(void)cfg;
	return i == 0 ? "m" : NULL;
}

static int dummy_compute(void *inst, const double *values, size_t n, struct em_sample *out, struct em_err *err)
{
	(void)inst;
	(void)values;
	(void)n;
	(void)out;
	(void)err;
	return 0;
}

static const struct em_option no_options[] = {EM_OPTIONS_END};

TEST(every_compiled_in_scaler_follows_the_rules)
{
	size_t n;
	const struct em_scaler *const *all = em_scaler_all(&n);
	struct em_err err = {0};

	EXPECT(n >= 5);
	for (size_t i = 0; i < n; i++) {
		if (em_scaler_check(all[i], &err) != 0)
			TH_FAIL("%s", err.msg);
		/* batching scalers need no fetch of their own: one wrapper less each */
		if (all[i]->flags & EM_SCALER_BATCH)
			EXPECT(all[i]->fetch == NULL);
	}
	EXPECT(em_scaler_find("aws-sqs-queue")->flags & EM_SCALER_BATCH);
	EXPECT(em_scaler_find("aws-cloudwatch")->flags & EM_SCALER_BATCH);
	EXPECT(!(em_scaler_find("cron")->flags & EM_SCALER_BATCH));
	/* both AWS scalers share one set-up: the core runs it once */
	EXPECT(em_scaler_find("aws-sqs-queue")->global_init != NULL);
	EXPECT(em_scaler_find("aws-sqs-queue")->global_init == em_scaler_find("aws-cloudwatch")->global_init);
	/* main (here the harness) has run them already: a second call does nothing */
	EXPECT_INT(em_scalers_init(&err), 0);
}

TEST(bad_descriptors_are_refused)
{
	struct em_err err = {0};
	struct em_scaler ok = {.type = "t", .options = no_options, .open = dummy_open, .fetch = dummy_fetch,
			       .close = dummy_close};
	struct em_scaler batch = {.type = "b", .options = no_options, .flags = EM_SCALER_BATCH, .open = dummy_open,
				  .close = dummy_close, .batch_key = dummy_key, .fetch_batch = dummy_batch};
	struct em_scaler s;

	EXPECT_INT(em_scaler_check(&ok, &err), 0);
	EXPECT_INT(em_scaler_check(&batch, &err), 0);
	s = ok;
	s.fetch = NULL;
	EXPECT_INT(em_scaler_check(&s, &err), -1);
	EXPECT_STR(err.msg, "scaler t: fetch is required, and batch_key and fetch_batch go with EM_SCALER_BATCH");
	s = ok;
	s.batch_key = dummy_key;
	s.fetch_batch = dummy_batch;
	EXPECT_INT(em_scaler_check(&s, &err), -1);
	s = batch;
	s.fetch_batch = NULL;
	EXPECT_INT(em_scaler_check(&s, &err), -1);
	EXPECT_STR(err.msg, "scaler b: EM_SCALER_BATCH needs batch_key and fetch_batch");
	/* a computed metric's scaler: input and compute, nothing to fetch */
	s = ok;
	s.fetch = NULL;
	s.flags = EM_SCALER_COMPUTED;
	s.input = dummy_input;
	s.compute = dummy_compute;
	EXPECT_INT(em_scaler_check(&s, &err), 0);
	s.fetch = dummy_fetch;
	EXPECT_INT(em_scaler_check(&s, &err), -1);
	EXPECT_STR(err.msg, "scaler t: EM_SCALER_COMPUTED goes with input and compute, and without fetch or batching");
	s.fetch = NULL;
	s.input = NULL;
	EXPECT_INT(em_scaler_check(&s, &err), -1);
	s = ok;
	s.compute = dummy_compute;   /* without the flag */
	EXPECT_INT(em_scaler_check(&s, &err), -1);
	s = ok;
	s.close = NULL;
	EXPECT_INT(em_scaler_check(&s, &err), -1);
	EXPECT_STR(err.msg, "scaler t: type, options, open and close are required");
}
