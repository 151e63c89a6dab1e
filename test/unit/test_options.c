/* test_options.c - option tables: KEDA's number grammar, aliases, ignored and deprecated keys, suggestions, all errors. */
#include "harness.h"
#include "optdiag.h"

#include <stdint.h>

#include "adapter/options.h"
#include "adapter/util/text.h"

/* KEDA decodes numbers with encoding/json: these rows are what json.Unmarshal
 * into an int64 / float64 accepts (checked against Go's grammar: RFC 8259). */
TEST(numbers_follow_json_as_keda_decodes_them)
{
	static const struct {
		const char *s;
		bool int_ok, float_ok;
	} t[] = {
		{"5", true, true},       {"-5", true, true},      {"0", true, true},       {"-0", true, true},
		{"5.5", false, true},    {"5.0", false, true},    {"1e3", false, true},    {"1E+3", false, true},
		{"2.5e-3", false, true}, {"+5", false, false},    {"05", false, false},    {".5", false, false},
		{"5.", false, false},    {"0x10", false, false},  {"1_000", false, false}, {"NaN", false, false},
		{"Inf", false, false},   {"infinity", false, false}, {"1e", false, false}, {"-", false, false},
		{"", false, false},      {"1e400", false, false}, {"9223372036854775807", true, true},
		{"9223372036854775808", false, true}, {"--1", false, false}, {"1.5e-400", false, true},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int64_t iv;
		double fv;
		if ((em_parse_int(t[i].s, &iv) == 0) != t[i].int_ok)
			TH_FAIL("int \"%s\": got %s", t[i].s, t[i].int_ok ? "refused" : "accepted");
		if ((em_parse_float(t[i].s, &fv) == 0) != t[i].float_ok)
			TH_FAIL("float \"%s\": got %s", t[i].s, t[i].float_ok ? "refused" : "accepted");
	}
}

TEST(edit_distance)
{
	EXPECT_INT(em_text_distance("queueLenght", "queueLength", 3), 1);   /* a transposition counts once */
	EXPECT_INT(em_text_distance("queueurl", "queueURL", 3), 0);         /* case is ignored */
	EXPECT_INT(em_text_distance("abc", "abc", 0), 0);
	EXPECT_INT(em_text_distance("kitten", "sitting", 3), 3);
	EXPECT(em_text_distance("kitten", "sitting", 2) > 2);
	EXPECT(em_text_distance("a", "abcdef", 2) > 2);
}

struct cfg {
	char *modes;
	double target;
	int64_t n;
	char *secret;
	char *role;
};

static const struct em_option table[] = {
	{.name = "authModes", .alias = "authMode", .type = EM_OPT_STRING, .offset = offsetof(struct cfg, modes)},
	{.name = "threshold", .type = EM_OPT_FLOAT, .flags = EM_OPT_REQUIRED, .offset = offsetof(struct cfg, target)},
	{.name = "queueLength", .type = EM_OPT_INT, .def = "5", .offset = offsetof(struct cfg, n)},
	{.name = "identityOwner", .type = EM_OPT_STRING, .flags = EM_OPT_IGNORED, .note = "nothing uses it"},
	{.name = "cortexOrgID", .type = EM_OPT_STRING, .flags = EM_OPT_DEPRECATED | EM_OPT_IGNORED, .note = "removed"},
	{.name = "awsSecretAccessKey", .type = EM_OPT_STRING, .flags = EM_OPT_SECRET | EM_OPT_METAWARN,
	 .offset = offsetof(struct cfg, secret), .note = "KEDA ignores it there"},
	{.name = "awsRoleArn", .type = EM_OPT_STRING, .flags = EM_OPT_NOMETA, .offset = offsetof(struct cfg, role),
	 .note = "KEDA reads it from a TriggerAuthentication only"},
	EM_OPTIONS_END,
};

/* Parses "k=v" pairs; "k@=v" means from auth.params, "k~=v" from KEYFromEnv. */
static int parse(struct cfg *c, struct th_diag *t, const char *const *kv)
{
	struct em_rawopt items[16];
	struct em_rawopts raw = {items, 0};
	char names[16][64];
	int rc;

	for (size_t i = 0; kv[i]; i++) {
		const char *eq = strchr(kv[i], '=');
		size_t n = (size_t)(eq - kv[i]);
		enum em_optsrc src = EM_SRC_METADATA;
		if (kv[i][n - 1] == '@' || kv[i][n - 1] == '~') {
			src = kv[i][n - 1] == '@' ? EM_SRC_AUTH : EM_SRC_FROMENV;
			n--;
		}
		snprintf(names[i], sizeof(names[i]), "%.*s", (int)n, kv[i]);
		items[raw.n++] = (struct em_rawopt){.name = names[i], .value = eq + 1, .src = src};
	}
	memset(c, 0, sizeof(*c));
	rc = em_options_parse(table, &raw, c, th_diag_init(t));
	em_options_free(table, c);
	return rc;
}

