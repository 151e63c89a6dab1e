"""test_postgresql.py - the postgresql scaler against a real PostgreSQL 15 cluster (initdb into a temp dir)."""
import json
import os
import re
import shutil
import time
import urllib.parse

from backends_postgres import Postgres
from lib import SLOW, Cases, Server, em, em_get, free_port, kubectl_raw, tmpdir, wait_for, write, status_from

CONF_DIR = tmpdir()
T = Cases("postgresql scaler")
T.at_exit(lambda: shutil.rmtree(CONF_DIR, ignore_errors=True))
GV = "/apis/external.metrics.k8s.io/v1beta1"

# A password that needs libpq quoting (space, quote, backslash).
APP_PW = "it's a \\ pw"

pg = Postgres()
T.at_exit(pg.cleanup)
pg.psql("CREATE ROLE app LOGIN PASSWORD 'it''s a \\ pw'")
pg.psql("CREATE DATABASE jobs_db OWNER app")
pg.psql("CREATE TABLE jobs (id serial PRIMARY KEY, state text NOT NULL)", db="jobs_db")
pg.psql("INSERT INTO jobs (state) SELECT 'pending' FROM generate_series(1, 3)", db="jobs_db")
pg.psql("INSERT INTO jobs (state) SELECT 'done' FROM generate_series(1, 2)", db="jobs_db")
# app may write: a refused write below is the read-only transaction's doing, not missing grants
pg.psql("ALTER TABLE jobs OWNER TO app", db="jobs_db")
pg.psql("ALTER SEQUENCE jobs_id_seq OWNER TO app", db="jobs_db")

PENDING = "SELECT count(*) FROM jobs WHERE state = 'pending'"
ENV = {"PGPW": APP_PW}


def config(metrics, polling="1s", timeout="2s"):
    return json.dumps({"server": {"auth": {"mode": "none"}},
                       "defaults": {"pollingInterval": polling, "timeout": timeout},
                       "metrics": metrics})


def metric(name, query, **extra):
    md = {"query": query, "targetQueryValue": "5", "host": "127.0.0.1", "port": str(pg.port),
          "userName": "app", "dbName": "jobs_db", "sslmode": "disable"}
    md.update({k: str(v) for k, v in extra.items()})
    return {"name": name, "namespaces": ["*"], "type": "postgresql", "metadata": md,
            "auth": {"params": {"password": {"fromEnv": "PGPW"}}}}


def get(metrics, name, env=ENV):
    path = write(os.path.join(CONF_DIR, "c.yaml"), config(metrics))
    t0 = time.time()
    rc, out, err = em_get(path, "default", name, env=env)
    took = time.time() - t0
    status = None
    if rc != 0:
        status = status_from(err)
    return rc, out if rc == 0 else status, err, took


def value_of(out):
    assert out and out["kind"] == "ExternalMetricValueList" and len(out["items"]) == 1, out
    return out["items"][0]["value"]


def failure(rc, status, err, code=503):
    assert rc == 1, (rc, status, err)
    assert status and status["kind"] == "Status" and status["code"] == code, err
    return status["message"]


def served(srv, name):
    st, _, body = srv.api(f"{GV}/namespaces/default/{name}")
    return st, json.loads(body)


def served_value(srv, name):
    st, d = served(srv, name)
    return d["items"][0]["value"] if st == 200 else None


def count_pending():
    return int(pg.scalar("SELECT count(*) FROM jobs WHERE state = 'pending'", db="jobs_db"))


def set_pending(n):
    pg.psql("DELETE FROM jobs WHERE state = 'pending'", db="jobs_db")
    if n:
        pg.psql(f"INSERT INTO jobs (state) SELECT 'pending' FROM generate_series(1, {n})", db="jobs_db")


@T.case
def count_query_value():
    rc, out, err, _ = get([metric("pending", PENDING)], "pending")
    assert rc == 0, err
    assert value_of(out) == "3", out
    # the README examples
    rc, out, err, _ = get([metric("conns", "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'")], "conns")
    assert rc == 0 and int(value_of(out)) >= 1, (err, out)
    rc, out, err, _ = get([metric("lag", "SELECT COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)")],
                          "lag")
    assert rc == 0 and value_of(out) == "0", (err, out)   # not a replica: no replay timestamp


