/* aws_parse.c - small pure helpers for AWS answers and requests: errors, XML, times, forms, token files. */
#include "aws_parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scalers/scaler.h"

/* A short identifier of an answer (an error code) into dst: scrubbed of the
 * secrets in scope while whole, then cut; control characters would garble
 * one-line messages and logs. */
static void copy_trunc(char *dst, size_t cap, const char *src, size_t n)
{
	char *whole;

	if (cap == 0)
		return;
	dst[0] = '\0';
	whole = malloc(n + 1);
	if (!whole)
		return;
	memcpy(whole, src, n);
	whole[n] = '\0';
	em_scrub_scoped(whole, n + 1);
	em_copy_cut(dst, cap, whole);
	em_free_secret(whole);
	for (char *p = dst; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
}

/* "com.amazonaws.sqs#QueueDoesNotExist" or "Foo:http://..." -> the code */
static void type_to_code(const char *t, char *code, size_t ccap)
{
	const char *hash = strrchr(t, '#');
	size_t n;

	if (hash)
		t = hash + 1;
	n = strcspn(t, ":");
	copy_trunc(code, ccap, t, n);
}

static const char *skip_bom_ws(const char *s, const char *end)
{
	while (s < end && isspace((unsigned char)*s))
		s++;
	return s;
}

char *em_aws_xml_dup(const char *xml, size_t len, const char *tag)
{
	char open[80], close[80];
	const char *end = xml + len, *p, *q;
	char *out, *o;

	if (!xml || snprintf(open, sizeof(open), "<%s>", tag) >= (int)sizeof(open) ||
	    snprintf(close, sizeof(close), "</%s>", tag) >= (int)sizeof(close))
		return NULL;
	p = memmem(xml, len, open, strlen(open));
	if (!p)
		return NULL;
	p += strlen(open);
	q = memmem(p, (size_t)(end - p), close, strlen(close));
	if (!q)
		return NULL;
	out = malloc((size_t)(q - p) + 1);
	if (!out)
		return NULL;
	for (o = out; p < q;) {
		static const struct {
			const char *ent;
			char c;
		} ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
		bool done = false;
		if (*p == '&') {
			for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
				size_t el = strlen(ents[i].ent);
				if ((size_t)(q - p) >= el && memcmp(p, ents[i].ent, el) == 0) {
					*o++ = ents[i].c;
					p += el;
					done = true;
					break;
				}
			}
			if (!done && p + 2 < q && p[1] == '#') {
				/* numeric reference: ASCII only, the rest kept verbatim */
				char *e;
				long v = p[2] == 'x' ? strtol(p + 3, &e, 16) : strtol(p + 2, &e, 10);
				if (e < q && *e == ';' && v > 0 && v < 128) {
					*o++ = (char)v;
					p = e + 1;
					done = true;
				}
			}
		}
		if (!done)
			*o++ = *p++;
	}
	*o = '\0';
	return out;
}

/* The members of a JSON error answer that name its code and message. */
static void parse_json_error(const char *s, size_t len, char *code, size_t ccap, char *msg, size_t mcap)
{
	struct em_json j;
	char key[16], type[256] = "", c[256] = "";
	char *m = NULL;

	em_json_init(&j, s, len);
	if (em_json_enter(&j, EM_JSON_OBJECT) != 0)
		return;
	while (em_json_member(&j, key, sizeof(key)) == 1) {
		if (strcmp(key, "__type") == 0)
			em_json_string(&j, type, sizeof(type), NULL);
		else if (strcmp(key, "code") == 0)
			em_json_string(&j, c, sizeof(c), NULL);
		else if ((strcmp(key, "message") == 0 || strcmp(key, "Message") == 0) && !m)
			m = em_json_string_dup(&j, 64 * 1024);
	}
	/* a broken document says nothing reliable */
	if (em_json_end(&j) == 0) {
		if (type[0])
			type_to_code(type, code, ccap);
		else if (c[0])
			type_to_code(c, code, ccap);
		if (m)
			em_excerpt(msg, mcap, m, strlen(m), EM_EXCERPT_MAX);
	}
	em_free_secret(m);
}

