"""test_hostile.py - issue 14's findings against the real binary: hostile backends (stub servers on loopback) and hostile clients (raw sockets)."""
import json
import os
import re
import signal
import socket
import threading
import time

from backends_hostile import Stub, get, json_answer, proc_status, raw_connect, read_all
from backends_moto import clean_aws_env
from backends_postgres import Postgres
from lib import SLOW, Cases, Server, wait_for, write

T = Cases("hostile backends and clients")
GV = "/apis/external.metrics.k8s.io/v1beta1"
ASAN = SLOW > 1
MiB = 1 << 20
TOKEN = "IQoJb3JpZ2luX2VjEFUaCXVzLWVhc3QtMSJHMEUCIQDn3Qt0kZ9tSmFkZXNlY3JldA-68chars-sessiontoken"[:68]
AWS_ENV = clean_aws_env({"EM_AKID": "AKIAHOSTILE0000TEST", "EM_SK": "hostile/secret/key/0123456789abcdefghij",
                         "EM_TOKEN": TOKEN})


def config(*metrics):
    return json.dumps({"server": {"auth": {"mode": "none"}}, "defaults": {"pollingInterval": "1s", "timeout": "3s"},
                       "metrics": list(metrics)})


def prom(name, url, **extra):
    m = {"name": name, "namespaces": ["*"], "type": "prometheus",
         "metadata": {"serverAddress": url, "query": "q", "threshold": "1", "ignoreNullValues": "false"}}
    m.update(extra)
    return m


def aws_auth():
    return {"params": {"awsAccessKeyID": {"fromEnv": "EM_AKID"}, "awsSecretAccessKey": {"fromEnv": "EM_SK"},
                       "awsSessionToken": {"fromEnv": "EM_TOKEN"}}}


def sqs(name, url):
    return {"name": name, "namespaces": ["*"], "type": "aws-sqs-queue", "auth": aws_auth(),
            "metadata": {"queueURL": "https://sqs.eu-west-1.amazonaws.com/123456789012/q", "awsRegion": "eu-west-1",
                         "awsEndpoint": url}}


def cloudwatch(name, url):
    return {"name": name, "namespaces": ["*"], "type": "aws-cloudwatch", "auth": aws_auth(),
            "metadata": {"namespace": "AWS/SQS", "metricName": "Depth", "dimensionName": "QueueName",
                         "dimensionValue": name, "targetMetricValue": "1", "minMetricValue": "0",
                         "ignoreNullValues": "false", "awsRegion": "eu-west-1", "awsEndpoint": url}}


def metric(srv, name, ns="default", selector=None):
    path = f"{GV}/namespaces/{ns}/{name}" + (f"?labelSelector={selector}" if selector else "")
    st, _, body = srv.api(path)
    return st, json.loads(body)


def value_of(srv, name):
    st, d = metric(srv, name)
    return d["items"][0]["value"] if st == 200 else (st, d.get("message"))


def error_of(srv, name):
    """The 503 message of a metric whose backend keeps failing."""
    def failing():
        st, d = metric(srv, name)
        return d.get("message") if st == 503 else None
    return wait_for(failing, timeout=15, what=f"{name} failing")


# ---- memory: bounded by bytes, whatever the shape -----------------------------------

@T.case
def tiny_arrays_just_under_the_cap_cost_bytes_not_a_tree():
    # The answer of issue 14: millions of empty arrays just under the body cap
    # (4 MiB now); a JSON tree made each cost 772 MB. Three metrics, polled
    # every second, are served and the process stays small.
    body = json_answer({"status": "success", "data": {"resultType": "vector",
                                                      "result": [{"metric": {}, "value": [0, "7"]}]}}, pad_to=4 * MiB)
    stub = Stub(lambda *a: (200, "application/json", body))
    srv = Server(config(*(prom(f"p{i}", stub.url) for i in range(3))))
    try:
        for i in range(3):
            wait_for(lambda: value_of(srv, f"p{i}") == "7", timeout=15, what="served")
        hits = stub.hits
        wait_for(lambda: stub.hits >= hits + 9, timeout=30, what="more polls")
        st = proc_status(srv.proc.pid)
        # ASan keeps freed memory in quarantine; the tree alone was 2.9 GB
        limit = (512 if ASAN else 64) * MiB
        assert st["VmHWM"] < limit, st
    finally:
        srv.stop()
        stub.stop()


@T.case
def answers_over_their_scalers_cap_are_refused():
    big = json_answer({"status": "success", "data": {"resultType": "vector", "result": []}}, pad_to=5 * MiB)
    stub = Stub(lambda m, p, h, b: (200, "application/json", big if p.startswith("/api") else b"{}" + b" " * MiB))
    srv = Server(config(prom("p", stub.url), sqs("s", stub.url)), env=AWS_ENV)
    try:
        assert "prometheus response is larger than 4194304 bytes" in error_of(srv, "p")
        assert "sqs:GetQueueAttributes: answer larger than the limit" in error_of(srv, "s")
    finally:
        srv.stop()
        stub.stop()