@T.case
def value_through_kubectl_and_updates():
    srv = Server(config([metric("pending", PENDING)], polling="500ms"), env=ENV)
    try:
        p = kubectl_raw(srv, f"{GV}/namespaces/default/pending")
        assert p.returncode == 0, p.stderr
        d = json.loads(p.stdout)
        assert [i["value"] for i in d["items"]] == ["3"], d
        set_pending(8)
        wait_for(lambda: served_value(srv, "pending") == "8", timeout=5, what="updated count")
    finally:
        srv.stop()
        set_pending(3)


@T.case
def connection_string_from_env():
    m = {"name": "c", "namespaces": ["*"], "type": "postgresql",
         "metadata": {"query": "SELECT 2.5::numeric", "targetQueryValue": "1", "connectionFromEnv": "PG_CONN"}}
    conn = f"postgresql://app:{urllib.parse.quote(APP_PW, safe='')}@127.0.0.1:{pg.port}/jobs_db?sslmode=disable"
    rc, out, err, _ = get([m], "c", env={"PG_CONN": conn})
    assert rc == 0 and value_of(out) == "2500m", err
    assert APP_PW not in err


@T.case
def null_no_rows_and_non_numeric_are_clear_errors():
    rc, st, err, _ = get([metric("m", "SELECT max(id) FROM jobs WHERE state = 'nope'")], "m")
    msg = failure(rc, st, err)
    assert "cannot scan NULL into *float64" in msg and "COALESCE" in msg, msg
    rc, st, err, _ = get([metric("m", "SELECT id FROM jobs WHERE false")], "m")
    msg = failure(rc, st, err)
    assert "error inspecting postgreSQL: could not query postgreSQL: no rows in result set" in msg, msg
    rc, st, err, _ = get([metric("m", "SELECT 'many'::text")], "m")
    assert 'cannot convert "many" (text) to float64' in failure(rc, st, err)
    rc, st, err, _ = get([metric("m", "SELECT * FROM no_such_table")], "m")
    msg = failure(rc, st, err)
    assert 'relation "no_such_table" does not exist (SQLSTATE 42P01)' in msg, msg


@T.case
def writes_are_refused():
    before = pg.scalar("SELECT count(*) || ':' || max(id) FROM jobs", db="jobs_db")
    states = pg.scalar("SELECT string_agg(state, ',' ORDER BY id) FROM jobs", db="jobs_db")
    # (PostgreSQL names a data-modifying CTE by its top-level command, SELECT)
    attempts = {
        "WITH d AS (DELETE FROM jobs RETURNING 1) SELECT count(*) FROM d":
            "cannot execute SELECT in a read-only transaction (SQLSTATE 25006)",
        "WITH i AS (INSERT INTO jobs (state) VALUES ('x') RETURNING id) SELECT id FROM i":
            "cannot execute SELECT in a read-only transaction (SQLSTATE 25006)",
        "UPDATE jobs SET state = 'done' RETURNING id": "cannot execute UPDATE in a read-only transaction",
        "SELECT nextval('jobs_id_seq')": "cannot execute nextval() in a read-only transaction",
        "SELECT 1; DELETE FROM jobs": "cannot insert multiple commands into a prepared statement",
        "COMMIT; DELETE FROM jobs": "cannot insert multiple commands into a prepared statement",
        "CREATE TABLE evil (x int)": "cannot execute CREATE TABLE in a read-only transaction",
    }
    for q, want in attempts.items():
        rc, st, err, _ = get([metric("m", q)], "m")
        msg = failure(rc, st, err)
        assert want in msg, (q, msg)
    assert pg.scalar("SELECT count(*) || ':' || max(id) FROM jobs", db="jobs_db") == before
    assert pg.scalar("SELECT string_agg(state, ',' ORDER BY id) FROM jobs", db="jobs_db") == states
    assert pg.scalar("SELECT count(*) FROM pg_class WHERE relname = 'evil'", db="jobs_db") == "0"
    assert pg.scalar("SELECT last_value FROM jobs_id_seq", db="jobs_db") == before.split(":")[1]


