/* test_httpstrict.c - ambiguous request heads (apiservice/httpstrict): framing, names, values, NULs as libmicrohttpd leaves them. */
#include "harness.h"

#include "apiservice/httpstrict.h"

#define H(n, v) {n, sizeof(n) - 1, v, sizeof(v) - 1}

static const char *check(const char *method, const char *version, const struct em_hdr_view *h, size_t n)
{
	struct em_head_view v = {.method = method, .version = version, .h = h, .n = n};

	return em_http_head_problem(&v);
}

TEST(framing_and_host)
{
	const struct em_hdr_view ok[] = {H("Host", "x"), H("Accept", "*/*")};
	const struct em_hdr_view cl0[] = {H("Host", "x"), H("Content-Length", "0")};
	const struct em_hdr_view clte[] = {H("Host", "x"), H("Content-Length", "5"), H("Transfer-Encoding", "chunked")};
	const struct em_hdr_view cl2[] = {H("Host", "x"), H("content-length", "0"), H("Content-Length", "5")};
	const struct em_hdr_view body[] = {H("Host", "x"), H("Content-Length", "4")};
	const struct em_hdr_view te[] = {H("Host", "x"), H("Transfer-Encoding", "chunked")};
	const struct em_hdr_view xte[] = {H("Host", "x"), H("Transfer-Encoding", "xchunked")};
	const struct em_hdr_view badcl[] = {H("Host", "x"), H("Content-Length", "+5")};
	const struct em_hdr_view host2[] = {H("Host", "x"), H("Host", "y")};

	EXPECT(check("GET", "HTTP/1.1", ok, 2) == NULL);
	EXPECT(check("GET", "HTTP/1.1", cl0, 2) == NULL);
	EXPECT(check("GET", "HTTP/1.0", NULL, 0) == NULL);
	EXPECT_STR(check("GET", "HTTP/1.1", NULL, 0), "HTTP/1.1 request without Host");
	EXPECT_STR(check("GET", "HTTP/1.1", host2, 2), "more than one Host");
	EXPECT_STR(check("GET", "HTTP/1.1", clte, 3), "both Content-Length and Transfer-Encoding");
	EXPECT_STR(check("GET", "HTTP/1.1", cl2, 3), "more than one Content-Length");
	EXPECT_STR(check("GET", "HTTP/1.1", body, 2), "a GET or HEAD request with a body");
	EXPECT_STR(check("HEAD", "HTTP/1.1", te, 2), "a GET or HEAD request with a body");
	EXPECT(check("POST", "HTTP/1.1", te, 2) == NULL);
	EXPECT(check("POST", "HTTP/1.1", body, 2) == NULL);
	EXPECT_STR(check("POST", "HTTP/1.1", xte, 2), "unsupported Transfer-Encoding");
	EXPECT_STR(check("POST", "HTTP/1.1", badcl, 2), "invalid Content-Length");
	EXPECT_STR(check("GET", "HTTP/2.0", ok, 2), "unsupported HTTP version");
}

TEST(names_and_values)
{
	const struct em_hdr_view sp[] = {H("Host", "x"), H("X A", "1")};
	const struct em_hdr_view empty[] = {H("Host", "x"), H("", "1")};
	const struct em_hdr_view cr[] = {H("Host", "x"), H("X-A", "a\rb")};
	const struct em_hdr_view del[] = {H("Host", "x"), H("X-A", "a\x7f")};
	const struct em_hdr_view tab[] = {H("Host", "x"), H("X-A", "a\tb \xc3\xa9")};

	EXPECT_STR(check("GET", "HTTP/1.1", sp, 2), "invalid character in a header name");
	EXPECT_STR(check("GET", "HTTP/1.1", empty, 2), "empty header name");
	EXPECT_STR(check("GET", "HTTP/1.1", cr, 2), "control character (CR, LF or NUL) in a header value");
	EXPECT_STR(check("GET", "HTTP/1.1", del, 2), "control character (CR, LF or NUL) in a header value");
	EXPECT(check("GET", "HTTP/1.1", tab, 2) == NULL);
}

/* The head as libmicrohttpd leaves it: "GET\0/p\0HTTP/1.1\0\0Host\0 x\0\0X-A\0 ab\0\0\0\0". */
TEST(nuls_the_client_sent_are_told_from_libmicrohttpds)
{
	char raw[] = "GET\0/p\0HTTP/1.1\0\0Host\0 x\0\0X-A\0 ab\0\0\0\0";
	size_t len = sizeof(raw) - 1;
	struct em_hdr_view h[2] = {{raw + 17, 4, raw + 23, 1}, {raw + 26, 3, raw + 31, 2}};
	struct em_head_view v = {.method = raw, .version = raw + 7, .raw = raw, .raw_len = len, .uri_end = raw + 7,
				 .h = h, .n = 2};

	EXPECT(em_http_head_problem(&v) == NULL);
	/* "X-A: ab\0cd": the value cut short at the client's NUL */
	char nul[] = "GET\0/p\0HTTP/1.1\0\0Host\0 x\0\0X-A\0 ab\0cd\0\0\0\0";
	struct em_hdr_view hn[2] = {{nul + 17, 4, nul + 23, 1}, {nul + 26, 3, nul + 31, 2}};
	v.raw = v.method = nul;
	v.version = nul + 7;
	v.uri_end = nul + 7;
	v.raw_len = sizeof(nul) - 1;
	v.h = hn;
	EXPECT_STR(em_http_head_problem(&v), "NUL in a header, or obsolete line folding");
	/* a NUL in the request target: the target ended before the version */
	v.raw = NULL;
	v.uri_end = nul + 6;
	EXPECT_STR(em_http_head_problem(&v), "NUL or control character in the request target");
	/* headers stored elsewhere (another libmicrohttpd): no layout to compare */
	struct em_hdr_view far[1] = {H("Host", "x")};
	v.uri_end = NULL;
	v.raw = raw;
	v.raw_len = len;
	v.h = far;
	v.n = 1;
	EXPECT(em_http_head_problem(&v) == NULL);
}
