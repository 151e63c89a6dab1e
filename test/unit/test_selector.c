/* test_selector.c - unit tests of the label selector parser: forms, Kubernetes' error texts, matching. */
#include "harness.h"

#include "adapter/options.h"
#include "apiservice/selector.h"

/* Kubernetes' texts, typed out here from apimachinery v0.32 (and checked
 * against kubectl by test/integration/test_selector_kubectl.py). */
#define REQ "unable to parse requirement: "
#define OPS "in, notin, =, ==, !=, gt, lt"
#define NAME_HINT                                                                                     \
	"must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "   \
	"alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "        \
	"validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
#define VALUE_HINT                                                                                    \
	"a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "   \
	"'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "            \
	"'my_value',  or '12345', regex used for validation is "                                      \
	"'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
#define DNS_HINT                                                                                      \
	"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "  \
	"'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used " \
	"for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
#define GTLT "for 'Gt', 'Lt' operators, the value must be an integer"

/* 63/64 'a's, 253/254 'b's */
#define A16 "aaaaaaaaaaaaaaaa"
#define A63 A16 A16 A16 "aaaaaaaaaaaaaaa"
#define A64 A63 "a"
#define B50 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define B253 B50 B50 B50 B50 B50 "bbb"
#define B254 B253 "b"

struct pcase {
	const char *in;
	const char *out;   /* String() after parsing, NULL when it must fail */
	const char *err;   /* the error text, before truncation to EM_ERR_MSG_MAX-1 */
};

static const struct pcase valid[] = {
	{"", "", NULL},
	{"   \t\r\n", "", NULL},
	{"x=a", "x=a", NULL},
	{"x==a", "x==a", NULL},
	{"x!=a", "x!=a", NULL},
	{"x", "x", NULL},
	{"!x", "!x", NULL},
	{"x in (b,a)", "x in (a,b)", NULL},
	{"x notin (b,a,b)", "x notin (a,b)", NULL},
	{"x>1", "x>1", NULL},
	{"x<10", "x<10", NULL},
	{"x>9223372036854775807", "x>9223372036854775807", NULL},
	{"b=2,a=1", "a=1,b=2", NULL},
	{"  x  =  a  ,  y  ", "x=a,y", NULL},
	{"x=", "x=", NULL},
	{"x==", "x==", NULL},
	{"x!=", "x!=", NULL},
	{"x= ,y=b", "x=,y=b", NULL},
	{"x in ()", "x in ()", NULL},
	{"x in (,)", "x in ()", NULL},
	{"x in (,a)", "x in (,a)", NULL},
	{"x in (a,)", "x in (,a)", NULL},
	{"x in (a,,b)", "x in (,a,b)", NULL},
	{"x in (in,notin)", "x in (in,notin)", NULL},
	{"in=notin", "in=notin", NULL},
	{"notin in (in)", "notin in (in)", NULL},
	{"example.com/app=web", "example.com/app=web", NULL},
	{"a.b-c_d=E.f-G_h", "a.b-c_d=E.f-G_h", NULL},
	{"x\tin\t(a)", "x in (a)", NULL},
	{"x\r\n=\na", "x=a", NULL},
	{"x in(a)", "x in (a)", NULL},
	{"x=a,x=b", "x=a,x=b", NULL},
	{"a/b", "a/b", NULL},
	{"!a/b", "!a/b", NULL},
	{"x,y,!z", "x,y,!z", NULL},
	{"!z,y,x", "x,y,!z", NULL},
	{"z,y,x", "x,y,z", NULL},
	{"X=Y", "X=Y", NULL},
	{"1=2", "1=2", NULL},
	{"1.2.3/c", "1.2.3/c", NULL},
	{"k8s.io/x notin (a),k8s.io/x in (b)", "k8s.io/x notin (a),k8s.io/x in (b)", NULL},
	{A63 "=" A63, A63 "=" A63, NULL},
	{B253 "/" A63, B253 "/" A63, NULL},
};

