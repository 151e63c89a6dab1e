/* aws_parse.h - small pure helpers for AWS answers and requests: errors, XML, times, forms, token files. */
#ifndef EM_AWS_PARSE_H
#define EM_AWS_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scalers/scaler.h"

/* Extracts the AWS error code and message of a failed answer, whatever the
 * protocol: JSON `{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":..}`
 * (the part after '#' or ':' is the code), the `x-amzn-query-error: Code;Sender`
 * header, or XML `<Error><Code>..</Code><Message>..</Message>`. Falls back to
 * "HTTP <status>". code and msg are always NUL-terminated. */
void em_aws_parse_error(long status, const char *body, size_t len, const char *query_error_header,
			char *code, size_t ccap, char *msg, size_t mcap);

/* The message is an excerpt (em_excerpt): scrubbed of the secrets in scope,
 * escaped, cut. A JSON body is read with the bounded reader. */

/* The counts of a GetQueueAttributes answer (JSON protocol); -1: absent. */
struct em_sqs_attrs {
	int64_t visible, in_flight, delayed;
};
/* Reads an answer's ApproximateNumberOfMessages{,NotVisible,Delayed}, each
 * a checked count (em_count_parse). -1 with err (EM_E_UNAVAILABLE) for a
 * malformed answer, one without Attributes, or a bad count. */
int em_sqs_parse_attributes(const char *body, size_t len, struct em_sqs_attrs *out, struct em_err *err);
/* visible [+ in_flight] [+ delayed], checked (em_count_add). -1 with err
 * when one is missing or the sum is too large. */
int em_sqs_count(const struct em_sqs_attrs *a, bool in_flight, bool delayed, int64_t *out, struct em_err *err);

/* One query's part of GetMetricData answers (its Id is "m<k>", k its index). */
struct em_cw_result {
	bool seen;                        /* some page had this Id */
	bool has_value;
	double value;                     /* the newest value, as sent (em_value_check before use) */
	char status[32];                  /* a StatusCode other than Complete/PartialData, else "" */
	char message[EM_EXCERPT_BUF];     /* then its first message, an excerpt */
	bool failed;                      /* the call failed (set by the caller) */
};
/* Reads one page into res[0..n) (Ids outside it are ignored); *next gets
 * NextToken (malloc'd) or NULL. -1 with err for a malformed answer. */
int em_cw_parse_page(const char *body, size_t len, struct em_cw_result *res, size_t n, char **next,
		     struct em_err *err);

/* The text of the first <tag>...</tag> in xml (entities decoded), malloc'd;
 * NULL when absent or out of memory. */
char *em_aws_xml_dup(const char *xml, size_t len, const char *tag);

/* ISO 8601 UTC ("2026-11-22T15:02:03Z", with optional fraction and
 * "Z"/"+00:00"/"+0000" or another offset) into Unix milliseconds. 0 or -1. */
int em_aws_parse_time(const char *s, int64_t *out_ms);

/* Whether an AWS error code means the credentials are stale: worth one
 * forced refresh and retry. */
int em_aws_code_is_expired_creds(const char *code);

/* Whether it means throttling: worth one delayed retry, then a back-off. */
int em_aws_code_is_throttling(const char *code);

/* Throttling back-off, the pure parts (aws_http.c applies them per batch).
 * A throttled call is retried once after em_aws_throttle_delay_ms(): a
 * jittered delay in [cap/2, cap], cap = min(EM_AWS_THROTTLE_MAX_DELAY_MS,
 * remaining/4), so the retry keeps at least 3/4 of what is left of the fetch
 * deadline. -1: too little time left to retry. rnd: any random number. */
#define EM_AWS_THROTTLE_MAX_DELAY_MS 1000
int64_t em_aws_throttle_delay_ms(int64_t remaining_ms, uint32_t rnd);

/* When the retry is throttled too, the next polls of that batch are not
 * sent: 1, then 2, then 4 (and 4 from then on) while every call is
 * throttled; the first answer that is not throttling ends the back-off. */
#define EM_AWS_BACKOFF_MAX_SKIP 4
struct em_aws_backoff {
	int streak;    /* throttled polls in a row (each after its retry) */
	int skip_left; /* polls still to skip */
};
/* Whether this poll is skipped (it then counts as one of the skipped). */
bool em_aws_backoff_skip(struct em_aws_backoff *b);
/* Records how a poll that was sent ended: throttled or any other answer. */
void em_aws_backoff_note(struct em_aws_backoff *b, bool throttled);

/* application/x-www-form-urlencoded body "k=v&k2=v2" from n name/value
 * pairs (kv[2i], kv[2i+1]); pairs with a NULL value are left out. Strict
 * RFC 3986 encoding. malloc'd, NULL when out of memory. */
char *em_aws_form(const char *const *kv, size_t n);

#endif
