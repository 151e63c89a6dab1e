/* redis_conf.c - the connection keys of every redis trigger: addresses, TLS flags and material, sentinel keys, as KEDA reads them. */
#include "redis_client.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

static bool empty(const char *s)
{
	return !s || !*s;
}

/* ---------------------------------------------------------------- addresses */

int rds_split_hostport(const char *s, size_t n, struct rds_addr *out)
{
	const char *colon, *host;
	size_t hl, pl;
	char *end;
	long port;

	memset(out, 0, sizeof(*out));
	if (n > 0 && s[0] == '[') {
		const char *rb = memchr(s, ']', n);
		if (!rb || (size_t)(rb - s) + 1 >= n || rb[1] != ':')
			return -1;
		host = s + 1;
		hl = (size_t)(rb - s) - 1;
		colon = rb + 1;
		if (memchr(host, '[', hl))
			return -1;
	} else {
		colon = NULL;
		for (size_t i = 0; i < n; i++)
			if (s[i] == ':') {
				if (colon)
					return -1;   /* Go: too many colons (a bare IPv6 needs brackets) */
				colon = s + i;
			}
		if (!colon)
			return -1;
		host = s;
		hl = (size_t)(colon - s);
		if (memchr(host, '[', hl) || memchr(host, ']', hl))
			return -1;
	}
	pl = n - (size_t)(colon - s) - 1;
	if (hl >= sizeof(out->host) || pl == 0 || pl >= sizeof(out->port))
		return -1;
	for (size_t i = 0; i < pl; i++)
		if (!isdigit((unsigned char)colon[1 + i]))
			return -1;
	memcpy(out->port, colon + 1, pl);
	port = strtol(out->port, &end, 10);
	if (port < 1 || port > 65535)
		return -1;
	for (size_t i = 0; i < hl; i++)
		if ((unsigned char)host[i] <= ' ' || host[i] == ',' || host[i] == '/')
			return -1;
	memcpy(out->host, host, hl);
	return 0;
}

/* Calls fn for each trimmed comma-separated entry of s; stops at its first error. */
static int each_entry(const char *key, const char *s, int (*fn)(void *arg, const char *p, size_t n, struct em_err *err),
		      void *arg, struct em_err *err)
{
	while (s) {
		const char *c = strchr(s, ',');
		size_t n = c ? (size_t)(c - s) : strlen(s);
		const char *p = s;
		while (n > 0 && isspace((unsigned char)*p)) {
			p++;
			n--;
		}
		while (n > 0 && isspace((unsigned char)p[n - 1]))
			n--;
		if (n == 0)
			return em_err_set(err, EM_E_CONFIG, "%s: empty entry in the comma-separated list", key);
		if (fn(arg, p, n, err) != 0)
			return -1;
		s = c ? c + 1 : NULL;
	}
	return 0;
}

struct addr_acc {
	struct rds_addrs *out;
	const char *key;
	char (*hosts)[256];
	size_t nh;
};

static int add_address(void *arg, const char *p, size_t n, struct em_err *err)
{
	struct addr_acc *a = arg;

	if (a->out->n >= RDS_MAX_ADDRS)
		return em_err_set(err, EM_E_CONFIG, "%s: more than %d addresses", a->key, RDS_MAX_ADDRS);
	if (rds_split_hostport(p, n, &a->out->a[a->out->n]) != 0)
		return em_err_set(err, EM_E_CONFIG,
				  "%s: \"%.*s\" is not host:port (a port from 1 to 65535; an IPv6 address in brackets)",
				  a->key, (int)(n > 200 ? 200 : n), p);
	a->out->n++;
	return 0;
}

static int add_host(void *arg, const char *p, size_t n, struct em_err *err)
{
	struct addr_acc *a = arg;

	if (a->nh >= RDS_MAX_ADDRS)
		return em_err_set(err, EM_E_CONFIG, "%s: more than %d hosts", a->key, RDS_MAX_ADDRS);
	if (n >= 256)
		return em_err_set(err, EM_E_CONFIG, "%s: host name too long", a->key);
	memcpy(a->hosts[a->nh], p, n);
	a->hosts[a->nh][n] = '\0';
	a->nh++;
	return 0;
}