TEST(every_error_at_once_with_suggestions)
{
	struct cfg c;
	struct th_diag t;

	/* a typo, a bad number and a missing key: all three, in table order after the unknown keys */
	EXPECT_INT(parse(&c, &t, (const char *[]){"queueLenght=5", "queueLength=five", NULL}), -1);
	EXPECT_STR(t.errs, "queueLenght: unknown parameter \"queueLenght\" (did you mean \"queueLength\"?)\n"
			   "threshold: missing required parameter \"threshold\"\n"
			   "queueLength: invalid integer \"five\"\n");
	EXPECT_INT(t.d.errors, 3);
	EXPECT_STR(em_options_suggest(table, "AuthMode"), "authMode");
	EXPECT(em_options_suggest(table, "region") == NULL);
	EXPECT_STR(em_options_suggest(table, "RoleArn"), "awsRoleArn");
	EXPECT_STR(em_options_suggest(table, "thresold"), "threshold");
	EXPECT(em_options_suggest(table, "zzzzzz") == NULL);
	/* a KEDA trigger's own keys pasted into metadata get a hint */
	EXPECT_INT(parse(&c, &t, (const char *[]){"threshold=1", "authenticationRef=x", NULL}), -1);
	EXPECT(strstr(t.errs, "a key of the KEDA trigger itself, not of its metadata") != NULL);
	EXPECT_INT(parse(&c, &t, (const char *[]){"threshold=1", "triggers=x", NULL}), -1);
	EXPECT(strstr(t.errs, "extmetrics import-keda") != NULL);
}

TEST(aliases_ignored_and_deprecated_keys)
{
	struct cfg c;
	struct th_diag t;
	struct em_rawopt one = {.name = "authMode", .value = " basic "};
	struct em_rawopts raw = {&one, 1};

	/* the alias is read when the name is absent (KEDA's name=authModes;authMode) */
	memset(&c, 0, sizeof(c));
	EXPECT_INT(em_options_parse(table, &raw, &c, th_diag_init(&t)), -1); /* threshold missing */
	EXPECT_STR(c.modes, "basic");
	em_options_free(table, &c);
	/* both given and different: the name wins, the alias is ignored with a warning */
	EXPECT_INT(parse(&c, &t, (const char *[]){"threshold=1", "authModes=tls", "authMode=basic", NULL}), 0);
	EXPECT_STR(t.warns, "authMode: ignored: authModes is set too and KEDA reads it first\n");
	/* keys KEDA accepts and ignores: accepted, with a warning naming them */
	EXPECT_INT(parse(&c, &t, (const char *[]){"threshold=1", "identityOwner=whatever", "metricName=m", NULL}), 0);
	EXPECT_STR(t.errs, "");
	EXPECT(strstr(t.warns, "identityOwner: ignored: nothing uses it\n") != NULL);
	EXPECT(strstr(t.warns, "metricName: ignored: KEDA removed metricName from trigger metadata in v2.12") != NULL);
	/* NOMETA: ignored in metadata (as KEDA does), used from auth.params */
	EXPECT_INT(parse(&c, &t, (const char *[]){"threshold=1", "awsRoleArn=arn:a", NULL}), 0);
	EXPECT_STR(t.warns, "awsRoleArn: ignored in metadata: KEDA reads it from a TriggerAuthentication only\n");
	EXPECT_INT(parse(&c, &t, (const char *[]){"threshold=1", "awsRoleArn@=arn:a", NULL}), 0);
	EXPECT_STR(t.warns, "");
	/* METAWARN: used, warned about in metadata only (not from KEYFromEnv) */
	EXPECT_INT(parse(&c, &t, (const char *[]){"threshold=1", "awsSecretAccessKey=s", NULL}), 0);
	EXPECT_STR(t.warns, "awsSecretAccessKey: in metadata: KEDA ignores it there\n");
	EXPECT_INT(parse(&c, &t, (const char *[]){"threshold=1", "awsSecretAccessKey~=s", NULL}), 0);
	EXPECT_STR(t.warns, "");
	/* an empty value is absent, as in KEDA: the default applies */
	{
		struct em_rawopt two[] = {{.name = "threshold", .value = "2"}, {.name = "queueLength", .value = "  "}};
		struct em_rawopts r2 = {two, 2};
		memset(&c, 0, sizeof(c));
		EXPECT_INT(em_options_parse(table, &r2, &c, th_diag_init(&t)), 0);
		EXPECT_INT(c.n, 5);
		em_options_free(table, &c);
	}
}

TEST(first_error_into_an_em_err)
{
	struct em_err err = {0};
	struct em_optdiag d;
	struct cfg c = {0};
	struct em_rawopt items[] = {{.name = "threshold", .value = "x"}, {.name = "queueLength", .value = "y"}};
	struct em_rawopts raw = {items, 2};

	em_optdiag_to_err(&d, &err);
	EXPECT_INT(em_options_parse(table, &raw, &c, &d), -1);
	EXPECT_INT(err.kind, EM_E_CONFIG);
	EXPECT_STR(err.msg, "threshold: invalid number \"x\"");
	EXPECT_INT(d.errors, 2);
	em_options_free(table, &c);
}