static const struct pcase invalid[] = {
	{",", NULL, "found ',', expected: !, identifier, or 'end of string'"},
	{"=a", NULL, "found '=', expected: !, identifier, or 'end of string'"},
	{"(", NULL, "found '(', expected: !, identifier, or 'end of string'"},
	{"!=a", NULL, "found '!=', expected: !, identifier, or 'end of string'"},
	{"x y", NULL, REQ "found 'y', expected: " OPS},
	{"x)", NULL, REQ "found ')', expected: " OPS},
	{"x in", NULL, REQ "found '' expected: '('"},
	{"x in a", NULL, REQ "found 'a' expected: '('"},
	{"x in (", NULL, REQ "found '', expected: ',', ')' or identifier"},
	{"x in (=)", NULL, REQ "found '=', expected: ',', ')' or identifier"},
	{"x in ((a)", NULL, REQ "found '(', expected: ',', ')' or identifier"},
	{"x in (a", NULL, REQ "found '', expected: ',' or ')'"},
	{"x in (a b)", NULL, REQ "found 'b', expected: ',' or ')'"},
	{"x in (a,,", NULL, REQ "found '', expected: ',', or identifier"},
	{"x in (a,,)", NULL, REQ "found ')', expected: ',', or identifier"},
	{"x in (,,)", NULL, REQ "found ')', expected: ',', or identifier"},
	{"x=(", NULL, REQ "found '(', expected: identifier"},
	{"x===", NULL, REQ "found '=', expected: identifier"},
	{"x = = a", NULL, REQ "found '=', expected: identifier"},
	{"x<=1", NULL, REQ "found '=', expected: identifier"},
	{"!", NULL, REQ "found '', expected: identifier"},
	{"!!x", NULL, REQ "found '!', expected: identifier"},
	{"!x=a", NULL, "found '=', expected: ',' or 'end of string'"},
	{"x=a=b", NULL, "found '=', expected: ',' or 'end of string'"},
	{"x=a b", NULL, "found 'b', expected: ',' or 'end of string'"},
	{"x=a)", NULL, "found ')', expected: ',' or 'end of string'"},
	{"x,", NULL, "found '', expected: identifier after ','"},
	{"x=a,", NULL, "found '', expected: identifier after ','"},
	{"x,,y", NULL, "found ',', expected: identifier after ','"},
	{"x in (a),(", NULL, "found '(', expected: identifier after ','"},
	{"x>a", NULL, REQ "values[0]: Invalid value: \"a\": " GTLT},
	{"x>", NULL, REQ "values[0]: Invalid value: \"\": " GTLT},
	{"x<99999999999999999999", NULL, REQ "values[0]: Invalid value: \"99999999999999999999\": " GTLT},
	{"x>-1", NULL, REQ "values[0][x]: Invalid value: \"-1\": " VALUE_HINT},
	{"x>-a", NULL, REQ "[values[0]: Invalid value: \"-a\": " GTLT ", values[0][x]: Invalid value: \"-a\": " VALUE_HINT "]"},
	{"-x=a", NULL, REQ "<nil>: Invalid value: \"-x\": name part " NAME_HINT},
	{"x-", NULL, REQ "<nil>: Invalid value: \"x-\": name part " NAME_HINT},
	{"a/b/c", NULL, REQ "<nil>: Invalid value: \"a/b/c\": a qualified name " NAME_HINT
			" with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"},
	{"/a", NULL, REQ "<nil>: Invalid value: \"/a\": prefix part must be non-empty"},
	{"a/", NULL, REQ "<nil>: Invalid value: \"a/\": name part must be non-empty; name part " NAME_HINT},
	{"/", NULL, REQ "<nil>: Invalid value: \"/\": prefix part must be non-empty; name part must be non-empty; name part " NAME_HINT},
	{"A/b", NULL, REQ "<nil>: Invalid value: \"A/b\": prefix part " DNS_HINT},
	{"a..b/c", NULL, REQ "<nil>: Invalid value: \"a..b/c\": prefix part " DNS_HINT},
	{"-a/c", NULL, REQ "<nil>: Invalid value: \"-a/c\": prefix part " DNS_HINT},
	{"a-/c", NULL, REQ "<nil>: Invalid value: \"a-/c\": prefix part " DNS_HINT},
	{"a_b/c", NULL, REQ "<nil>: Invalid value: \"a_b/c\": prefix part " DNS_HINT},
	{"a./c", NULL, REQ "<nil>: Invalid value: \"a./c\": prefix part " DNS_HINT},
	{A64 "=v", NULL, REQ "<nil>: Invalid value: \"" A64 "\": name part must be no more than 63 bytes"},
	{B254 "/c", NULL, REQ "<nil>: Invalid value: \"" B254 "/c\": prefix part must be no more than 253 bytes"},
	{"x=" A64, NULL, REQ "values[0][x]: Invalid value: \"" A64 "\": must be no more than 63 bytes"},
	{"x=" A63 "-", NULL, REQ "values[0][x]: Invalid value: \"" A63 "-\": must be no more than 63 bytes; " VALUE_HINT},
	{"x=-a", NULL, REQ "values[0][x]: Invalid value: \"-a\": " VALUE_HINT},
	{"x=_", NULL, REQ "values[0][x]: Invalid value: \"_\": " VALUE_HINT},
	{"x notin (a,-b,c)", NULL, REQ "values[0][x]: Invalid value: \"-b\": " VALUE_HINT},
	{"x in (z,-b)", NULL, REQ "values[0][x]: Invalid value: \"-b\": " VALUE_HINT},
	{"x in (-a,-b)", NULL,
	 REQ "[values[0][x]: Invalid value: \"-a\": " VALUE_HINT ", values[1][x]: Invalid value: \"-b\": " VALUE_HINT "]"},
	/* Go's %q of the bad text */
	{"x=a\"b", NULL, REQ "values[0][x]: Invalid value: \"a\\\"b\": " VALUE_HINT},
	{"x=a\\b", NULL, REQ "values[0][x]: Invalid value: \"a\\\\b\": " VALUE_HINT},
	{"x=\xc3\xa9", NULL, REQ "values[0][x]: Invalid value: \"\xc3\xa9\": " VALUE_HINT},
	{"x=\x01\x7f\x1b", NULL, REQ "values[0][x]: Invalid value: \"\\x01\\x7f\\x1b\": " VALUE_HINT},
	{"\v\f", NULL, REQ "<nil>: Invalid value: \"\\v\\f\": name part " NAME_HINT},
	{"x=\xe2\x80\x8b", NULL, REQ "values[0][x]: Invalid value: \"\\u200b\": " VALUE_HINT},
	{"x=\xcd\xb8", NULL, REQ "values[0][x]: Invalid value: \"\\u0378\": " VALUE_HINT},
	{"x=\xf3\xa0\x80\x81", NULL, REQ "values[0][x]: Invalid value: \"\\U000e0001\": " VALUE_HINT},
	{"x=\xf0\x9f\x98\x80", NULL, REQ "values[0][x]: Invalid value: \"\xf0\x9f\x98\x80\": " VALUE_HINT},
	{"\xff=a", NULL, REQ "<nil>: Invalid value: \"\\xff\": name part " NAME_HINT},
	{"x=\xed\xa0\x80", NULL, REQ "values[0][x]: Invalid value: \"\\xed\\xa0\\x80\": " VALUE_HINT},
	{"x=\xc3", NULL, REQ "values[0][x]: Invalid value: \"\\xc3\": " VALUE_HINT},
};

