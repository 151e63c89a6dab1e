"""test_mysql.py - the mysql scaler against real MariaDB 10.11 servers (mariadb-install-db into temp dirs):
values, read-only and server-side time limits, shared connections, outages, hung servers, TLS, secrets."""
import json
import os
import re
import shutil
import time

from backends_mariadb import MariaDB
from backends_redis import make_certs
from lib import (GV, SLOW, Cases, Server, assert_config_errors, counter, em, failed, free_port, get_metric,
                 keeps_updating, kubectl_raw, metric_entry, metrics_config, served, served_value, status_from, tmpdir, value_of,
                 wait_for, write)

CONF_DIR = tmpdir()
T = Cases("mysql scaler")
T.at_exit(lambda: shutil.rmtree(CONF_DIR, ignore_errors=True))

CERTS = tmpdir()
T.at_exit(lambda: shutil.rmtree(CERTS, ignore_errors=True))
PEM = make_certs(CERTS)
db = MariaDB(tls_dir=CERTS)        # offers TLS
T.at_exit(db.cleanup)
plain = MariaDB()                  # does not: TLS-required DSNs must fail there; a neighbour for the hung test
T.at_exit(plain.cleanup)

# A password with the characters a DSN splits on: the driver's rules keep it whole.
APP_PW = "p@ss/w:rd?x=1 it's"
for server in (db, plain):
    server.sql("CREATE DATABASE jobs_db; CREATE DATABASE other_db; "
               "CREATE USER app@'%' IDENTIFIED BY 'p@ss/w:rd?x=1 it''s'; "
               "GRANT ALL ON jobs_db.* TO app@'%'; GRANT ALL ON other_db.* TO app@'%'; "
               "CREATE TABLE jobs_db.jobs (id INT AUTO_INCREMENT PRIMARY KEY, state VARCHAR(16) NOT NULL); "
               "CREATE SEQUENCE jobs_db.seq")
PENDING = "SELECT count(*) FROM jobs WHERE state = 'pending'"
ENV = {"MYSQL_PW": APP_PW}


def set_pending(n, server=db):
    server.sql("DELETE FROM jobs_db.jobs WHERE state = 'pending'")
    if n:
        server.sql("INSERT INTO jobs_db.jobs (state) VALUES " + ",".join(["('pending')"] * n))


set_pending(3)
db.sql("INSERT INTO jobs_db.jobs (state) VALUES ('done'), ('done')")


def metric(name, query, server=db, **extra):
    return metric_entry(name, "mysql", {"query": query, "queryValue": "5", "host": "127.0.0.1", "port": str(server.port),
                                        "username": "app", "dbName": "jobs_db", "passwordFromEnv": "MYSQL_PW"}, **extra)


def dsn_metric(name, query, env_var="DSN", **top):
    m = {"name": name, "namespaces": ["*"], "type": "mysql",
         "metadata": {"query": query, "queryValue": "5", "connectionStringFromEnv": env_var}}
    m.update(top)
    return m


def dsn(server=db, user="app", pw=APP_PW, dbname="jobs_db", params=""):
    return f"{user}:{pw}@tcp(127.0.0.1:{server.port})/{dbname}{params}"


def get(metrics, name, env=ENV):
    return get_metric(metrics, name, env)


def value(metrics, name, env=ENV):
    return value_of(get(metrics, name, env))


def failure(metrics, name, env=ENV):
    return failed(get(metrics, name, env))


def sessions(server=db):
    """app's open sessions per database, from the server's own process list."""
    rows = server.scalar("SELECT CONCAT(IFNULL(DB, '-'), '=', COUNT(*)) FROM information_schema.PROCESSLIST "
                         "WHERE USER = 'app' GROUP BY DB ORDER BY DB")
    return {k: int(v) for k, v in (r.split("=") for r in rows.split())} if rows else {}


