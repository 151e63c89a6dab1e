/* redis_reply.c - Redis replies: a bounded RESP2 reader (hiredis' parser, our reply objects) and the values the scalers read from them. */
#include "redis_client.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

/* ------------------------------------------------------------------ replies */

void rds_reply_free(struct rds_reply *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->elements; i++)
		rds_reply_free(r->element[i]);
	free(r->element);
	free(r->str);
	free(r);
}

static void *attach(const redisReadTask *task, struct rds_reply *r)
{
	if (task->parent) {
		struct rds_reply *parent = task->parent->obj;
		if (task->idx < 0 || (size_t)task->idx >= parent->elements) {
			rds_reply_free(r);
			return NULL;
		}
		parent->element[task->idx] = r;
	}
	return r;
}

static void *create_string(const redisReadTask *task, char *str, size_t len)
{
	struct rds_reply *r = calloc(1, sizeof(*r));

	if (!r || !(r->str = malloc(len + 1))) {
		free(r);
		return NULL;
	}
	r->type = (enum rds_type)task->type;
	memcpy(r->str, str, len);
	r->str[len] = '\0';
	r->len = len;
	return attach(task, r);
}

static void *create_array(const redisReadTask *task, int elements)
{
	struct rds_reply *r;

	/* bounded: a garbage "*2000000000" must not allocate gigabytes */
	if (elements < 0 || elements > RDS_MAX_ARRAY)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->type = RDS_ARRAY;
	if (elements > 0 && !(r->element = calloc((size_t)elements, sizeof(*r->element)))) {
		free(r);
		return NULL;
	}
	r->elements = (size_t)elements;
	return attach(task, r);
}

static void *create_integer(const redisReadTask *task, long long v)
{
	struct rds_reply *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->type = RDS_INTEGER;
	r->integer = v;
	return attach(task, r);
}

static void *create_nil(const redisReadTask *task)
{
	struct rds_reply *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->type = RDS_NIL;
	return attach(task, r);
}

static void free_object(void *o)
{
	rds_reply_free(o);
}

static redisReplyObjectFunctions reply_fns = {
	.createString = create_string,
	.createArray = create_array,
	.createInteger = create_integer,
	.createNil = create_nil,
	.freeObject = free_object,
};

void *rds_reader_new(void)
{
	return redisReaderCreateWithFunctions(&reply_fns);
}

void rds_reader_free(void *rd)
{
	if (rd)
		redisReaderFree(rd);
}

int rds_reader_feed(void *rd, const char *buf, size_t len)
{
	return redisReaderFeed(rd, buf, len) == REDIS_OK ? 0 : -1;
}

int rds_reader_take(void *vrd, size_t n, size_t *got, struct rds_reply **replies, struct em_err *err)
{
	redisReader *rd = vrd;

	while (*got < n) {
		void *obj = NULL;
		if (redisReaderGetReply(rd, &obj) != REDIS_OK)
			return em_err_set(err, EM_E_UNAVAILABLE, "invalid reply (%s%s)", rd->errstr,
					  rd->err == REDIS_ERR_OOM ? ": an array longer than 65536 elements?" : "");
		if (!obj)
			return 0;
		replies[(*got)++] = obj;
	}
	return 0;
}

int rds_parse_replies(const char *buf, size_t len, size_t n, struct rds_reply **replies, struct em_err *err)
{
	void *rd;
	size_t got = 0;
	int rc;

	for (size_t i = 0; i < n; i++)
		replies[i] = NULL;
	if (len > RDS_MAX_REPLY_BYTES)
		return em_err_set(err, EM_E_UNAVAILABLE, "redis: reply larger than %u bytes", RDS_MAX_REPLY_BYTES);
	rd = rds_reader_new();
	if (!rd)
		return em_err_set(err, EM_E_INTERNAL, "out of memory");
	rc = rds_reader_feed(rd, buf, len) == 0 ? rds_reader_take(rd, n, &got, replies, err) : -1;
	if (rc == 0 && got < n)
		rc = 1;
	if (rc != 0)
		for (size_t i = 0; i < got; i++) {
			rds_reply_free(replies[i]);
			replies[i] = NULL;
		}
	if (rc < 0 && err->kind == EM_OK)
		em_err_set(err, EM_E_UNAVAILABLE, "invalid reply");
	rds_reader_free(rd);
	return rc;
}

static const char *type_name(enum rds_type t)
{
	switch (t) {
	case RDS_STRING: return "a string";
	case RDS_ARRAY: return "an array";
	case RDS_INTEGER: return "an integer";
	case RDS_NIL: return "nil";
	case RDS_STATUS: return "a status";
	case RDS_ERROR: return "an error";
	default: return "?";
	}
}