int rds_parse_addrs(const struct rds_conn_cfg *c, struct rds_addrs *out, struct em_err *err)
{
	/* the option table reads KEDA's other names (addresses, hosts, ports) into these */
	const char *ak = "address", *av = c->address, *hk = "host", *hv = c->host, *pk = "port", *pv = c->port;
	char hosts[RDS_MAX_ADDRS][256], ports[RDS_MAX_ADDRS][256];
	struct addr_acc acc = {.out = out};
	size_t nh, np;

	memset(out, 0, sizeof(*out));
	acc.key = ak;
	if (!empty(av) && each_entry(ak, av, add_address, &acc, err) != 0)
		return -1;
	if (empty(hv) != empty(pv)) {
		if (empty(pv))
			return em_err_set(err, EM_E_CONFIG, "%s: given without %s", hk, pk);
		return em_err_set(err, EM_E_CONFIG, "%s: given without %s", pk, hk);
	}
	if (!empty(hv)) {
		acc.key = hk;
		acc.hosts = hosts;
		if (each_entry(hk, hv, add_host, &acc, err) != 0)
			return -1;
		nh = acc.nh;
		acc.key = pk;
		acc.hosts = ports;
		acc.nh = 0;
		if (each_entry(pk, pv, add_host, &acc, err) != 0)
			return -1;
		np = acc.nh;
		if (nh != np)
			return em_err_set(err, EM_E_CONFIG,
					  "%s: not enough hosts or ports given. number of hosts should be equal to the "
					  "number of ports (%zu hosts, %zu ports)", hk, nh, np);
		for (size_t i = 0; i < nh; i++) {
			char hp[300];
			/* Go's net.JoinHostPort: brackets around an IPv6 literal */
			snprintf(hp, sizeof(hp), strchr(hosts[i], ':') ? "[%s]:%s" : "%s:%s", hosts[i], ports[i]);
			acc.key = pk;
			if (add_address(&acc, hp, strlen(hp), err) != 0) {
				em_err_set(err, EM_E_CONFIG, "%s: \"%.100s\" with port \"%.20s\" is not a host and a port "
					   "from 1 to 65535", hk, hosts[i], ports[i]);
				return -1;
			}
		}
	}
	if (out->n == 0)
		return em_err_set(err, EM_E_CONFIG,
				  "address: no addresses or hosts given. address should be a comma separated list of "
				  "host:port or set the host/port values");
	return 0;
}

int rds_tls_enabled(const struct rds_conn_cfg *c, bool *on, struct em_err *err)
{
	*on = false;
	if (!empty(c->enableTLS) && !empty(c->tls))
		return em_err_set(err, EM_E_CONFIG,
				  "tls: unable to set `tls` in both ScaledObject and TriggerAuthentication together");
	if (!empty(c->enableTLS) && em_parse_bool(c->enableTLS, on) != 0)
		return em_err_set(err, EM_E_CONFIG,
				  "enableTLS: EnableTLS parsing error strconv.ParseBool: parsing \"%.40s\": invalid syntax",
				  c->enableTLS);
	if (!empty(c->tls)) {
		if (strcmp(c->tls, "enable") == 0)
			*on = true;
		else if (strcmp(c->tls, "disable") != 0)
			return em_err_set(err, EM_E_CONFIG, "tls: error incorrect TLS value given, got %.40s", c->tls);
	}
	return 0;
}

/* ---------------------------------------------------------------------- TLS */

