/* text.h - small text helpers parsers share: hex digits, percent-decoding, DNS labels, string vectors, edit distance. */
#ifndef EM_TEXT_H
#define EM_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The value of hex digit c (either case), or -1. */
int em_hexval(int c);

/* Percent-decodes s[0..n) into out (room for n bytes; out may be s: the
 * text only shrinks). A '%' not followed by two hex digits is copied as it
 * is; with keep_nul, "%00" is too (a NUL would silently cut a C string).
 * Returns the decoded length; *bad (when non-NULL) gets how many escapes
 * were not decodable. out is not NUL-terminated. */
size_t em_percent_decode(const char *s, size_t n, char *out, bool keep_nul, size_t *bad);

/* True when s is a DNS-1123 label: 1-63 of [a-z0-9-], alphanumeric at both
 * ends (Kubernetes namespaces, Service names). */
bool em_dns1123_label(const char *s);

/* FNV-1a of a string: for in-memory hash tables (not for anything an
 * attacker could flood: label sets and metric names come from us). */
uint32_t em_hash_str(const char *s);

/* Appends a copy of s to the vector *v of *n strings. 0, or -1 out of memory
 * (the vector is then unchanged). */
int em_strv_push(char ***v, size_t *n, const char *s);

/* The optimal string alignment distance of a and b (edits of one character,
 * a transposition of neighbours counting once), ASCII case ignored; any
 * value above max once it is certain to exceed it (strings over 64 bytes
 * always). For "did you mean" suggestions. */
size_t em_text_distance(const char *a, const char *b, size_t max);

#endif