void em_aws_parse_error(long status, const char *body, size_t len, const char *query_error_header,
			char *code, size_t ccap, char *msg, size_t mcap)
{
	const char *b = body ? body : "";
	const char *s = skip_bom_ws(b, b + len);

	code[0] = '\0';
	msg[0] = '\0';
	if (s < b + len && *s == '{') {
		parse_json_error(s, (size_t)(b + len - s), code, ccap, msg, mcap);
	} else if (s < b + len && *s == '<') {
		char *c = em_aws_xml_dup(s, (size_t)(b + len - s), "Code");
		char *m = em_aws_xml_dup(s, (size_t)(b + len - s), "Message");
		if (c)
			copy_trunc(code, ccap, c, strlen(c));
		if (m)
			em_excerpt(msg, mcap, m, strlen(m), EM_EXCERPT_MAX);
		free(c);
		em_free_secret(m);
	}
	/* The query-compatible header names the code when the body did not. */
	if (!code[0] && query_error_header && query_error_header[0])
		copy_trunc(code, ccap, query_error_header, strcspn(query_error_header, ";"));
	if (!code[0])
		snprintf(code, ccap, "HTTP %ld", status);
}

/* ---- GetQueueAttributes -------------------------------------------------------- */

int em_sqs_parse_attributes(const char *body, size_t len, struct em_sqs_attrs *out, struct em_err *err)
{
	static const struct {
		const char *name;
		size_t off;
	} attrs[] = {
		{"ApproximateNumberOfMessages", offsetof(struct em_sqs_attrs, visible)},
		{"ApproximateNumberOfMessagesNotVisible", offsetof(struct em_sqs_attrs, in_flight)},
		{"ApproximateNumberOfMessagesDelayed", offsetof(struct em_sqs_attrs, delayed)},
	};
	struct em_json j;
	char key[48], text[32], why[96];
	bool found = false;

	out->visible = out->in_flight = out->delayed = -1;
	em_json_init(&j, body, len);
	if (em_json_enter(&j, EM_JSON_OBJECT) != 0)
		goto out;
	while (em_json_member(&j, key, sizeof(key)) == 1) {
		if (strcmp(key, "Attributes") != 0)
			continue;
		if (em_json_enter(&j, EM_JSON_OBJECT) != 0)
			goto out;
		found = true;
		while (em_json_member(&j, key, sizeof(key)) == 1) {
			for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
				int64_t *dst = (int64_t *)((char *)out + attrs[i].off);
				const char *t = text;
				size_t n = 0;
				if (strcmp(key, attrs[i].name) != 0)
					continue;
				/* a string, as SQS writes them, or a JSON number */
				if (em_json_string(&j, text, sizeof(text), &n) != 0 && em_json_number(&j, &t, &n) != 0) {
					if (em_json_failed(&j))
						goto out;
					return em_err_set(err, EM_E_UNAVAILABLE, "SQS attribute %s is not a count", key);
				}
				if (em_count_parse(t, n, key, dst, err) != 0) {
					em_err_prefix(err, "SQS attribute");
					return -1;
				}
			}
		}
	}
	if (em_json_end(&j) == 0)
		return found ? 0 : em_err_set(err, EM_E_UNAVAILABLE, "sqs:GetQueueAttributes: answer without Attributes");
out:
	/* here only for a malformed answer */
	em_json_error(&j, why, sizeof(why));
	return em_err_set(err, EM_E_UNAVAILABLE, "sqs:GetQueueAttributes: %s", why);
}

int em_sqs_count(const struct em_sqs_attrs *a, bool in_flight, bool delayed, int64_t *out, struct em_err *err)
{
	const struct {
		bool want;
		int64_t v;
		const char *name;
	} parts[] = {
		{true, a->visible, "ApproximateNumberOfMessages"},
		{in_flight, a->in_flight, "ApproximateNumberOfMessagesNotVisible"},
		{delayed, a->delayed, "ApproximateNumberOfMessagesDelayed"},
	};
	int64_t sum = 0;

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		if (!parts[i].want)
			continue;
		if (parts[i].v < 0)
			return em_err_set(err, EM_E_UNAVAILABLE, "metric %s not found in SQS queue attributes", parts[i].name);
		if (em_count_add(&sum, parts[i].v, "SQS queue attributes", err) != 0)
			return -1;
	}
	*out = sum;
	return 0;
}