SSL_CTX *rds_tls_ctx_new(const struct rds_conn_cfg *c, struct em_err *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	struct em_tls_pem m = {.ca = c->ca, .cert = c->cert, .key = c->key, .key_password = c->keyPassword};

	if (!ctx) {
		em_err_set(err, EM_E_INTERNAL, "out of memory");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, c->unsafeSsl ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_default_verify_paths(ctx);
	if (em_tls_pem_load(ctx, &m, err) != 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int rds_validate_conn(struct rds_conn_cfg *c, enum rds_mode mode, struct em_err *err)
{
	struct rds_addrs *addrs = malloc(sizeof(*addrs));
	bool tls;
	int rc;

	c->mode = mode;
	if (!addrs)
		return em_err_set(err, EM_E_CONFIG, "out of memory");
	rc = rds_parse_addrs(c, addrs, err);
	free(addrs);
	if (rc != 0)
		return -1;
	if (rds_tls_enabled(c, &tls, err) != 0)
		return -1;
	if (mode != RDS_SENTINEL) {
		static const char *const only[] = {"sentinelMaster", "sentinelUsername", "sentinelPassword"};
		const char *vals[] = {c->sentinelMaster, c->sentinelUsername, c->sentinelPassword};
		for (size_t i = 0; i < 3; i++)
			if (!empty(vals[i]))
				return em_err_set(err, EM_E_CONFIG,
						  "%s: only for the sentinel types (redis-sentinel, redis-sentinel-streams)",
						  only[i]);
	} else if (empty(c->sentinelMaster)) {
		return em_err_set(err, EM_E_CONFIG, "sentinelMaster: no sentinel master name given");
	}
	if (mode == RDS_CLUSTER && c->databaseIndex != 0)
		return em_err_set(err, EM_E_CONFIG, "databaseIndex: Redis Cluster has only database 0");
	if (!tls) {
		static const char *const names[] = {"ca", "cert", "key", "keyPassword"};
		const char *vals[] = {c->ca, c->cert, c->key, c->keyPassword};
		for (size_t i = 0; i < 4; i++)
			if (!empty(vals[i]))
				return em_err_set(err, EM_E_CONFIG,
						  "%s: TLS is off (set enableTLS: \"true\", or tls: enable in the auth "
						  "params)", names[i]);
		return 0;
	}
	if (empty(c->cert) != empty(c->key))
		return em_err_set(err, EM_E_CONFIG, "%s", empty(c->key) ? "cert: given without key"
									  : "key: given without cert");
	if (!empty(c->keyPassword) && empty(c->key))
		return em_err_set(err, EM_E_CONFIG, "keyPassword: given without key");
	{
		SSL_CTX *ctx = rds_tls_ctx_new(c, err);
		if (!ctx)
			return -1;
		SSL_CTX_free(ctx);
	}
	return 0;
}

void rds_tls_id(const struct rds_conn_cfg *c, bool on, char *out, size_t cap)
{
	const char *parts[] = {c->unsafeSsl ? "unsafe" : "verify", c->ca, c->cert, c->key, c->keyPassword};
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *h;

	if (!on) {
		snprintf(out, cap, "plain");
		return;
	}
	h = EVP_MD_CTX_new();
	if (!h || EVP_DigestInit_ex(h, EVP_sha256(), NULL) != 1) {
		snprintf(out, cap, "tls");
		EVP_MD_CTX_free(h);
		return;
	}
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		const char *s = parts[i] ? parts[i] : "";
		EVP_DigestUpdate(h, s, strlen(s) + 1);
	}
	EVP_DigestFinal_ex(h, md, &mdlen);
	EVP_MD_CTX_free(h);
	for (unsigned int i = 0; i < mdlen && 2 * i + 2 < cap; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int validate_mode(void *cfg, enum rds_mode mode, struct em_optdiag *d)
{
	struct em_err err = {0};

	return rds_validate_conn(cfg, mode, &err) == 0 ? 0 : em_opt_error_err(d, &err);
}

int rds_validate_standalone(void *cfg, struct em_optdiag *d)
{
	return validate_mode(cfg, RDS_STANDALONE, d);
}

int rds_validate_cluster(void *cfg, struct em_optdiag *d)
{
	return validate_mode(cfg, RDS_CLUSTER, d);
}

int rds_validate_sentinel(void *cfg, struct em_optdiag *d)
{
	return validate_mode(cfg, RDS_SENTINEL, d);
}
