/* main.c - the extmetrics command line: serve, get, check-config, gen-certs, import-keda, version. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "apiservice/api.h"
#include "apiservice/server.h"
#include "config.h"
#include "adapter/util/certgen.h"
#include "adapter/cli/import_keda.h"
#include "adapter/cli/cli.h"
#include "log.h"
#include "registry.h"
#include "selfmetrics.h"
#include "adapter/util/strbuf.h"
#include "adapter/util/files.h"
#include "adapter/util/http.h"
#include "adapter/util/secret.h"

#define GRACE_MS 5000
#define MAX_PEM (1 << 20)

struct flags {
	const char *config, *listen, *metrics_listen, *cert, *key, *level, *format, *selector;
	int demo, help;
	const char *pos[8];
	int npos;
};

static const char *const usage_main =
	"usage: extmetrics COMMAND [options]\n"
	"\n"
	"A Kubernetes external metrics API server (external.metrics.k8s.io/v1beta1).\n"
	"\n"
	"commands:\n"
	"  serve          serve the API (HTTPS) and /metrics (HTTP)\n"
	"  get            fetch one metric once through its scaler and print the result\n"
	"  check-config   validate a config file\n"
	"  gen-certs      make a CA and a serving certificate for the APIService\n"
	"  import-keda    translate KEDA ScaledObjects into extmetrics config and HPA manifests\n"
	"  scalers        print every scaler's options (Markdown)\n"
	"  version        print the version\n"
	"\n"
	"Run `extmetrics COMMAND --help` for a command's options.\n";

static const char *const usage_serve =
	"usage: extmetrics serve (--config FILE | --demo) [--listen ADDR:PORT] [--metrics-listen ADDR:PORT]\n"
	"                        [--tls-cert-file F --tls-key-file F] [--log-level debug|info|warn|error]\n"
	"                        [--log-format text|json]\n"
	"\n"
	"Serves external.metrics.k8s.io/v1beta1 over HTTPS and /metrics, /healthz, /livez, /readyz over HTTP.\n"
	"Without TLS files (flags or server.tls) a self-signed certificate is made in memory.\n"
	"--demo serves the embedded demo config (cron metrics, no cloud account needed).\n"
	"SIGHUP or a change of the config file reloads it; an invalid new config is rejected and the old one\n"
	"keeps serving. SIGTERM stops accepting, lets in-flight requests finish (5 s at most) and exits 0.\n";

static const char *const usage_get =
	"usage: extmetrics get (--config FILE | --demo) NAMESPACE METRIC [--selector SELECTOR]\n"
	"\n"
	"Fetches METRIC once through its scaler, as the HPA would see it from NAMESPACE, and prints the\n"
	"ExternalMetricValueList JSON on stdout (exit 0), or the Status JSON on stderr (exit 1).\n";

static const char *const usage_check =
	"usage: extmetrics check-config FILE\n"
	"\n"
	"Validates FILE: exit 0, or print every error as FILE:LINE:COL: KEY: message and exit 1.\n";

static int parse_flags(int argc, char **argv, struct flags *f, const char *usage)
{
	static const struct {
		const char *name;
		size_t off;
	} opts[] = {
		{"--config", offsetof(struct flags, config)},
		{"--listen", offsetof(struct flags, listen)},
		{"--metrics-listen", offsetof(struct flags, metrics_listen)},
		{"--tls-cert-file", offsetof(struct flags, cert)},
		{"--tls-key-file", offsetof(struct flags, key)},
		{"--log-level", offsetof(struct flags, level)},
		{"--log-format", offsetof(struct flags, format)},
		{"--selector", offsetof(struct flags, selector)},
	};

	memset(f, 0, sizeof(*f));
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		size_t k;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage, stdout);
			f->help = 1;
			return 0;
		}
		if (strcmp(a, "--demo") == 0) {
			f->demo = 1;
			continue;
		}
		if (strncmp(a, "--", 2) != 0 || strcmp(a, "--") == 0) {
			if (f->npos == 8) {
				fprintf(stderr, "too many arguments\n%s", usage);
				return -1;
			}
			f->pos[f->npos++] = a;
			continue;
		}
		for (k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
			size_t n = strlen(opts[k].name);
			if (strncmp(a, opts[k].name, n) != 0)
				continue;
			if (a[n] == '=') {
				*(const char **)((char *)f + opts[k].off) = a + n + 1;
				break;
			}
			if (a[n] == '\0') {
				if (i + 1 >= argc) {
					fprintf(stderr, "%s needs a value\n", opts[k].name);
					return -1;
				}
				*(const char **)((char *)f + opts[k].off) = argv[++i];
				break;
			}
		}
		if (k == sizeof(opts) / sizeof(opts[0])) {
			fprintf(stderr, "unknown option %s\n%s", a, usage);
			return -1;
		}
	}
	return 0;
}

static int setup_logging(const struct flags *f)
{
	enum em_loglevel lvl = EM_LOG_INFO;
	bool json = false;

	if (f->level && em_log_parse_level(f->level, &lvl) != 0) {
		fprintf(stderr, "--log-level must be debug, info, warn or error\n");
		return -1;
	}
	if (f->format) {
		if (strcmp(f->format, "json") == 0)
			json = true;
		else if (strcmp(f->format, "text") != 0) {
			fprintf(stderr, "--log-format must be text or json\n");
			return -1;
		}
	}
	em_log_setup(lvl, json);
	return 0;
}

/* metrics_only: a file with just `metrics:` will do (the get command). */
static struct em_config *load(const struct flags *f, bool metrics_only)
{
	struct em_errlist errs = {0};
	struct em_config *c;