/* ---- GetMetricData ---------------------------------------------------------------- */

/* The result's Id "m<k>" (k < n, no leading zeros) -> k; -1 otherwise. */
static long result_index(const char *id, size_t n)
{
	char canon[24];
	char *e;
	unsigned long k;

	if (id[0] != 'm' || id[1] < '0' || id[1] > '9')
		return -1;
	k = strtoul(id + 1, &e, 10);
	if (*e || k >= n)
		return -1;
	snprintf(canon, sizeof(canon), "m%lu", k);
	return strcmp(canon, id) == 0 ? (long)k : -1;
}

/* One MetricDataResults entry into res[0..n). */
static int cw_result(struct em_json *j, struct em_cw_result *res, size_t n)
{
	char key[16], id[24] = "", status[32] = "", *message = NULL;
	bool has = false, first = true;
	double v = 0;
	long k;

	if (em_json_enter(j, EM_JSON_OBJECT) != 0)
		return -1;
	while (em_json_member(j, key, sizeof(key)) == 1) {
		if (strcmp(key, "Id") == 0) {
			em_json_string(j, id, sizeof(id), NULL);
		} else if (strcmp(key, "StatusCode") == 0) {
			em_json_string(j, status, sizeof(status), NULL);
		} else if (strcmp(key, "Values") == 0 && em_json_enter(j, EM_JSON_ARRAY) == 0) {
			/* TimestampDescending: the first value is the newest */
			while (em_json_element(j) == 1) {
				if (first && em_json_double(j, &v) == 0)
					has = true;
				first = false;
			}
		} else if (strcmp(key, "Messages") == 0 && em_json_enter(j, EM_JSON_ARRAY) == 0) {
			while (em_json_element(j) == 1) {
				char mk[8];
				if (message || em_json_enter(j, EM_JSON_OBJECT) != 0)
					continue;
				while (em_json_member(j, mk, sizeof(mk)) == 1)
					if (strcmp(mk, "Value") == 0 && !message)
						message = em_json_string_dup(j, 64 * 1024);
			}
		}
	}
	if (em_json_failed(j)) {
		free(message);
		return -1;
	}
	k = result_index(id, n);
	if (k >= 0) {
		struct em_cw_result *r = &res[k];
		r->seen = true;
		if (status[0] && strcmp(status, "Complete") != 0 && strcmp(status, "PartialData") != 0) {
			copy_trunc(r->status, sizeof(r->status), status, strlen(status));
			em_excerpt(r->message, sizeof(r->message), message ? message : "", message ? strlen(message) : 0,
				   EM_EXCERPT_MAX);
		}
		/* pages come newest first: a value already found stays */
		if (!r->has_value && has) {
			r->value = v;
			r->has_value = true;
		}
	}
	free(message);
	return 0;
}

int em_cw_parse_page(const char *body, size_t len, struct em_cw_result *res, size_t n, char **next,
		     struct em_err *err)
{
	struct em_json j;
	char key[24], why[96];
	bool found = false;

	*next = NULL;
	em_json_init(&j, body, len);
	if (em_json_enter(&j, EM_JSON_OBJECT) != 0)
		goto out;
	while (em_json_member(&j, key, sizeof(key)) == 1) {
		if (strcmp(key, "MetricDataResults") == 0) {
			if (em_json_enter(&j, EM_JSON_ARRAY) != 0)
				goto out;
			found = true;
			while (em_json_element(&j) == 1)
				if (cw_result(&j, res, n) != 0 && em_json_failed(&j))
					goto out;
		} else if (strcmp(key, "NextToken") == 0 && em_json_peek(&j) == EM_JSON_STRING) {
			free(*next);
			*next = em_json_string_dup(&j, 16 * 1024);
		}
	}
	if (em_json_end(&j) == 0 && found) {
		if (*next && !**next) {
			free(*next);
			*next = NULL;
		}
		return 0;
	}
out:
	free(*next);
	*next = NULL;
	if (!em_json_failed(&j))
		return em_err_set(err, EM_E_UNAVAILABLE, "cloudwatch:GetMetricData: answer without MetricDataResults");
	em_json_error(&j, why, sizeof(why));
	return em_err_set(err, EM_E_UNAVAILABLE, "cloudwatch:GetMetricData: %s", why);
}