static void check_case(const struct pcase *c)
{
	struct em_selector sel = {(struct em_sel_req *)1, 99};   /* must be overwritten */
	struct em_err err = {EM_OK, ""};
	int rc = em_selector_parse(c->in, &sel, &err);

	if (c->out) {
		if (rc != 0) {
			TH_FAIL("parse(\"%s\") failed: %s", c->in, err.msg);
			return;
		}
		char *s = em_selector_string(&sel);
		if (!s || strcmp(s, c->out) != 0)
			TH_FAIL("String(parse(\"%s\")) = \"%s\", expected \"%s\"", c->in, s ? s : "(null)", c->out);
		/* the normalized form parses to itself */
		struct em_selector again;
		if (s && em_selector_parse(s, &again, &err) == 0) {
			char *s2 = em_selector_string(&again);
			if (!s2 || strcmp(s2, s) != 0)
				TH_FAIL("String() of \"%s\" is not stable: \"%s\"", s, s2 ? s2 : "(null)");
			free(s2);
			em_selector_free(&again);
		} else {
			TH_FAIL("String() form \"%s\" of \"%s\" does not parse: %s", s ? s : "(null)", c->in, err.msg);
		}
		free(s);
		em_selector_free(&sel);
		return;
	}
	if (rc != -1) {
		char *s = em_selector_string(&sel);
		TH_FAIL("parse(\"%s\") succeeded as \"%s\", expected error", c->in, s ? s : "");
		free(s);
		em_selector_free(&sel);
		return;
	}
	if (err.kind != EM_E_BADREQUEST)
		TH_FAIL("parse(\"%s\"): kind %d, expected EM_E_BADREQUEST", c->in, (int)err.kind);
	if (sel.reqs != NULL || sel.n != 0)
		TH_FAIL("parse(\"%s\"): output not emptied on error", c->in);
	/* em_err keeps EM_ERR_MSG_MAX-1 bytes of the text */
	char want[EM_ERR_MSG_MAX];
	snprintf(want, sizeof(want), "%s", c->err);
	if (strcmp(err.msg, want) != 0)
		TH_FAIL("parse(\"%s\"):\n#     got  \"%s\"\n#     want \"%s\"", c->in, err.msg, want);
}