@T.case
def hostile_namespace_cannot_inject_sql():
    """${namespace} inside a SQL string literal: namespaces are DNS-1123 labels,
    so a path segment with a quote must be refused before substitution."""
    q = "SELECT count(*) FROM jobs WHERE state = 'pending' AND '${namespace}' <> ''"
    srv = Server(config([metric("by-ns", q)]), env=ENV)
    try:
        st, d = served(srv, "by-ns")
        assert st == 200 and d["items"][0]["value"] == "3", (st, d)
        hostile = "x' OR (SELECT count(*) FROM jobs) > 0 OR 'a"
        st, _, body = srv.api(f"{GV}/namespaces/{urllib.parse.quote(hostile, safe='')}/by-ns")
        assert st in (400, 404), (st, body)
    finally:
        srv.stop()


@T.case
def wrong_password_is_a_clear_error():
    rc, st, err, _ = get([metric("m", PENDING)], "m", env={"PGPW": "not-the-password"})
    msg = failure(rc, st, err)
    assert "error establishing postgreSQL connection" in msg, msg
    assert 'password authentication failed for user "app"' in msg, msg
    assert "not-the-password" not in err


@T.case
def slow_query_is_cancelled_and_others_keep_updating():
    # get: the statement is cancelled by the server within the metric's timeout
    m = metric("slow", "SELECT pg_sleep(30)")
    m["timeout"] = "1s"
    rc, st, err, took = get([m], "slow")
    msg = failure(rc, st, err)
    assert "canceling statement due to statement timeout (SQLSTATE 57014)" in msg, msg
    assert took < 1.0 + 1.0 * SLOW, took

    slow = metric("slow", "SELECT pg_sleep(30)")
    slow.update({"timeout": "1s", "pollingInterval": "1s"})
    fast = metric("pending", PENDING)
    fast.update({"timeout": "1s", "pollingInterval": "300ms"})
    srv = Server(config([slow, fast]), env=ENV)
    try:
        wait_for(lambda: served_value(srv, "pending") == "3", timeout=5, what="fast metric")
        ages = []
        for n in (4, 6, 9):
            set_pending(n)
            t0 = time.time()
            wait_for(lambda: served_value(srv, "pending") == str(n), timeout=3, what=f"pending={n}")
            assert time.time() - t0 < 1.5 * SLOW, time.time() - t0
            age = pg.scalar("SELECT COALESCE(max(EXTRACT(EPOCH FROM now() - query_start)), 0) FROM pg_stat_activity "
                            "WHERE query LIKE 'SELECT pg_sleep%' AND state = 'active'")
            ages.append(float(age))
            time.sleep(0.4)
        # a sleeping statement never outlives the metric's timeout
        assert max(ages) < 1.2, ages
        st, d = served(srv, "slow")
        assert st == 503 and "statement timeout" in d["message"], (st, d)
    finally:
        srv.stop()
        set_pending(3)
    wait_for(lambda: pg.scalar("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' "
                               "AND state = 'active'") == "0", timeout=3, what="no sleeping statement left")


def sessions_by_db():
    """extmetrics' open sessions per database, from the server's own view."""
    rows = pg.scalar("SELECT datname || '=' || count(*) FROM pg_stat_activity "
                     "WHERE application_name = 'extmetrics' GROUP BY datname ORDER BY datname")
    return {k: int(v) for k, v in (r.split("=") for r in rows.split())} if rows else {}


def pg_counters(srv):
    """(successful connects, successful queries) from the server's /metrics."""
    t = srv.metrics()
    ok = re.search(r'^extmetrics_postgresql_connects_total\{result="ok"\} (\S+)$', t, re.M)
    q = re.search(r'^extmetrics_postgresql_queries_total\{result="ok"\} (\S+)$', t, re.M)
    return (float(ok.group(1)) if ok else 0), (float(q.group(1)) if q else 0)


