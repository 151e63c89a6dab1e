"""test_redis.py - the redis, redis-cluster and redis-sentinel scalers (and the connection layer the
redis-streams ones share) against real Redis 7 servers: plain, ACL, TLS, a 3-master cluster, a sentinel."""
import json
import os
import re
import shutil
import socket
import threading
import time

from backends_redis import Redis, RedisCluster, RedisSentinel, make_certs
from lib import (GV, SLOW, Cases, Server, assert_config_errors, counter, em, failed, free_port, get_metric,
                 keeps_updating, kubectl_raw, metric_entry, metrics_config, served, served_value, tmpdir, value_of, wait_for, write)

CONF_DIR = tmpdir()
T = Cases("redis scalers")
T.at_exit(lambda: shutil.rmtree(CONF_DIR, ignore_errors=True))

PW = "Redis-Pw-7Xq"                       # the default user's password (requirepass)
ACL_USER, ACL_PW = "scaler", "Acl-Pw-9Kz"
r = Redis(password=PW, users={ACL_USER: ACL_PW})
T.at_exit(r.cleanup)
ENV = {"REDIS_PW": PW, "REDIS_ACL_PW": ACL_PW}


def metric(name, list_name, server=None, type_="redis", **md):
    return metric_entry(name, type_, {"listName": list_name, "address": f"127.0.0.1:{(server or r).port}",
                                      "passwordFromEnv": "REDIS_PW"}, **md)


def get(metrics, name, env=ENV):
    return get_metric(metrics, name, env)


