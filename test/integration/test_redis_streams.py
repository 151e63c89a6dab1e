"""test_redis_streams.py - the redis-streams scalers (plain, cluster, sentinel) against real Redis 7:
KEDA's three scale factors, its fallbacks, activation, errors. Outage and hung-server behaviour of the
shared connection layer is tested with a stream metric in test_redis.py."""
import json
import shutil

from backends_redis import Redis, RedisCluster, RedisSentinel
from lib import (GV, Cases, Server, assert_config_errors, failed, free_port, get_metric, kubectl_raw, metric_entry, metrics_config, served_value,
                 tmpdir, value_of, wait_for)

CONF_DIR = tmpdir()
T = Cases("redis-streams scalers")
T.at_exit(lambda: shutil.rmtree(CONF_DIR, ignore_errors=True))

PW = "Streams-Pw-2Wr"
r = Redis(password=PW)
T.at_exit(r.cleanup)
ENV = {"REDIS_PW": PW}


def metric(name, stream, server=None, type_="redis-streams", **md):
    return metric_entry(name, type_, {"stream": stream, "address": f"127.0.0.1:{(server or r).port}",
                                      "passwordFromEnv": "REDIS_PW"}, **md)


def value(metrics, name, env=ENV):
    return value_of(get_metric(metrics, name, env))


def failure(metrics, name, env=ENV):
    return failed(get_metric(metrics, name, env))


def add(stream, n, server=None):
    s = server or r
    return [s.value("XADD", stream, "*", "k", str(i)) for i in range(n)]


@T.case
def three_factors_as_keda_picks_them():
    r.cli("FLUSHALL")
    add("orders", 5)
    r.cli("XGROUP", "CREATE", "orders", "workers", "0")
    # two delivered, not acknowledged: pending 2; lag 5 - 2 = 3
    r.cli("XREADGROUP", "GROUP", "workers", "c1", "COUNT", "2", "STREAMS", "orders", ">")
    length = metric("length", "orders")                                     # no consumerGroup: XLEN
    pending = metric("pending", "orders", consumerGroup="workers")          # XPENDING
    lag = metric("lag", "orders", consumerGroup="workers", lagCount=10)     # XINFO GROUPS lag
    assert value([length], "length") == "5"
    assert value([pending], "pending") == "2"
    assert value([lag], "lag") == "3"
    # lagCount "0" is KEDA's "not given": pending entries again
    assert value([metric("m", "orders", consumerGroup="workers", lagCount=0)], "m") == "2"
    # acknowledged entries leave the pending list, not the lag
    ids = r.value("XRANGE", "orders", "-", "+", "COUNT", "1").split()[0]
    r.cli("XACK", "orders", "workers", ids)
    assert value([pending], "pending") == "1" and value([lag], "lag") == "3"


@T.case
def activation_and_updates_through_kubectl():
    r.cli("FLUSHALL")
    add("jobs", 2)
    r.cli("XGROUP", "CREATE", "jobs", "g", "0")
    ms = [dict(metric("len", "jobs", activationLagCount=3), pollingInterval="300ms"),
          dict(metric("lag", "jobs", consumerGroup="g", lagCount=5, activationLagCount=3), pollingInterval="300ms"),
          dict(metric("pend", "jobs", consumerGroup="g", activationLagCount=1), pollingInterval="300ms")]
    srv = Server(metrics_config(ms), env=ENV)
    try:
        # every factor uses activationLagCount (KEDA has no other activation key here)
        p = kubectl_raw(srv, f"{GV}/namespaces/default/len")
        assert p.returncode == 0 and json.loads(p.stdout)["items"][0]["value"] == "0", p.stdout + p.stderr
        assert served_value(srv, "lag") == "0" and served_value(srv, "pend") == "0"
        add("jobs", 2)
        r.cli("XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", "jobs", ">")
        wait_for(lambda: served_value(srv, "len") == "4", timeout=5, what="length 4 active")
        # lag 4 - 2 = 2: still not above 3
        wait_for(lambda: served_value(srv, "pend") == "2", timeout=5, what="pending 2 active")
        assert served_value(srv, "lag") == "0"
        add("jobs", 2)
        wait_for(lambda: served_value(srv, "lag") == "4", timeout=5, what="lag 4 active")
        p = kubectl_raw(srv, f"{GV}/namespaces/default/lag")
        assert json.loads(p.stdout)["items"][0]["value"] == "4", p.stdout
    finally:
        srv.stop()