@T.case
def quick_metrics_on_one_target_share_one_connection():
    """Six metrics on one target (all falling due together every 200 ms) use
    exactly one connection; three on a second target (another database) get
    exactly one of their own."""
    pg.psql("DROP DATABASE IF EXISTS other_db")
    pg.psql("CREATE DATABASE other_db OWNER app")
    ms = []
    for i in range(6):
        ms.append(dict(metric(f"a{i}", PENDING), pollingInterval="200ms"))
    for i in range(3):
        ms.append(dict(metric(f"b{i}", f"SELECT {i + 10}", dbName="other_db"), pollingInterval="200ms"))
    srv = Server(config(ms), env=ENV)
    try:
        for i in range(6):
            wait_for(lambda: served_value(srv, f"a{i}") == "3", timeout=5, what=f"a{i}")
        for i in range(3):
            wait_for(lambda: served_value(srv, f"b{i}") == str(i + 10), timeout=5, what=f"b{i}")
        c0, q0 = pg_counters(srv)
        time.sleep(2)
        c1, q1 = pg_counters(srv)
        assert q1 - q0 >= 40, (q0, q1)           # 9 metrics x 5 polls/s x 2 s, minus jitter
        assert c1 == c0 == 2, (c0, c1)           # one connection per target, from the start
        assert sessions_by_db() == {"jobs_db": 1, "other_db": 1}, sessions_by_db()
    finally:
        srv.stop()
    wait_for(lambda: sessions_by_db() == {}, timeout=5, what="sessions closed at exit")


@T.case
def second_connection_only_while_a_query_is_running():
    """A slow metric (0.7 s query every 200 ms) keeps one connection busy most
    of the time: its quick neighbours then open one more, and only one, and
    keep updating."""
    slow = dict(metric("slow", "SELECT 1 FROM pg_sleep(0.7)"), pollingInterval="200ms", timeout="3s", polling="eager")
    fast = [dict(metric(f"f{i}", PENDING), pollingInterval="200ms", timeout="3s", polling="eager") for i in range(4)]
    srv = Server(config([slow] + fast), env=ENV)
    try:
        wait_for(lambda: served_value(srv, "slow") == "1", timeout=8, what="slow metric")
        for i in range(4):
            wait_for(lambda: served_value(srv, f"f{i}") == "3", timeout=5, what=f"f{i}")
        c0, q0 = pg_counters(srv)
        busy = 0
        for _ in range(10):
            busy += int(pg.scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'extmetrics' "
                                  "AND query LIKE '%pg_sleep%' AND state = 'active'"))
            time.sleep(0.2)
        c1, q1 = pg_counters(srv)
        assert busy >= 5, busy                   # the slow query really was running meanwhile
        assert q1 - q0 >= 20, (q0, q1)           # the quick ones kept polling (4 x 5/s x 2 s)
        assert c1 == c0 == 2, (c0, c1)
        assert sessions_by_db() == {"jobs_db": 2}, sessions_by_db()
        set_pending(6)
        t0 = time.time()
        wait_for(lambda: all(served_value(srv, f"f{i}") == "6" for i in range(4)), timeout=3, what="quick updates")
        assert time.time() - t0 < 1.5 * SLOW, time.time() - t0
    finally:
        srv.stop()
        set_pending(3)


# ------------------------------------------------------------------ secrets

# Connection strings libpq misreads or rejects, with the parts of each that
# must never be shown: libpq's parse errors quote the offending token, and a
# password it splits into the host, port or database name comes back in its
# (or the server's) messages.
SU = f"user=postgres password={pg.superuser_password}"
MALFORMED = [
    (f"postgresql://app:Sup3rXq%2Gz9Tail@127.0.0.1:{pg.port}/jobs_db", ["Sup3rXq", "z9Tail", "%2G"]),
    (f"host=127.0.0.1 port={pg.port} password=Hunter2Qx TopSecretTailZ", ["Hunter2Qx", "TopSecretTailZ"]),
    (f"host=127.0.0.1 port={pg.port} password='Unterminated9Xy", ["Unterminated9Xy"]),
    # unencoded '@' / '/' in the password: libpq reads host "Wq7Lm@127.0.0.1", port "424242"
    (f"postgresql://app:Pa55Vw@Wq7Lm@127.0.0.1:{pg.port}/jobs_db", ["Pa55Vw", "Wq7Lm"]),
    (f"postgresql://app:424242/Zk9qR@127.0.0.1:{pg.port}/jobs_db", ["424242", "Zk9qR"]),
    (f"host=127.0.0.1 port=Pt6Hx{pg.port} {SU} sslmode=disable", ["Pt6Hx"]),
    # a connection string as a database name goes to the server verbatim
    (f"host=127.0.0.1 port={pg.port} {SU} sslmode=disable dbname=postgresql://app:Wd8KpQ@127.0.0.1/jobs_db",
     ["Wd8KpQ"]),
    # no '=': libpq would take the whole value as a database name (PG* below reach the server)
    ("Hunter2PlainQ", ["Hunter2PlainQ"]),
]
PG_ENV = {"PGHOST": "127.0.0.1", "PGPORT": str(pg.port), "PGUSER": "postgres",
          "PGPASSWORD": pg.superuser_password, "PGSSLMODE": "disable"}


