/* settings.c - the daemon's own settings declared once (the table), and what else reads it: values for reloads, the README table. */
#include "settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define OFF(f) .offset = offsetof(struct em_config, f)
#define BIT(v) (1u << (v))

/* ---- conditions --------------------------------------------------------- */

static const struct em_set_cond auth_used = {
	.offset = offsetof(struct em_config, server.auth.mode),
	.values = BIT(EM_AUTH_DELEGATED) | BIT(EM_AUTH_CLIENTCERT),
	.at_key = true,
	.msg = "not used with mode none",
};

static const struct em_set_cond delegated = {
	.also = &auth_used,
	.offset = offsetof(struct em_config, server.auth.mode),
	.values = BIT(EM_AUTH_DELEGATED),
	.msg = "only with mode delegated (mode clientCert accepts client certificates of clientCAFile only)",
	.when = "in mode delegated",
};

static const struct em_set_cond client_cert = {
	.offset = offsetof(struct em_config, server.auth.mode),
	.values = BIT(EM_AUTH_CLIENTCERT),
	.when = "in mode clientCert",
};

static const struct em_set_cond not_from_cluster = {
	.offset = offsetof(struct em_config, server.auth.from_cluster),
	.is_bool = true,
	.values = BIT(false),
	.when = "unless fromCluster",
};

static const struct em_set_cond authz_static = {
	.offset = offsetof(struct em_config, server.auth.authz_mode),
	.values = BIT(EM_AUTHZ_STATIC),
	.msg = "only with authorization mode static",
	.when = "in authorization mode static",
};

static const struct em_set_choice auth_modes[] = {
	{"delegated", EM_AUTH_DELEGATED},
	{"clientCert", EM_AUTH_CLIENTCERT},
	{"none", EM_AUTH_NONE},
	{NULL, 0},
};

static const struct em_set_choice polling_modes[] = {
	{"demand", EM_POLL_DEMAND},
	{"eager", EM_POLL_EAGER},
	{NULL, 0},
};

static const struct em_set_choice authz_modes[] = {
	{"subjectAccessReview", EM_AUTHZ_SAR},
	{"allowAuthenticated", EM_AUTHZ_ALLOW_AUTHENTICATED},
	{"static", EM_AUTHZ_STATIC},
	{NULL, 0},
};

/* ---- the table ------------------------------------------------------------ */

#define RH "server.auth.requestHeader."
#define RH_ROW(key, cm, def_, flags_, field, help_)                                                   \
	{.name = RH key, .type = EM_SET_STRLIST, .def = def_, .flags = flags_, OFF(server.auth.rh.field),  \
	 .help = help_},