# ---- numbers from outside -----------------------------------------------------------

@T.case
def sqs_counts_that_overflow_or_are_negative_are_errors():
    attrs = {"/max": "9223372036854775807", "/neg": "-5", "/ok": "12"}

    def answer(m, path, h, b):
        v = attrs[path.rstrip("/")]
        return 200, "application/x-amz-json-1.0", json.dumps({"Attributes": {
            "ApproximateNumberOfMessages": v, "ApproximateNumberOfMessagesNotVisible": v,
            "ApproximateNumberOfMessagesDelayed": v}}).encode()

    stub = Stub(answer)
    srv = Server(config(sqs("max", stub.url + "/max"), sqs("neg", stub.url + "/neg"), sqs("ok", stub.url + "/ok")),
                 env=AWS_ENV)
    try:
        # summed, 3 x (2^63 - 1) overflowed int64: UBSan aborted the poller, the release build served 0
        assert "ApproximateNumberOfMessages is 9223372036854775807, beyond the largest value served (2^53)" in \
            error_of(srv, "max")
        assert "ApproximateNumberOfMessages is -5, but a count cannot be negative" in error_of(srv, "neg")
        assert value_of(srv, "ok") == "24"   # visible + in flight
        assert "extmetrics_scaler_fetch_errors_total" in srv.metrics()
    finally:
        srv.stop()    # and no sanitizer report in its log
        stub.stop()


@T.case
def cloudwatch_and_postgresql_absurd_values_are_errors_not_the_largest_quantity():
    def answer(m, path, h, body):
        q = json.loads(body)["MetricDataQueries"]
        vals = {"huge": 1.797e308, "neg": -4.0}
        res = [{"Id": x["Id"], "Label": "l", "Timestamps": [1700000000],
                "Values": [vals[x["MetricStat"]["Metric"]["Dimensions"][0]["Value"]]], "StatusCode": "Complete"}
               for x in q]
        return 200, "application/x-amz-json-1.0", json.dumps({"MetricDataResults": res, "Messages": []}).encode()

    stub = Stub(answer)
    pg = Postgres()
    env = dict(AWS_ENV, EM_PG_PW=pg.superuser_password)

    def pgm(name, query):
        return {"name": name, "namespaces": ["*"], "type": "postgresql",
                "metadata": {"host": "127.0.0.1", "port": str(pg.port), "userName": "postgres", "dbName": "postgres",
                             "sslmode": "disable", "passwordFromEnv": "EM_PG_PW", "query": query,
                             "targetQueryValue": "1"}}

    srv = Server(config(cloudwatch("huge", stub.url), cloudwatch("neg", stub.url),
                        pgm("nan", "SELECT 'NaN'::float8"), pgm("big", "SELECT 1e300::float8")), env=env)
    try:
        # was served as 9223372036854775807m
        assert "the CloudWatch value is 1.797e+308, beyond the largest value served (2^53)" in error_of(srv, "huge")
        # a negative reading is served as 0: the documented clamp of the Quantity
        assert value_of(srv, "neg") == "0"
        assert "the query's value is NaN" in error_of(srv, "nan")
        assert "the query's value is 1e+300, beyond the largest value served" in error_of(srv, "big")
    finally:
        srv.stop()
        stub.stop()
        pg.cleanup()


# ---- clients: slowloris, floods, ambiguous HTTP ---------------------------------------

HEALTH = f"{GV}/namespaces/default/always-on"
CRON = {"name": "always-on", "namespaces": ["*"], "type": "cron",
        "metadata": {"timezone": "UTC", "start": "0 0 1 1 *", "end": "* * * * *", "desiredReplicas": "3"}}


def normal_clients(port, sources, n, results):
    for i in range(n):
        for src in sources:
            st, body, took = get(port, HEALTH, source=src, timeout=10 * SLOW)
            results.append((src, st, took))
        time.sleep(0.1)