	if (f->demo)
		c = em_config_load_mem("<demo>", em_demo_config, strlen(em_demo_config), &errs);
	else if (f->config)
		c = em_config_load_ex(f->config, metrics_only ? EM_CFG_METRICS_ONLY : 0, &errs);
	else {
		fprintf(stderr, "--config FILE (or --demo) is required\n");
		return NULL;
	}
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.msgs[i]);
	em_errlist_free(&errs);
	return c;
}

static int cmd_check(int argc, char **argv)
{
	struct flags f;
	struct em_errlist errs = {0};
	struct em_config *c;

	if (parse_flags(argc, argv, &f, usage_check) != 0)
		return 2;
	if (f.help)
		return 0;
	if (f.npos != 1) {
		fputs(usage_check, stderr);
		return 2;
	}
	em_log_setup(EM_LOG_WARN, false); /* warnings (literal secrets) go to stderr */
	c = em_config_load(f.pos[0], &errs);
	for (size_t i = 0; i < errs.n; i++)
		printf("%s\n", errs.msgs[i]);
	em_errlist_free(&errs);
	if (!c)
		return 1;
	if (c->server.auth.mode == EM_AUTH_NONE)
		em_warn("%s: server.auth.mode is none: every client that reaches the port can read every metric",
			f.pos[0]);
	printf("%s: ok (%zu metrics)\n", f.pos[0], c->n_metrics);
	em_config_free(c);
	return 0;
}

static int cmd_get(int argc, char **argv)
{
	struct flags f;
	struct em_config *c;
	struct em_registry *reg;
	struct em_err err = {0};
	struct em_api_req req = {.method = "GET", .accept = "application/json"};
	struct em_api_resp resp;
	struct em_strbuf path;
	int rc;

	if (parse_flags(argc, argv, &f, usage_get) != 0)
		return 2;
	if (f.help)
		return 0;
	if (f.npos != 2) {
		fputs(usage_get, stderr);
		return 2;
	}
	if (setup_logging(&f) != 0)
		return 2;
	if (!f.level)
		em_log_setup(EM_LOG_WARN, false);
	c = load(&f, true);
	if (!c)
		return 1;
	reg = em_registry_new(c, false, &err);
	if (!reg) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	em_sb_init(&path);
	em_sb_printf(&path, "/apis/external.metrics.k8s.io/v1beta1/namespaces/%s/%s", f.pos[0], f.pos[1]);
	req.path = path.buf;
	req.label_selector = f.selector;
	em_api_handle(reg, &req, &resp);
	rc = resp.code == 200 ? 0 : 1;
	fputs(resp.body ? resp.body : "", rc ? stderr : stdout);
	free(resp.body);
	em_sb_free(&path);
	em_registry_free(reg);
	return rc;
}