def conn_metric(name, env_var, **top):
    m = {"name": name, "namespaces": ["*"], "type": "postgresql",
         "metadata": {"query": "SELECT 1", "targetQueryValue": "1", "connectionFromEnv": env_var}}
    m.update(top)
    return m


def assert_no_secret(where, text, secrets):
    for s in secrets:
        assert s not in text, f"secret {s!r} shown in {where}: {text[:3000]}"


@T.case
def malformed_connection_is_refused_without_repeating_it():
    for conn, secrets in MALFORMED:
        env = dict(PG_ENV, PG_CONN=conn)
        path = write(os.path.join(CONF_DIR, "c.yaml"), config([conn_metric("m", "PG_CONN")]))
        p = em("get", "--config", path, "default", "m", env=env)
        assert_no_secret(f"get of {conn!r}", p.stdout + p.stderr, secrets)
        assert p.returncode == 1 and p.stdout == "", (conn, p.returncode, p.stdout)
        assert re.search(r"c\.yaml:\d+:\d+: connection: invalid connection string: ", p.stderr), (conn, p.stderr)
        c = em("check-config", path, env=env)
        assert_no_secret(f"check-config of {conn!r}", c.stdout + c.stderr, secrets)
        assert c.returncode == 1 and "connection: invalid connection string" in c.stdout + c.stderr, (conn, c.stdout)
    # the same strings well formed are accepted (the checks are not blanket refusals)
    good = [f"postgresql://app:{urllib.parse.quote(APP_PW, safe='')}@127.0.0.1:{pg.port}/jobs_db?sslmode=disable",
            f"postgresql://127.0.0.1:{pg.port}/jobs_db?user=app&password={urllib.parse.quote(APP_PW, safe='')}"
            "&sslmode=disable",
            f"host=127.0.0.1 port={pg.port} user=app dbname=jobs_db sslmode=disable password='it\\'s a \\\\ pw'"]
    for conn in good:
        rc, out, err, _ = get([conn_metric("m", "PG_CONN")], "m", env={"PG_CONN": conn})
        assert rc == 0 and value_of(out) == "1", (conn, err)
        assert APP_PW not in err


@T.case
def serve_refuses_malformed_connection_without_repeating_it():
    conn, secrets = MALFORMED[0]
    srv = Server(config([conn_metric("m", "PG_CONN")]), env={"PG_CONN": conn},
                 extra_args=("--log-level", "debug"), wait=False)
    try:
        try:
            srv.proc.wait(timeout=5 * SLOW)
        except Exception:
            pass
        if srv.proc.poll() is None:   # it started after all: what does it tell a client?
            wait_for(srv.ready, timeout=5, what="server readiness")
            st, _, body = srv.api(f"{GV}/namespaces/default/m")
            assert_no_secret("Status body", body, secrets)
            assert_no_secret("/metrics", srv.metrics(), secrets)
    finally:
        srv.stop()
    log = srv.logs()
    assert_no_secret("serve log", log, secrets)
    assert srv.proc.returncode == 1, (srv.proc.returncode, log)
    assert "connection: invalid connection string" in log, log


