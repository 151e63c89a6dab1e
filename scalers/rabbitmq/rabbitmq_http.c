/* rabbitmq_http.c - RabbitMQ management API answers read as KEDA reads them, every number checked; the modes' values and activity. */
#include "rabbitmq.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "adapter/util/json.h"        /* the bounded reader checks each answer first */

/* The management API answers at most 500 queues a page, each of a few
 * hundred values at most: a document with more is refused before jansson
 * builds a tree of it (tens of bytes per value). */
#define RMQ_MAX_VALUES 200000

#define WHAT(buf, name, suffix) \
	snprintf(buf, sizeof(buf), "error inspecting RabbitMQ: the management API's %s%s", name, suffix)

/* A count field: absent or null is 0 (Go's zero value); otherwise an
 * integer checked as a count (scaler.h). */
static int count_field(json_t *o, const char *name, int64_t *out, struct em_err *err)
{
	json_t *v = json_object_get(o, name);
	char what[96];

	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	WHAT(what, name, "");
	if (!json_is_integer(v))
		return em_err_set(err, EM_E_UNAVAILABLE, "%s is not an integer", what);
	if (em_count_check(json_integer_value(v), what, err) != 0)
		return -1;
	*out = json_integer_value(v);
	return 0;
}

/* message_stats.<name>.rate: absent is 0; else a number checked as a
 * count (finite, not negative, at most 2^53). */
static int rate_field(json_t *q, const char *name, double *out, struct em_err *err)
{
	json_t *v = json_object_get(json_object_get(json_object_get(q, "message_stats"), name), "rate");
	char what[96];

	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	WHAT(what, name, " rate");
	if (!json_is_number(v))
		return em_err_set(err, EM_E_UNAVAILABLE, "%s is not a number", what);
	if (em_value_check(json_number_value(v), EM_VALUE_COUNT, what, err) != 0)
		return -1;
	*out = json_number_value(v);
	return 0;
}

static int one_queue(json_t *q, struct rmq_queue *out, struct em_err *err)
{
	memset(out, 0, sizeof(*out));
	if (!json_is_object(q))
		return em_err_set(err, EM_E_UNAVAILABLE, "error inspecting RabbitMQ: the management API's answer is not "
				  "a queue object");
	if (count_field(q, "messages", &out->messages, err) || count_field(q, "messages_ready", &out->ready, err) ||
	    rate_field(q, "publish_details", &out->publish_rate, err) ||
	    rate_field(q, "deliver_get_details", &out->deliver_get_rate, err))
		return -1;
	return 0;
}

/* KEDA's getComposedQueue: sum, average (counts by integer division, as Go's
 * int division) or maximum of each field; a sum above 2^53 is an error. */
#define SUM_WHAT "error inspecting RabbitMQ: the matched queues"

static int compose(json_t *items, enum rmq_op op, struct rmq_queue *out, struct em_err *err)
{
	size_t n = json_array_size(items);
	struct rmq_queue q;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		if (one_queue(json_array_get(items, i), &q, err) != 0)
			return -1;
		if (op == RMQ_MAX) {
			out->messages = q.messages > out->messages ? q.messages : out->messages;
			out->ready = q.ready > out->ready ? q.ready : out->ready;
			out->publish_rate = fmax(out->publish_rate, q.publish_rate);
			out->deliver_get_rate = fmax(out->deliver_get_rate, q.deliver_get_rate);
		} else if (em_count_add(&out->messages, q.messages, SUM_WHAT, err) != 0 ||
			   em_count_add(&out->ready, q.ready, SUM_WHAT, err) != 0 ||
			   em_value_check(out->publish_rate += q.publish_rate, EM_VALUE_COUNT, SUM_WHAT "' publish rate",
					  err) != 0 ||
			   em_value_check(out->deliver_get_rate += q.deliver_get_rate, EM_VALUE_COUNT,
					  SUM_WHAT "' deliver_get rate", err) != 0) {
			return -1;
		}
	}
	if (op == RMQ_AVG && n > 0) {
		out->messages /= (int64_t)n;
		out->ready /= (int64_t)n;
		out->publish_rate /= (double)n;
		out->deliver_get_rate /= (double)n;
	}
	return 0;
}

int rmq_parse_queue_json(const char *body, size_t len, bool regex, enum rmq_op op, struct rmq_queue *out,
			 struct em_err *err)
{
	json_error_t jerr;
	json_t *root = NULL;
	char why[96];
	int rc = -1;

	memset(out, 0, sizeof(*out));
	/* checked by the bounded reader first: jansson's errors may quote the body */
	if (em_json_check(body, len, RMQ_MAX_VALUES, why, sizeof(why)) != 0)
		return em_err_set(err, EM_E_UNAVAILABLE, "error inspecting RabbitMQ: the management API's answer is not "
				  "JSON of at most %d values: %s", RMQ_MAX_VALUES, why);
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return em_err_set(err, EM_E_UNAVAILABLE, "error inspecting RabbitMQ: the management API's answer is not "
				  "JSON: %s (line %d)", jerr.text, jerr.line);
	if (!regex) {
		rc = one_queue(root, out, err);
	} else if (!json_is_object(root)) {
		em_err_set(err, EM_E_UNAVAILABLE, "error inspecting RabbitMQ: the management API's queue listing is not an "
			   "object");
	} else {
		json_t *items = json_object_get(root, "items"), *pc = json_object_get(root, "page_count");
		if (pc && !json_is_integer(pc))
			em_err_set(err, EM_E_UNAVAILABLE, "error inspecting RabbitMQ: page_count is not an integer");
		else if (json_integer_value(pc) > 1)
			em_err_set(err, EM_E_UNAVAILABLE, "error inspecting RabbitMQ: regex matches more queues than can be "
				   "recovered at once (more than pageSize)");
		else if (items && !json_is_null(items) && !json_is_array(items))
			em_err_set(err, EM_E_UNAVAILABLE, "error inspecting RabbitMQ: items is not an array");
		else
			rc = compose(items, op, out, err);
	}
	json_decref(root);
	return rc;
}

void rmq_mode_value(const struct rmq_cfg *c, const struct rmq_queue *q, double *value, bool *active)
{
	double act = c->activationValue, pub = q->publish_rate, dg = q->deliver_get_rate;
	double msgs = (double)(c->excludeUnacknowledged ? q->ready : q->messages);

	switch (c->m) {
	case RMQ_MESSAGE_RATE:
		*value = pub;
		*active = pub > act || msgs > act;
		break;
	case RMQ_DELIVER_GET_RATE:
		*value = dg;
		*active = dg > act;
		break;
	case RMQ_PUBLISHED_TO_DELIVERED_RATIO:
		/* publishing with nothing delivered: the activation value, and active */
		*value = pub > 0 && dg == 0 ? act : pub > 0 ? pub / dg : 0;
		*active = *value > act || (pub > 0 && dg == 0);
		break;
	case RMQ_EXPECTED_CONSUMPTION_TIME:
		*value = msgs == 0 ? 0 : dg == 0 ? act : (pub - dg) / dg + msgs / dg;
		*active = *value > act || (dg == 0 && msgs > 0);
		break;
	default:
		*value = msgs;
		*active = msgs > act;
		break;
	}
}