def reset_keys():
    r.cli("FLUSHALL")
    r.cli("RPUSH", "jobs", "a", "b", "c")
    r.cli("SADD", "members", "x", "y")
    r.cli("ZADD", "ranked", "1", "x", "2", "y", "3", "z", "4", "w")
    r.cli("HSET", "fields", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5")
    r.cli("SET", "plain", "text")
    r.cli("RPUSH", "db2list", "1", "2", "3", "4", "5", "6", "7", db=2)


reset_keys()


@T.case
def list_length_and_keda_counts_for_other_types():
    # KEDA's script: LLEN for a list and a missing key, SCARD/ZCARD/HLEN for the others
    want = {"jobs": "3", "members": "2", "ranked": "4", "fields": "5", "no-such-key": "0"}
    for key, v in want.items():
        assert value_of(get([metric("m", key)], "m")) == v, key
    # host + port instead of address, and another database
    m = metric("m", "db2list", address="-", host="127.0.0.1", port=r.port, databaseIndex=2)
    assert value_of(get([m], "m")) == "7"
    # a string is not a list: KEDA's error
    msg = failed(get([metric("m", "plain")], "m"))
    assert msg == "metric m: error getting list length: ERR unsupported key type: string", msg


@T.case
def served_through_kubectl_updates_and_activation():
    ms = [metric("jobs", "jobs"), metric("gated", "jobs", activationListLength=3)]
    for m in ms:
        m["pollingInterval"] = "300ms"
    srv = Server(metrics_config(ms), env=ENV)
    try:
        p = kubectl_raw(srv, f"{GV}/namespaces/default/jobs")
        assert p.returncode == 0, p.stderr
        assert [i["value"] for i in json.loads(p.stdout)["items"]] == ["3"], p.stdout
        # not above activationListLength (3): inactive, served as 0
        assert served_value(srv, "gated") == "0"
        r.cli("RPUSH", "jobs", "d")
        wait_for(lambda: served_value(srv, "jobs") == "4", timeout=5, what="updated length")
        wait_for(lambda: served_value(srv, "gated") == "4", timeout=5, what="activated")
        p = kubectl_raw(srv, f"{GV}/namespaces/default/gated")
        assert json.loads(p.stdout)["items"][0]["value"] == "4", p.stdout
    finally:
        srv.stop()
        reset_keys()


@T.case
def acl_user_and_wrong_credentials():
    m = metric("m", "jobs", passwordFromEnv="-", username=ACL_USER)
    m["auth"] = {"params": {"password": {"fromEnv": "REDIS_ACL_PW"}}}
    assert value_of(get([m], "m")) == "3"
    result = get([metric("m", "jobs")], "m", env={"REDIS_PW": "Not-The-Pw-4Lq"})
    msg = failed(result)
    assert msg == ("metric m: error getting list length: connection to redis failed: WRONGPASS invalid "
                   "username-password pair or user is disabled."), msg
    assert "Not-The-Pw-4Lq" not in result[2]
    msg = failed(get([metric("m", "jobs", passwordFromEnv="-")], "m"))
    assert "NOAUTH Authentication required." in msg, msg


@T.case
def config_errors_name_file_line_and_key():
    cases = [
        (metric("m", "jobs", address="-"), "address: no addresses or hosts given"),
        (metric("m", "-"), 'missing required parameter "listName"'),
        (metric("m", "jobs", address="-", hosts="a,b", ports="1"), "hosts: not enough hosts or ports given"),
        (metric("m", "jobs", address="-", host="a"), "host: given without port"),
        (metric("m", "jobs", address="redis"), 'address: "redis" is not host:port'),
        (metric("m", "jobs", enableTLS="yes"), "enableTLS: EnableTLS parsing error"),
        (metric("m", "jobs", enableTLS="true", tls="enable"), "tls: unable to set `tls` in both"),
        (metric("m", "jobs", sentinelMaster="mm"), "sentinelMaster: only for the sentinel types"),
        (metric("m", "jobs", type_="redis-sentinel"), "sentinelMaster: no sentinel master name given"),
        (metric("m", "jobs", type_="redis-cluster", databaseIndex=1), "databaseIndex: Redis Cluster has only database 0"),
        (metric("m", "jobs", listLength="5.5"), 'listLength: invalid integer "5.5"'),
        (metric("m", "jobs", ca="x"), "ca: TLS is off"),
    ]
    assert_config_errors(cases, env=ENV)


@T.case
def tls_client_certificates_and_verification():
    d = tmpdir()
    pem = make_certs(d)
    t = Redis(tls_dir=d)
    try:
        t.cli("RPUSH", "q", "1", "2")
        env = {"CA": pem["ca"], "CERT": pem["cert"], "KEY": pem["key"], "KEY_ENC": pem["key_enc"],
               "KEY_PW": "key-pw-42"}

        def tm(name, host="localhost", params=None, **md):
            m = metric(name, "q", server=t, passwordFromEnv="-", address=f"{host}:{t.port}", **md)
            m["auth"] = {"params": params if params is not None else
                         {"ca": {"fromEnv": "CA"}, "cert": {"fromEnv": "CERT"}, "key": {"fromEnv": "KEY"}}}
            return m
        ok = [tm("name", enableTLS="true"),
              tm("ip", host="127.0.0.1", enableTLS="true"),
              # KEDA's TriggerAuthentication spelling, and an encrypted key
              tm("ta", params={"tls": {"value": "enable"}, "ca": {"fromEnv": "CA"}, "cert": {"fromEnv": "CERT"},
                               "key": {"fromEnv": "KEY_ENC"}, "keyPassword": {"fromEnv": "KEY_PW"}}),
              tm("unsafe", enableTLS="true", unsafeSsl="true",
                 params={"cert": {"fromEnv": "CERT"}, "key": {"fromEnv": "KEY"}})]
        for m in ok:
            assert value_of(get([m], m["name"], env=env)) == "2", m["name"]
        bad = [(tm("noca", enableTLS="true", params={"cert": {"fromEnv": "CERT"}, "key": {"fromEnv": "KEY"}}),
                "certificate verify failed: self-signed certificate in certificate chain"),
               (tm("plain", params={}), "connection reset by peer"),
               (tm("nocert", enableTLS="true", params={"ca": {"fromEnv": "CA"}}), "error getting list length: ")]
        for m, want in bad:
            msg = failed(get([m], m["name"], env=env))
            assert want in msg, (m["name"], msg)
        # a wrong key password is a config error, and the password is not shown
        m = tm("kp", enableTLS="true", params={"ca": {"fromEnv": "CA"}, "cert": {"fromEnv": "CERT"},
                                               "key": {"fromEnv": "KEY_ENC"}, "keyPassword": {"value": "wrong-kp-77"}})
        path = write(os.path.join(CONF_DIR, "kp.yaml"), metrics_config([m]))
        p = em("check-config", path, env=env)
        assert p.returncode == 1 and "key: error decrypt X509Key" in p.stdout + p.stderr, p.stdout + p.stderr
        assert "wrong-kp-77" not in p.stdout + p.stderr and "PRIVATE KEY" not in p.stdout + p.stderr
    finally:
        t.cleanup()
        shutil.rmtree(d, ignore_errors=True)


@T.case
def outage_keeps_the_last_value_then_503_then_recovers():
    srv_ms = [metric("jobs", "jobs"), metric("stream", "-", type_="redis-streams", stream="events")]
    for m in srv_ms:
        m.update({"pollingInterval": "500ms", "timeout": "500ms", "staleAfter": "4s"})
    r.cli("XADD", "events", "*", "k", "v")
    srv = Server(metrics_config(srv_ms), env=ENV)
    try:
        wait_for(lambda: served_value(srv, "jobs") == "3" and served_value(srv, "stream") == "1", timeout=5,
                 what="first values")
        r.stop()
        t_down = time.time()
        time.sleep(1.5)
        assert served_value(srv, "jobs") == "3" and served_value(srv, "stream") == "1"
        wait_for(lambda: served(srv, "jobs")[0] == 503 and served(srv, "stream")[0] == 503, timeout=10,
                 what="503 after staleAfter")
        assert time.time() - t_down >= 3.0, time.time() - t_down
        st, d = served(srv, "jobs")
        assert d["reason"] == "ServiceUnavailable" and "connection to redis failed: dial tcp 127.0.0.1:" in d["message"] \
            and "connection refused" in d["message"], d
        st, d = served(srv, "stream")
        assert "error fetching metric count: connection to redis failed" in d["message"], d
        p = kubectl_raw(srv, f"{GV}/namespaces/default/jobs")
        assert p.returncode != 0 and "ServiceUnavailable" in p.stderr, p.stderr
        assert counter(srv, "extmetrics_redis_connects_total", "error") >= 1
        r.start()
        reset_keys()
        r.cli("XADD", "events", "*", "k", "v")
        r.cli("XADD", "events", "*", "k", "v")
        t_up = time.time()
        wait_for(lambda: served_value(srv, "jobs") == "3" and served_value(srv, "stream") == "2", timeout=40,
                 what="recovery")
        # the reconnect back-off after ~5 s down is at most 8 s
        assert time.time() - t_up < 9 * SLOW, time.time() - t_up
    finally:
        srv.stop()
        if r.proc.poll() is not None:
            r.start()
        reset_keys()


@T.case
def restart_between_polls_is_invisible():
    """A connection the server closed (restart) is replaced within the same poll."""
    m = metric("jobs", "jobs")
    m.update({"pollingInterval": "400ms", "staleAfter": "30s"})
    srv = Server(metrics_config([m]), env=ENV)
    try:
        wait_for(lambda: served_value(srv, "jobs") == "3", timeout=5, what="first value")
        errors = counter(srv, "extmetrics_redis_commands_total", "error")
        r.stop()
        r.start()
        reset_keys()
        r.cli("RPUSH", "jobs", "d")
        wait_for(lambda: served_value(srv, "jobs") == "4", timeout=5, what="value after restart")
        assert counter(srv, "extmetrics_redis_commands_total", "error") == errors
    finally:
        srv.stop()
        reset_keys()


@T.case
def hung_server_is_cut_at_the_timeout_and_blocks_nobody():
    other = Redis()
    try:
        other.cli("RPUSH", "q", "1")
        hung = [metric("hung-list", "jobs"), metric("hung-stream", "-", type_="redis-streams", stream="events")]
        for m in hung:
            m.update({"timeout": "1s", "pollingInterval": "500ms"})
        fast = metric("fast", "q", server=other, passwordFromEnv="-")
        fast["pollingInterval"] = "200ms"
        r.cli("XADD", "events", "*", "k", "v")
        srv = Server(metrics_config(hung + [fast]), env=ENV)
        try:
            wait_for(lambda: served_value(srv, "hung-list") == "3", timeout=5, what="first value")
            r.pause()
            # `get` gives up at the metric's timeout
            result = get([hung[0]], "hung-list")
            msg, took = failed(result), result[3]
            assert "i/o timeout" in msg and took < 1.0 + 1.0 * SLOW, (msg, took)
            keeps_updating(srv, "fast", lambda n: other.cli("RPUSH", "q", str(n)), (2, 3, 4))
            # the hung one still serves its last value (staleAfter 3 x 500 ms not yet... or 503)
            st, d = served(srv, "hung-list")
            assert st == 200 or "i/o timeout" in d["message"], d
            wait_for(lambda: served(srv, "hung-list")[0] == 503 and served(srv, "hung-stream")[0] == 503, timeout=10,
                     what="503 for the hung server")
            r.resume()
            wait_for(lambda: served_value(srv, "hung-list") == "3", timeout=20, what="recovery after SIGCONT")
        finally:
            r.resume()
            srv.stop()
    finally:
        other.cleanup()
        reset_keys()


@T.case
def garbage_answers_are_clear_errors():
    """A server that does not speak Redis: extmetrics' own HTTP port, and a closed port."""
    donor = Server(metrics_config([metric("x", "jobs")]), env=ENV)
    try:
        msg = failed(get([metric("m", "jobs", address=f"127.0.0.1:{donor.mport}")], "m"))
        assert "invalid reply (" in msg or "EOF" in msg, msg
    finally:
        donor.stop()
    # a "server" that accepts and answers a huge array header, then nothing
    lsn = socket.socket()
    lsn.bind(("127.0.0.1", 0))
    lsn.listen(4)
    port = lsn.getsockname()[1]
    stop = threading.Event()

    def serve():
        lsn.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = lsn.accept()
            except OSError:
                continue
            c.recv(65536)
            c.sendall(b"*2000000000\r\n")
            time.sleep(0.5)
            c.close()
    th = threading.Thread(target=serve)
    th.start()
    try:
        msg = failed(get([metric("m", "jobs", address=f"127.0.0.1:{port}", passwordFromEnv="-")], "m"))
        assert "invalid reply (Out of memory: an array longer than 65536 elements?)" in msg, msg
    finally:
        stop.set()
        th.join()
        lsn.close()
    assert "connect: connection refused" in failed(get([metric("m", "jobs", address=f"127.0.0.1:{free_port()}")], "m"))


def client_count(server):
    """Connections to server other than the redis-cli asking."""
    return int(re.search(r"connected_clients:(\d+)", server.cli("INFO", "clients").stdout).group(1)) - 1


@T.case
def metrics_on_one_server_share_one_connection():
    other = Redis()
    try:
        # polled whether or not asked (polling: eager): the b metrics are never asked for
        ms = [dict(metric(f"a{i}", "jobs"), pollingInterval="200ms", polling="eager") for i in range(6)]
        ms += [dict(metric(f"b{i}", "q", server=other, passwordFromEnv="-"), pollingInterval="200ms", polling="eager")
               for i in range(3)]
        other.cli("RPUSH", "q", "1")
        srv = Server(metrics_config(ms), env=ENV)
        try:
            for i in range(6):
                wait_for(lambda: served_value(srv, f"a{i}") == "3", timeout=5, what=f"a{i}")
            c0 = counter(srv, "extmetrics_redis_connects_total", "ok")
            q0 = counter(srv, "extmetrics_redis_commands_total", "ok")
            time.sleep(2)
            assert counter(srv, "extmetrics_redis_commands_total", "ok") - q0 >= 40
            assert counter(srv, "extmetrics_redis_connects_total", "ok") == c0 == 2, c0
            assert client_count(r) == 1 and client_count(other) == 1, (client_count(r), client_count(other))
        finally:
            srv.stop()
        wait_for(lambda: client_count(r) == 0, timeout=5, what="connection closed at exit")
    finally:
        other.cleanup()


@T.case
def secrets_never_shown():
    """Passwords (wrong or right) in no get output, Status body, debug log or /metrics."""
    envs = {"REDIS_PW": "Wrong-Secret-3Hv", "REDIS_ACL_PW": "Wrong-Acl-8Pm"}
    secrets = list(envs.values()) + [PW, ACL_PW]
    acl = metric("acl", "jobs", passwordFromEnv="-", username=ACL_USER)
    acl["auth"] = {"params": {"password": {"fromEnv": "REDIS_ACL_PW"}}}
    ms = [metric("pw", "jobs"), acl,
          metric("down", "jobs", address=f"127.0.0.1:{free_port()}")]
    for m in ms:
        m.update({"pollingInterval": "300ms", "timeout": "1s"})
    path = write(os.path.join(CONF_DIR, "s.yaml"), metrics_config(ms))
    for name in ("pw", "acl", "down"):
        p = em("get", "--config", path, "default", name, env=envs)
        for s in secrets:
            assert s not in p.stdout + p.stderr, (name, s)
        assert p.returncode == 1
    srv = Server(metrics_config(ms), env=envs, extra_args=("--log-level", "debug"))
    try:
        for name in ("pw", "acl", "down"):
            wait_for(lambda: served(srv, name)[0] == 503, timeout=8, what=f"{name} failing")
            body = srv.api(f"{GV}/namespaces/default/{name}")[2]
            for s in secrets:
                assert s not in body, (name, s)
        time.sleep(1)
        text = srv.metrics()
        for s in secrets:
            assert s not in text
    finally:
        srv.stop()
    log = srv.logs()
    assert "WRONGPASS" in log, log[-2000:]
    for s in secrets:
        assert s not in log, s


# ------------------------------------------------------------------ cluster

@T.case
def cluster_follows_redirects_from_any_seed():
    c = RedisCluster(password=PW)
    try:
        keys = {}
        for i in range(12):
            key = f"list{i}"
            c.cli("RPUSH", key, *range(i + 1))
            keys[key] = c.node_of(key).port
        assert len(set(keys.values())) == 3, keys   # the keys live on every master
        first = c.nodes[0]
        ms = [metric(k, k, server=first, type_="redis-cluster", address="-",
                     addresses=f"127.0.0.1:{free_port()}, 127.0.0.1:{first.port}") for k in keys]
        srv = Server(metrics_config(ms, polling="300ms"), env=ENV)
        try:
            for i, k in enumerate(keys):
                wait_for(lambda: served_value(srv, k) == str(i + 1), timeout=8, what=k)
            c.cli("RPUSH", "list5", "x")
            wait_for(lambda: served_value(srv, "list5") == "7", timeout=5, what="update")
            # one connection per node, however many keys each serves (plus the dead seed's attempts)
            assert counter(srv, "extmetrics_redis_connects_total", "ok") == 3, srv.metrics()[:3000]
        finally:
            srv.stop()
        # hosts/ports (KEDA's other spelling) and a string key's error through the cluster
        c.cli("SET", "str", "x")
        m = metric("m", "str", server=first, type_="redis-cluster", address="-",
                   hosts=",".join("127.0.0.1" for _ in c.nodes), ports=",".join(str(n.port) for n in c.nodes))
        assert failed(get([m], "m")) == "metric m: error getting list length: ERR unsupported key type: string"
    finally:
        c.cleanup()


# ------------------------------------------------------------------ sentinel

@T.case
def sentinel_names_the_master_and_failover_is_followed():
    s = RedisSentinel(master_name="orders")
    try:
        s.master.cli("RPUSH", "q", "1", "2", "3", "4", "5")
        env = {"DATA_PW": s.password, "SENTINEL_PW": s.sentinel_password}

        def sm(name, master="orders", **md):
            m = metric(name, "q", type_="redis-sentinel", address="-", passwordFromEnv="DATA_PW",
                       addresses=f"127.0.0.1:{free_port()},127.0.0.1:{s.port}", sentinelMaster=master, **md)
            m["metadata"]["sentinelPasswordFromEnv"] = "SENTINEL_PW"
            return m
        assert value_of(get([sm("m")], "m", env=env)) == "5"
        assert 'no master named "nope" is monitored' in failed(get([sm("m", master="nope")], "m", env=env))
        result = get([sm("m")], "m", env=dict(env, SENTINEL_PW="Bad-Sentinel-5Jd"))
        msg = failed(result)
        assert "connection to redis sentinel failed: WRONGPASS" in msg and "Bad-Sentinel-5Jd" not in result[2], msg

        srv = Server(metrics_config([sm("q")], polling="300ms"), env=env)
        try:
            wait_for(lambda: served_value(srv, "q") == "5", timeout=5, what="first value")
            old = s.master.port
            s.failover()
            assert s.master.port != old
            s.master.cli("RPUSH", "q", "6")   # on the new master; the old one now replicates it
            wait_for(lambda: served_value(srv, "q") == "6", timeout=10, what="value from the new master")
        finally:
            srv.stop()
    finally:
        s.cleanup()


if __name__ == "__main__":
    T.main()