const struct em_setting em_settings[] = {
	{.name = "server", .type = EM_SET_SECTION, .flags = EM_SET_REQUIRED | EM_SET_SERVING,
	 .missing = "missing required section (at least server.auth)",
	 .help = "the listeners, TLS and authentication"},
	{.name = "server.listen", .type = EM_SET_STRING, .def = "127.0.0.1:6443", OFF(server.listen),
	 .help = "HTTPS API address, `ADDR:PORT` or `[V6]:PORT`; `--listen` overrides it"},
	{.name = "server.metricsListen", .type = EM_SET_STRING, .def = "127.0.0.1:9022", OFF(server.metrics_listen),
	 .help = "plain HTTP address of `/metrics`, `/status`, `/healthz`, `/livez`, `/readyz`; `--metrics-listen` overrides it"},
	{.name = "server.threads", .type = EM_SET_INT, .def = "4", .min = 1, .max = 256, OFF(server.threads),
	 .help = "HTTPS worker threads"},
	{.name = "server.connectionMemoryLimit", .type = EM_SET_INT, .min = 16384, .max = 4194304,
	 OFF(server.connection_memory),
	 .help = "bytes of each HTTPS connection's memory pool, which holds a request's head: the aggregator sends "
		 "one `X-Remote-Group` header per group of the user (256 KiB: about 2,300 of 30 characters). A "
		 "kept-alive connection holds all of it, and each request zeroes it: ~65 kB per idle connection "
		 "at 64 KiB, ~258 kB at 256 KiB (`test/bench/idle.py`). Absent: 65536, or 262144 with "
		 "request-header authentication"},
	{.name = "server.tls", .type = EM_SET_SECTION,
	 .help = "the serving certificate, re-read when its files change; absent: a self-signed one made in memory "
		 "at start (the `--tls-cert-file` and `--tls-key-file` flags override it)"},
	{.name = "server.tls.certFile", .type = EM_SET_STRING, .flags = EM_SET_REQUIRED, OFF(server.cert_file),
	 .help = "PEM serving certificate"},
	{.name = "server.tls.keyFile", .type = EM_SET_STRING, .flags = EM_SET_REQUIRED, OFF(server.key_file),
	 .help = "PEM private key"},
	{.name = "server.auth", .type = EM_SET_SECTION, .flags = EM_SET_REQUIRED,
	 .missing = "missing: set server.auth (write `auth: {mode: none}` explicitly to serve without authentication)",
	 .check = em_settings_check_auth,
	 .help = "who may call the API (see [Authentication](#authentication-and-authorization))"},
	{.name = "server.auth.mode", .type = EM_SET_ENUM, .def = "delegated", .choices = auth_modes,
	 OFF(server.auth.mode),
	 .help = "`delegated`: front proxy, client certificates and TokenReview, as kube-apiserver's extension "
		 "servers; `clientCert`: client certificates of `clientCAFile` only; `none`: no authentication "
		 "(local development; warned about)"},
	{.name = "server.auth.fromCluster", .type = EM_SET_BOOL, .def = "false", .only = &delegated,
	 OFF(server.auth.from_cluster),
	 .help = "read the CAs, allowed names and header names from the kube-system/"
		 "extension-apiserver-authentication ConfigMap"},
	{.name = "server.auth.fromClusterRefresh", .type = EM_SET_DURATION, .def = "60s", .only = &delegated,
	 OFF(server.auth.from_cluster_refresh_ms), .help = "how often that ConfigMap is read again"},
	{.name = "server.auth.cacheTTL", .type = EM_SET_DURATION, .def = "10s", .only = &auth_used,
	 OFF(server.auth.cache_ttl_ms), .help = "how long TokenReview and SubjectAccessReview results are kept"},
	{.name = "server.auth.clientCAFile", .type = EM_SET_FILE, .only = &auth_used, .required_if = &client_cert,
	 OFF(server.auth.client_ca_file), .help = "client certificates of this CA: user = CN, groups = O"},
	{.name = "server.auth.requestHeader", .type = EM_SET_SECTION, .only = &delegated,
	 .help = "the front proxy (the aggregator): its certificate is verified, then its identity headers read"},
	{.name = RH "clientCAFile", .type = EM_SET_FILE, .required_if = &not_from_cluster,
	 OFF(server.auth.rh_ca_file), .help = "the front proxy's CA"},
	EM_RH_LISTS(RH_ROW)
	{.name = "server.auth.tokenReview", .type = EM_SET_BOOL, .def = "true", .def_if = &delegated,
	 .only = &delegated, OFF(server.auth.token_review), .help = "bearer tokens, checked by TokenReview"},
	{.name = "server.auth.authorization", .type = EM_SET_SECTION, .only = &auth_used,
	 .check = em_settings_check_authorization,
	 .help = "who may read which metric; absent: `subjectAccessReview` in mode delegated, "
		 "`allowAuthenticated` otherwise (discovery is open to every authenticated user, "
		 "`system:masters` may do everything)"},
	{.name = "server.auth.authorization.mode", .type = EM_SET_ENUM, .flags = EM_SET_REQUIRED,
	 .choices = authz_modes, OFF(server.auth.authz_mode),
	 .help = "`subjectAccessReview` (asked per request, cached), `allowAuthenticated`, or `static` (the lists "
		 "below)"},
	{.name = "server.auth.authorization.users", .type = EM_SET_STRLIST, .only = &authz_static,
	 OFF(server.auth.users), .help = "users allowed every metric in every namespace"},
	{.name = "server.auth.authorization.groups", .type = EM_SET_STRLIST, .only = &authz_static,
	 OFF(server.auth.groups), .help = "groups allowed every metric in every namespace"},
	{.name = "server.auth.authorization.rules", .type = EM_SET_RULES, .only = &authz_static,
	 OFF(server.auth.rules),
	 .help = "finer grants: each `{users, groups, namespaces, metrics}`, `\"*\"` for all namespaces or metrics"},
	{.name = "server.auth.kubernetesAPI", .type = EM_SET_SECTION, .only = &auth_used,
	 .help = "where TokenReview, SubjectAccessReview and the ConfigMap go; absent: the in-cluster API"},
	{.name = "server.auth.kubernetesAPI.url", .type = EM_SET_STRING, .flags = EM_SET_HTTPS,
	 OFF(server.auth.kube_url),
	 .help = "absent: `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`"},
	{.name = "server.auth.kubernetesAPI.caFile", .type = EM_SET_FILE, OFF(server.auth.kube_ca_file),
	 .help = "absent: the ServiceAccount's `ca.crt`"},
	{.name = "server.auth.kubernetesAPI.tokenFile", .type = EM_SET_FILE, OFF(server.auth.kube_token_file),
	 .help = "absent: the ServiceAccount's token; re-read at every call"},
	{.name = "server.auth.kubernetesAPI.timeout", .type = EM_SET_DURATION, .def = "5s",
	 OFF(server.auth.kube_timeout_ms), .help = "bound on one call"},
	{.name = "defaults", .type = EM_SET_SECTION,
	 .help = "what every metric takes unless it sets its own"},
	{.name = "defaults.pollingInterval", .type = EM_SET_DURATION, .def = "30s", .flags = EM_SET_RELOAD,
	 OFF(def_polling_ms),
	 .help = "how often a metric is fetched; a bare number is refused here, since KEDA's `pollingInterval` "
		 "counts seconds while metadata durations count milliseconds"},
	{.name = "defaults.timeout", .type = EM_SET_DURATION, .def = "3s", .flags = EM_SET_RELOAD,
	 OFF(def_timeout_ms), .help = "bound on one fetch"},
	{.name = "defaults.polling", .type = EM_SET_ENUM, .def = "demand", .flags = EM_SET_RELOAD,
	 .choices = polling_modes, OFF(def_polling),
	 .help = "`demand`: a metric is polled while requests ask for it and idles after 10 x `pollingInterval` "
		 "without one (see [Polling on demand](#polling-on-demand)); `eager`: polled from start-up, always"},
	{.name = NULL, .type = EM_SET_END},
};

