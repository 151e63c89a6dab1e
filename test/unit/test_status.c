/* test_status.c - the `extmetrics status` table from GET /status bodies (em_status_print), and the RFC 3339 times it reads. */
#include "harness.h"

#include <stdint.h>

#include "adapter/cli/cli.h"
#include "adapter/util/clock.h"

/* em_status_print on body: what it printed (caller frees), or NULL with why. */
static char *print(const char *body, char *why, size_t cap)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	int rc;

	if (!out)
		return NULL;
	why[0] = '\0';
	rc = em_status_print(body, strlen(body), out, why, cap);
	fclose(out);
	if (rc != 0) {
		if (len != 0)
			TH_FAIL("refused, yet printed \"%s\"", text);
		free(text);
		return NULL;
	}
	return text;
}

/* The LAST SUCCESS cell of the first row (the table's sixth column). */
static const char *success_cell(const char *table, char *cell, size_t cap)
{
	const char *row = strchr(table, '\n'), *at = strstr(table, "LAST SUCCESS");
	size_t col, n = 0;

	cell[0] = '\0';
	if (!row || !at)
		return cell;
	col = (size_t)(at - table);
	row++;
	if (strlen(row) > col)
		while (n + 1 < cap && row[col + n] && row[col + n] != ' ')
			cell[n] = row[col + n], n++;
	cell[n] = '\0';
	return cell;
}

TEST(table_as_kubectl_prints_it)
{
	static const char body[] =
		"{\"time\":\"2026-12-06T06:00:00Z\",\"metrics\":["
		"{\"name\":\"always-on\",\"namespaces\":[\"*\"],\"type\":\"cron\",\"instances\":[{\"state\":\"ok\","
		"\"value\":3,\"lastSuccessTime\":\"2026-12-06T05:59:18Z\",\"lastErrorTime\":null,\"lastError\":null}]},"
		"{\"name\":\"down\",\"namespaces\":[\"team-a\",\"team-b\"],\"type\":\"prometheus\",\"instances\":[{"
		"\"state\":\"failing\",\"value\":null,\"lastSuccessTime\":null,\"lastErrorTime\":\"2026-12-06T05:54:57Z\","
		"\"lastError\":\"connection refused\"}]}]}";
	/* columns three spaces apart, each as wide as its widest cell; the last one not padded */
	static const char want[] =
		"METRIC      NAMESPACES      TYPE         STATE     VALUE    LAST SUCCESS   LAST ERROR\n"
		"always-on   *               cron         ok        3        42s            <none>\n"
		"down        team-a,team-b   prometheus   failing   <none>   <none>         5m3s: connection refused\n";
	char why[256];
	char *got = print(body, why, sizeof(why));

	EXPECT_STR(got, want);
	free(got);
}

