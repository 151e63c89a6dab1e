/* test_strbuf.c - string building and JSON string escaping as Go's encoding/json does it. */
#include "harness.h"

#include "adapter/util/strbuf.h"

static void expect_json(const char *in, const char *want)
{
	struct em_strbuf sb;

	em_sb_init(&sb);
	em_sb_json_str(&sb, in);
	EXPECT_STR(sb.buf, want);
	em_sb_free(&sb);
}

TEST(json_escaping)
{
	expect_json("plain", "\"plain\"");
	expect_json("", "\"\"");
	expect_json(NULL, "\"\"");
	expect_json("a\"b\\c", "\"a\\\"b\\\\c\"");
	expect_json("x\ny\tz\r", "\"x\\ny\\tz\\r\"");
	expect_json("\x01\x1f", "\"\\u0001\\u001f\"");
	expect_json("<a&b>", "\"\\u003ca\\u0026b\\u003e\"");
	expect_json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
	expect_json("\xff", "\"\\ufffd\"");
	expect_json("a\xc3", "\"a\\ufffd\"");            /* cut in the middle of a character */
	expect_json("\xc0\xaf", "\"\\ufffd\\ufffd\"");   /* overlong */
	expect_json("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""); /* surrogate */
	expect_json("\xe2\x80\xa8\xe2\x80\xa9", "\"\\u2028\\u2029\"");
}

TEST(printf_and_steal)
{
	struct em_strbuf sb;
	char *s;

	em_sb_init(&sb);
	for (int i = 0; i < 1000; i++)
		em_sb_printf(&sb, "%d,", i);
	EXPECT_INT(sb.len, strlen(sb.buf));
	EXPECT(strncmp(sb.buf, "0,1,2,", 6) == 0);
	EXPECT(strstr(sb.buf, ",999,") != NULL);
	s = em_sb_steal(&sb);
	EXPECT(sb.buf == NULL && sb.len == 0);
	free(s);
	em_sb_init(&sb);
	s = em_sb_steal(&sb);
	EXPECT_STR(s, "");
	free(s);
}