TEST(valid_selectors_parse_and_normalize)
{
	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
		check_case(&valid[i]);
}

TEST(invalid_selectors_give_kubernetes_texts)
{
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
		check_case(&invalid[i]);
}

TEST(table_is_big_enough)
{
	EXPECT(sizeof(valid) / sizeof(valid[0]) + sizeof(invalid) / sizeof(invalid[0]) >= 100);
}

TEST(null_is_everything)
{
	struct em_selector sel;
	struct em_err err = {0};

	EXPECT_INT(em_selector_parse(NULL, &sel, &err), 0);
	EXPECT_INT(sel.n, 0);
	EXPECT(sel.reqs == NULL);
	EXPECT(em_selector_matches(&sel, NULL));
	em_selector_free(&sel);
	em_selector_free(NULL);
	EXPECT(em_selector_matches(NULL, NULL));
}

TEST(long_error_is_truncated_not_overflowed)
{
	struct em_selector sel;
	struct em_err err = {0};

	EXPECT_INT(em_selector_parse("x in (-a,-b,-c,-d)", &sel, &err), -1);
	EXPECT_INT(strlen(err.msg), EM_ERR_MSG_MAX - 1);
	EXPECT(strncmp(err.msg, REQ "[values[0][x]: Invalid value: \"-a\": ", strlen(REQ) + 36) == 0);
}