@T.case
def values_from_keys_dsn_and_unix_socket():
    assert value([metric("m", PENDING)], "m") == "3"
    assert value([metric("m", "SELECT 2.5")], "m") == "2500m"
    assert value([metric("m", "SELECT SUM(id > 0) FROM jobs;")], "m") == "5"     # a trailing ';' is fine
    # the first row of many (the server sends only that one), and a subquery is not cut
    first = db.scalar("SELECT MIN(id) FROM jobs_db.jobs")
    assert value([metric("m", "SELECT id FROM jobs ORDER BY id")], "m") == first
    assert value([metric("m", "SELECT COUNT(*) FROM (SELECT id FROM jobs) AS j")], "m") == "5"
    # port defaults to 3306 (not this server's), dbName is optional
    assert "Can't connect to server on '127.0.0.1'" in failure([metric("m", "SELECT 1", port="-")], "m")
    assert value([metric("m", "SELECT count(*) FROM jobs_db.jobs", dbName="-")], "m") == "5"
    env = {"DSN": dsn()}
    assert value([dsn_metric("m", PENDING)], "m", env) == "3"
    env = {"DSN": f"app:{APP_PW}@unix({db.sock})/jobs_db?parseTime=true&loc=Local"}
    assert value([dsn_metric("m", PENDING)], "m", env) == "3"
    # a DSN system variable is set for the session, as the driver does
    env = {"DSN": dsn(params="?max_join_size=123457&time_zone=%27%2B02%3A00%27")}
    assert value([dsn_metric("m", "SELECT @@session.max_join_size")], "m", env) == "123457"
    assert value([dsn_metric("m", "SELECT TIME_TO_SEC(TIMEDIFF(NOW(), UTC_TIMESTAMP()))")], "m", env) == "7200"


@T.case
def served_through_kubectl_with_updates_and_activation():
    ms = [dict(metric("pending", PENDING), pollingInterval="300ms"),
          dict(metric("gated", PENDING, activationQueryValue=4), pollingInterval="300ms")]
    srv = Server(metrics_config(ms), env=ENV)
    try:
        p = kubectl_raw(srv, f"{GV}/namespaces/default/pending")
        assert p.returncode == 0 and [i["value"] for i in json.loads(p.stdout)["items"]] == ["3"], p.stdout + p.stderr
        assert served_value(srv, "gated") == "0"    # 3 is not above 4: inactive, served as 0
        set_pending(8)
        wait_for(lambda: served_value(srv, "pending") == "8", timeout=5, what="updated count")
        wait_for(lambda: served_value(srv, "gated") == "8", timeout=5, what="activated")
    finally:
        srv.stop()
        set_pending(3)


@T.case
def null_no_rows_text_and_sql_errors():
    msg = failure([metric("m", "SELECT MAX(id) FROM jobs WHERE state = 'nope'")], "m")
    assert msg == ('metric m: error inspecting MySQL: sql: Scan error on column index 0, name "MAX(id)": converting '
                   "NULL to float64 is unsupported (the first column is NULL: wrap it in COALESCE(..., 0))"), msg
    msg = failure([metric("m", "SELECT id FROM jobs WHERE false")], "m")
    assert msg == "metric m: error inspecting MySQL: sql: no rows in result set", msg
    msg = failure([metric("m", "SELECT state FROM jobs WHERE state = 'pending' LIMIT 1")], "m")
    assert 'converting driver.Value type []uint8 ("pending") to a float64: invalid syntax' in msg, msg
    msg = failure([metric("m", "SELECT * FROM no_such_table")], "m")
    assert "Error 1146 (42S02): Table 'jobs_db.no_such_table' doesn't exist" in msg, msg
    msg = failure([metric("m", "DO 1")], "m")
    assert "sql: no rows in result set (the statement returned no result set" in msg, msg