int rds_reply_int(const struct rds_reply *r, const char *what, long long *out, struct em_err *err)
{
	if (!r)
		return em_err_set(err, EM_E_UNAVAILABLE, "%s: no reply", what);
	if (r->type == RDS_ERROR)
		return em_err_set(err, EM_E_UNAVAILABLE, "%.300s", r->str);
	if (r->type != RDS_INTEGER)
		return em_err_set(err, EM_E_UNAVAILABLE, "%s: unexpected reply: %s, not an integer", what,
				  type_name(r->type));
	if (em_count_check(r->integer, what, err) != 0)
		return -1;
	*out = r->integer;
	return 0;
}

int rds_redirect(const struct rds_reply *r, bool *ask, struct rds_addr *out)
{
	const char *p, *sp, *colon;
	size_t n;

	if (!r || r->type != RDS_ERROR)
		return -1;
	if (strncmp(r->str, "MOVED ", 6) == 0)
		*ask = false;
	else if (strncmp(r->str, "ASK ", 4) == 0)
		*ask = true;
	else
		return -1;
	p = r->str + (*ask ? 4 : 6);
	sp = strchr(p, ' ');
	if (!sp || sp == p)
		return -1;
	for (const char *q = p; q < sp; q++)
		if (!isdigit((unsigned char)*q))
			return -1;
	p = sp + 1;
	n = strlen(p);
	/* Redis prints the node's IP as is (no brackets for IPv6): the port follows the last ':' */
	colon = memrchr(p, ':', n);
	if (!colon)
		return -1;
	{
		char hp[300];
		size_t hl = (size_t)(colon - p);
		if (hl >= 256)
			return -1;
		snprintf(hp, sizeof(hp), memchr(p, ':', hl) ? "[%.*s]%s" : "%.*s%s", (int)hl, p, colon);
		return rds_split_hostport(hp, strlen(hp), out);
	}
}

int rds_xpending_count(const struct rds_reply *r, long long *out, struct em_err *err)
{
	if (r && r->type == RDS_ARRAY) {
		if (r->elements < 1 || r->element[0]->type != RDS_INTEGER)
			return em_err_set(err, EM_E_UNAVAILABLE, "XPENDING: unexpected reply: no count first");
		return rds_reply_int(r->element[0], "XPENDING", out, err);
	}
	return rds_reply_int(r, "XPENDING", out, err);
}

static bool bulk_is(const struct rds_reply *r, const char *s)
{
	return r && (r->type == RDS_STRING || r->type == RDS_STATUS) && strcmp(r->str, s) == 0;
}

int rds_stream_lag(const struct rds_reply *groups, const struct rds_reply *xlen, const char *group, long long *out,
		   enum rds_lag_source *src, struct em_err *err)
{
	if (!groups)
		return em_err_set(err, EM_E_UNAVAILABLE, "XINFO GROUPS: no reply");
	if (groups->type == RDS_ERROR && strcmp(groups->str, "ERR no such key") == 0) {
		/* KEDA: the stream has not been created yet */
		*src = RDS_LAG_NO_STREAM;
		*out = 0;
		return 0;
	}
	if (groups->type == RDS_ERROR)
		return em_err_set(err, EM_E_UNAVAILABLE, "%.300s", groups->str);
	if (groups->type != RDS_ARRAY)
		return em_err_set(err, EM_E_UNAVAILABLE, "XINFO GROUPS: unexpected reply: %s, not an array",
				  type_name(groups->type));
	for (size_t i = 0; i < groups->elements; i++) {
		const struct rds_reply *g = groups->element[i], *lag = NULL;
		bool mine = false, has_lag = false;

		if (g->type != RDS_ARRAY)
			return em_err_set(err, EM_E_UNAVAILABLE, "XINFO GROUPS: unexpected reply: a group is %s",
					  type_name(g->type));
		for (size_t k = 0; k + 1 < g->elements; k += 2) {
			if (bulk_is(g->element[k], "name"))
				mine = bulk_is(g->element[k + 1], group);
			else if (bulk_is(g->element[k], "lag")) {
				has_lag = true;
				lag = g->element[k + 1];
			}
		}
		if (!mine)
			continue;
		if (!has_lag)
			return em_err_set(err, EM_E_UNAVAILABLE, "redis version 7+ required for lag");
		if (lag->type == RDS_INTEGER) {
			*src = RDS_LAG_EXACT;
			return rds_reply_int(lag, "XINFO GROUPS lag", out, err);
		}
		if (lag->type != RDS_NIL)
			return em_err_set(err, EM_E_UNAVAILABLE, "XINFO GROUPS: unexpected reply: lag is %s",
					  type_name(lag->type));
		*src = RDS_LAG_UNKNOWN;
		return rds_reply_int(xlen, "XLEN", out, err);
	}
	/* KEDA: the group does not exist yet (its consumers are scaled to zero):
	 * what its lag would be once created from the start, the stream length */
	*src = RDS_LAG_NO_GROUP;
	return rds_reply_int(xlen, "XLEN", out, err);
}
