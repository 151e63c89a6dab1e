/* mysql_dsn.c - where the mysql scaler connects: Go DSNs (go-sql-driver's rules) and the separate keys, as connection targets. */
#include "mysql_scaler.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


static bool empty(const char *s)
{
	return !s || !*s;
}

void my_target_free(struct my_target *t)
{
	if (!t)
		return;
	free(t->user);
	em_free_secret(t->password);
	free(t->db);
	free(t->host);
	free(t->socket);
	free(t->charset);
	em_free_secret(t->set_vars);
	memset(t, 0, sizeof(*t));
}

static int dsn_err(struct em_err *err, const char *why)
{
	return em_err_set(err, EM_E_CONFIG,
			  "connectionString: invalid DSN: %s (the string is not shown because it holds a password)", why);
}

/* Go's url.PathUnescape (plus=false) / url.QueryUnescape (plus=true) of
 * s[0..n): malloc'd, NULL on a bad %-escape or out of memory. */
static char *unescape(const char *s, size_t n, bool plus)
{
	char *out = malloc(n + 1);
	size_t j = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			char hex[3];
			if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) || !isxdigit((unsigned char)s[i + 2])) {
				free(out);
				return NULL;
			}
			hex[0] = s[i + 1];
			hex[1] = s[i + 2];
			hex[2] = '\0';
			out[j++] = (char)strtol(hex, NULL, 16);
			i += 2;
		} else {
			out[j++] = plus && s[i] == '+' ? ' ' : s[i];
		}
	}
	out[j] = '\0';
	return out;
}

/* go-sql-driver's readBool */
static int read_bool(const char *v, bool *out)
{
	if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "TRUE") || !strcmp(v, "True")) {
		*out = true;
		return 0;
	}
	if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "FALSE") || !strcmp(v, "False")) {
		*out = false;
		return 0;
	}
	return -1;
}

static bool ident_ok(const char *s, const char *extra)
{
	if (!*s || isdigit((unsigned char)*s))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && !strchr(extra, *s))
			return false;
	return true;
}

/* The driver's own parameters that change nothing here: checked, then ignored. */
static const char *const bool_params[] = {
	"allowAllFiles", "allowFallbackToPlaintext", "allowNativePasswords", "allowOldPasswords", "checkConnLiveness",
	"clientFoundRows", "columnsWithAlias", "compress", "interpolateParams", "parseTime", "rejectReadOnly", NULL,
};
static const char *const duration_params[] = {"timeout", "readTimeout", "writeTimeout", "timeTruncate", NULL};

static bool in_list(const char *const *l, const char *s)
{
	for (; *l; l++)
		if (strcmp(*l, s) == 0)
			return true;
	return false;
}

static int set_var(struct em_strbuf *sb, const char *name, const char *value)
{
	em_sb_printf(sb, "%s%s = %s", sb->len ? ", " : "", name, value);
	return sb->oom ? -1 : 0;
}

static int dsn_param(struct my_target *t, struct em_strbuf *vars, const char *key, char *val, struct em_err *err)
{
	bool b;
	int64_t ms;

	if (in_list(bool_params, key) || strcmp(key, "allowCleartextPasswords") == 0 ||
	    strcmp(key, "multiStatements") == 0) {
		if (read_bool(val, &b) != 0)
			return em_err_set(err, EM_E_CONFIG, "connectionString: invalid bool value for %s", key);
		if (strcmp(key, "allowCleartextPasswords") == 0)
			t->cleartext = b;
		if (strcmp(key, "multiStatements") == 0 && b)
			return em_err_set(err, EM_E_CONFIG,
					  "connectionString: multiStatements is not supported (one statement per poll)");
		return 0;
	}
	if (in_list(duration_params, key)) {
		/* Go durations; the metric's timeout bounds every wait anyway */
		if (em_parse_duration_ms(val, &ms) != 0)
			return em_err_set(err, EM_E_CONFIG, "connectionString: invalid duration for %s", key);
		return 0;
	}
	if (strcmp(key, "tls") == 0) {
		if (read_bool(val, &b) == 0)
			t->tls = b ? MY_TLS_VERIFY : MY_TLS_OFF;
		else if (strcasecmp(val, "skip-verify") == 0)
			t->tls = MY_TLS_SKIP_VERIFY;
		else if (strcasecmp(val, "preferred") == 0)
			t->tls = MY_TLS_PREFERRED;
		else
			return em_err_set(err, EM_E_CONFIG,
					  "connectionString: tls: true, false, skip-verify or preferred (registered TLS "
					  "config names are a Go program's own)");
		return 0;
	}
	if (strcmp(key, "charset") == 0) {
		size_t n = strcspn(val, ",");
		val[n] = '\0';   /* the driver tries them in order; the first is what a server supports */
		if (!ident_ok(val, ""))
			return em_err_set(err, EM_E_CONFIG, "connectionString: invalid charset");
		free(t->charset);
		t->charset = strdup(val);
		return t->charset ? 0 : em_err_set(err, EM_E_CONFIG, "out of memory");
	}
	if (strcmp(key, "collation") == 0) {
		char q[160];
		if (!ident_ok(val, "") || strlen(val) > 100)
			return em_err_set(err, EM_E_CONFIG, "connectionString: invalid collation");
		snprintf(q, sizeof(q), "'%s'", val);
		return set_var(vars, "collation_connection", q) ? em_err_set(err, EM_E_CONFIG, "out of memory") : 0;
	}
	if (strcmp(key, "maxAllowedPacket") == 0) {
		if (em_parse_int(val, &ms) != 0)
			return em_err_set(err, EM_E_CONFIG, "connectionString: invalid maxAllowedPacket");
		return 0;
	}
	if (strcmp(key, "loc") == 0 || strcmp(key, "connectionAttributes") == 0)
		return 0;   /* time zones of time.Time values; client attributes: nothing to do */
	if (strcmp(key, "serverPubKey") == 0)
		return em_err_set(err, EM_E_CONFIG,
				  "connectionString: serverPubKey names a key a Go program registered: not supported");
	if (strcmp(key, "strict") == 0)
		return em_err_set(err, EM_E_CONFIG, "connectionString: strict mode has been removed from the driver");
	/* anything else: a session system variable, as the driver sets it */
	if (!ident_ok(key, "") || !*val)
		return em_err_set(err, EM_E_CONFIG,
				  "connectionString: a parameter is neither a driver parameter nor a system variable "
				  "name=value");
	return set_var(vars, key, val) ? em_err_set(err, EM_E_CONFIG, "out of memory") : 0;
}