@T.case
def writes_are_refused():
    before = db.scalar("SELECT CONCAT(COUNT(*), ':', MAX(id), ':', GROUP_CONCAT(state ORDER BY id)) FROM jobs_db.jobs")
    seq = db.scalar("SELECT NEXT VALUE FOR jobs_db.seq")
    ro = "Error 1792 (25006): Cannot execute statement in a READ ONLY transaction"
    attempts = {
        "INSERT INTO jobs (state) VALUES ('x')": ro,
        "UPDATE jobs SET state = 'done'": ro,
        "DELETE FROM jobs": ro,
        "CREATE TABLE evil (x int)": ro,          # DDL commits implicitly: refused all the same
        "DROP TABLE jobs": ro,
        "TRUNCATE jobs": ro,
        "SELECT * FROM jobs FOR UPDATE": ro,
        "SELECT NEXT VALUE FOR seq": ro,
        "LOCK TABLES jobs WRITE": ro,
        "SELECT 1; DELETE FROM jobs": "Error 1064 (42000)",   # one statement only
    }
    for q, want in attempts.items():
        msg = failure([metric("m", q)], "m")
        assert want in msg, (q, msg)
    # a query that turns the session read-write cannot make the next one on the same connection write
    flip = dict(metric("flip", "SET SESSION TRANSACTION READ WRITE"), pollingInterval="200ms")
    evil = dict(metric("evil", "CREATE TABLE evil2 (x int)"), pollingInterval="200ms")
    srv = Server(metrics_config([flip, evil]), env=ENV)
    try:
        wait_for(lambda: served(srv, "evil")[0] == 503, timeout=5, what="evil failing")
        time.sleep(1)
        assert ro in served(srv, "evil")[1]["message"]
        assert counter(srv, "extmetrics_mysql_connects_total", "ok") == 1
    finally:
        srv.stop()
    after = db.scalar("SELECT CONCAT(COUNT(*), ':', MAX(id), ':', GROUP_CONCAT(state ORDER BY id)) FROM jobs_db.jobs")
    assert after == before, (before, after)
    assert db.scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_NAME LIKE 'evil%'") == "0"
    assert int(db.scalar("SELECT NEXT VALUE FOR jobs_db.seq")) == int(seq) + 1


@T.case
def config_errors_name_file_line_and_key():
    cases = [(metric("m", "-"), 'missing required parameter "query"'),
             (metric("m", PENDING, queryValue="-"), 'missing required parameter "queryValue"'),
             (metric("m", PENDING, activationQueryValue="AA"), 'activationQueryValue: invalid number "AA"'),
             (metric("m", PENDING, host="-"), "host: no host given (or a connectionString)"),
             (metric("m", PENDING, username="-"), "username: no username given"),
             (metric("m", PENDING, port="test_port"), 'port: must be a number from 1 to 65535, got "test_port"'),
             (dict(metric("m", PENDING), metadata=dict(metric("m", PENDING)["metadata"], connectionStringFromEnv="DSN")),
              "connectionString replaces host, port, username, password and dbName")]
    assert_config_errors(cases, env=dict(ENV, DSN=dsn()))


@T.case
def wrong_password_is_a_clear_error():
    msg = failure([metric("m", PENDING)], "m", env={"MYSQL_PW": "Not-The-Pw-9Qz"})
    assert msg == ("metric m: error establishing MySQL connection: Error 1045 (28000): Access denied for user "
                   "'app'@'127.0.0.1' (using password: YES)"), msg
    rc, st, err, _ = get([metric("m", PENDING)], "m", env={"MYSQL_PW": "Not-The-Pw-9Qz"})
    assert "Not-The-Pw-9Qz" not in err


@T.case
def slow_query_is_interrupted_by_the_server_and_others_keep_updating():
    m = metric("slow", "SELECT SLEEP(30)")
    m["timeout"] = "1s"
    rc, st, err, took = get([m], "slow")
    assert rc == 1 and "Error 1969 (70100): Query execution was interrupted (max_statement_time exceeded)" in \
        st["message"], st
    assert took < 1.0 + 1.0 * SLOW, took
    slow = dict(metric("slow", "SELECT SLEEP(30)"), timeout="1s", pollingInterval="1s")
    fast = dict(metric("pending", PENDING), timeout="1s", pollingInterval="300ms")
    srv = Server(metrics_config([slow, fast]), env=ENV)
    try:
        wait_for(lambda: served_value(srv, "pending") == "3", timeout=5, what="fast metric")
        ages = keeps_updating(srv, "pending", set_pending, (4, 6, 9), within=1.5, probe=lambda: float(db.scalar(
            "SELECT COALESCE(MAX(TIME_MS), 0) FROM information_schema.PROCESSLIST "
            "WHERE INFO LIKE '%SLEEP(30)%' AND USER = 'app'")))
        assert max(ages) < 1200, ages   # a sleeping statement never outlives the metric's timeout
        st, d = served(srv, "slow")
        assert st == 503 and "max_statement_time exceeded" in d["message"], d
    finally:
        srv.stop()
        set_pending(3)


