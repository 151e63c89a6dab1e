/* test_json.c - the bounded JSON reader (adapter/util/json): grammar, decoding, skipping, depth, error texts. */
#include "harness.h"

#include "adapter/util/json.h"

/* Whether the whole text reads as one JSON document. */
static int valid(const char *s)
{
	struct em_json j;

	em_json_init(&j, s, strlen(s));
	return em_json_skip(&j) == 0 && em_json_end(&j) == 0;
}

TEST(grammar_accepts_what_json_allows)
{
	const char *ok[] = {
		"0", "-0", "1.5e-3", "-12E+2", "\"\"", "\"a\\u00e9\\ud83d\\ude00\\n\\/\"", "true", "false", "null",
		"[]", "{}", " [ 1 , [ ] , { \"a\" : [ null ] } ] ", "{\"\":{}}", "\"\xc3\xa9\"", "[[[[[[[[[[]]]]]]]]]]",
	};
	const char *bad[] = {
		"", " ", "01", "1.", ".5", "-", "1e", "+1", "[1,]", "[,1]", "{\"a\"}", "{\"a\":}", "{a:1}", "{\"a\":1,}",
		"[1 2]", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00x\"", "\"\\u0000\"", "\"a\x01\"", "\"\xff\"",
		"\"\xc0\xaf\"", "tru", "nul", "[", "]", "{}}", "[] []", "\"abc", "NaN", "Infinity", "[1]x",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!valid(ok[i]))
			TH_FAIL("rejected %s", ok[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (valid(bad[i]))
			TH_FAIL("accepted %s", bad[i]);
}

TEST(depth_is_bounded)
{
	char deep[2 * (EM_JSON_MAX_DEPTH + 1) + 1];
	struct em_json j;
	char msg[96];

	memset(deep, '[', EM_JSON_MAX_DEPTH);
	memset(deep + EM_JSON_MAX_DEPTH, ']', EM_JSON_MAX_DEPTH);
	deep[2 * EM_JSON_MAX_DEPTH] = '\0';
	EXPECT(valid(deep));
	memset(deep, '[', EM_JSON_MAX_DEPTH + 1);
	memset(deep + EM_JSON_MAX_DEPTH + 1, ']', EM_JSON_MAX_DEPTH + 1);
	deep[2 * (EM_JSON_MAX_DEPTH + 1)] = '\0';
	em_json_init(&j, deep, strlen(deep));
	EXPECT_INT(em_json_skip(&j), -1);
	em_json_error(&j, msg, sizeof(msg));
	EXPECT_STR(msg, "invalid JSON at byte 64: nested too deeply");
}

TEST(walks_members_and_elements_skipping_the_rest)
{
	const char *doc = "{\"skip\":{\"x\":[1,{\"y\":2}]},\"s\":\"a\\tb\",\"n\":-2.5e1,\"arr\":[true,\"z\",3],\"k\\u0041\":null}";
	struct em_json j;
	char key[16], s[16];
	double d = 0;
	int seen = 0, elems = 0;

	em_json_init(&j, doc, strlen(doc));
	EXPECT_INT(em_json_enter(&j, EM_JSON_OBJECT), 0);
	while (em_json_member(&j, key, sizeof(key)) == 1) {
		if (strcmp(key, "s") == 0) {
			EXPECT_INT(em_json_double(&j, &d), -1);       /* wrong type: stays unread */
			EXPECT(!em_json_failed(&j));
			EXPECT_INT(em_json_string(&j, s, sizeof(s), NULL), 0);
			EXPECT_STR(s, "a\tb");
			seen++;
		} else if (strcmp(key, "n") == 0) {
			EXPECT_INT(em_json_double(&j, &d), 0);
			EXPECT_DBL(d, -25, 0);
			seen++;
		} else if (strcmp(key, "arr") == 0) {
			EXPECT_INT(em_json_enter(&j, EM_JSON_ARRAY), 0);
			while (em_json_element(&j) == 1)
				elems++;              /* elements left unread are skipped */
			seen++;
		} else if (strcmp(key, "kA") == 0) {
			EXPECT_INT(em_json_peek(&j), EM_JSON_NULL);
			seen++;
		}
	}
	EXPECT(!em_json_failed(&j));
	EXPECT_INT(em_json_end(&j), 0);
	EXPECT_INT(seen, 4);
	EXPECT_INT(elems, 3);
}

TEST(leave_skips_the_rest_of_a_container)
{
	const char *doc = "[[1,2,[3]],4]";
	struct em_json j;
	double d;

	em_json_init(&j, doc, strlen(doc));
	EXPECT_INT(em_json_enter(&j, EM_JSON_ARRAY), 0);
	EXPECT_INT(em_json_element(&j), 1);
	EXPECT_INT(em_json_enter(&j, EM_JSON_ARRAY), 0);
	EXPECT_INT(em_json_element(&j), 1);
	EXPECT_INT(em_json_double(&j, &d), 0);
	EXPECT_INT(em_json_leave(&j), 0);
	EXPECT_INT(em_json_element(&j), 1);
	EXPECT_INT(em_json_double(&j, &d), 0);
	EXPECT_DBL(d, 4, 0);
	EXPECT_INT(em_json_element(&j), 0);
	EXPECT_INT(em_json_end(&j), 0);
}

TEST(strings_are_bounded_and_errors_quote_nothing)
{
	const char *doc = "[\"0123456789\",\"secret-body-text\x01\"]";
	struct em_json j;
	char small[8], msg[96], *dup;

	em_json_init(&j, doc, strlen(doc));
	EXPECT_INT(em_json_enter(&j, EM_JSON_ARRAY), 0);
	EXPECT_INT(em_json_element(&j), 1);
	EXPECT_INT(em_json_string(&j, small, sizeof(small), NULL), -1);
	EXPECT(em_json_failed(&j));
	em_json_error(&j, msg, sizeof(msg));
	EXPECT_STR(msg, "invalid JSON at byte 1: string too long");

	em_json_init(&j, doc, strlen(doc));
	EXPECT_INT(em_json_enter(&j, EM_JSON_ARRAY), 0);
	EXPECT_INT(em_json_element(&j), 1);
	dup = em_json_string_dup(&j, 10);
	EXPECT_STR(dup, "0123456789");
	free(dup);
	EXPECT_INT(em_json_element(&j), 1);
	EXPECT(em_json_string_dup(&j, 100) == NULL);
	em_json_error(&j, msg, sizeof(msg));
	EXPECT_STR(msg, "invalid JSON at byte 31: control character in a string");
	EXPECT(strstr(msg, "secret") == NULL);
}

TEST(long_keys_read_as_empty)
{
	const char *doc = "{\"a-very-long-key-name\":1,\"b\":2}";
	struct em_json j;
	char key[8];
	int n = 0;

	em_json_init(&j, doc, strlen(doc));
	EXPECT_INT(em_json_enter(&j, EM_JSON_OBJECT), 0);
	EXPECT_INT(em_json_member(&j, key, sizeof(key)), 1);
	EXPECT_STR(key, "");
	EXPECT_INT(em_json_member(&j, key, sizeof(key)), 1);
	EXPECT_STR(key, "b");
	while (em_json_member(&j, key, sizeof(key)) == 1)
		n++;
	EXPECT_INT(n, 0);
	EXPECT_INT(em_json_end(&j), 0);
}

TEST(a_huge_document_of_tiny_values_is_walked_without_memory)
{
	/* the hostile Prometheus answer's shape: millions of empty arrays */
	size_t n = 3000000, len = 3 + 3 * n;
	char *doc = malloc(len + 1);
	struct em_json j;
	size_t count = 0;

	if (!doc) {
		TH_FAIL("out of memory");
		return;
	}
	doc[0] = '[';
	for (size_t i = 0; i < n; i++)
		memcpy(doc + 1 + 3 * i, "[],", 3);
	doc[len - 2] = '0';
	doc[len - 1] = ']';
	doc[len] = '\0';
	em_json_init(&j, doc, len);
	EXPECT_INT(em_json_enter(&j, EM_JSON_ARRAY), 0);
	while (em_json_element(&j) == 1)
		count++;
	EXPECT_INT(count, n + 1);
	EXPECT_INT(em_json_end(&j), 0);
	free(doc);
}

TEST(check_counts_values_before_a_tree_is_built)
{
	EXPECT_INT(em_json_check("{\"a\":[1,2,{\"b\":null}]}", 22, 6, NULL, 0), 0);   /* object, array, 1, 2, object, null */
	EXPECT_INT(em_json_check("{\"a\":[1,2,{\"b\":null}]}", 22, 5, NULL, 0), -1);
	EXPECT_INT(em_json_check("[[],[],[]]", 10, 4, NULL, 0), 0);
	EXPECT_INT(em_json_check("[[],[],[]]", 10, 3, NULL, 0), -1);
	EXPECT_INT(em_json_check("[1,]", 4, 100, NULL, 0), -1);
	{
		char why[64];
		EXPECT_INT(em_json_check("[[],[],[]]", 10, 3, why, sizeof(why)), -1);
		EXPECT_STR(why, "more than 3 values");
		EXPECT_INT(em_json_check("[1,]", 4, 100, why, sizeof(why)), -1);
		EXPECT(strncmp(why, "invalid JSON at byte 3", 22) == 0);
	}
}
