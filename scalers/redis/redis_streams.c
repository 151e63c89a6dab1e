/* redis_streams.c - the "redis-streams" scalers: pending entries, stream length or consumer group lag, as KEDA picks them. */
#include <string.h>

#include "redis_client.h"
#include "scalers/scaler.h"

/* KEDA's scale factors, picked from the keys (rs_validate). */
enum rs_factor {
	RS_PENDING = 1,   /* consumerGroup, no lagCount: XPENDING's count */
	RS_LENGTH,        /* no consumerGroup: XLEN */
	RS_LAG,           /* consumerGroup and lagCount: XINFO GROUPS lag */
};

struct rs_cfg {
	struct rds_conn_cfg conn;   /* first: the shared open, close and validate take it there */
	char *stream;
	char *consumerGroup;
	int64_t pendingEntriesCount;
	int64_t streamLength;
	int64_t lagCount;
	int64_t activationLagCount;
	enum rs_factor factor;      /* derived */
};

#define OFF(f) offsetof(struct rs_cfg, f)

static const struct em_option rs_options[] = {
	{.name = "stream", .type = EM_OPT_STRING, .flags = EM_OPT_REQUIRED, .offset = OFF(stream),
	 .help = "key of the stream"},
	{.name = "consumerGroup", .type = EM_OPT_STRING, .offset = OFF(consumerGroup),
	 .help = "consumer group: its pending entries (XPENDING), or its lag with lagCount; none: the stream length"},
	{.name = "pendingEntriesCount", .type = EM_OPT_INT, .flags = EM_OPT_TARGET, .def = "5",
	 .offset = OFF(pendingEntriesCount),
	 .help = "target pending entries per replica (consumerGroup without lagCount)"},
	{.name = "streamLength", .type = EM_OPT_INT, .flags = EM_OPT_TARGET, .def = "5", .offset = OFF(streamLength),
	 .help = "target stream length per replica (no consumerGroup)"},
	{.name = "lagCount", .type = EM_OPT_INT, .flags = EM_OPT_TARGET, .def = "0", .offset = OFF(lagCount),
	 .help = "non-zero with consumerGroup: scale on the group's lag (Redis 7+), this many per replica"},
	{.name = "activationLagCount", .type = EM_OPT_INT, .flags = EM_OPT_ACTIVATION, .def = "0",
	 .offset = OFF(activationLagCount),
	 .help = "active when the value (whichever of the three) is above this"},
	RDS_CONN_OPTIONS(struct rs_cfg, conn),
	EM_OPTIONS_END,
};

#undef OFF

/* KEDA's choice of scale factor, after the connection keys' checks. */
static int rs_validate(void *vcfg, int (*conn_validate)(void *, struct em_optdiag *), struct em_optdiag *d)
{
	struct rs_cfg *c = vcfg;

	if (conn_validate(vcfg, d) != 0)
		return -1;
	if (c->consumerGroup && *c->consumerGroup)
		c->factor = c->lagCount != 0 ? RS_LAG : RS_PENDING;
	else if (c->lagCount != 0)
		/* KEDA would quietly serve the stream length instead */
		return em_opt_error(d, "lagCount", "needs consumerGroup (the group whose lag to read)");
	else
		c->factor = RS_LENGTH;
	return 0;
}

/* import-keda: the option KEDA's Validate makes the target, as rs_validate picks the factor. */
static const char *rs_target_key(const char *(*get)(const void *md, const char *key), const void *md,
				 const char **def)
{
	const char *group = get(md, "consumerGroup"), *lag = get(md, "lagCount");

	*def = "5";
	if (!group || !*group)
		return "streamLength";
	if (lag && *lag && strspn(lag, "0") != strlen(lag))
		return "lagCount";
	return "pendingEntriesCount";
}

static int validate_standalone(void *c, struct em_optdiag *d)
{
	return rs_validate(c, rds_validate_standalone, d);
}

static int validate_cluster(void *c, struct em_optdiag *d)
{
	return rs_validate(c, rds_validate_cluster, d);
}

static int validate_sentinel(void *c, struct em_optdiag *d)
{
	return rs_validate(c, rds_validate_sentinel, d);
}

static int rs_fetch(void *vinst, const struct em_fetch_ctx *ctx, struct em_sample *out, struct em_err *err)
{
	struct rds_inst *in = vinst;
	const struct rs_cfg *c = in->cfg;
	struct rds_cmd cmds[2];
	struct rds_reply *r[2] = {NULL, NULL};
	int64_t deadline = em_mono_ms() + (ctx->timeout_ms > 0 ? ctx->timeout_ms : 3000);
	size_t n = 1;
	long long v = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	switch (c->factor) {
	case RS_PENDING:
		cmds[0] = (struct rds_cmd){3, {"XPENDING", c->stream, c->consumerGroup}};
		break;
	case RS_LENGTH:
		cmds[0] = (struct rds_cmd){2, {"XLEN", c->stream}};
		break;
	case RS_LAG:
		/* XLEN in the same round trip: the answer when the group or its lag is unknown */
		cmds[0] = (struct rds_cmd){3, {"XINFO", "GROUPS", c->stream}};
		cmds[1] = (struct rds_cmd){2, {"XLEN", c->stream}};
		n = 2;
		break;
	}
	if (rds_client_run(in->cl, n, cmds, deadline, r, err) != 0) {
		em_err_prefix(err, "error fetching metric count");
		return -1;
	}
	switch (c->factor) {
	case RS_PENDING:
		rc = rds_xpending_count(r[0], &v, err);
		break;
	case RS_LENGTH:
		rc = rds_reply_int(r[0], "XLEN", &v, err);
		break;
	default: {
		enum rds_lag_source src;
		rc = rds_stream_lag(r[0], r[1], c->consumerGroup, &v, &src, err);
		break;
	}
	}
	rds_reply_free(r[0]);
	rds_reply_free(r[1]);
	if (rc != 0) {
		em_err_prefix(err, "error fetching metric count");
		return -1;
	}
	out->value = (double)v;
	out->active = v > c->activationLagCount;
	return 0;
}

#define RS_SCALER(var, name, validator, what)                                                                   \
	const struct em_scaler var = {                                                                          \
		.type = name,                                                                                   \
		.options = rs_options,                                                                          \
		.config_size = sizeof(struct rs_cfg),                                                           \
		.summary = "Redis stream: a consumer group's pending entries or lag, or the stream length, on " \
			   what "; connections shared per server",                                               \
		.target_key = rs_target_key,                                                                    \
		.validate = validator,                                                                          \
		.open = rds_inst_open,                                                                          \
		.fetch = rs_fetch,                                                                              \
		.close = rds_inst_close,                                                                        \
	}

RS_SCALER(em_scaler_redis_streams, "redis-streams", validate_standalone, "one server");
RS_SCALER(em_scaler_redis_cluster_streams, "redis-cluster-streams", validate_cluster,
	  "a Redis Cluster (MOVED/ASK followed)");
RS_SCALER(em_scaler_redis_sentinel_streams, "redis-sentinel-streams", validate_sentinel,
	  "the master that Redis Sentinel names (asked every poll)");