#undef RH_ROW
#undef RH

/* ---- names -------------------------------------------------------------- */

const char *em_setting_key(const struct em_setting *s)
{
	const char *dot = strrchr(s->name, '.');

	return dot ? dot + 1 : s->name;
}

bool em_setting_in(const struct em_setting *s, const struct em_setting *section)
{
	size_t n;

	if (!section)
		return !strchr(s->name, '.');
	n = strlen(section->name);
	return strncmp(s->name, section->name, n) == 0 && s->name[n] == '.' && !strchr(s->name + n + 1, '.');
}

/* ---- values ----------------------------------------------------------------- */

static void strlist_text(const struct em_strlist *l, struct em_strbuf *out)
{
	em_sb_puts(out, l->set ? "[" : "~");
	for (size_t i = 0; l->set && i < l->n; i++) {
		em_sb_json_str(out, l->v[i]);
		em_sb_puts(out, ",");
	}
	em_sb_puts(out, l->set ? "]" : "");
}

void em_setting_value(const struct em_setting *s, const struct em_config *c, struct em_strbuf *out)
{
	const void *p = (const char *)c + s->offset;

	switch (s->type) {
	case EM_SET_STRING:
	case EM_SET_FILE:
		if (*(char *const *)p)
			em_sb_json_str(out, *(char *const *)p);
		else
			em_sb_puts(out, "~");
		break;
	case EM_SET_INT:
	case EM_SET_DURATION:
		em_sb_printf(out, "%lld", (long long)*(const int64_t *)p);
		break;
	case EM_SET_BOOL:
		em_sb_puts(out, *(const bool *)p ? "true" : "false");
		break;
	case EM_SET_ENUM:
		em_sb_printf(out, "%d", *(const int *)p);
		break;
	case EM_SET_STRLIST:
		strlist_text(p, out);
		break;
	case EM_SET_RULES:
		for (size_t i = 0; i < c->server.auth.n_rules; i++) {
			const struct em_authz_rule *r = &c->server.auth.rules[i];
			em_sb_puts(out, "{");
			strlist_text(&r->users, out);
			strlist_text(&r->groups, out);
			strlist_text(&r->namespaces, out);
			strlist_text(&r->metrics, out);
			em_sb_puts(out, "}");
		}
		break;
	case EM_SET_SECTION:
	case EM_SET_END:
		break;
	}
}

