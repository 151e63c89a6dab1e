/* test_text.c - the shared text helpers: hex digits, percent-decoding, string vectors. */
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
