/* status.c - `extmetrics status`: a running server's metrics, their states and values, as a table (or its JSON) from GET /status. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "adapter/util/duration.h"
#include "adapter/util/http.h"
#include "adapter/util/strbuf.h"

#define DEFAULT_URL "http://127.0.0.1:9022"
#define MAX_BODY (256u << 20)
#define ERROR_COLS 80
#define NCOLS 7

static const char *const headers[NCOLS] = {"METRIC", "NAMESPACES", "TYPE", "STATE", "VALUE", "LAST SUCCESS",
					    "LAST ERROR"};

static void usage(FILE *f)
{
	fputs("usage: extmetrics status [--metrics-url URL] [--output table|json] [--timeout DURATION]\n"
	      "\n"
	      "Prints every metric of a running server as its metrics port reports it (GET /status):\n"
	      "metric, namespaces, type, state (pending, ok, stale, fallback, failing, idle), the value served,\n"
	      "how long ago a fetch last succeeded and the last error. A templated metric has a row per\n"
	      "instance (METRIC#INSTANCE, with the namespace it serves), or one with state - while it has none.\n"
	      "--metrics-url: the server's metricsListen (default " DEFAULT_URL "); --output json prints\n"
	      "the JSON as served, for scripts; --timeout (default 10s).\n"
	      "Exit codes: 0 printed, 1 the server could not be read, 2 usage error.\n",
	      f);
}

/* An RFC 3339 UTC time as /status writes them into *t: 0, or -1 when absent or unreadable. */
static int parse_time(const char *ts, time_t *t)
{
	struct tm tm = {0};
	char z = 0;

	if (!ts || sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
			  &tm.tm_min, &tm.tm_sec, &z) != 7 || z != 'Z')
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*t = timegm(&tm);
	return 0;
}

/* Seconds from ts to now (0 when ts is later), or -1 when absent or unreadable. */
static long long age_of(const char *ts, time_t now)
{
	time_t t;

	if (parse_time(ts, &t) != 0)
		return -1;
	return now >= t ? (long long)(now - t) : 0;
}

/* An age as kubectl writes one: 42s, 5m3s, 17m, 3h20m, 30h, 2d5h, 12d. */
static void human(long long s, char *out, size_t cap)
{
	long long m = s / 60, h = m / 60, d = h / 24;

	if (s < 0)
		snprintf(out, cap, "<none>");
	else if (s < 120)
		snprintf(out, cap, "%llds", s);
	else if (m < 10)
		snprintf(out, cap, "%lldm%llds", m, s % 60);
	else if (m < 180)
		snprintf(out, cap, "%lldm", m);
	else if (h < 8)
		snprintf(out, cap, "%lldh%lldm", h, m % 60);
	else if (h < 48)
		snprintf(out, cap, "%lldh", h);
	else if (d < 8)
		snprintf(out, cap, "%lldd%lldh", d, h % 24);
	else
		snprintf(out, cap, "%lldd", d);
}

struct table {
	char **cells;   /* NCOLS per row */
	size_t rows, cap;
};

static int add_row(struct table *t, const char *const v[NCOLS])
{
	if (t->rows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		char **c = realloc(t->cells, cap * NCOLS * sizeof(*c));
		if (!c)
			return -1;
		t->cells = c;
		t->cap = cap;
	}
	for (int i = 0; i < NCOLS; i++) {
		t->cells[t->rows * NCOLS + i] = strdup(v[i] ? v[i] : "");
		if (!t->cells[t->rows * NCOLS + i]) {
			while (i-- > 0)
				free(t->cells[t->rows * NCOLS + i]);
			return -1;
		}
	}
	t->rows++;
	return 0;
}

static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->rows * NCOLS; i++)
		free(t->cells[i]);
	free(t->cells);
}

/* The last error, short: "<age>: <message cut at ERROR_COLS bytes, on a character boundary>". */
static void error_cell(const char *msg, const char *at, time_t now, char *out, size_t cap)
{
	char age[32];
	size_t n = msg ? strlen(msg) : 0;

	if (!msg && !at) {
		snprintf(out, cap, "<none>");
		return;
	}
	human(age_of(at, now), age, sizeof(age));
	if (!msg) {
		snprintf(out, cap, "%s", age);
	} else if (n > ERROR_COLS) {
		n = ERROR_COLS;
		while (n > 0 && ((unsigned char)msg[n] & 0xC0) == 0x80)
			n--;
		snprintf(out, cap, "%s: %.*s...", age, (int)n, msg);
	} else {
		snprintf(out, cap, "%s: %s", age, msg);
	}
}