void em_settings_values_free(char **v)
{
	for (size_t i = 0; v && em_settings[i].name; i++)
		free(v[i]);
	free(v);
}

char **em_settings_values(const struct em_config *c)
{
	size_t n = 0;
	char **v;

	while (em_settings[n].name)
		n++;
	v = calloc(n + 1, sizeof(*v));
	for (size_t i = 0; v && i < n; i++) {
		struct em_strbuf sb;
		em_sb_init(&sb);
		em_sb_puts(&sb, "");
		em_setting_value(&em_settings[i], c, &sb);
		v[i] = em_sb_steal(&sb);
		if (!v[i]) {
			em_settings_values_free(v);
			return NULL;
		}
	}
	return v;
}

size_t em_settings_restart_needed(char *const *old, const struct em_config *c, struct em_strbuf *names)
{
	size_t changed = 0;

	for (size_t i = 0; em_settings[i].name; i++) {
		const struct em_setting *s = &em_settings[i];
		struct em_strbuf now;
		if (s->type == EM_SET_SECTION || (s->flags & EM_SET_RELOAD))
			continue;
		em_sb_init(&now);
		em_sb_puts(&now, "");
		em_setting_value(s, c, &now);
		if (!old || !old[i] || !now.buf || strcmp(old[i], now.buf) != 0) {
			em_sb_printf(names, "%s%s", changed ? ", " : "", s->name);
			changed++;
		}
		em_sb_free(&now);
	}
	return changed;
}

/* ---- the README table -------------------------------------------------------- */

static const char *type_name(enum em_set_type t)
{
	switch (t) {
	case EM_SET_SECTION:
		return "section";
	case EM_SET_STRING:
		return "string";
	case EM_SET_FILE:
		return "file";
	case EM_SET_INT:
		return "integer";
	case EM_SET_DURATION:
		return "duration";
	case EM_SET_BOOL:
		return "bool";
	case EM_SET_ENUM:
		return "enum";
	case EM_SET_STRLIST:
		return "list of strings";
	case EM_SET_RULES:
		return "list of rules";
	case EM_SET_END:
		break;
	}
	return "?";
}

/* Markdown cells: pipes escaped. */
static void cell(struct em_strbuf *out, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '|')
			em_sb_puts(out, "\\|");
		else
			em_sb_add(out, s, 1);
	}
}

void em_settings_markdown(struct em_strbuf *out)
{
	em_sb_puts(out, "| setting | type | default | required | on reload | description |\n");
	em_sb_puts(out, "|---|---|---|---|---|---|\n");
	for (const struct em_setting *s = em_settings; s->name; s++) {
		em_sb_printf(out, "| `%s` | %s", s->name, type_name(s->type));
		for (const struct em_set_choice *ch = s->choices; ch && ch->name; ch++)
			em_sb_printf(out, "%s%s", ch == s->choices ? " (" : ", ", ch->name);
		em_sb_puts(out, s->choices ? ")" : "");
		if (s->type == EM_SET_INT)
			em_sb_printf(out, " [%lld, %lld]", (long long)s->min, (long long)s->max);
		em_sb_puts(out, " | ");
		if (s->def && s->type == EM_SET_STRLIST)
			em_sb_printf(out, "`[%s]`", s->def);
		else if (s->def)
			em_sb_printf(out, "`%s`", s->def);
		else
			em_sb_puts(out, "-");
		if (s->def && s->def_if)
			em_sb_printf(out, " %s, else %s", s->def_if->when, s->type == EM_SET_BOOL ? "`false`" : "none");
		em_sb_puts(out, " | ");
		if (s->flags & EM_SET_REQUIRED)
			em_sb_puts(out, (s->flags & EM_SET_SERVING) ? "yes (to serve)" : "yes");
		else if (s->required_if)
			cell(out, s->required_if->when);
		else
			em_sb_puts(out, "no");
		em_sb_printf(out, " | %s | ", s->type == EM_SET_SECTION ? "-" : (s->flags & EM_SET_RELOAD) ? "applied" : "restart");
		cell(out, s->help);
		if (s->only && s->only->when)
			em_sb_printf(out, " (only %s)", s->only->when);
		em_sb_puts(out, " |\n");
	}
}