static void reload(struct em_registry *reg, const char *path, const char *why, char *server_fp, size_t cap)
{
	struct em_errlist errs = {0};
	struct em_config *c = em_config_load(path, &errs);

	if (!c) {
		em_error("config reload (%s) rejected; the old config keeps serving:", why);
		for (size_t i = 0; i < errs.n; i++)
			em_error("  %s", errs.msgs[i]);
		em_counter_add("extmetrics_config_reloads_total", "Config reloads by result.", "result=\"failure\"", 1);
		em_errlist_free(&errs);
		return;
	}
	em_errlist_free(&errs);
	/* Listeners, TLS and auth are set up once: say so rather than pretend. */
	if (c->server_fingerprint && strcmp(c->server_fingerprint, server_fp) != 0) {
		em_warn("config reload (%s): the server section changed; listen addresses, TLS and auth settings take "
			"effect only after a restart (metrics are reloaded now)", why);
		snprintf(server_fp, cap, "%s", c->server_fingerprint);
	}
	em_registry_reload(reg, c);
	em_counter_add("extmetrics_config_reloads_total", "Config reloads by result.", "result=\"success\"", 1);
}

static int cmd_serve(int argc, char **argv)
{
	struct flags f;
	struct em_config *c;
	struct em_registry *reg = NULL;
	struct em_server *srv = NULL;
	struct em_server_opts so = {0};
	struct em_err err = {0};
	char *cert = NULL, *key = NULL, sig[128] = "", nsig[128], server_fp[80] = "";
	const char *certf, *keyf;
	sigset_t set;
	int rc = 1;
	char labels[160];
	bool c_owned = true;

	if (parse_flags(argc, argv, &f, usage_serve) != 0)
		return 2;
	if (f.help)
		return 0;
	if (f.npos) {
		fputs(usage_serve, stderr);
		return 2;
	}
	if (setup_logging(&f) != 0)
		return 2;
	/* Every thread inherits this mask; the main thread takes signals with sigtimedwait. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	c = load(&f, false);
	if (!c)
		return 1;
	if (c->server.auth.mode == EM_AUTH_NONE)
		em_warn("server.auth.mode is none: every client that reaches the port can read every metric "
			"(use only for local development)");
	so.listen = f.listen ? f.listen : c->server.listen ? c->server.listen : "127.0.0.1:6443";
	so.metrics_listen = f.metrics_listen ? f.metrics_listen
			  : c->server.metrics_listen ? c->server.metrics_listen : "127.0.0.1:9022";
	so.threads = (int)c->server.threads;
	so.conf = &c->server;
	certf = f.cert ? f.cert : c->server.cert_file;
	keyf = f.key ? f.key : c->server.key_file;
	if (!certf != !keyf) {
		em_error("both a TLS certificate and a key file are needed");
		goto out;
	}
	if (certf) {
		char why[512];
		cert = em_read_file(certf, MAX_PEM, false, NULL, why, sizeof(why));
		key = cert ? em_read_file(keyf, MAX_PEM, false, NULL, why, sizeof(why)) : NULL;
		if (!cert || !key) {
			em_error("TLS: %s", why);
			goto out;
		}
	} else {
		if (em_certs_selfsigned(&cert, &key, &err) != 0) {
			em_error("%s", err.msg);
			goto out;
		}
		em_info("no TLS certificate configured: serving a self-signed one made at start-up");
	}
	so.cert_pem = cert;
	so.key_pem = key;
	so.cert_file = certf;
	so.key_file = keyf;

	snprintf(labels, sizeof(labels), "version=\"%s\"", EM_VERSION);
	em_gauge_set("extmetrics_build_info", "Build information; always 1.", labels, 1);
	em_counter_add("extmetrics_config_reloads_total", "Config reloads by result.", "result=\"success\"", 0);
	em_counter_add("extmetrics_config_reloads_total", "Config reloads by result.", "result=\"failure\"", 0);
	snprintf(server_fp, sizeof(server_fp), "%s", c->server_fingerprint ? c->server_fingerprint : "");
	c_owned = false; /* em_registry_new takes it, even when it fails */
	reg = em_registry_new(c, true, &err);
	if (!reg) {
		em_error("%s", err.msg);
		goto out;
	}
	/* The registry owns c now; so.conf stays valid until the first reload,
	 * and the server reads it only at start. */
	srv = em_server_start(reg, &so, &err);
	if (!srv) {
		em_error("%s", err.msg);
		goto out;
	}
	em_server_set_ready(srv, 1);
	em_info("serving external.metrics.k8s.io on https://%s and /metrics on http://%s", so.listen,
		so.metrics_listen);
	if (f.config)
		em_file_sig(f.config, sig, sizeof(sig));

	for (;;) {
		struct timespec ts = {1, 0};
		int s = sigtimedwait(&set, NULL, &ts);

		if (s == SIGTERM || s == SIGINT) {
			em_info("%s: stopping (in-flight requests get %d ms)", s == SIGTERM ? "SIGTERM" : "SIGINT",
				GRACE_MS);
			break;
		}
		if (!f.config)
			continue;
		if (s == SIGHUP) {
			reload(reg, f.config, "SIGHUP", server_fp, sizeof(server_fp));
			em_file_sig(f.config, sig, sizeof(sig));
			continue;
		}
		/* ConfigMap volumes swap a symlink: stat() follows it, so a new inode shows. */
		if (em_file_sig(f.config, nsig, sizeof(nsig)) == 0 && strcmp(nsig, sig) != 0) {
			snprintf(sig, sizeof(sig), "%s", nsig);
			reload(reg, f.config, "file changed", server_fp, sizeof(server_fp));
		}
	}
	rc = 0;
out:
	/* Parked first-sample requests answer 503 now; in-flight ones get what is
	 * left of the 5 s; busy poller workers get a last second. */
	em_registry_stop(reg);
	em_server_stop(srv, GRACE_MS - 1000);
	if (reg)
		em_registry_free(reg);
	else if (c_owned)
		em_config_free(c);
	free(cert);
	em_free_secret(key);
	return rc;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;
	int rc;

	if (!cmd || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		fputs(usage_main, cmd ? stdout : stderr);
		return cmd ? 0 : 2;
	}
	if (strcmp(cmd, "version") == 0 && argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
		puts("usage: extmetrics version\n\nPrints the version.");
		return 0;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("extmetrics %s\n", EM_VERSION);
		return 0;
	}
	if (em_http_global_init() != 0) {
		fprintf(stderr, "libcurl initialisation failed\n");
		return 1;
	}
	if (strcmp(cmd, "serve") == 0)
		rc = cmd_serve(argc - 2, argv + 2);
	else if (strcmp(cmd, "get") == 0)
		rc = cmd_get(argc - 2, argv + 2);
	else if (strcmp(cmd, "check-config") == 0)
		rc = cmd_check(argc - 2, argv + 2);
	else if (strcmp(cmd, "gen-certs") == 0)
		rc = em_cmd_gen_certs(argc - 1, argv + 1);
	else if (strcmp(cmd, "import-keda") == 0)
		rc = em_cmd_import_keda(argc - 1, argv + 1);
	else if (strcmp(cmd, "scalers") == 0)
		rc = em_cmd_scalers(argc - 1, argv + 1);
	else {
		fprintf(stderr, "unknown command \"%s\"\n%s", cmd, usage_main);
		rc = 2;
	}
	em_http_global_cleanup();
	return rc;
}
