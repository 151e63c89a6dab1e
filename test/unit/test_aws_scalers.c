/* test_aws_scalers.c - aws-sqs-queue and aws-cloudwatch: option tables, KEDA's validation messages, the window. */
#include "harness.h"
#include "optdiag.h"

#include "scalers/aws/aws_cloudwatch.h"
#include "scalers/scaler.h"

extern const struct em_scaler em_scaler_aws_sqs_queue, em_scaler_aws_cloudwatch;

/* Parses "k=v" pairs (NULL-terminated) through the scaler's table and
 * validate(); returns the error message ("" when valid). */
static struct th_diag last; /* everything the last check() reported */

static const char *check(const struct em_scaler *sc, const char *const *kv)
{
	struct em_rawopt items[64];
	struct em_rawopts raw = {items, 0};
	void *cfg = calloc(1, sc->config_size);
	char buf[64][160];

	for (size_t i = 0; kv[i]; i++) {
		const char *eq = strchr(kv[i], '=');
		snprintf(buf[i], sizeof(buf[i]), "%.*s", (int)(eq - kv[i]), kv[i]);
		items[raw.n++] = (struct em_rawopt){.name = buf[i], .value = eq + 1, .src = EM_SRC_AUTH};
	}
	th_diag_init(&last);
	if (em_options_parse(sc->options, &raw, cfg, &last.d) == 0 && sc->validate)
		sc->validate(cfg, &last.d);
	em_options_free(sc->options, cfg);
	free(cfg);
	return last.first;
}

#define CW_BASE "targetMetricValue=2", "minMetricValue=0", "awsRegion=eu-west-1"

