/* httpstrict.c - refuses ambiguous HTTP request heads that libmicrohttpd 0.9.75 lets through (smuggling, NULs, bodies on GET). */
#include "httpstrict.h"

#include <microhttpd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Header lines held without an allocation; more (a user in many groups
 * sends one X-Remote-Group each) go to the heap: the connection's memory
 * pool (server.connectionMemoryLimit) bounds how many there can be. */
#define STACK_HEADERS 128

/* RFC 9110 token characters (header names). */
static bool tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool name_is(const struct em_hdr_view *h, const char *name)
{
	return h->name_len == strlen(name) && strncasecmp(h->name, name, h->name_len) == 0;
}

static bool inside(const struct em_head_view *v, const char *p, size_t n)
{
	return p >= v->raw && p + n <= v->raw + v->raw_len;
}

/* The bytes [from, to) are lo..hi NULs: the line ends libmicrohttpd
 * replaced (CR LF or a bare LF), and nothing the client sent. */
static bool nuls(const char *from, const char *to, size_t lo, size_t hi)
{
	if (to < from || (size_t)(to - from) < lo || (size_t)(to - from) > hi)
		return false;
	for (const char *p = from; p < to; p++)
		if (*p)
			return false;
	return true;
}

/* Every header where the raw head says it is, with nothing between one
 * line and the next but the line end: no NUL inside a value cutting it
 * short, no obsolete line folding. */
static bool layout_ok(const struct em_head_view *v)
{
	const char *prev_end = v->version + strlen(v->version);
	size_t in = 0;

	for (size_t i = 0; i < v->n; i++)
		in += inside(v, v->h[i].name, v->h[i].name_len) && inside(v, v->h[i].value, v->h[i].value_len);
	if (in == 0 && v->n > 0)
		return true;   /* stored elsewhere (another libmicrohttpd): nothing to compare with */
	if (in != v->n || !inside(v, v->version, 0))
		return false;
	for (size_t i = 0; i < v->n; i++) {
		const struct em_hdr_view *h = &v->h[i];
		const char *colon = h->name + h->name_len;
		if (!nuls(prev_end, h->name, 1, 2) || h->value < colon + 1 || *colon)
			return false;
		for (const char *p = colon + 1; p < h->value; p++)
			if (*p != ' ' && *p != '\t')
				return false;
		prev_end = h->value + h->value_len;
	}
	/* the last line end and the blank line */
	return nuls(prev_end, v->raw + v->raw_len, 2, 4);
}

const char *em_http_head_problem(const struct em_head_view *v)
{
	const struct em_hdr_view *cl = NULL, *te = NULL;
	size_t hosts = 0;
	bool http11;

	if (strcmp(v->version, "HTTP/1.1") != 0 && strcmp(v->version, "HTTP/1.0") != 0)
		return "unsupported HTTP version";
	http11 = v->version[7] == '1';
	if (v->uri_end && v->uri_end != v->version)
		return "NUL or control character in the request target";
	for (size_t i = 0; i < v->n; i++) {
		const struct em_hdr_view *h = &v->h[i];
		if (h->name_len == 0)
			return "empty header name";
		for (size_t k = 0; k < h->name_len; k++)
			if (!tchar((unsigned char)h->name[k]))
				return "invalid character in a header name";
		for (size_t k = 0; k < h->value_len; k++) {
			unsigned char c = (unsigned char)h->value[k];
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return "control character (CR, LF or NUL) in a header value";
		}
		if (name_is(h, "Host"))
			hosts++;
		else if (name_is(h, "Content-Length")) {
			if (cl)
				return "more than one Content-Length";
			cl = h;
		} else if (name_is(h, "Transfer-Encoding")) {
			if (te)
				return "more than one Transfer-Encoding";
			te = h;
		}
	}
	if (v->raw && !layout_ok(v))
		return "NUL in a header, or obsolete line folding";
	if (hosts > 1 || (http11 && hosts == 0))
		return http11 && hosts == 0 ? "HTTP/1.1 request without Host" : "more than one Host";
	if (cl) {
		if (cl->value_len == 0 || cl->value_len > 18)
			return "invalid Content-Length";
		for (size_t k = 0; k < cl->value_len; k++)
			if (cl->value[k] < '0' || cl->value[k] > '9')
				return "invalid Content-Length";
	}
	if (te && cl)
		return "both Content-Length and Transfer-Encoding";
	if (te && !(te->value_len == 7 && strncasecmp(te->value, "chunked", 7) == 0))
		return "unsupported Transfer-Encoding";
	if (strcmp(v->method, "GET") == 0 || strcmp(v->method, "HEAD") == 0) {
		bool body = te != NULL;
		for (size_t k = 0; cl && k < cl->value_len && !body; k++)
			body = cl->value[k] != '0';
		if (body)
			return "a GET or HEAD request with a body";
	}
	return NULL;
}

struct collect {
	struct em_hdr_view stack[STACK_HEADERS];
	struct em_hdr_view *h;   /* stack, or a heap copy once more came */
	size_t n, cap;
	bool oom;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
				      const char *value, size_t value_size)
{
	struct collect *co = cls;

	(void)kind;
	if (co->n == co->cap) {
		struct em_hdr_view *n = malloc(2 * co->cap * sizeof(*n));
		if (!n) {
			co->oom = true;
			return MHD_NO;
		}
		memcpy(n, co->h, co->n * sizeof(*n));
		if (co->h != co->stack)
			free(co->h);
		co->h = n;
		co->cap *= 2;
	}
	co->h[co->n++] = (struct em_hdr_view){key, key_size, value ? value : "", value ? value_size : 0};
	return MHD_YES;
}

const char *em_http_mhd_head_problem(struct MHD_Connection *c, const char *method, const char *version,
				     const char *uri_end)
{
	const union MHD_ConnectionInfo *hs = MHD_get_connection_info(c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
	struct collect co = {.n = 0, .cap = STACK_HEADERS};
	struct em_head_view v = {.method = method, .version = version, .uri_end = uri_end};
	const char *why;

	co.h = co.stack;
	MHD_get_connection_values_n(c, MHD_HEADER_KIND, collect_header, &co);
	if (co.oom) {
		why = "out of memory reading the header lines";
		goto out;
	}
	v.h = co.h;
	v.n = co.n;
	/* libmicrohttpd 0.9.75 passes the method as the start of the head in
	 * its read buffer, and header_size as the head's length */
	if (hs && hs->header_size > 0) {
		v.raw = method;
		v.raw_len = hs->header_size;
	}
	why = em_http_head_problem(&v);
out:
	if (co.h != co.stack)
		free(co.h);
	return why;
}