TEST(parsed_structure)
{
	struct em_selector sel;
	struct em_err err = {0};

	EXPECT_INT(em_selector_parse("z notin (b,a,b), !y, x>5, w in (), v, u==c, k8s.io/t!=", &sel, &err), 0);
	if (sel.n != 7) {
		TH_FAIL("n = %zu: %s", sel.n, err.msg);
		em_selector_free(&sel);
		return;
	}
	EXPECT_STR(sel.reqs[0].key, "k8s.io/t");
	EXPECT_INT(sel.reqs[0].op, EM_SEL_NEQ);
	EXPECT_INT(sel.reqs[0].nvalues, 1);
	EXPECT_STR(sel.reqs[0].values[0], "");
	EXPECT_STR(sel.reqs[1].key, "u");
	EXPECT_INT(sel.reqs[1].op, EM_SEL_DEQ);
	EXPECT_STR(sel.reqs[1].values[0], "c");
	EXPECT_STR(sel.reqs[2].key, "v");
	EXPECT_INT(sel.reqs[2].op, EM_SEL_EXISTS);
	EXPECT_INT(sel.reqs[2].nvalues, 0);
	EXPECT_STR(sel.reqs[3].key, "w");
	EXPECT_INT(sel.reqs[3].op, EM_SEL_IN);
	EXPECT_INT(sel.reqs[3].nvalues, 1);
	EXPECT_STR(sel.reqs[3].values[0], "");
	EXPECT_STR(sel.reqs[4].key, "x");
	EXPECT_INT(sel.reqs[4].op, EM_SEL_GT);
	EXPECT_STR(sel.reqs[4].values[0], "5");
	EXPECT_STR(sel.reqs[5].key, "y");
	EXPECT_INT(sel.reqs[5].op, EM_SEL_NOTEXISTS);
	EXPECT_STR(sel.reqs[6].key, "z");
	EXPECT_INT(sel.reqs[6].op, EM_SEL_NOTIN);
	EXPECT_INT(sel.reqs[6].nvalues, 2);
	EXPECT_STR(sel.reqs[6].values[0], "a");
	EXPECT_STR(sel.reqs[6].values[1], "b");
	char *s = em_selector_string(&sel);
	EXPECT_STR(s, "k8s.io/t!=,u==c,v,w in (),x>5,!y,z notin (a,b)");
	free(s);
	em_selector_free(&sel);
	EXPECT_INT(sel.n, 0);
	em_selector_free(&sel);   /* twice is fine */
}

TEST(equal_keys_keep_input_order)
{
	struct em_selector sel;
	struct em_err err = {0};

	/* more than 12 requirements, where Go's sort stops being an insertion sort */
	EXPECT_INT(em_selector_parse("b=1,a=9,b=2,a=8,b=3,a=7,b=4,a=6,b=5,a=5,b=6,a=4,b=7,a=3", &sel, &err), 0);
	char *s = em_selector_string(&sel);
	EXPECT_STR(s, "a=9,a=8,a=7,a=6,a=5,a=4,a=3,b=1,b=2,b=3,b=4,b=5,b=6,b=7");
	free(s);
	em_selector_free(&sel);
}

/* ---------------------------------------------------------------- matching */

struct mcase {
	const char *sel;
	const char *labels;   /* "k=v,k2=v2"; "" = no labels */
	bool want;
};

static const struct mcase mcases[] = {
	{"", "", true},
	{"", "a=b", true},
	{"x=a", "x=a", true},
	{"x=a", "x=b", false},
	{"x=a", "", false},
	{"x=a", "y=a", false},
	{"x==a", "x=a", true},
	{"x!=a", "", true},
	{"x!=a", "x=a", false},
	{"x!=a", "x=b", true},
	{"x in (a,b)", "x=b", true},
	{"x in (a,b)", "x=c", false},
	{"x in (a,b)", "", false},
	{"x notin (a,b)", "", true},
	{"x notin (a,b)", "x=a", false},
	{"x notin (a,b)", "x=c", true},
	{"x notin ()", "x=", false},
	{"x notin ()", "x=a", true},
	{"x in ()", "x=", true},
	{"x", "x=", true},
	{"x", "", false},
	{"!x", "", true},
	{"!x", "x=a", false},
	{"x=", "x=", true},
	{"x=", "", false},
	{"x>5", "x=6", true},
	{"x>5", "x=5", false},
	{"x>5", "x=+6", true},
	{"x>5", "x=abc", false},
	{"x>5", "x=6.5", false},
	{"x>5", "", false},
	{"x>5", "x=99999999999999999999", false},
	{"x<5", "x=4", true},
	{"x<5", "x=5", false},
	{"x<0", "x=-9223372036854775808", true},
	{"x<5", "", false},
	{"x=a,y=b", "x=a,y=b", true},
	{"x=a,y=b", "x=a", false},
	{"x=a,!y", "x=a", true},
	{"x=a,!y", "x=a,y=b", false},
	{"x>1,x<3", "x=2", true},
	{"x>1,x<3", "x=3", false},
	{"example.com/app in (web),tier notin (db)", "example.com/app=web,tier=fe", true},
	{"example.com/app in (web),tier notin (db)", "example.com/app=web,tier=db", false},
};