TEST(cloudwatch_keda_messages)
{
	const struct em_scaler *cw = &em_scaler_aws_cloudwatch;

	EXPECT_STR(check(cw, (const char *[]){CW_BASE, "namespace=AWS/SQS", "metricName=M", "dimensionName=QueueName",
					      "dimensionValue=q", NULL}), "");
	EXPECT_STR(check(cw, (const char *[]){CW_BASE, "expression=SELECT MAX(x) FROM y", NULL}), "");
	EXPECT_STR(check(cw, (const char *[]){CW_BASE, NULL}), "namespace: namespace not given");
	EXPECT_STR(check(cw, (const char *[]){CW_BASE, "namespace=N", NULL}), "metricName: metric name not given");
	EXPECT_STR(check(cw, (const char *[]){CW_BASE, "namespace=N", "metricName=M", NULL}),
		   "dimensionName: dimension name not given");
	EXPECT_STR(check(cw, (const char *[]){CW_BASE, "namespace=N", "metricName=M", "dimensionName=a", NULL}),
		   "dimensionValue: dimension value not given");
	EXPECT_STR(check(cw, (const char *[]){CW_BASE, "namespace=N", "metricName=M", "dimensionName=a;b",
					      "dimensionValue=1", NULL}),
		   "dimensionValue: dimensionName and dimensionValue are not matching in size");
	EXPECT_STR(check(cw, (const char *[]){CW_BASE, "namespace=N", "metricName=M", "dimensionName=a",
					      "dimensionValue=1", "metricUnit=Parsecs", NULL}),
		   "metricUnit: metricUnit 'Parsecs' is not one of [Seconds Microseconds Milliseconds Bytes Kilobytes "
		   "Megabytes Gigabytes Terabytes Bits Kilobits Megabits Gigabits Terabits Percent Count Bytes/Second "
		   "Kilobytes/Second Megabytes/Second Gigabytes/Second Terabytes/Second Bits/Second Kilobits/Second "
		   "Megabits/Second Gigabits/Second Terabits/Second Count/Second None]");
	EXPECT_STR(check(cw, (const char *[]){CW_BASE, "expression=e", "metricStatPeriod=0", NULL}),
		   "metricStatPeriod: metricStatPeriod can not be smaller than 1, however, 0 is provided");
	EXPECT_STR(check(cw, (const char *[]){CW_BASE, "expression=e", "metricStatPeriod=7", NULL}),
		   "metricStatPeriod: metricStatPeriod < 60 has to be one of [1, 5, 10, 30], however, 7 is provided");
	EXPECT_STR(check(cw, (const char *[]){CW_BASE, "expression=e", "metricStatPeriod=90", NULL}),
		   "metricStatPeriod: metricStatPeriod >= 60 has to be a multiple of 60, however, 90 is provided");
	EXPECT_STR(check(cw, (const char *[]){CW_BASE, "expression=e", "metricStatPeriod=60",
					      "metricCollectionTime=90", NULL}),
		   "metricCollectionTime: metricCollectionTime must be greater than 0 and a multiple of "
		   "metricStatPeriod(60), 90 is given");
	EXPECT_STR(check(cw, (const char *[]){CW_BASE, "expression=e", "metricStat=p99.9", NULL}), "");
	EXPECT_STR(check(cw, (const char *[]){CW_BASE, "expression=e", "metricStat=tm(10%:90%)", NULL}), "");
	EXPECT(strstr(check(cw, (const char *[]){CW_BASE, "expression=e", "metricStat=Avg", NULL}), "metricStat:") != NULL);
	EXPECT_STR(check(cw, (const char *[]){"minMetricValue=0", "awsRegion=eu-west-1", "expression=e", NULL}),
		   "targetMetricValue: missing required parameter \"targetMetricValue\"");
	EXPECT_STR(check(cw, (const char *[]){"targetMetricValue=1", "awsRegion=eu-west-1", "expression=e", NULL}),
		   "minMetricValue: missing required parameter \"minMetricValue\"");
	EXPECT_STR(check(cw, (const char *[]){CW_BASE, "expression=e", "awsAccessKeyID=AKIA", NULL}),
		   "awsSecretAccessKey: awsSecretAccessKey not found");
	EXPECT_STR(check(cw, (const char *[]){CW_BASE, "expression=e", "podIdentity=gcp", NULL}),
		   "podIdentity: invalid value \"gcp\", must be one of: aws, aws-eks, none");
	EXPECT_STR(check(cw, (const char *[]){CW_BASE, "expression=e", "region=eu-west-1", NULL}),
		   "region: unknown parameter \"region\" (did you mean \"awsRegion\"?)");
	/* every error at once, not only the first */
	check(cw, (const char *[]){"targetMetricValue=x", "awsRegion=eu-wset-1", "metricStatPeriod=7", NULL});
	EXPECT_STR(last.errs, "targetMetricValue: invalid number \"x\"\n"
			      "minMetricValue: missing required parameter \"minMetricValue\"\n");
	check(cw, (const char *[]){"targetMetricValue=2", "minMetricValue=0", "metricStatPeriod=7", "metricStat=Avg",
				   "awsRegion=eu-wset-1", NULL});
	EXPECT_STR(last.errs, "namespace: namespace not given\nmetricName: metric name not given\n"
			      "dimensionName: dimension name not given\ndimensionValue: dimension value not given\n"
			      "metricStatPeriod: metricStatPeriod < 60 has to be one of [1, 5, 10, 30], however, 7 is "
			      "provided\nmetricStat: 'Avg' is not a statistic (SampleCount, Average, Sum, Minimum, "
			      "Maximum, or an extended one like p95)\nawsRegion: unknown region \"eu-wset-1\" (did you "
			      "mean eu-west-1?)\n");
	/* CloudWatch's metricName is its own key, not KEDA's removed one */
	check(cw, (const char *[]){CW_BASE, "namespace=N", "metricName=M", "dimensionName=a", "dimensionValue=1", NULL});
	EXPECT_STR(last.warns, "");
	/* every auth name a TriggerAuthentication may carry is accepted */
	EXPECT_STR(check(cw, (const char *[]){CW_BASE, "expression=e", "podIdentity=aws", "roleArn=arn:aws:iam::1:role/r",
					      "externalID=x", "identityOwner=operator", "awsAccountId=123456789012",
					      "ignoreNullValues=false", "metricEndTimeOffset=60", NULL}), "");
}

