/* redis.c - the "redis", "redis-cluster" and "redis-sentinel" scalers: a list's (set's, hash's...) length, as KEDA counts it. */
#include <string.h>

#include "redis_client.h"
#include "scalers/scaler.h"

struct redis_cfg {
	struct rds_conn_cfg conn;   /* first: the shared open, close and validate take it there */
	char *listName;
	int64_t listLength;
	int64_t activationListLength;
};

#define OFF(f) offsetof(struct redis_cfg, f)

static const struct em_option redis_options[] = {
	{.name = "listName", .type = EM_OPT_STRING, .flags = EM_OPT_REQUIRED, .offset = OFF(listName),
	 .help = "key of the list; a set, sorted set or hash counts its members, a missing key 0"},
	{.name = "listLength", .type = EM_OPT_INT, .flags = EM_OPT_TARGET, .def = "5", .offset = OFF(listLength),
	 .help = "target length per replica (the HPA's AverageValue)"},
	{.name = "activationListLength", .type = EM_OPT_INT, .flags = EM_OPT_ACTIVATION, .def = "0",
	 .offset = OFF(activationListLength),
	 .help = "active when the length is above this"},
	RDS_CONN_OPTIONS(struct redis_cfg, conn),
	EM_OPTIONS_END,
};

#undef OFF

/* KEDA's count: LLEN for a list (and a missing key), SCARD, ZCARD, HLEN for
 * the other collections, an error for anything else; one atomic script, so
 * the key's type cannot change between the two calls. */
static const char count_script[] =
	"local t = redis.call('TYPE', KEYS[1]).ok\n"
	"if t == 'list' or t == 'none' then return redis.call('LLEN', KEYS[1]) end\n"
	"if t == 'set' then return redis.call('SCARD', KEYS[1]) end\n"
	"if t == 'zset' then return redis.call('ZCARD', KEYS[1]) end\n"
	"if t == 'hash' then return redis.call('HLEN', KEYS[1]) end\n"
	"return redis.error_reply('ERR unsupported key type: ' .. t)\n";

static int redis_fetch(void *vinst, const struct em_fetch_ctx *ctx, struct em_sample *out, struct em_err *err)
{
	struct rds_inst *in = vinst;
	const struct redis_cfg *c = in->cfg;
	struct rds_cmd cmd = {4, {"EVAL", count_script, "1", c->listName}};
	struct rds_reply *r = NULL;
	int64_t deadline = em_mono_ms() + (ctx->timeout_ms > 0 ? ctx->timeout_ms : 3000);
	long long n;
	int rc;

	memset(out, 0, sizeof(*out));
	if (rds_client_run(in->cl, 1, &cmd, deadline, &r, err) != 0) {
		em_err_prefix(err, "error getting list length");
		return -1;
	}
	rc = rds_reply_int(r, "EVAL", &n, err);
	rds_reply_free(r);
	if (rc != 0) {
		em_err_prefix(err, "error getting list length");
		return -1;
	}
	out->value = (double)n;
	out->active = n > c->activationListLength;
	return 0;
}

#define REDIS_SCALER(var, name, validator, what)                                                                \
	const struct em_scaler var = {                                                                          \
		.type = name,                                                                                   \
		.options = redis_options,                                                                       \
		.config_size = sizeof(struct redis_cfg),                                                        \
		.summary = "length of a Redis list (sets, sorted sets, hashes: their size), on " what            \
			   "; connections shared per server",                                                    \
		.validate = validator,                                                                          \
		.open = rds_inst_open,                                                                          \
		.fetch = redis_fetch,                                                                           \
		.close = rds_inst_close,                                                                        \
	}

REDIS_SCALER(em_scaler_redis, "redis", rds_validate_standalone, "one server");
REDIS_SCALER(em_scaler_redis_cluster, "redis-cluster", rds_validate_cluster, "a Redis Cluster (MOVED/ASK followed)");
REDIS_SCALER(em_scaler_redis_sentinel, "redis-sentinel", rds_validate_sentinel,
	     "the master that Redis Sentinel names (asked every poll)");
