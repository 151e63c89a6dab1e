/* serve.c - `extmetrics serve`: the API over HTTPS and /metrics over HTTP until SIGTERM; reloads on SIGHUP or a changed file. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "adapter/config.h"
#include "adapter/log.h"
#include "adapter/registry.h"
#include "adapter/selfmetrics.h"
#include "adapter/util/certgen.h"
#include "adapter/util/clock.h"
#include "adapter/util/files.h"
#include "adapter/util/secret.h"
#include "apiservice/server.h"

#define GRACE_MS 5000
#define MAX_PEM (1 << 20)

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

static struct em_sm_family fam_reloads =
	EM_SM_FAMILY(EM_SM_COUNTER, "extmetrics_config_reloads_total", "Config reloads by result.");
static struct em_sm_family fam_build =
	EM_SM_FAMILY(EM_SM_GAUGE, "extmetrics_build_info", "Build information; always 1.");
static struct em_sm_family fam_reload_ok =
	EM_SM_FAMILY(EM_SM_GAUGE, "extmetrics_config_last_reload_successful",
		     "1 when the last config load (start-up or reload) succeeded, 0 when the last reload was rejected.");
static struct em_sm_family fam_reload_time =
	EM_SM_FAMILY(EM_SM_GAUGE, "extmetrics_config_last_reload_success_timestamp_seconds",
		     "Unix time of the last successful config load (start-up or reload).");

/* The outcome of a config load, as the reload-failed alert reads it. */
static void reloaded(bool ok)
{
	em_sm_set(em_sm_series(&fam_reload_ok, NULL), ok ? 1 : 0);
	if (ok)
		em_sm_set(em_sm_series(&fam_reload_time, NULL), (double)em_now_ms() / 1000.0);
}

/* running: the settings as last loaded (em_settings_values), replaced when
 * a reload changes one that needs a restart, so that is said once. */
static void reload(struct em_registry *reg, const char *path, const char *why, char ***running)
{
	struct em_errlist errs = {0};
	struct em_config *c = em_config_load(path, &errs);
	struct em_strbuf names;

	if (!c) {
		em_error("config reload (%s) rejected; the old config keeps serving:", why);
		for (size_t i = 0; i < errs.n; i++)
			em_error("  %s", errs.msgs[i]);
		em_sm_add(em_sm_series(&fam_reloads, "result=\"failure\""), 1);
		reloaded(false);
		em_errlist_free(&errs);
		return;
	}
	for (size_t i = 0; i < errs.nwarns; i++)
		em_warn("%s", errs.warns[i]);
	em_errlist_free(&errs);
	/* Listeners, TLS and auth are set up once (the settings table says
	 * which settings a reload applies): say so rather than pretend. */
	em_sb_init(&names);
	if (em_settings_restart_needed(*running, c, &names) > 0) {
		em_warn("config reload (%s): the server section changed (%s); these settings take effect only after a "
			"restart (metrics are reloaded now)", why, names.buf ? names.buf : "");
		em_settings_values_free(*running);
		*running = em_settings_values(c);
	}
	em_sb_free(&names);
	em_registry_reload(reg, c);
	em_sm_add(em_sm_series(&fam_reloads, "result=\"success\""), 1);
	reloaded(true);
}

int em_cmd_serve(int argc, char **argv)
{
	struct em_cli_flags f;
	struct em_config *c;
	struct em_registry *reg = NULL;
	struct em_server *srv = NULL;
	struct em_server_opts so = {0};
	struct em_err err = {0};
	char *cert = NULL, *key = NULL, sig[128] = "", nsig[128], **running = NULL;
	const char *certf, *keyf;
	sigset_t set;
	int rc = 1, used;
	char labels[160];
	bool c_owned = true;

	if ((used = em_cli_parse_flags(argc, argv, &f, usage_serve, 0)) >= 0)
		return used;
	if (em_cli_logging(&f) != 0)
		return 2;
	/* Every thread inherits this mask; the main thread takes signals with sigtimedwait. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	c = em_cli_load(&f, false);
	if (!c)
		return 1;
	if (c->server.auth.mode == EM_AUTH_NONE)
		em_warn("server.auth.mode is none: every client that reaches the port can read every metric "
			"(use only for local development)");
	/* flags, else the config (its defaults: the settings table's) */
	so.listen = f.listen ? f.listen : c->server.listen;
	so.metrics_listen = f.metrics_listen ? f.metrics_listen : c->server.metrics_listen;
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
		cert = em_read_file(certf, MAX_PEM, 0, NULL, why, sizeof(why));
		key = cert ? em_read_file(keyf, MAX_PEM, 0, NULL, why, sizeof(why)) : NULL;
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
	em_sm_set(em_sm_series(&fam_build, labels), 1);
	em_sm_add(em_sm_series(&fam_reloads, "result=\"success\""), 0);
	em_sm_add(em_sm_series(&fam_reloads, "result=\"failure\""), 0);
	reloaded(true);
	running = em_settings_values(c);
	c_owned = false; /* em_registry_new takes it, even when it fails */
	reg = em_registry_new(c, EM_REG_POLL, &err);
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
			reload(reg, f.config, "SIGHUP", &running);
			em_file_sig(f.config, sig, sizeof(sig));
			continue;
		}
		/* ConfigMap volumes swap a symlink: stat() follows it, so a new inode shows. */
		if (em_file_sig(f.config, nsig, sizeof(nsig)) == 0 && strcmp(nsig, sig) != 0) {
			snprintf(sig, sizeof(sig), "%s", nsig);
			reload(reg, f.config, "file changed", &running);
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
	em_settings_values_free(running);
	return rc;
}