@T.case
def a_trickling_head_is_cut_and_normal_clients_stay_served():
    # 300 TLS connections from 127.0.0.2 each sending a header line every 2 s
    # (the issue: 1,024 every 10 s kept them for ever, and a normal client
    # from that IP failed 74 of 76 times).
    srv = Server(config(CRON))
    conns = []
    try:
        for _ in range(300):
            s = raw_connect(srv.port, "127.0.0.2", tls=True, timeout=5 * SLOW)
            s.sendall(b"GET " + HEALTH.encode() + b" HTTP/1.1\r\nHost: x\r\n")
            conns.append(s)
        results = []
        t = threading.Thread(target=normal_clients, args=(srv.port, ["127.0.0.1", "127.0.0.2"], 10, results))
        t.start()
        closed = set()
        t0 = time.monotonic()
        while len(closed) < len(conns) and time.monotonic() - t0 < 40 * SLOW:
            for i, s in enumerate(conns):
                if i in closed:
                    continue
                try:
                    s.sendall(b"X-Trickle: 1\r\n")
                except OSError:
                    closed.add(i)
            time.sleep(2)
        t.join()
        assert len(closed) == len(conns), f"{len(conns) - len(closed)} trickling connections still open"
        bad = [r for r in results if r[1] != 200]
        assert not bad and len(results) == 20, bad
        m = srv.metrics()
        assert re.search(r'extmetrics_http_connections_shut_total\{listener="api",reason="head_timeout"\} \d+', m), m
    finally:
        for s in conns:
            s.close()
        srv.stop()


@T.case
def idle_connection_floods_do_not_lock_out_anyone():
    # 1,100 idle TCP connections to the TLS port from 127.0.0.3 (the issue:
    # 5,000, and a new client succeeded 22 of 49 times; 1,024 per IP were
    # allowed, then every new one from that IP refused): past 256 per IP the
    # longest waiting gives way, so clients from that IP and others get in.
    srv = Server(config(CRON))
    conns = []
    try:
        for _ in range(1100):
            conns.append(raw_connect(srv.port, "127.0.0.3", timeout=5))
        results = []
        normal_clients(srv.port, ["127.0.0.1", "127.0.0.3"], 10, results)
        bad = [r for r in results if r[1] != 200]
        assert not bad and len(results) == 20, bad
        # and every idle one is closed by its deadline
        for s in conns:
            _, closed = read_all(s, timeout=30 * SLOW)
            assert closed
    finally:
        for s in conns:
            s.close()
        srv.stop()


AMBIGUOUS = {
    "Content-Length with Transfer-Encoding": b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "two Content-Lengths": b"Content-Length: 0\r\nContent-Length: 45\r\n\r\nGET /version HTTP/1.1\r\nHost: x\r\n\r\n",
    "a body on GET": b"Content-Length: 4\r\n\r\nabcd",
    "NUL in a header": b"X-Remote-User: admin\x00evil\r\n\r\n",
    "bare CR in a header": b"X-A: a\rb\r\n\r\n",
    "xchunked": b"Transfer-Encoding: xchunked\r\n\r\n",
    "obsolete line folding": b"X-A: a\r\n b\r\n\r\n",
}


@T.case
def ambiguous_requests_get_400_and_a_closed_connection():
    srv = Server(config(CRON))
    try:
        for what, rest in AMBIGUOUS.items():
            s = raw_connect(srv.port, tls=True)
            s.sendall(b"GET " + HEALTH.encode() + b" HTTP/1.1\r\nHost: x\r\n" + rest)
            data, closed = read_all(s, timeout=10 * SLOW)
            s.close()
            assert data.startswith(b"HTTP/1.1 400 "), (what, data[:200])
            assert b"\r\nConnection: close\r\n" in data and closed, (what, data[:300])
            assert data.count(b"HTTP/1.1 ") == 1, (what, data)   # nothing left over answered
            assert json.loads(data.partition(b"\r\n\r\n")[2])["reason"] == "BadRequest", (what, data)
        # HTTP/1.1 without Host (libmicrohttpd's strict mode)
        s = raw_connect(srv.port, tls=True)
        s.sendall(b"GET /version HTTP/1.1\r\n\r\n")
        data, closed = read_all(s, timeout=10 * SLOW)
        assert data.startswith(b"HTTP/1.1 400 ") and closed, data[:200]
        # a NUL in the target
        s = raw_connect(srv.port, tls=True)
        s.sendall(b"GET /version\x00junk HTTP/1.1\r\nHost: x\r\n\r\n")
        data, closed = read_all(s, timeout=10 * SLOW)
        assert data.startswith(b"HTTP/1.1 400 ") and closed, data[:200]
        # the plain listener too
        s = socket.create_connection(("127.0.0.1", srv.mport), timeout=10)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
        data, closed = read_all(s, timeout=10 * SLOW)
        assert data.startswith(b"HTTP/1.1 400 ") and closed, data[:200]
        # and a well-formed request still works, keep-alive and all
        assert get(srv.port, HEALTH)[0] == 200
    finally:
        srv.stop()


