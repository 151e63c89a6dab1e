/* json.h - a bounded JSON reader: walks a document in place, value by value, building no tree (an answer costs what is kept). */
#ifndef EM_JSON_H
#define EM_JSON_H

#include <stdbool.h>
#include <stddef.h>

/* Backends' answers are parsed with this reader, never into a tree: a tree
 * costs tens of bytes per value, so a body of tiny values ("[[],[],..]")
 * costs 30 times its size. The reader allocates nothing; nesting deeper
 * than this is an error. */
#define EM_JSON_MAX_DEPTH 64

enum em_json_type {
	EM_JSON_NONE = 0,     /* no value here: an error, or the end of the input */
	EM_JSON_OBJECT,
	EM_JSON_ARRAY,
	EM_JSON_STRING,
	EM_JSON_NUMBER,
	EM_JSON_TRUE,
	EM_JSON_FALSE,
	EM_JSON_NULL,
};

struct em_json {
	const char *start, *p, *end;
	int depth;
	bool pending;                       /* a member's or element's value is not read yet */
	bool first[EM_JSON_MAX_DEPTH + 1];  /* no member or element read yet at this depth */
	char open[EM_JSON_MAX_DEPTH + 1];   /* '{' or '[' at each depth */
	size_t values;                      /* values read (or skipped) so far */
	const char *error;                  /* the first syntax error (static text) */
	size_t error_at;                    /* its byte offset */
};

/* Reading: peek at the type of the next value, then consume it with one of
 * enter (objects, arrays), string, number/double, skip (anything). Inside
 * an object, em_json_member() steps to each member's value; inside an
 * array, em_json_element() to each element; a value not consumed when the
 * next one is asked for is skipped (and still checked). Once a syntax error
 * is found every call fails; a value of another type than asked for fails
 * (-1) without an error and stays unread. */
void em_json_init(struct em_json *j, const char *buf, size_t len);
enum em_json_type em_json_peek(struct em_json *j);
/* Enters the object or array (t) that is the next value. 0 or -1. */
int em_json_enter(struct em_json *j, enum em_json_type t);
/* In an object: 1 with the next member's key decoded into key (cap bytes;
 * a longer key reads as "", which no caller looks for), the reader at its
 * value; 0 at the object's end (the object is then left); -1 on error. */
int em_json_member(struct em_json *j, char *key, size_t cap);
/* In an array: 1 when an element follows (the reader at it), 0 at the
 * array's end (left), -1 on error. */
int em_json_element(struct em_json *j);
/* Skips the next value whole, checking it. 0 or -1. */
int em_json_skip(struct em_json *j);
/* Skips the rest of the object or array being read and leaves it. 0 or -1. */
int em_json_leave(struct em_json *j);
/* The next value as a string, decoded into out (cap bytes, NUL-terminated),
 * *len (may be NULL) its length. -1 when it is no string, has a NUL, or
 * does not fit (then a syntax-level error: "string too long"). */
int em_json_string(struct em_json *j, char *out, size_t cap, size_t *len);
/* The same, malloc'd, for strings up to max bytes; NULL on error or out of
 * memory (then j->error is "out of memory"). */
char *em_json_string_dup(struct em_json *j, size_t max);
/* The next value as a number: its text, checked against JSON's grammar. */
int em_json_number(struct em_json *j, const char **text, size_t *len);
/* The same converted to a double (may be +-Inf when out of range: callers
 * check values with em_value_check). */
int em_json_double(struct em_json *j, double *out);
/* Only whitespace is left. 0 or -1. */
int em_json_end(struct em_json *j);
/* Checks that buf[0..len) is one JSON document of at most max_values
 * values: what a caller that must hand a document to a tree-building
 * library (jansson) checks first, so the tree stays small. 0, or -1 with
 * why (when not NULL) saying where the syntax failed or that there were
 * too many values, never quoting the text. */
int em_json_check(const char *buf, size_t len, size_t max_values, char *why, size_t cap);
/* Whether a syntax error (or out of memory) was found. */
static inline bool em_json_failed(const struct em_json *j)
{
	return j->error != NULL;
}
/* "invalid JSON at byte N: <what>": never a byte of the input, so no
 * message quotes what a backend sent. */
void em_json_error(const struct em_json *j, char *out, size_t cap);

#endif