@T.case
def secrets_never_shown_on_connection_errors():
    """Connection strings and passwords that parse but fail (wrong password,
    closed port) or, with ${namespace}, are only checked per request: the
    secrets appear in no `get` output, served Status body, debug log or
    /metrics."""
    closed = free_port()
    envs = {
        "PG_URI_WRONG": f"postgresql://app:WrongUriPw7Q@127.0.0.1:{pg.port}/jobs_db?sslmode=disable",
        "PG_URI_CLOSED": f"postgresql://app:ClosedPw8R@127.0.0.1:{closed}/jobs_db?sslmode=disable",
        "PG_QUERY_PW": f"postgresql://127.0.0.1:{pg.port}/jobs_db?user=app&password=QueryPw3T&sslmode=disable",
        "PG_KV_WRONG": f"host=127.0.0.1 port={pg.port} user=app dbname=jobs_db sslmode=disable "
                       "password='Kv Wrong Pw5U'",
        "PG_TMPL_BAD": f"postgresql://app:Sup3rXq%2Gz9Tail@127.0.0.1:{pg.port}/${{namespace}}",
        "PG_TMPL_SPLIT": f"postgresql://app:Pa55Vw@Wq7Lm@127.0.0.1:{pg.port}/${{namespace}}",
        "PGPW": "WrongFieldPw9S",
    }
    secrets = ["WrongUriPw7Q", "ClosedPw8R", "QueryPw3T", "Kv Wrong Pw5U", "Sup3rXq", "z9Tail", "Pa55Vw",
               "Wq7Lm", "WrongFieldPw9S"]
    fast = {"pollingInterval": "300ms", "timeout": "1s"}
    ms = [conn_metric("uri-wrong", "PG_URI_WRONG", **fast), conn_metric("uri-closed", "PG_URI_CLOSED", **fast),
          conn_metric("query-pw", "PG_QUERY_PW", **fast), conn_metric("kv-wrong", "PG_KV_WRONG", **fast),
          conn_metric("tmpl-bad", "PG_TMPL_BAD", **fast), conn_metric("tmpl-split", "PG_TMPL_SPLIT", **fast),
          dict(metric("fields-wrong", PENDING), **fast)]
    want = {"uri-wrong": (503, 'password authentication failed for user "app"'),
            "uri-closed": (503, "Connection refused"),
            "query-pw": (503, 'password authentication failed for user "app"'),
            "kv-wrong": (503, 'password authentication failed for user "app"'),
            "tmpl-bad": (400, "connection: invalid connection string"),
            "tmpl-split": (400, "connection: invalid connection string"),
            "fields-wrong": (503, 'password authentication failed for user "app"')}

    # extmetrics get: stdout and stderr
    path = write(os.path.join(CONF_DIR, "c.yaml"), config(ms))
    for name, (code, text) in want.items():
        p = em("get", "--config", path, "default", name, env=envs)
        assert_no_secret(f"get {name}", p.stdout + p.stderr, secrets)
        st = status_from(p.stderr)
        assert p.returncode == 1 and st and st["code"] == code and text in st["message"], (name, p.stderr)

    # served over HTTPS, the debug log and /metrics
    srv = Server(config(ms), env=envs, extra_args=("--log-level", "debug"))
    try:
        bodies = {}
        for name, (code, text) in want.items():
            def failed():
                st, _, body = srv.api(f"{GV}/namespaces/default/{name}")
                bodies[name] = body
                return st == code and text in json.loads(body)["message"]
            try:
                wait_for(failed, timeout=8, what=f"{name} failing")
            finally:
                assert_no_secret(f"served {name}", bodies.get(name, ""), secrets)
        time.sleep(1)   # a few more polls of each, logged at debug level
        assert_no_secret("/metrics", srv.metrics(), secrets)
    finally:
        srv.stop()
    log = srv.logs()
    assert_no_secret("serve --log-level debug", log, secrets)
    assert "fetch failed: error establishing postgreSQL connection" in log, log[-3000:]


@T.case
def server_restart_recovers_without_restarting_extmetrics():
    m = metric("pending", PENDING)
    m.update({"pollingInterval": "500ms", "timeout": "1s", "staleAfter": "30s"})
    srv = Server(config([m]), env=ENV)
    try:
        wait_for(lambda: served_value(srv, "pending") == "3", timeout=5, what="first value")
        pg.stop()
        time.sleep(2)
        assert served_value(srv, "pending") == "3"     # last value, still fresh enough
        pg.start()
        set_pending(5)
        t0 = time.time()
        wait_for(lambda: served_value(srv, "pending") == "5", timeout=15, what="value after restart")
        took = time.time() - t0
        assert took < 8 * SLOW, took
        t = srv.metrics()
        errs = re.search(r'^extmetrics_postgresql_connects_total\{result="error"\} (\S+)$', t, re.M)
        assert errs and float(errs.group(1)) >= 1, t[:3000]
        assert srv.proc.poll() is None
    finally:
        srv.stop()
        set_pending(3)


if __name__ == "__main__":
    T.main()