@T.case
def connection_memory_limit_bounds_a_request_head():
    # server.connectionMemoryLimit is each connection's pool (held by a kept-alive one): a head
    # that does not fit gets 431; the default (64 KiB without request-header auth) takes 24 kB.
    def head_status(port, size):
        s = raw_connect(port, tls=True)
        s.sendall(b"GET " + HEALTH.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
                  b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 1000) for i in range(size // 1000)) + b"\r\n")
        data, _ = read_all(s, timeout=10 * SLOW)
        s.close()
        return data.split(b" ", 2)[1] if data else b""

    small = json.loads(config(CRON))
    small["server"]["connectionMemoryLimit"] = 16384
    for cfg, want in ((json.dumps(small), b"431"), (config(CRON), b"200")):
        srv = Server(cfg)
        try:
            assert head_status(srv.port, 8000) == b"200"
            assert head_status(srv.port, 24000) == want, cfg
        finally:
            srv.stop()


# ---- tenants -----------------------------------------------------------------------------

@T.case
def one_namespace_cannot_lock_out_another():
    tmpl = dict(CRON, name="per-sel", metadata=dict(CRON["metadata"], desiredReplicas="${selector.n}"))
    srv = Server(config(tmpl))
    try:
        codes = [metric(srv, "per-sel", "attacker", f"n%3D{i}")[0] for i in range(1, 121)]
        # a quarter of maxInstances (100) for the attacker, the rest refused
        assert codes.count(200) == 25 and codes.count(429) == 95, codes
        st, d = metric(srv, "per-sel", "attacker", "n%3D200")
        assert st == 429 and "(maxInstancesPerNamespace)" in d["message"], d
        for i in range(1, 4):
            st, d = metric(srv, "per-sel", "victim", f"n%3D{i}")
            assert st == 200 and d["items"][0]["value"] == str(i), d
    finally:
        srv.stop()


# ---- secrets ------------------------------------------------------------------------------

def pieces(secret, n=8):
    return {secret[i:i + n] for i in range(len(secret) - n + 1)}


@T.case
def secrets_never_leak_in_part():
    # An AWS error that echoes the session token across the length cut of the
    # quoted text: issue 14 saw 32 of its 68 characters in 13 debug log lines
    # and a Status body. And a JSON parse error must not echo the body.
    def answer(m, path, h, body):
        if path.startswith("/api"):
            return 200, "application/json", b'{"status":"success","data":{"resultType":"vector","result":[MARKER-xyz]}}'
        msg = "x" * 97 + " token " + TOKEN + " was not accepted; " + "y" * 400
        return 400, "application/x-amz-json-1.0", json.dumps({"__type": "AccessDeniedException",
                                                              "message": msg}).encode()

    stub = Stub(answer)
    srv = Server(config(sqs("s", stub.url), prom("p", stub.url)), env=AWS_ENV, extra_args=["--log-level", "debug"])
    try:
        msg = error_of(srv, "s")
        assert "AccessDeniedException: xxxx" in msg and "***" in msg, msg
        perr = error_of(srv, "p")
        assert "prometheus returned invalid JSON at byte" in perr and "MARKER" not in perr, perr
        wait_for(lambda: stub.hits > 6, timeout=15, what="a few polls")
        time.sleep(1)
        text = srv.logs() + msg + srv.metrics()
        leaked = [p for p in pieces(TOKEN) if p in text]
        assert not leaked, leaked
        assert "MARKER" not in srv.logs()
    finally:
        srv.stop()
        stub.stop()


# ---- the poller pool ------------------------------------------------------------------------

@T.case
def the_poller_pool_shrinks_when_work_drops():
    # sixteen hung backends make the pool grow; once they are gone, the
    # workers no longer needed leave, while quick metrics keep a steady
    # trickle of work coming (which woke every worker in turn, so none
    # ever timed out)
    def slow(*a):
        time.sleep(2.5)
        return 200, "application/json", b'{"status":"success","data":{"resultType":"scalar","result":[0,"1"]}}'

    stub = Stub(slow)
    hung = [prom(f"h{i}", stub.url, pollingInterval="1s", timeout="3s", polling="eager") for i in range(16)]
    quick = [dict(CRON, name=f"q{i}", pollingInterval="1s", polling="eager") for i in range(10)]
    srv = Server(config(CRON, *quick))
    try:
        base = proc_status(srv.proc.pid)["Threads"]
        write(srv.config, config(CRON, *quick, *hung))
        srv.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: proc_status(srv.proc.pid)["Threads"] >= base + 12, timeout=30, what="the pool grown")
        write(srv.config, config(CRON, *quick))
        srv.proc.send_signal(signal.SIGHUP)
        # two workers stay
        wait_for(lambda: proc_status(srv.proc.pid)["Threads"] <= base + 3, timeout=90, interval=1,
                 what=f"the pool shrunk back to about {base} threads")
        assert value_of(srv, "always-on") == "3"
    finally:
        srv.stop()
        stub.stop()


T.main()