TEST(templated_metrics_and_scalers_that_cannot_start)
{
	static const struct {
		const char *name, *body, *want;
	} cases[] = {
		{"a templated metric without instances: one row, state -",
		 "{\"time\":\"2026-12-06T06:00:00Z\",\"metrics\":[{\"name\":\"q\",\"namespaces\":[\"a\"],\"type\":\"aws-sqs-queue\","
		 "\"templated\":true,\"instances\":[]}]}",
		 "q        a            aws-sqs-queue   -       <none>   <none>         <none>\n"},
		{"a templated metric: a row per instance, METRIC#INSTANCE and the namespace it serves",
		 "{\"time\":\"2026-12-06T06:00:00Z\",\"metrics\":[{\"name\":\"q\",\"namespaces\":[\"*\"],\"type\":\"postgresql\","
		 "\"templated\":true,\"instances\":["
		 "{\"state\":\"stale\",\"namespace\":\"shop\",\"instance\":\"0badcafe\",\"value\":12.5,"
		 "\"lastSuccessTime\":\"2026-12-06T05:59:00Z\",\"lastErrorTime\":\"2026-12-06T06:00:00Z\",\"lastError\":\"timeout\"},"
		 "{\"state\":\"ok\",\"namespace\":\"web\",\"instance\":\"12345678\",\"value\":0,"
		 "\"lastSuccessTime\":\"2026-12-06T06:00:00Z\",\"lastErrorTime\":null,\"lastError\":null}]}]}",
		 "q#0badcafe   shop         postgresql   stale   12.5    60s            0s: timeout\n"
		 "q#12345678   web          postgresql   ok      0       0s             <none>\n"},
		{"a scaler that could not be started: failing, saying why",
		 "{\"time\":\"2026-12-06T06:00:00Z\",\"metrics\":[{\"name\":\"pg\",\"namespaces\":[\"a\",\"b\"],"
		 "\"type\":\"postgresql\",\"error\":\"host: required\",\"instances\":[]}]}",
		 "pg       a,b          postgresql   failing   <none>   <none>         cannot start: host: required\n"},
		{"values as %.15g: large, small, negative; an error time without a message: its age alone",
		 "{\"time\":\"2026-12-06T06:00:00Z\",\"metrics\":[{\"name\":\"m\",\"namespaces\":[],\"type\":\"cron\",\"instances\":["
		 "{\"state\":\"fallback\",\"value\":1e20,\"lastErrorTime\":\"2026-12-06T05:00:00Z\"},"
		 "{\"state\":\"ok\",\"value\":123456789012},"
		 "{\"state\":\"ok\",\"value\":-0.001}]}]}",
		 "m                     cron   fallback   1e+20          <none>         60m\n"
		 "m                     cron   ok         123456789012   <none>         <none>\n"
		 "m                     cron   ok         -0.001         <none>         <none>\n"},
	};
	char why[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = print(cases[i].body, why, sizeof(why));
		const char *rows = got ? strchr(got, '\n') : NULL;

		if (!got)
			TH_FAIL("%s: refused: %s", cases[i].name, why);
		else if (strncmp(got, "METRIC ", 7) != 0 || !rows || strcmp(rows + 1, cases[i].want) != 0)
			TH_FAIL("%s:\n%s\nexpected rows:\n%s", cases[i].name, got, cases[i].want);
		free(got);
	}
}

TEST(ages_as_kubectl_writes_them)
{
	/* seconds before the server's time -> the LAST SUCCESS cell */
	static const struct {
		long long ago;
		const char *cell;
	} cases[] = {
		{0, "0s"}, {42, "42s"}, {119, "119s"}, {120, "2m0s"}, {303, "5m3s"}, {599, "9m59s"},
		{600, "10m"}, {179 * 60 + 59, "179m"}, {180 * 60, "3h0m"}, {3 * 3600 + 20 * 60, "3h20m"},
		{8 * 3600, "8h"}, {47 * 3600 + 3599, "47h"}, {48 * 3600, "2d0h"}, {7 * 86400 + 23 * 3600, "7d23h"},
		{8 * 86400, "8d"}, {400 * 86400, "400d"},
		{-30, "0s"},   /* a success after the server's time (its clock moved): not negative */
	};
	const int64_t server_ms = 1796536800000LL;   /* 2026-12-06T06:00:00Z */
	char server[32], at[32], body[512], why[256], cell[32];

	em_rfc3339(server_ms, server, sizeof(server));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		em_rfc3339(server_ms - cases[i].ago * 1000, at, sizeof(at));
		snprintf(body, sizeof(body),
			 "{\"time\":\"%s\",\"metrics\":[{\"name\":\"m\",\"namespaces\":[\"*\"],\"type\":\"cron\","
			 "\"instances\":[{\"state\":\"ok\",\"value\":1,\"lastSuccessTime\":\"%s\"}]}]}",
			 server, at);
		char *got = print(body, why, sizeof(why));
		if (!got)
			TH_FAIL("%lld s ago: refused: %s", cases[i].ago, why);
		else if (strcmp(success_cell(got, cell, sizeof(cell)), cases[i].cell) != 0)
			TH_FAIL("%lld s ago: \"%s\", expected \"%s\"", cases[i].ago, cell, cases[i].cell);
		free(got);
	}
}