@T.case
def lag_fallbacks():
    r.cli("FLUSHALL")
    lag = metric("lag", "events", consumerGroup="g", lagCount=5)
    # no stream yet: KEDA's 0
    assert value([lag], "lag") == "0"
    # stream but no group yet (its consumers are scaled to zero): KEDA's XLEN
    add("events", 4)
    assert value([lag], "lag") == "4"
    # a group positioned mid-stream after a deletion: Redis cannot tell the lag (nil);
    # KEDA serves -1 (inactive: scaled to zero with entries waiting); we serve XLEN
    ids = add("events", 2)
    r.cli("XDEL", "events", ids[1])
    r.cli("XGROUP", "CREATE", "events", "g", ids[0])
    info = r.cli("XINFO", "GROUPS", "events").stdout.split("\n")
    assert info[info.index("lag") + 1] == "", info   # nil
    assert value([lag], "lag") == "5"
    # once the group has read past the deleted entry, the exact lag is back
    add("events", 2)
    r.cli("XREADGROUP", "GROUP", "g", "c", "STREAMS", "events", ">")
    assert value([lag], "lag") == "0"
    add("events", 3)
    assert value([lag], "lag") == "3"


@T.case
def errors_are_the_servers_and_keda_s():
    r.cli("FLUSHALL")
    r.cli("SET", "text", "x")
    add("s", 1)
    # pending without the group: Redis' NOGROUP, as KEDA shows it
    msg = failure([metric("m", "s", consumerGroup="nope")], "m")
    assert msg == "metric m: error fetching metric count: NOGROUP No such key 's' or consumer group 'nope'", msg
    for m in (metric("m", "text"), metric("m", "text", consumerGroup="g", lagCount=1)):
        msg = failure([m], "m")
        assert "error fetching metric count: WRONGTYPE Operation against a key holding the wrong kind of value" in msg, msg
    msg = failure([metric("m", "s")], "m", env={"REDIS_PW": "Wrong-Stream-Pw-1"})
    assert "connection to redis failed: WRONGPASS" in msg, msg
    assert "Wrong-Stream-Pw-1" not in get_metric([metric("m", "s")], "m", env={"REDIS_PW": "Wrong-Stream-Pw-1"})[2]
    msg = failure([metric("m", "s", address=f"127.0.0.1:{free_port()}")], "m")
    assert "connect: connection refused" in msg, msg


@T.case
def config_errors():
    cases = [(metric("m", "-"), 'missing required parameter "stream"'),
             (metric("m", "s", lagCount=3), "lagCount: needs consumerGroup"),
             (metric("m", "s", consumerGroup="g", lagCount="junk"), 'lagCount: invalid integer "junk"'),
             (metric("m", "s", pendingEntriesCount="junk"), 'pendingEntriesCount: invalid integer "junk"'),
             (metric("m", "s", databaseIndex="junk"), 'databaseIndex: invalid integer "junk"'),
             (metric("m", "s", enableTLS="no"), "enableTLS: EnableTLS parsing error"),
             (metric("m", "s", address="-", host="h"), "host: given without port"),
             (metric("m", "s", type_="redis-sentinel-streams"), "sentinelMaster: no sentinel master name given")]
    assert_config_errors(cases, env=ENV)


@T.case
def cluster_and_sentinel_variants():
    c = RedisCluster(password=PW)
    try:
        for i, name in enumerate(("alpha", "beta", "gamma", "delta")):
            node = c.node_of(name)
            for _ in range(i + 2):
                node.value("XADD", name, "*", "k", "v")
            node.cli("XGROUP", "CREATE", name, "g", "0")
            node.cli("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", name, ">")
        seeds = ",".join(f"127.0.0.1:{n.port}" for n in c.nodes)
        for i, name in enumerate(("alpha", "beta", "gamma", "delta")):
            base = dict(server=c.nodes[0], type_="redis-cluster-streams", address="-", addresses=seeds)
            assert value([metric("m", name, **base)], "m") == str(i + 2)
            assert value([metric("m", name, consumerGroup="g", **base)], "m") == "1"
            assert value([metric("m", name, consumerGroup="g", lagCount=1, **base)], "m") == str(i + 1)
    finally:
        c.cleanup()
    s = RedisSentinel(master_name="events")
    try:
        for _ in range(3):
            s.master.value("XADD", "st", "*", "k", "v")
        m = metric("m", "st", server=s.master, type_="redis-sentinel-streams", address="-",
                   addresses=f"127.0.0.1:{s.port}", sentinelMaster="events", passwordFromEnv="DATA_PW")
        m["auth"] = {"params": {"sentinelPassword": {"fromEnv": "SENTINEL_PW"}}}
        env = {"DATA_PW": s.password, "SENTINEL_PW": s.sentinel_password}
        assert value([m], "m", env=env) == "3"
    finally:
        s.cleanup()


if __name__ == "__main__":
    T.main()