@T.case
def hung_server_is_cut_at_the_timeout_and_blocks_nobody():
    set_pending(3, server=plain)
    hung = dict(metric("hung", PENDING), timeout="1s", pollingInterval="500ms")
    fast = dict(metric("fast", PENDING, server=plain), timeout="1s", pollingInterval="200ms")
    srv = Server(metrics_config([hung, fast]), env=ENV)
    try:
        wait_for(lambda: served_value(srv, "hung") == "3" and served_value(srv, "fast") == "3", timeout=5,
                 what="first values")
        db.pause()
        rc, st, err, took = get([hung], "hung")
        # a new connection (this process has none yet) or a query on a kept one: cut at the timeout
        assert rc == 1 and (f"dial tcp 127.0.0.1:{db.port}: i/o timeout" in st["message"] or
                            "no answer within 1000 ms" in st["message"]), st
        assert took < 1.0 + 1.0 * SLOW, took
        keeps_updating(srv, "fast", lambda n: set_pending(n, server=plain), (4, 5, 6))
        wait_for(lambda: served(srv, "hung")[0] == 503, timeout=10, what="503 for the hung server")
        db.resume()
        wait_for(lambda: served_value(srv, "hung") == "3", timeout=40, what="recovery after SIGCONT")
    finally:
        db.resume()
        srv.stop()


@T.case
def quick_metrics_on_one_target_share_one_connection():
    ms = [dict(metric(f"a{i}", PENDING), pollingInterval="200ms") for i in range(6)]
    ms += [dict(metric(f"b{i}", f"SELECT {i + 10}", dbName="other_db"), pollingInterval="200ms") for i in range(3)]
    srv = Server(metrics_config(ms), env=ENV)
    try:
        for i in range(6):
            wait_for(lambda: served_value(srv, f"a{i}") == "3", timeout=5, what=f"a{i}")
        for i in range(3):
            wait_for(lambda: served_value(srv, f"b{i}") == str(i + 10), timeout=5, what=f"b{i}")
        c0 = counter(srv, "extmetrics_mysql_connects_total", "ok")
        q0 = counter(srv, "extmetrics_mysql_queries_total", "ok")
        time.sleep(2)
        assert counter(srv, "extmetrics_mysql_queries_total", "ok") - q0 >= 40
        assert counter(srv, "extmetrics_mysql_connects_total", "ok") == c0 == 2, c0
        assert sessions() == {"jobs_db": 1, "other_db": 1}, sessions()
    finally:
        srv.stop()
    wait_for(lambda: sessions() == {}, timeout=5, what="sessions closed at exit")


@T.case
def second_connection_only_while_a_query_is_running():
    # polled whether or not asked (polling: eager): the connections of steady polling are counted
    slow = dict(metric("slow", "SELECT 1 FROM (SELECT SLEEP(0.7)) AS s"), pollingInterval="200ms", timeout="3s",
                polling="eager")
    fast = [dict(metric(f"f{i}", PENDING), pollingInterval="200ms", timeout="3s", polling="eager") for i in range(4)]
    srv = Server(metrics_config([slow] + fast), env=ENV)
    try:
        wait_for(lambda: served_value(srv, "slow") == "1", timeout=8, what="slow metric")
        for i in range(4):
            wait_for(lambda: served_value(srv, f"f{i}") == "3", timeout=5, what=f"f{i}")
        c0 = counter(srv, "extmetrics_mysql_connects_total", "ok")
        q0 = counter(srv, "extmetrics_mysql_queries_total", "ok")
        busy = 0
        for _ in range(10):
            busy += int(db.scalar("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'app' "
                                  "AND INFO LIKE '%SLEEP(0.7)%'"))
            time.sleep(0.2)
        assert busy >= 5, busy
        assert counter(srv, "extmetrics_mysql_queries_total", "ok") - q0 >= 20
        assert counter(srv, "extmetrics_mysql_connects_total", "ok") == c0 == 2, c0
        assert sessions() == {"jobs_db": 2}, sessions()
    finally:
        srv.stop()


