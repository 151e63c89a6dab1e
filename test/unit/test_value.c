/* test_value.c - checking numbers from backends (scalers/value.c): values served, counts, sums, number text. */
#include "harness.h"

#include <math.h>

#include "scalers/scaler.h"

TEST(values_served_are_finite_bounded_and_counts_not_negative)
{
	struct em_err e;

	EXPECT_INT(em_value_check(0, EM_VALUE_COUNT, "v", &e), 0);
	EXPECT_INT(em_value_check(EM_VALUE_MAX, EM_VALUE_COUNT, "v", &e), 0);
	EXPECT_INT(em_value_check(-2.5, EM_VALUE_GAUGE, "v", &e), 0);      /* the Quantity's documented clamp */
	EXPECT_INT(em_value_check(NAN, EM_VALUE_GAUGE, "the value", &e), -1);
	EXPECT_STR(e.msg, "the value is NaN");
	EXPECT_INT(e.kind, EM_E_UNAVAILABLE);
	EXPECT_INT(em_value_check(-INFINITY, EM_VALUE_GAUGE, "v", &e), -1);
	EXPECT_STR(e.msg, "v is -Inf");
	EXPECT_INT(em_value_check(1.797e308, EM_VALUE_GAUGE, "the CloudWatch value", &e), -1);
	EXPECT_STR(e.msg, "the CloudWatch value is 1.797e+308, beyond the largest value served (2^53)");
	EXPECT_INT(em_value_check(-1e300, EM_VALUE_GAUGE, "v", &e), -1);
	EXPECT_INT(em_value_check(-1, EM_VALUE_COUNT, "the count", &e), -1);
	EXPECT_STR(e.msg, "the count is -1, but a count cannot be negative");
}

TEST(counts_parse_digits_only_up_to_2_pow_53)
{
	struct em_err e;
	int64_t v = -7;

	EXPECT_INT(em_count_parse("0", 1, "n", &v, &e), 0);
	EXPECT_INT(v, 0);
	EXPECT_INT(em_count_parse("9007199254740992", 16, "n", &v, &e), 0);
	EXPECT_INT(v, 9007199254740992LL);
	EXPECT_INT(em_count_parse("9007199254740993", 16, "n", &v, &e), -1);
	EXPECT_STR(e.msg, "n is 9007199254740993, beyond the largest value served (2^53)");
	EXPECT_INT(em_count_parse("9223372036854775807", 19, "ApproximateNumberOfMessages", &v, &e), -1);
	EXPECT_STR(e.msg, "ApproximateNumberOfMessages is 9223372036854775807, beyond the largest value served (2^53)");
	EXPECT_INT(em_count_parse("99999999999999999999999999999", 29, "n", &v, &e), -1);
	EXPECT_INT(em_count_parse("-5", 2, "n", &v, &e), -1);
	EXPECT_STR(e.msg, "n is -5, but a count cannot be negative");
	EXPECT_INT(em_count_parse("", 0, "n", &v, &e), -1);
	EXPECT_STR(e.msg, "n is , not a count (digits only)");
	EXPECT_INT(em_count_parse("1e3", 3, "n", &v, &e), -1);
	EXPECT_INT(em_count_parse(" 1", 2, "n", &v, &e), -1);
	EXPECT_INT(em_count_parse("+1", 2, "n", &v, &e), -1);
	EXPECT_INT(em_count_parse("-", 1, "n", &v, &e), -1);
	/* the text is quoted escaped, and only up to n */
	EXPECT_INT(em_count_parse("1\n2\"x", 5, "n", &v, &e), -1);
	EXPECT_STR(e.msg, "n is 1\\n2\\\"x, not a count (digits only)");
	EXPECT_INT(em_count_parse("12345", 2, "n", &v, &e), 0);
	EXPECT_INT(v, 12);
}

TEST(integer_counts_judged_exactly)
{
	struct em_err e;

	EXPECT_INT(em_count_check(0, "c", &e), 0);
	EXPECT_INT(em_count_check((int64_t)EM_VALUE_MAX, "c", &e), 0);
	/* as a double 2^53 + 1 would be 2^53 and pass */
	EXPECT_INT(em_count_check((int64_t)EM_VALUE_MAX + 1, "messages", &e), -1);
	EXPECT_STR(e.msg, "messages is 9007199254740993, beyond the largest value served (2^53)");
	EXPECT_INT(em_count_check(-1, "messages", &e), -1);
	EXPECT_STR(e.msg, "messages is -1, but a count cannot be negative");
	EXPECT_INT(em_count_check(INT64_MIN, "m", &e), -1);
}

TEST(count_sums_never_overflow)
{
	struct em_err e;
	int64_t acc = 0;

	EXPECT_INT(em_count_add(&acc, 5, "s", &e), 0);
	EXPECT_INT(em_count_add(&acc, (int64_t)EM_VALUE_MAX - 5, "s", &e), 0);
	EXPECT_INT(acc, (int64_t)EM_VALUE_MAX);
	EXPECT_INT(em_count_add(&acc, 1, "SQS queue attributes", &e), -1);
	EXPECT_STR(e.msg, "SQS queue attributes: the sum of the counts is beyond the largest value served (2^53)");
	EXPECT_INT(acc, (int64_t)EM_VALUE_MAX);
	acc = INT64_MAX;
	EXPECT_INT(em_count_add(&acc, INT64_MAX, "s", &e), -1);
	acc = 0;
	EXPECT_INT(em_count_add(&acc, -1, "s", &e), -1);
}

TEST(number_text_as_backends_write_it)
{
	double v = 0;

	EXPECT_INT(em_number_parse("42.5", 4, &v), 0);
	EXPECT_DBL(v, 42.5, 0);
	EXPECT_INT(em_number_parse("-1e-3", 5, &v), 0);
	EXPECT_DBL(v, -0.001, 1e-18);
	EXPECT_INT(em_number_parse(".5", 2, &v), 0);
	EXPECT_INT(em_number_parse("NaN", 3, &v), 0);
	EXPECT(isnan(v));
	EXPECT_INT(em_number_parse("+Inf", 4, &v), 0);
	EXPECT(isinf(v) && v > 0);
	EXPECT_INT(em_number_parse("-Infinity", 9, &v), 0);
	EXPECT(isinf(v) && v < 0);
	EXPECT_INT(em_number_parse("1e999", 5, &v), 0);
	EXPECT(isinf(v));
	const char *bad[] = {"", " 1", "1 ", "0x10", "-0x1p3", "1,5", "abc", "nan(123)", "infinit", "1e", "--1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (em_number_parse(bad[i], strlen(bad[i]), &v) == 0)
			TH_FAIL("accepted \"%s\"", bad[i]);
	EXPECT_INT(em_number_parse("12\0" "3", 4, &v), -1);
}
