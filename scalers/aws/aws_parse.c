/* aws_parse.c - small pure helpers for AWS answers and requests: errors, XML, times, forms, token files. */
#include "aws_parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

static void copy_trunc(char *dst, size_t cap, const char *src, size_t n)
{
	if (cap == 0)
		return;
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	/* control characters would garble one-line messages and logs */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)dst[i] < 0x20)
			dst[i] = ' ';
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

void em_aws_parse_error(long status, const char *body, size_t len, const char *query_error_header,
			char *code, size_t ccap, char *msg, size_t mcap)
{
	const char *b = body ? body : "";
	const char *s = skip_bom_ws(b, b + len);

	code[0] = '\0';
	msg[0] = '\0';
	if (s < b + len && *s == '{') {
		json_t *j = json_loadb(s, (size_t)(b + len - s), 0, NULL);
		if (j) {
			const char *t = json_string_value(json_object_get(j, "__type"));
			const char *c = json_string_value(json_object_get(j, "code"));
			const char *m = json_string_value(json_object_get(j, "message"));
			if (!m)
				m = json_string_value(json_object_get(j, "Message"));
			if (t)
				type_to_code(t, code, ccap);
			else if (c)
				type_to_code(c, code, ccap);
			if (m)
				copy_trunc(msg, mcap, m, strlen(m));
			json_decref(j);
		}
	} else if (s < b + len && *s == '<') {
		char *c = em_aws_xml_dup(s, (size_t)(b + len - s), "Code");
		char *m = em_aws_xml_dup(s, (size_t)(b + len - s), "Message");
		if (c)
			copy_trunc(code, ccap, c, strlen(c));
		if (m)
			copy_trunc(msg, mcap, m, strlen(m));
		free(c);
		free(m);
	}
	/* The query-compatible header names the code when the body did not. */
	if (!code[0] && query_error_header && query_error_header[0])
		copy_trunc(code, ccap, query_error_header, strcspn(query_error_header, ";"));
	if (!code[0])
		snprintf(code, ccap, "HTTP %ld", status);
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