@T.case
def outage_keeps_the_last_value_then_503_then_recovers():
    m = dict(metric("pending", PENDING), pollingInterval="500ms", timeout="1s", staleAfter="4s")
    srv = Server(metrics_config([m]), env=ENV)
    try:
        wait_for(lambda: served_value(srv, "pending") == "3", timeout=5, what="first value")
        db.stop()
        t_down = time.time()
        time.sleep(1.5)
        assert served_value(srv, "pending") == "3"
        wait_for(lambda: served(srv, "pending")[0] == 503, timeout=10, what="503 after staleAfter")
        assert time.time() - t_down >= 3.0, time.time() - t_down
        st, d = served(srv, "pending")
        assert "error establishing MySQL connection: Error 2002 (HY000): Can't connect to server on '127.0.0.1'" \
            in d["message"], d
        p = kubectl_raw(srv, f"{GV}/namespaces/default/pending")
        assert p.returncode != 0 and "ServiceUnavailable" in p.stderr, p.stderr
        db.start()
        set_pending(5)
        wait_for(lambda: served_value(srv, "pending") == "5", timeout=40, what="recovery")
        assert counter(srv, "extmetrics_mysql_connects_total", "error") >= 1
    finally:
        srv.stop()
        if db.proc.poll() is not None:
            db.start()
        set_pending(3)


@T.case
def tls_modes_of_the_dsn():
    in_tls = ("SELECT COUNT(*) FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_version' "
              "AND VARIABLE_VALUE LIKE 'TLSv1._'")
    m = [dsn_metric("m", in_tls)]
    assert value(m, "m", {"DSN": dsn(params="?tls=skip-verify")}) == "1"
    assert value(m, "m", {"DSN": dsn(params="?tls=preferred")}) == "1"
    assert value(m, "m", {"DSN": dsn()}) == "0"
    # tls=true verifies against the system's roots (which SSL_CERT_FILE replaces) and the host name
    msg = failure(m, "m", {"DSN": dsn(params="?tls=true")})
    assert "Error 2026 (HY000): TLS/SSL error: self-signed certificate in certificate chain" in msg, msg
    assert value(m, "m", {"DSN": dsn(params="?tls=true"), "SSL_CERT_FILE": os.path.join(CERTS, "ca.pem")}) == "1"
    # a server without TLS: preferred falls back, the others fail (libmariadb alone would not)
    assert value(m, "m", {"DSN": dsn(server=plain, params="?tls=preferred")}) == "0"
    for mode in ("skip-verify", "true"):
        msg = failure(m, "m", {"DSN": dsn(server=plain, params=f"?tls={mode}"),
                               "SSL_CERT_FILE": os.path.join(CERTS, "ca.pem")})
        assert "error establishing MySQL connection" in msg and ("TLS requested but server does not support TLS" in msg
                                                                or "SSL is required" in msg), (mode, msg)


# ------------------------------------------------------------------ secrets

MALFORMED = [
    ("Hunter2SecretZq", ["Hunter2SecretZq"]),
    (f"app:Pa55Vw/Xk9@tcp(127.0.0.1:{db.port})", ["Pa55Vw", "Xk9"]),        # '/' in the password, no /dbname
    (f"app:Qz7Secret@udp(127.0.0.1:{db.port})/jobs_db", ["Qz7Secret"]),
    (f"app:Wd8KpQ@tcp(127.0.0.1:{db.port}/jobs_db", ["Wd8KpQ"]),
    (f"app:Mn4Tz@tcp(127.0.0.1:{db.port})/jobs_db?tls=Mn4Tz", ["Mn4Tz"]),
]


