/* test_text.c - the shared text helpers: hex digits, percent-decoding, string vectors, edit distance. */
#include "harness.h"

#include "adapter/util/text.h"

TEST(hex_digits)
{
	EXPECT_INT(em_hexval('0'), 0);
	EXPECT_INT(em_hexval('9'), 9);
	EXPECT_INT(em_hexval('a'), 10);
	EXPECT_INT(em_hexval('F'), 15);
	EXPECT_INT(em_hexval('g'), -1);
	EXPECT_INT(em_hexval('\0'), -1);
	EXPECT_INT(em_hexval(0xc3), -1);
}

TEST(percent_decoding)
{
	static const struct {
		const char *in;
		bool keep_nul;
		const char *out;
		size_t outlen, bad;
	} cases[] = {
		{"a%20b", false, "a b", 3, 0},
		{"%41%62", false, "Ab", 2, 0},
		{"100%", false, "100%", 4, 1},          /* cut short: copied */
		{"%4", false, "%4", 2, 1},
		{"%zz%2F", false, "%zz/", 4, 1},
		{"a+b", false, "a+b", 3, 0},            /* '+' is no space here */
		{"x%00y", true, "x%00y", 5, 0},         /* kept: a NUL would cut the C string */
		{"x%00y", false, "x\0y", 3, 0},
		{"", false, "", 0, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[32];
		size_t bad = 99, n = em_percent_decode(cases[i].in, strlen(cases[i].in), out, cases[i].keep_nul, &bad);
		if (n != cases[i].outlen || memcmp(out, cases[i].out, n) != 0 || bad != cases[i].bad)
			TH_FAIL("\"%s\": %zu bytes \"%.*s\", %zu bad", cases[i].in, n, (int)n, out, bad);
	}
	{
		char inplace[] = "/apis/a%2Fb%00";
		size_t n = em_percent_decode(inplace, strlen(inplace), inplace, true, NULL);
		inplace[n] = '\0';
		EXPECT_STR(inplace, "/apis/a/b%00");
	}
}

TEST(string_vectors)
{
	char **v = NULL;
	size_t n = 0;

	EXPECT_INT(em_strv_push(&v, &n, "one"), 0);
	EXPECT_INT(em_strv_push(&v, &n, ""), 0);
	EXPECT_INT(n, 2);
	EXPECT_STR(v[0], "one");
	EXPECT_STR(v[1], "");
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

TEST(edit_distance_for_suggestions)
{
	static const struct {
		const char *a, *b;
		size_t max, d;
	} cases[] = {
		{"prometheus", "prometheus", 3, 0},
		{"promethus", "prometheus", 3, 1},      /* a letter left out */
		{"porm", "prom", 3, 1},                 /* neighbours swapped count once */
		{"Cron", "cron", 1, 0},                 /* case is ignored */
		{"redis-stream", "redis-streams", 3, 1},
		{"aws-sqs", "aws-sqs-queue", 3, 4},     /* too far: max + 1 */
		{"xyz", "cron", 1, 2},
		{"", "ab", 3, 2},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t d = em_text_distance(cases[i].a, cases[i].b, cases[i].max);
		if (d != cases[i].d)
			TH_FAIL("%s ~ %s (max %zu): %zu, expected %zu", cases[i].a, cases[i].b, cases[i].max, d, cases[i].d);
	}
}
