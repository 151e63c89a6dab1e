/* httpstrict.h - refuses ambiguous HTTP request heads that libmicrohttpd 0.9.75 lets through (smuggling, NULs, bodies on GET). */
#ifndef EM_HTTPSTRICT_H
#define EM_HTTPSTRICT_H

#include <stddef.h>

/* libmicrohttpd 0.9.75 uses Transfer-Encoding and ignores a Content-Length
 * beside it, takes the first of two different Content-Lengths, waits for
 * ever for the body of an unknown Transfer-Encoding, folds obsolete line
 * continuations, and cuts a header value at a NUL without a word. Another
 * parser in front (a proxy) may read such a request otherwise: the bytes
 * left over are then answered as a second request. Every such head gets
 * a 400 and the connection is closed. */

/* One header as libmicrohttpd stored it. */
struct em_hdr_view {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/* A request head as libmicrohttpd left it after parsing. */
struct em_head_view {
	const char *method;
	const char *version;            /* "HTTP/1.1" */
	/* The head's bytes in libmicrohttpd's read buffer (from the method to
	 * the blank line, line ends and the colons after names replaced by
	 * NULs), where name and value point: the NULs it leaves tell a NUL the
	 * client sent from its own. NULL: not checked. */
	const char *raw;
	size_t raw_len;
	/* Just past the NUL that ends the request target as first parsed (the
	 * URI log callback's uri + strlen + 1): the version when the target
	 * held no NUL; the target itself when it held a control character.
	 * NULL: not checked. */
	const char *uri_end;
	const struct em_hdr_view *h;    /* in the order received */
	size_t n;
};

/* NULL when the head is unambiguous, else why it is refused (for a 400). */
const char *em_http_head_problem(const struct em_head_view *v);

/* The same for the request libmicrohttpd is handing to an access handler
 * (its first call: method and version as passed to it; uri_end as above). */
struct MHD_Connection;
const char *em_http_mhd_head_problem(struct MHD_Connection *c, const char *method, const char *version,
				     const char *uri_end);

#endif
