/* fuzz_rabbitmq.c - libFuzzer target: RabbitMQ management API answers, AMQP URIs, management URLs, vhost paths. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scalers/rabbitmq/rabbitmq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct rmq_queue q;
	struct rmq_uri u;
	struct rmq_http_target t;
	struct em_err err;
	char *v = NULL, *p = NULL;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	for (enum rmq_op op = RMQ_SUM; op <= RMQ_MAX; op++)
		if (rmq_parse_queue_json(s, size, true, op, &q, &err) == 0) {
			struct rmq_cfg c = {.m = (enum rmq_mode)(1 + size % 5), .activationValue = 1};
			double val;
			bool active;
			rmq_mode_value(&c, &q, &val, &active);
		}
	rmq_parse_queue_json(s, size, false, RMQ_SUM, &q, &err);
	if (rmq_parse_uri(s, &u, &err) == 0)
		rmq_uri_free(&u);
	if (rmq_http_target_parse(s, size % 2 ? "v h" : "", &t, &err) == 0) {
		struct rmq_cfg c = {.queueName = s, .useRegex = size % 3 == 0, .pageSize = 100};
		free(rmq_queue_url(&t, &c));
		rmq_http_target_free(&t);
	}
	rmq_vhost_and_path(s, "", &v, &p);
	free(v);
	free(p);
	free(s);
	return 0;
}