/* Builds labels from "k=v,k2=v2" into fixed storage. */
static void make_labels(const char *text, char *store, size_t cap, struct em_kv *kvs, struct em_kvlist *l)
{
	char *save = NULL, *tok;

	l->items = kvs;
	l->n = 0;
	snprintf(store, cap, "%s", text);
	for (tok = strtok_r(store, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		kvs[l->n].key = tok;
		kvs[l->n].value = eq ? (*eq = '\0', eq + 1) : tok + strlen(tok);
		l->n++;
	}
}

TEST(matches_like_kubernetes)
{
	for (size_t i = 0; i < sizeof(mcases) / sizeof(mcases[0]); i++) {
		struct em_selector sel;
		struct em_err err = {0};
		struct em_kv kvs[8];
		struct em_kvlist labels;
		char store[256];

		if (em_selector_parse(mcases[i].sel, &sel, &err) < 0) {
			TH_FAIL("parse(\"%s\"): %s", mcases[i].sel, err.msg);
			continue;
		}
		make_labels(mcases[i].labels, store, sizeof(store), kvs, &labels);
		if (em_selector_matches(&sel, &labels) != mcases[i].want)
			TH_FAIL("\"%s\" on {%s}: expected %s", mcases[i].sel, mcases[i].labels,
				mcases[i].want ? "match" : "no match");
		if (!*mcases[i].labels && em_selector_matches(&sel, NULL) != mcases[i].want)
			TH_FAIL("\"%s\" on NULL labels: expected %d", mcases[i].sel, mcases[i].want);
		em_selector_free(&sel);
	}
}

/* -------------------------------------------------------------- equalities */

TEST(equalities_are_sorted_pairs)
{
	struct em_selector sel;
	struct em_err err = {0};
	struct em_kvlist eq;

	EXPECT_INT(em_selector_parse("e!=6,c in (3),b=2,f,a==1,d in (4,5),g>1,!h,i notin (9)", &sel, &err), 0);
	EXPECT_INT(em_selector_equalities(&sel, &eq), 0);
	EXPECT_INT(eq.n, 3);
	if (eq.n == 3) {
		EXPECT_STR(eq.items[0].key, "a");
		EXPECT_STR(eq.items[0].value, "1");
		EXPECT_STR(eq.items[1].key, "b");
		EXPECT_STR(eq.items[1].value, "2");
		EXPECT_STR(eq.items[2].key, "c");
		EXPECT_STR(eq.items[2].value, "3");
	}
	em_kvlist_free(&eq);
	em_selector_free(&sel);

	EXPECT_INT(em_selector_parse("x=b,x=a,w=", &sel, &err), 0);
	EXPECT_INT(em_selector_equalities(&sel, &eq), 0);
	EXPECT_INT(eq.n, 3);
	if (eq.n == 3) {
		EXPECT_STR(eq.items[0].key, "w");
		EXPECT_STR(eq.items[0].value, "");
		EXPECT_STR(eq.items[1].value, "b");
		EXPECT_STR(eq.items[2].value, "a");
	}
	em_kvlist_free(&eq);
	em_selector_free(&sel);

	EXPECT_INT(em_selector_parse("", &sel, &err), 0);
	EXPECT_INT(em_selector_equalities(&sel, &eq), 0);
	EXPECT_INT(eq.n, 0);
	EXPECT(eq.items == NULL);
	em_selector_free(&sel);
}

TEST(op_names)
{
	EXPECT_STR(em_sel_op_name(EM_SEL_EQ), "=");
	EXPECT_STR(em_sel_op_name(EM_SEL_NOTIN), "notin");
	EXPECT_STR(em_sel_op_name(EM_SEL_NOTEXISTS), "!");
	EXPECT_STR(em_sel_op_name(EM_SEL_LT), "<");
}