int em_aws_code_is_expired_creds(const char *code)
{
	static const char *const codes[] = {
		"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException",
		"RequestExpired", "InvalidToken", NULL,
	};

	for (size_t i = 0; code && codes[i]; i++)
		if (strcmp(code, codes[i]) == 0)
			return 1;
	return 0;
}

int em_aws_code_is_throttling(const char *code)
{
	static const char *const codes[] = {
		"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
		"TooManyRequestsException", "RequestLimitExceeded", "RequestThrottled", "LimitExceededException",
		"SlowDown", "EC2ThrottledException", "AWS.SimpleQueueService.RequestThrottled", NULL,
	};

	for (size_t i = 0; code && codes[i]; i++)
		if (strcmp(code, codes[i]) == 0)
			return 1;
	return 0;
}

int64_t em_aws_throttle_delay_ms(int64_t remaining_ms, uint32_t rnd)
{
	int64_t cap = remaining_ms / 4;

	if (cap > EM_AWS_THROTTLE_MAX_DELAY_MS)
		cap = EM_AWS_THROTTLE_MAX_DELAY_MS;
	/* under ~80 ms left a retry would only time out */
	if (cap < 20)
		return -1;
	return cap / 2 + (int64_t)(rnd % (uint32_t)(cap - cap / 2 + 1));
}

bool em_aws_backoff_skip(struct em_aws_backoff *b)
{
	if (b->skip_left <= 0)
		return false;
	b->skip_left--;
	return true;
}

void em_aws_backoff_note(struct em_aws_backoff *b, bool throttled)
{
	if (!throttled) {
		b->streak = 0;
		b->skip_left = 0;
		return;
	}
	if (b->streak < 1000)
		b->streak++;
	/* 1, 2, 4, 4, ...: doubling, capped so a throttled batch is still
	 * tried every few polls and its recovery is seen soon */
	b->skip_left = 1;
	for (int i = 1; i < b->streak && b->skip_left < EM_AWS_BACKOFF_MAX_SKIP; i++)
		b->skip_left *= 2;
	if (b->skip_left > EM_AWS_BACKOFF_MAX_SKIP)
		b->skip_left = EM_AWS_BACKOFF_MAX_SKIP;
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)**p))
			return -1;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*out = v;
	return 0;
}

int em_aws_parse_time(const char *s, int64_t *out_ms)
{
	struct tm tm = {0};
	int y, mo, d, h, mi, se, ms = 0, scale = 100;
	int64_t t, off = 0;
	const char *p = s;

	if (!s)
		return -1;
	while (isspace((unsigned char)*p))
		p++;
	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d))
		return -1;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -1;
	p++;
	if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' || digits(&p, 2, &se))
		return -1;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p)) {
			ms += (*p - '0') * scale;
			scale /= 10;
			p++;
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh, om;
		p++;
		if (digits(&p, 2, &oh))
			return -1;
		if (*p == ':')
			p++;
		if (digits(&p, 2, &om))
			return -1;
		off = sign * ((int64_t)oh * 3600 + om * 60);
	} else {
		return -1;
	}
	while (isspace((unsigned char)*p))
		p++;
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	t = (int64_t)timegm(&tm);
	*out_ms = (t - off) * 1000 + ms;
	return 0;
}

char *em_aws_form(const char *const *kv, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t cap = 1;
	char *out, *o;

	for (size_t i = 0; i < n; i++)
		if (kv[2 * i + 1])
			cap += 3 * (strlen(kv[2 * i]) + strlen(kv[2 * i + 1])) + 2;
	out = malloc(cap);
	if (!out)
		return NULL;
	o = out;
	for (size_t i = 0; i < n; i++) {
		if (!kv[2 * i + 1])
			continue;
		if (o != out)
			*o++ = '&';
		for (int part = 0; part < 2; part++) {
			for (const unsigned char *p = (const unsigned char *)kv[2 * i + part]; *p; p++) {
				if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
					*o++ = (char)*p;
				} else {
					*o++ = '%';
					*o++ = hex[*p >> 4];
					*o++ = hex[*p & 15];
				}
			}
			if (part == 0)
				*o++ = '=';
		}
	}
	*o = '\0';
	return out;
}