TEST(sqs_keys_and_queue_urls)
{
	const struct em_scaler *sqs = &em_scaler_aws_sqs_queue;

	EXPECT_STR(check(sqs, (const char *[]){"queueURL=https://sqs.eu-west-1.amazonaws.com/123456789012/orders",
					       "awsRegion=eu-west-1", NULL}), "");
	EXPECT_STR(check(sqs, (const char *[]){"queueURL=orders", "awsRegion=eu-west-1", NULL}), "");
	EXPECT_STR(check(sqs, (const char *[]){"queueURL=https://sqs.eu-west-1.amazonaws.com/orders",
					       "awsRegion=eu-west-1", NULL}),
		   "queueURL: cannot get queueName from queueURL");
	EXPECT_STR(check(sqs, (const char *[]){"queueURL=https://sqs.eu-west-1.amazonaws.com/1/orders/",
					       "awsRegion=eu-west-1", NULL}),
		   "queueURL: cannot get queueName from queueURL");
	EXPECT_STR(check(sqs, (const char *[]){"awsRegion=eu-west-1", NULL}),
		   "queueURL: missing required parameter \"queueURL\"");
	EXPECT_STR(check(sqs, (const char *[]){"queueURL=q", NULL}),
		   "awsRegion: missing required parameter \"awsRegion\" (queueURL names no region)");
	EXPECT_STR(check(sqs, (const char *[]){"queueURL=q", "awsRegion=eu-west-1", "queueLength=5.5", NULL}),
		   "queueLength: invalid integer \"5.5\"");
	EXPECT_STR(check(sqs, (const char *[]){"queueURL=q", "awsRegion=eu-west-1", "scaleOnInFlight=maybe", NULL}),
		   "scaleOnInFlight: invalid boolean \"maybe\" (true or false)");
	EXPECT_STR(check(sqs, (const char *[]){"queueURL=q", "awsRegion=EU WEST", NULL}),
		   "awsRegion: unknown region \"EU WEST\" (not among the 46 regions of the AWS partitions aws, aws-cn, "
		   "aws-us-gov and the ISO ones)");
	EXPECT_STR(check(sqs, (const char *[]){"queueURL=q", "awsRegion=eu-west-1", "podIdentity=none", NULL}),
		   "awsAccessKeyID: awsAccessKeyID not found");
	/* the region of the queue URL when awsRegion is absent (KEDA requires it) */
	EXPECT_STR(check(sqs, (const char *[]){"queueURL=https://sqs.ap-southeast-2.amazonaws.com/1/q", NULL}), "");
	EXPECT_STR(check(sqs, (const char *[]){"queueURL=https://sqs.ap-southeast-9.amazonaws.com/1/q", NULL}),
		   "awsRegion: missing required parameter \"awsRegion\" (queueURL names no region)");
	EXPECT_STR(check(sqs, (const char *[]){"queueLenght=5", "queueURL=https://sqs.eu-west-1.amazonaws.com/1/q", NULL}),
		   "queueLenght: unknown parameter \"queueLenght\" (did you mean \"queueLength\"?)");
	/* KEDA's removed metricName: a warning, not an error */
	EXPECT_STR(check(sqs, (const char *[]){"metricName=x", "queueURL=https://sqs.eu-west-1.amazonaws.com/1/q", NULL}), "");
	EXPECT(strncmp(last.warns, "metricName: ignored: KEDA removed metricName", 44) == 0);
	EXPECT_STR(check(sqs, (const char *[]){"queueURL=q", "awsRegion=eu-west-1", "awsAccessKeyId=AKIA",
					       "awsSecretAccessKey=s", "awsSessionToken=t", "scaleOnDelayed=true",
					       "activationQueueLength=3", "awsEndpoint=http://127.0.0.1:1", NULL}), "");
}

TEST(cloudwatch_window_matches_go_truncate)
{
	/* Expected values computed independently with Python's datetime, counting
	 * from 0001-01-01 as Go's time.Truncate does (now = 2026-11-22T15:02:03Z). */
	static const struct {
		int64_t now_ms, period, offset, coll, start, end;
	} t[] = {
		{1795359723456LL, 300, 0, 300, 1795359300, 1795359600},
		{1795359723000LL, 60, 0, 600, 1795359120, 1795359720},
		{1795359723000LL, 60, 120, 60, 1795359540, 1795359600},
		{1795359723000LL, 1, 0, 0, 1795359723, 1795359723},
		/* 420 s does not divide a day: Go's end is 15:01:00, not 1970-aligned 15:02:00 */
		{1795359723000LL, 420, 0, 420, 1795359240, 1795359660},
		{1795359723000LL, 3600, 0, 3600, 1795356000, 1795359600},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int64_t s, e;
		em_cw_window(t[i].now_ms, t[i].period, t[i].offset, t[i].coll, &s, &e);
		if (s != t[i].start || e != t[i].end)
			TH_FAIL("case %zu: [%lld, %lld], expected [%lld, %lld]", i, (long long)s, (long long)e,
				(long long)t[i].start, (long long)t[i].end);
	}
}
