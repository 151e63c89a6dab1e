/* fuzz_http.c - libFuzzer target: the HTTP request path end to end, bytes in and out, an in-process server on a socket pair. */
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "adapter/config.h"
#include "adapter/log.h"
#include "adapter/registry.h"
#include "apiservice/server.h"

/* Plain metrics, a templated one (selectors become instances) and one with
 * a fallback; no authentication: the path behind it is what is fuzzed
 * here (fuzz_auth covers authentication). */
static const char config[] =
	"server:\n  auth: {mode: none}\n"
	"defaults: {pollingInterval: 30s, timeout: 1s}\n"
	"metrics:\n"
	"  - name: always-on\n    namespaces: [\"*\"]\n    type: cron\n    labels: {team: demo}\n"
	"    metadata: {timezone: UTC, start: \"0 0 1 1 *\", end: \"* * * * *\", desiredReplicas: \"3\"}\n"
	"  - name: per-team\n    namespaces: [\"*\"]\n    type: cron\n    maxInstances: 8\n"
	"    metadata: {timezone: UTC, start: \"0 0 1 1 *\", end: \"* * * * *\", desiredReplicas: \"${selector.n}\"}\n"
	"  - name: batch\n    namespaces: [batch]\n    type: cron\n    fallback: {value: \"2\"}\n"
	"    metadata: {timezone: Europe/Berlin, start: \"0 22 * * *\", end: \"0 6 * * *\", desiredReplicas: \"8\"}\n";

static struct em_server *srv;

static void start(void)
{
	struct em_errlist errs = {0};
	struct em_config *c;
	struct em_registry *reg;
	struct em_err err;
	struct em_server_opts so = {.threads = 1, .in_process = true};

	em_log_setup(EM_LOG_ERROR, false);
	c = em_config_load_mem("fuzz.yaml", config, strlen(config), &errs);
	if (!c)
		abort();
	so.conf = &c->server;
	reg = em_registry_new(c, true, &err);
	if (!reg)
		abort();
	srv = em_server_start(reg, &so, &err);
	if (!srv) {
		fprintf(stderr, "%s\n", err.msg);
		abort();
	}
	em_server_set_ready(srv, 1);
}

/* Every answer starts with a status line of HTTP/1.1 and a known code. */
static void check_answers(const char *out, size_t n)
{
	static const char *const codes[] = {"200", "400", "404", "405", "406", "413", "414", "429", "431",
					    "500", "501", "503", "505", NULL};
	const char *p = out;

	if (n == 0)
		return;   /* an incomplete request gets nothing */
	if (n < 12 || memcmp(p, "HTTP/1.1 ", 9) != 0)
		abort();
	for (size_t i = 0; codes[i]; i++)
		if (memcmp(p + 9, codes[i], 3) == 0)
			return;
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[1 << 20];
	size_t got = 0, sent = 0;
	int sv[2];

	if (!srv)
		start();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return 0;
	if (em_server_add_connection(srv, sv[0]) != 0) {
		close(sv[1]);
		return 0;
	}
	/* the whole request, then the end of the stream: the server answers
	 * what it got and closes */
	while (sent < size) {
		ssize_t w = write(sv[1], data + sent, size - sent);
		if (w <= 0)
			break;
		sent += (size_t)w;
	}
	shutdown(sv[1], SHUT_WR);
	/* libmicrohttpd 0.9.75 does not close at the end of the stream while a
	 * head (or a body) is incomplete: it waits for the guard's deadline.
	 * Without a complete head no answer is due: it is not waited for. An
	 * answer starts within milliseconds (a parked request waits for a cron
	 * fetch) and comes in a few writes: 200 ms of silence ends it. */
	bool complete = memmem(data, size, "\r\n\r\n", 4) || memmem(data, size, "\n\n", 2), eof = false;
	for (;;) {
		struct pollfd pf = {.fd = sv[1], .events = POLLIN};
		ssize_t r;
		if (poll(&pf, 1, got || complete ? 200 : 0) != 1)
			break;
		r = read(sv[1], out + got, sizeof(out) - 1 - got);
		if (r <= 0) {
			eof = true;
			break;
		}
		got += (size_t)r;
		if (got == sizeof(out) - 1)
			break;
	}
	if (eof || got >= 12)
		check_answers(out, got);
	close(sv[1]);
	return 0;
}
