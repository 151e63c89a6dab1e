/* cron.c - the KEDA `cron` scaler: desiredReplicas while between the start and end schedules. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cronexpr.h"
#include "tz.h"
#include "scalers/scaler.h"

/* KEDA validates with cron.NewParser(Minute|Hour|Dom|Month|Dow), which
 * rejects "@daily" & co.; KEDA before the typed-config rewrite used cron.New's
 * standard parser, which accepts them. We accept them: they are unambiguous
 * and users of older KEDA versions have them in their manifests. */
#define CRON_PARSE_FLAGS EM_CRON_DESCRIPTORS

struct cron_cfg {
	char *timezone;
	char *start;
	char *end;
	int64_t desired_replicas;
};

static const struct em_option cron_options[] = {
	{.name = "timezone", .type = EM_OPT_STRING, .flags = EM_OPT_REQUIRED,
	 .offset = offsetof(struct cron_cfg, timezone),
	 .help = "IANA time zone the schedules are read in, e.g. Europe/Berlin (\"UTC\" allowed)"},
	{.name = "start", .type = EM_OPT_STRING, .flags = EM_OPT_REQUIRED,
	 .offset = offsetof(struct cron_cfg, start),
	 .help = "5-field cron expression (minute hour day-of-month month day-of-week) opening the window"},
	{.name = "end", .type = EM_OPT_STRING, .flags = EM_OPT_REQUIRED,
	 .offset = offsetof(struct cron_cfg, end),
	 .help = "5-field cron expression closing the window; must differ from start"},
	{.name = "desiredReplicas", .type = EM_OPT_INT, .flags = EM_OPT_REQUIRED,
	 .offset = offsetof(struct cron_cfg, desired_replicas),
	 .help = "metric value while the window is open (> 0); 0 outside it"},
	EM_OPTIONS_END,
};

/* A zone read once and shared by every instance naming it: thousands of
 * cron metrics in one zone hold one copy of its transitions. */
struct shared_zone {
	struct em_keyed k;       /* key: the zone name */
	struct em_tz *tz;
};

static struct em_keyed_set zones = EM_KEYED_SET_INIT;

static int zone_init(void *obj)
{
	struct shared_zone *z = obj;
	struct em_err err;

	return em_tz_load(z->k.key, &z->tz, &err);
}

static void zone_fini(void *obj)
{
	em_tz_free(((struct shared_zone *)obj)->tz);
}

struct cron_inst {
	struct em_cron start, end;
	struct em_tz *zone;             /* shared->tz, or owned when shared is NULL */
	struct shared_zone *shared;
	double desired;
};

static void cron_close(void *p)
{
	struct cron_inst *c = p;

	if (!c)
		return;
	em_cron_free(&c->start);
	em_cron_free(&c->end);
	if (c->shared)
		em_keyed_put(&zones, c->shared, zone_fini);
	else
		em_tz_free(c->zone);
	free(c);
}

/* Parses everything into inst (owned by the caller, freed with cron_close's
 * parts). Messages are KEDA's after the key: Validate() in
 * pkg/scalers/cron_scaler.go, and "unable to load timezone: ..." from
 * GetMetricsAndActivity (KEDA only finds a bad zone at the first poll; we
 * find it when the config is loaded). */
static int cron_build(const struct cron_cfg *cfg, struct cron_inst *c, struct em_optdiag *d)
{
	struct em_err err = {0};
	int before = d->errors;

	if (em_cron_parse(cfg->start, CRON_PARSE_FLAGS, &c->start, &err) != 0)
		em_opt_error(d, "start", "error parsing start schedule: %s", err.msg);
	memset(&err, 0, sizeof(err));
	if (em_cron_parse(cfg->end, CRON_PARSE_FLAGS, &c->end, &err) != 0)
		em_opt_error(d, "end", "error parsing end schedule: %s", err.msg);
	if (strcmp(cfg->start, cfg->end) == 0)
		em_opt_error(d, "end", "start and end can not have exactly same time input");
	if (cfg->desired_replicas == 0)
		em_opt_error(d, "desiredReplicas", "no desiredReplicas specified");
	/* KEDA lets negative values through; an HPA target of a negative
	 * replica count is meaningless, and replicas are int32 in Kubernetes. */
	else if (cfg->desired_replicas < 0 || cfg->desired_replicas > INT32_MAX)
		em_opt_error(d, "desiredReplicas", "must be between 1 and %d, got %lld", INT32_MAX,
			     (long long)cfg->desired_replicas);
	memset(&err, 0, sizeof(err));
	if (!c->zone && em_tz_load(cfg->timezone, &c->zone, &err) != 0)
		em_opt_error(d, "timezone", "unable to load timezone: %s", err.msg);
	c->desired = (double)cfg->desired_replicas;
	return d->errors > before ? -1 : 0;
}

static int cron_validate(void *p, struct em_optdiag *d)
{
	struct cron_inst c = {0};
	int rc = cron_build(p, &c, d);

	em_cron_free(&c.start);
	em_cron_free(&c.end);
	em_tz_free(c.zone);
	return rc;
}

static void *cron_open(const void *p, struct em_err *err)
{
	struct cron_inst *c = calloc(1, sizeof(*c));
	struct em_optdiag d;

	if (!c) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		return NULL;
	}
	em_optdiag_to_err(&d, err);
	/* A zone that does not load is left to cron_build, which says why. */
	c->shared = em_keyed_get(&zones, ((const struct cron_cfg *)p)->timezone ? ((const struct cron_cfg *)p)->timezone : "",
				 sizeof(struct shared_zone), zone_init);
	if (c->shared)
		c->zone = c->shared->tz;
	if (cron_build(p, c, &d) != 0) {
		cron_close(c);
		return NULL;
	}
	return c;
}

/* KEDA's GetMetricsAndActivity, literally: with S and E the next start and
 * end strictly after now (Go's zero time when a schedule never fires),
 *   S before E: active iff now after S and before E (never true, as S > now);
 *   otherwise:  active iff now after S or before E.
 * So the window is open exactly when the next end comes no later than the
 * next start. Times compare at millisecond precision, as now has it. */
static int cron_fetch(void *p, const struct em_fetch_ctx *ctx, struct em_sample *out, struct em_err *err)
{
	const struct cron_inst *c = p;
	int64_t now = ctx->now_ms;
	int64_t s = em_cron_next(&c->start, c->zone, now) * 1000;
	int64_t e = em_cron_next(&c->end, c->zone, now) * 1000;
	bool active;

	if (s < e)
		active = now > s && now < e;
	else
		active = now > s || now < e;
	out->active = active;
	/* KEDA reports 1 outside the window (its activity flag does the
	 * scaling to zero); the core serves 0 for an inactive scaler anyway. */
	out->value = active ? c->desired : 0;
	out->series = NULL;
	out->n_series = 0;
	return 0;
}

const struct em_scaler em_scaler_cron = {
	.type = "cron",
	.options = cron_options,
	.config_size = sizeof(struct cron_cfg),
	.summary = "desiredReplicas between a start and an end cron schedule in an IANA time zone, else 0",
	/* KEDA's HPA target is 1 (AverageValue): desiredReplicas pods while active */
	.fixed_target = "1",
	.validate = cron_validate,
	.open = cron_open,
	.fetch = cron_fetch,
	.close = cron_close,
};