/* One row per instance of metric m (one with state - for a templated metric without any). */
static int metric_rows(struct table *t, json_t *m, time_t now)
{
	const char *name = json_string_value(json_object_get(m, "name"));
	json_t *insts = json_object_get(m, "instances"), *ns = json_object_get(m, "namespaces"), *in, *v;
	const char *open_err = json_string_value(json_object_get(m, "error"));
	char metric[320], value[64], success[32], error[ERROR_COLS + 64];
	struct em_strbuf nss;
	size_t i;
	int rc = 0;

	em_sb_init(&nss);
	json_array_foreach(ns, i, v)
		em_sb_printf(&nss, "%s%s", i ? "," : "", json_string_value(v) ? json_string_value(v) : "");
	const char *row[NCOLS] = {name, nss.buf ? nss.buf : "", json_string_value(json_object_get(m, "type")), "-",
				  "<none>", "<none>", "<none>"};
	if (json_array_size(insts) == 0) {
		if (open_err) {
			row[3] = "failing";
			snprintf(error, sizeof(error), "cannot start: %s", open_err);
			row[6] = error;
		}
		rc = add_row(t, row);
		goto out;
	}
	json_array_foreach(insts, i, in) {
		const char *inst = json_string_value(json_object_get(in, "instance"));
		json_t *val = json_object_get(in, "value");

		row[0] = name;
		if (inst) {
			snprintf(metric, sizeof(metric), "%s#%s", name ? name : "", inst);
			row[0] = metric;
			row[1] = json_string_value(json_object_get(in, "namespace"));
		}
		row[3] = json_string_value(json_object_get(in, "state"));
		if (json_is_number(val))
			snprintf(value, sizeof(value), "%.15g", json_number_value(val));
		else
			snprintf(value, sizeof(value), "<none>");
		row[4] = value;
		human(age_of(json_string_value(json_object_get(in, "lastSuccessTime")), now), success, sizeof(success));
		row[5] = success;
		error_cell(json_string_value(json_object_get(in, "lastError")),
			   json_string_value(json_object_get(in, "lastErrorTime")), now, error, sizeof(error));
		row[6] = error;
		if ((rc = add_row(t, row)) != 0)
			break;
	}
out:
	em_sb_free(&nss);
	return rc;
}

/* Columns padded to their widths, three spaces apart; the last one unpadded. */
static void print_row(FILE *out, const char *const *cells, const size_t *w)
{
	for (int c = 0; c < NCOLS - 1; c++)
		fprintf(out, "%-*s   ", (int)w[c], cells[c]);
	fprintf(out, "%s\n", cells[NCOLS - 1]);
}

static void print_table(FILE *out, const struct table *t)
{
	size_t w[NCOLS];

	for (int c = 0; c < NCOLS; c++)
		w[c] = strlen(headers[c]);
	for (size_t r = 0; r < t->rows; r++)
		for (int c = 0; c < NCOLS; c++)
			if (strlen(t->cells[r * NCOLS + c]) > w[c])
				w[c] = strlen(t->cells[r * NCOLS + c]);
	print_row(out, headers, w);
	for (size_t r = 0; r < t->rows; r++)
		print_row(out, (const char *const *)&t->cells[r * NCOLS], w);
}

int em_status_print(const char *body, size_t len, FILE *out, char *why, size_t cap)
{
	json_error_t jerr;
	json_t *doc = json_loadb(body, len, 0, &jerr), *metrics, *m;
	struct table t = {0};
	time_t now = time(NULL);
	size_t i;
	int rc = -1;

	metrics = json_object_get(doc, "metrics");
	if (!json_is_array(metrics)) {
		snprintf(why, cap, "the answer is not a status document: %s", doc ? "no metrics list" : jerr.text);
		goto out;
	}
	/* Ages are counted on the server's clock (ahead or behind): this machine's may differ. */
	(void)parse_time(json_string_value(json_object_get(doc, "time")), &now);
	json_array_foreach(metrics, i, m)
		if (metric_rows(&t, m, now) != 0) {
			snprintf(why, cap, "out of memory");
			goto out;
		}
	if (t.rows == 0)
		fputs("No metrics configured.\n", out);
	else
		print_table(out, &t);
	rc = 0;
out:
	table_free(&t);
	json_decref(doc);
	return rc;
}

int em_cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{"metrics-url", required_argument, NULL, 'u'},
		{"output", required_argument, NULL, 'o'},
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *base = DEFAULT_URL, *output = "table";
	int64_t timeout_ms = 10000;
	struct em_http_client *client = NULL;
	struct em_http_resp resp = {0};
	struct em_strbuf url;
	size_t n;
	int c, rc = 1;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+ho:", opts, NULL)) != -1) {
		switch (c) {
		case 'u': base = optarg; break;
		case 'o': output = optarg; break;
		case 't':
			if (em_parse_duration_ms(optarg, &timeout_ms) != 0 || timeout_ms <= 0) {
				fprintf(stderr, "status: --timeout: \"%s\" is not a duration (10s, 1m)\n", optarg);
				return 2;
			}
			break;
		default:
			return em_cli_getopt_other("status", c, argv, usage);
		}
	}
	if (em_cli_getopt_rest("status", argc, argv) != 0)
		return 2;
	if (strcmp(output, "table") != 0 && strcmp(output, "json") != 0) {
		fprintf(stderr, "status: --output: \"%s\": use table or json\n", output);
		return 2;
	}
	n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		n--;
	em_sb_init(&url);
	em_sb_printf(&url, "%.*s/status", (int)n, base);
	client = em_http_client_new(0);
	if (!url.buf || !client) {
		fprintf(stderr, "status: out of memory\n");
		goto out;
	}
	struct em_http_req req = {.url = url.buf, .timeout_ms = timeout_ms, .max_body = MAX_BODY};
	if (em_http_do(client, &req, &resp) != 0) {
		fprintf(stderr, "status: %s: %s\n", url.buf, resp.error);
		goto out;
	}
	if (resp.status != 200) {
		fprintf(stderr, "status: %s answered HTTP %ld (is it the metrics port of extmetrics serve?)\n", url.buf,
			resp.status);
		goto out;
	}
	if (strcmp(output, "json") == 0) {
		fwrite(resp.body, 1, resp.len, stdout);
		rc = 0;
	} else {
		char why[256];
		rc = em_status_print(resp.body, resp.len, stdout, why, sizeof(why)) == 0 ? 0 : 1;
		if (rc)
			fprintf(stderr, "status: %s: %s\n", url.buf, why);
	}
out:
	em_http_resp_free(&resp);
	em_http_client_free(client);
	em_sb_free(&url);
	return rc;
}