static int dsn_params(struct my_target *t, const char *s, struct em_err *err)
{
	struct em_strbuf vars;
	int rc = 0;

	em_sb_init(&vars);
	while (s && rc == 0) {
		const char *amp = strchr(s, '&');
		size_t n = amp ? (size_t)(amp - s) : strlen(s);
		const char *eq = memchr(s, '=', n);
		if (eq) {
			char key[64], *val;
			size_t kl = (size_t)(eq - s);
			if (kl == 0 || kl >= sizeof(key)) {
				rc = dsn_err(err, "a parameter name is empty or too long");
				break;
			}
			memcpy(key, s, kl);
			key[kl] = '\0';
			val = unescape(eq + 1, n - kl - 1, true);
			if (!val) {
				rc = dsn_err(err, "a parameter value has an invalid %-escape");
				break;
			}
			rc = dsn_param(t, &vars, key, val, err);
			em_free_secret(val);
		}
		s = amp ? amp + 1 : NULL;
	}
	if (rc == 0 && vars.len) {
		t->set_vars = em_sb_steal(&vars);
		if (!t->set_vars)
			rc = em_err_set(err, EM_E_CONFIG, "out of memory");
	} else {
		em_wipe(vars.buf, vars.len);
		em_sb_free(&vars);
	}
	return rc;
}

/* "host", "host:port", "[v6]", "[v6]:port" (the driver adds :3306 when no port). */
static int dsn_addr(struct my_target *t, const char *a, size_t n)
{
	const char *host = a, *port = NULL;
	size_t hl = n;
	char pbuf[8];
	long p = 3306;

	if (n > 0 && a[0] == '[') {
		const char *rb = memchr(a, ']', n);
		if (!rb)
			return -1;
		host = a + 1;
		hl = (size_t)(rb - a) - 1;
		if ((size_t)(rb - a) + 1 < n) {
			if (rb[1] != ':')
				return -1;
			port = rb + 2;
		}
	} else {
		const char *c = memchr(a, ':', n);
		if (c) {
			if (memchr(c + 1, ':', n - (size_t)(c - a) - 1))
				return -1;   /* a bare IPv6 address needs brackets */
			hl = (size_t)(c - a);
			port = c + 1;
		}
	}
	if (port) {
		size_t pl = n - (size_t)(port - a);
		char *end;
		if (pl == 0 || pl >= sizeof(pbuf))
			return -1;
		memcpy(pbuf, port, pl);
		pbuf[pl] = '\0';
		for (size_t i = 0; i < pl; i++)
			if (!isdigit((unsigned char)pbuf[i]))
				return -1;
		p = strtol(pbuf, &end, 10);
		if (p < 1 || p > 65535)
			return -1;
	}
	if (hl == 0 || hl > 255)
		return -1;
	for (size_t i = 0; i < hl; i++)
		if ((unsigned char)host[i] <= ' ' || strchr("/@()[]", host[i]))
			return -1;
	t->host = strndup(host, hl);
	t->port = (unsigned)p;
	return t->host ? 0 : -1;
}