def assert_no_secret(where, text, secrets):
    for s in secrets:
        assert s not in text, f"secret {s!r} shown in {where}: {text[:3000]}"


@T.case
def malformed_dsn_is_refused_without_repeating_it():
    for conn, secrets in MALFORMED:
        path = write(os.path.join(CONF_DIR, "c.yaml"), metrics_config([dsn_metric("m", "SELECT 1")]))
        p = em("get", "--config", path, "default", "m", env={"DSN": conn})
        assert_no_secret(f"get of {conn!r}", p.stdout + p.stderr, secrets)
        assert p.returncode == 1 and re.search(r"c\.yaml:\d+:\d+: connectionString: invalid DSN: |"
                                               r"c\.yaml:\d+:\d+: connectionString: tls: ", p.stderr), (conn, p.stderr)
        c = em("check-config", path, env={"DSN": conn})
        assert_no_secret(f"check-config of {conn!r}", c.stdout + c.stderr, secrets)
        assert c.returncode == 1
    srv = Server(metrics_config([dsn_metric("m", "SELECT 1")]), env={"DSN": MALFORMED[1][0]},
                 extra_args=("--log-level", "debug"), wait=False)
    try:
        srv.proc.wait(timeout=10 * SLOW)
    finally:
        srv.stop()
    assert srv.proc.returncode == 1 and "connectionString: invalid DSN" in srv.logs(), srv.logs()
    assert_no_secret("serve log", srv.logs(), MALFORMED[1][1])


@T.case
def secrets_never_shown_on_connection_errors():
    closed = free_port()
    envs = {"DSN_WRONG": dsn(pw="WrongDsnPw7Q"),
            "DSN_CLOSED": f"app:ClosedPw8R@tcp(127.0.0.1:{closed})/jobs_db",
            "DSN_TMPL": f"app:TmplPw3T@tcp(127.0.0.1:{db.port})/${{namespace}}",
            "MYSQL_PW": "WrongFieldPw9S"}
    secrets = ["WrongDsnPw7Q", "ClosedPw8R", "TmplPw3T", "WrongFieldPw9S", APP_PW]
    fast = {"pollingInterval": "300ms", "timeout": "1s"}
    ms = [dsn_metric("dsn-wrong", "SELECT 1", "DSN_WRONG", **fast), dsn_metric("dsn-closed", "SELECT 1", "DSN_CLOSED", **fast),
          dsn_metric("dsn-tmpl", "SELECT 1", "DSN_TMPL", **fast), dict(metric("fields-wrong", PENDING), **fast)]
    want = {"dsn-wrong": "Access denied for user 'app'", "dsn-closed": "Can't connect to server",
            "dsn-tmpl": "Access denied for user 'app'", "fields-wrong": "Access denied for user 'app'"}
    path = write(os.path.join(CONF_DIR, "c.yaml"), metrics_config(ms))
    for name, text in want.items():
        p = em("get", "--config", path, "default", name, env=envs)
        assert_no_secret(f"get {name}", p.stdout + p.stderr, secrets)
        st = status_from(p.stderr)
        assert p.returncode == 1 and st and text in st["message"], (name, p.stderr)
    srv = Server(metrics_config(ms), env=envs, extra_args=("--log-level", "debug"))
    try:
        for name, text in want.items():
            wait_for(lambda: served(srv, name)[0] == 503 and text in served(srv, name)[1]["message"], timeout=8,
                     what=f"{name} failing")
            assert_no_secret(f"served {name}", srv.api(f"{GV}/namespaces/default/{name}")[2], secrets)
        time.sleep(1)
        assert_no_secret("/metrics", srv.metrics(), secrets)
    finally:
        srv.stop()
    assert_no_secret("serve --log-level debug", srv.logs(), secrets)
    assert "error establishing MySQL connection" in srv.logs()


if __name__ == "__main__":
    T.main()