TEST(ages_count_on_the_servers_clock)
{
	/* Whatever this machine's clock says, ages are the server's: a server
	 * far ahead (2099) or behind (2001) still shows 42s. */
	static const char *const servers[] = {"2099-03-01T00:00:42Z", "2001-03-01T00:00:42Z"};
	char body[512], why[256], cell[32];

	for (size_t i = 0; i < sizeof(servers) / sizeof(servers[0]); i++) {
		snprintf(body, sizeof(body),
			 "{\"time\":\"%s\",\"metrics\":[{\"name\":\"m\",\"namespaces\":[\"*\"],\"type\":\"cron\","
			 "\"instances\":[{\"state\":\"ok\",\"value\":1,\"lastSuccessTime\":\"%.17s00Z\"}]}]}",
			 servers[i], servers[i]);
		char *got = print(body, why, sizeof(why));
		if (!got)
			TH_FAIL("server at %s: refused: %s", servers[i], why);
		else if (strcmp(success_cell(got, cell, sizeof(cell)), "42s") != 0)
			TH_FAIL("server at %s: \"%s\", expected \"42s\"", servers[i], cell);
		free(got);
	}
}

TEST(long_errors_cut_on_a_character_boundary)
{
	char msg[200], body[1024], why[256], want[256];
	size_t n = 0;

	/* 79 ASCII bytes, then "é" (2 bytes) straddling the 80-byte cut: cut before it */
	while (n < 79)
		msg[n++] = 'x';
	snprintf(msg + n, sizeof(msg) - n, "\xc3\xa9 and more after the cut");
	snprintf(body, sizeof(body),
		 "{\"time\":\"2026-12-06T06:00:00Z\",\"metrics\":[{\"name\":\"m\",\"namespaces\":[\"*\"],\"type\":\"cron\","
		 "\"instances\":[{\"state\":\"failing\",\"value\":null,\"lastErrorTime\":\"2026-12-06T06:00:00Z\","
		 "\"lastError\":\"%s\"}]}]}",
		 msg);
	snprintf(want, sizeof(want), "0s: %.79s...\n", msg);
	char *got = print(body, why, sizeof(why));
	const char *cell = got ? strstr(got, "0s: x") : NULL;

	if (!cell)
		TH_FAIL("no error cell in \"%s\" (%s)", got ? got : "", why);
	else
		EXPECT_STR(cell, want);
	free(got);
}

TEST(nothing_configured)
{
	char why[256];
	char *got = print("{\"time\":\"2026-12-06T06:00:00Z\",\"metrics\":[]}", why, sizeof(why));

	EXPECT_STR(got, "No metrics configured.\n");
	free(got);
}

/* followed by jansson's reason, or "no metrics list" */
#define NOT_STATUS "the answer is not a status document: "

TEST(answers_that_are_not_status_documents_are_refused)
{
	static const struct {
		const char *body, *why;
	} cases[] = {
		{"", NOT_STATUS ""},
		{"<html>404</html>", NOT_STATUS ""},
		{"{\"metrics\":{}}", NOT_STATUS "no metrics list"},
		{"{\"items\":[]}", NOT_STATUS "no metrics list"},
		{"[]", NOT_STATUS "no metrics list"},
		{"{\"metrics\":[]} trailing", NOT_STATUS ""},
	};
	char why[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = print(cases[i].body, why, sizeof(why));
		if (got)
			TH_FAIL("\"%s\" printed \"%s\"", cases[i].body, got);
		else if (strncmp(why, cases[i].why, strlen(cases[i].why)) != 0 || strlen(why) == strlen(NOT_STATUS))
			TH_FAIL("\"%s\": why \"%s\", expected \"%s...\"", cases[i].body, why, cases[i].why);
		free(got);
	}
}

TEST(rfc3339_times)
{
	static const struct {
		int64_t ms;
		const char *s;
	} cases[] = {
		{0, "1970-01-01T00:00:00Z"},
		{999, "1970-01-01T00:00:00Z"},              /* milliseconds dropped, not rounded */
		{1796536800000LL, "2026-12-06T06:00:00Z"},
		{951782400000LL, "2000-02-29T00:00:00Z"},   /* a leap day */
		{4102444799000LL, "2099-12-31T23:59:59Z"},
	};
	char out[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		em_rfc3339(cases[i].ms, out, sizeof(out));
		EXPECT_STR(out, cases[i].s);
	}
	em_rfc3339(0, out, 5);   /* too small: empty, never a cut time */
	EXPECT_STR(out, "");
}