int my_parse_dsn(const char *dsn, struct my_target *out, struct em_err *err)
{
	const char *slash, *at = NULL, *params, *net, *addr = NULL;
	size_t i, netlen, addrlen = 0;

	memset(out, 0, sizeof(*out));
	slash = strrchr(dsn, '/');
	if (!slash)
		return dsn_err(err, "missing the slash separating the database name");
	i = (size_t)(slash - dsn);
	params = strchr(slash + 1, '?');
	/* Everything after the last '/' is the database name and parameters:
	 * an '@' there means a '/' in the password split the string at the
	 * wrong place (the driver would read password text as the database
	 * name, which the server then quotes in its errors). */
	if (memchr(slash + 1, '@', strlen(slash + 1)))
		return dsn_err(err, "'@' after the last '/': a '/' in the password needs the /dbname part after the "
				    "address (write .../dbname, or /  for none), and '@' in a parameter value is written %40");
	for (size_t j = i; j-- > 0;)
		if (dsn[j] == '@') {
			at = dsn + j;
			break;
		}
	if (at) {
		const char *colon = memchr(dsn, ':', (size_t)(at - dsn));
		size_t ul = colon ? (size_t)(colon - dsn) : (size_t)(at - dsn);
		if (ul > 0 && !(out->user = strndup(dsn, ul)))
			goto out;
		if (colon && at > colon + 1 && !(out->password = strndup(colon + 1, (size_t)(at - colon - 1))))
			goto out;
	}
	net = at ? at + 1 : dsn;
	netlen = (size_t)(slash - net);
	{
		const char *lp = memchr(net, '(', netlen);
		if (lp) {
			if (slash[-1] != ')') {
				my_target_free(out);
				if (memchr(lp + 1, ')', (size_t)(slash - lp - 1)))
					return dsn_err(err, "did you forget to escape a param value?");
				return dsn_err(err, "network address not terminated (missing closing brace)");
			}
			addr = lp + 1;
			addrlen = (size_t)(slash - 1 - addr);
			netlen = (size_t)(lp - net);
		}
	}
	if (netlen == 0 || (netlen == 3 && strncmp(net, "tcp", 3) == 0)) {
		if (addrlen == 0) {
			if (!(out->host = strdup("127.0.0.1")))
				goto out;
			out->port = 3306;
		} else if (dsn_addr(out, addr, addrlen) != 0) {
			my_target_free(out);
			return dsn_err(err, "the address in tcp(...) is not host, host:port or [IPv6]:port");
		}
	} else if (netlen == 4 && strncmp(net, "unix", 4) == 0) {
		if (!(out->socket = addrlen ? strndup(addr, addrlen) : strdup("/tmp/mysql.sock")))
			goto out;
	} else {
		my_target_free(out);
		return dsn_err(err, "the network is not tcp or unix (a '@' or '/' of the password out of place?)");
	}
	{
		size_t dl = params ? (size_t)(params - slash - 1) : strlen(slash + 1);
		if (dl > 0) {
			out->db = unescape(slash + 1, dl, false);
			if (!out->db) {
				my_target_free(out);
				return dsn_err(err, "invalid %-escape in the database name");
			}
		}
	}
	if (params && dsn_params(out, params + 1, err) != 0) {
		my_target_free(out);
		return -1;
	}
	return 0;
out:
	my_target_free(out);
	return em_err_set(err, EM_E_CONFIG, "out of memory");
}

int my_target_from_fields(const struct my_cfg *c, struct my_target *out, struct em_err *err)
{
	long port = 3306;

	memset(out, 0, sizeof(*out));
	if (empty(c->host))
		return em_err_set(err, EM_E_CONFIG, "host: no host given (or a connectionString)");
	if (!empty(c->port)) {
		char *end;
		port = strtol(c->port, &end, 10);
		if (end == c->port || *end || port < 1 || port > 65535)
			return em_err_set(err, EM_E_CONFIG, "port: must be a number from 1 to 65535, got \"%.20s\"",
					  c->port);
	}
	if (empty(c->username))
		return em_err_set(err, EM_E_CONFIG, "username: no username given (or a connectionString)");
	out->port = (unsigned)port;
	if (!(out->host = strdup(c->host)) || !(out->user = strdup(c->username)) ||
	    (!empty(c->password) && !(out->password = strdup(c->password))) ||
	    (!empty(c->dbName) && !(out->db = strdup(c->dbName)))) {
		my_target_free(out);
		return em_err_set(err, EM_E_CONFIG, "out of memory");
	}
	return 0;
}

char *my_target_key(const struct my_target *t)
{
	struct em_strbuf sb;

	em_sb_init(&sb);
	/* \x1f separates: it cannot appear in a host, port, socket path or name
	 * the server accepts; in a password it only makes a key that matches no other. */
	em_sb_printf(&sb, "%s\x1f%u\x1f%s\x1f%s\x1f%s\x1f%s\x1f%d\x1f%s\x1f%d\x1f%s", t->host ? t->host : "", t->port,
		     t->socket ? t->socket : "", t->user ? t->user : "", t->password ? t->password : "",
		     t->db ? t->db : "", (int)t->tls, t->charset ? t->charset : "", (int)t->cleartext,
		     t->set_vars ? t->set_vars : "");
	if (sb.oom) {
		em_wipe(sb.buf, sb.len);
		em_sb_free(&sb);
		return NULL;
	}
	return em_sb_steal(&sb);
}
