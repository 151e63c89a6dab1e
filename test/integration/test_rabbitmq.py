"""test_rabbitmq.py - the rabbitmq scaler against a real RabbitMQ 3.10 node (management API over HTTP and HTTPS,
AMQP and AMQPS): KEDA's values and modes, vhost rules, regex operations, outage, hung broker, TLS and SASL
EXTERNAL, wrong credentials, secrets never shown."""
import json
import os
import signal
import subprocess
import time

from backends_http import ApiServer
from backends_rabbitmq import ADMIN, ADMIN_PW, RabbitMQ
from lib import (GV, Cases, Server, assert_config_errors, counter, get_failure, get_value, keeps_updating, kubectl_raw,
                 metric_entry, metrics_config, served, served_value, wait_for)

T = Cases("rabbitmq scaler")
mq = RabbitMQ()
T.at_exit(mq.cleanup)

APP, APP_PW = "app", "s3cr:et@/pw"     # characters a URL must escape
mq.add_vhost("tenant/a")
mq.add_user(APP, APP_PW, vhosts=("/", "tenant/a"))
PW_Q = "s3cr%3Aet%40%2Fpw"
ENV = {"AMQP_URL": f"amqp://{APP}:{PW_Q}@127.0.0.1:{mq.port}/",
       "HTTP_URL": f"http://{APP}:{PW_Q}@127.0.0.1:{mq.http_port}/",
       "APP_PW": APP_PW}
SECRETS = (APP_PW, PW_Q, "s3cr")

for q, n, vhost in (("orders", 3, "/"), ("jobs-a", 2, "/"), ("jobs-b", 5, "/"), ("other", 9, "/"),
                    ("a b/c", 4, "/"), ("orders", 6, "tenant/a")):
    mq.declare(q, vhost)
    mq.publish(q, n, vhost)


def stats_ready(queue, vhost="/", want=None):
    """The management API reports a queue's counts only after its first statistics round (about 1 s)."""
    def ok():
        n = mq.queue_info(queue, vhost).get("messages")
        return n is not None and (want is None or n == want)
    wait_for(ok, timeout=30, interval=0.3, what=f"statistics of {queue}")


for q, n, vhost in (("orders", 3, "/"), ("jobs-a", 2, "/"), ("jobs-b", 5, "/"), ("other", 9, "/"), ("a b/c", 4, "/"),
                    ("orders", 6, "tenant/a")):
    stats_ready(q, vhost, n)


def amqp(name, queue="orders", **md):
    return metric_entry(name, "rabbitmq", {"hostFromEnv": "AMQP_URL", "queueName": queue, "mode": "QueueLength",
                                           "value": "5"}, **md)


def http(name, queue="orders", **md):
    return metric_entry(name, "rabbitmq", {"hostFromEnv": "HTTP_URL", "queueName": queue, "mode": "QueueLength",
                                           "value": "5"}, **md)


def value(metrics, name, env=ENV):
    return get_value(metrics, name, env)


def failure(metrics, name, env=ENV):
    return get_failure(metrics, name, env, SECRETS)


@T.case
def queue_length_over_amqp_and_http():
    assert value([amqp("m")], "m") == "3"
    assert value([http("m")], "m") == "3"
    # amqp://host:port/ and amqp://host:port both mean vhost "/" (amqp091-go), here with the keys' credentials
    bare = {"AMQP_URL": f"amqp://127.0.0.1:{mq.port}"}
    assert value([amqp("m", username=APP, passwordFromEnv="APP_PW")], "m", dict(ENV, **bare)) == "3"
    # KEDA's default without mode and value: QueueLength, target 20; the deprecated queueLength key
    assert value([amqp("m", mode="-", value="-")], "m") == "3"
    assert value([http("m", mode="-", value="-", queueLength="10")], "m") == "3"
    # explicit protocols over the same URLs
    assert value([http("m", protocol="http")], "m") == "3"
    assert value([amqp("m", protocol="amqp")], "m") == "3"


@T.case
def vhosts_and_queue_names_that_need_escaping():
    # the tenant/a vhost: in the AMQP URI (escaped), by vhostName, and as the management URL's last segment
    env = dict(ENV, AMQP_URL=f"amqp://{APP}:{PW_Q}@127.0.0.1:{mq.port}/tenant%2Fa",
               HTTP_URL=f"http://{APP}:{PW_Q}@127.0.0.1:{mq.http_port}/tenant%2Fa")
    assert value([amqp("m")], "m", env) == "6"
    assert value([http("m")], "m", env) == "6"
    assert value([amqp("m", vhostName="tenant/a")], "m") == "6"
    assert value([http("m", vhostName="tenant/a")], "m") == "6"
    # "/" given by name, or as %2F in the management URL
    assert value([http("m", vhostName="/")], "m") == "3"
    assert value([http("m")], "m", dict(ENV, HTTP_URL=ENV["HTTP_URL"] + "%2F")) == "3"
    # a queue name with a space and a slash, both ways
    assert value([amqp("m", queue="a b/c")], "m") == "4"
    assert value([http("m", queue="a b/c")], "m") == "4"


@T.case
def regex_over_queues_with_operations():
    rx = "^jobs-.*$"
    assert value([http("m", queue=rx, useRegex="true")], "m") == "7"
    assert value([http("m", queue=rx, useRegex="true", operation="max")], "m") == "5"
    assert value([http("m", queue=rx, useRegex="true", operation="avg")], "m") == "3"      # 7 / 2, Go's int division
    assert value([http("m", queue="^nothing-matches$", useRegex="true")], "m") == "0"
    msg = failure([http("m", queue=rx, useRegex="true", pageSize="1")], "m")
    assert "regex matches more queues than can be recovered at once" in msg, msg


@T.case
def exclude_unacknowledged_counts_ready_messages_only():
    """A real consumer (librabbitmq's amqp-consume, prefetch 2) holds 2 of 5 messages unacknowledged."""
    mq.declare("held")
    mq.publish("held", 5)
    # no trailing '/': librabbitmq's URL parser (unlike amqp091-go) reads "host:port/" as the vhost ""
    consumer = subprocess.Popen(["amqp-consume", "-u", f"amqp://guest:guest@127.0.0.1:{mq.port}", "-q", "held",
                                 "-p", "2", "sleep", "120"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
    try:
        wait_for(lambda: mq.queue_info("held").get("messages_unacknowledged") == 2 and
                 mq.queue_info("held").get("messages") == 5, timeout=30, interval=0.3, what="2 unacknowledged")
        assert value([http("m", queue="held")], "m") == "5"
        assert value([http("m", queue="held", excludeUnacknowledged="true")], "m") == "3"
        assert value([amqp("m", queue="held")], "m") == "3"     # AMQP reports ready messages only
    finally:
        os.killpg(consumer.pid, signal.SIGTERM)    # amqp-consume and its sleep
        consumer.wait()
        mq.delete("held")


@T.case
def message_rate_and_activation():
    mq.declare("rates")
    stats_ready("rates", want=0)
    m = [http("rate", queue="rates", mode="MessageRate", value="100"),
         http("len", queue="rates", activationValue="10")]
    for m_ in m:
        m_["pollingInterval"] = "300ms"
    srv = Server(metrics_config(m), env=ENV)
    try:
        assert served_value(srv, "rate") == "0" and served_value(srv, "len") == "0"
        # a publishing burst shows as a publish rate, then the rate falls back to 0
        def burst():
            mq.publish("rates", 20)
            return served_value(srv, "rate") not in (None, "0")
        wait_for(burst, timeout=30, interval=0.5, what="a publish rate")
        # 20+ messages: above activationValue 10, the length is served
        wait_for(lambda: served_value(srv, "len") not in (None, "0"), timeout=15, what="activated length")
        st, d = served(srv, "len")
        assert int(d["items"][0]["value"]) == mq.queue_info("rates")["messages"], d
    finally:
        srv.stop()


@T.case
def missing_queue_and_the_connection_lives_on():
    assert "Exception (404) Reason: \"NOT_FOUND - no queue 'nosuch' in vhost '/'\"" in \
        failure([amqp("m", queue="nosuch")], "m")
    msg = failure([http("m", queue="nosuch")], "m")
    assert "error requesting RabbitMQ API status: 404" in msg and "Object Not Found" in msg, msg
    # served: the missing queue's 404 closes only the channel; its neighbour on the same connection keeps going
    ms = [dict(amqp("gone", queue="nosuch"), pollingInterval="300ms"), dict(amqp("orders"), pollingInterval="300ms")]
    srv = Server(metrics_config(ms), env=ENV)
    try:
        wait_for(lambda: served_value(srv, "orders") == "3", timeout=10, what="orders")
        time.sleep(2)
        assert served(srv, "gone")[0] == 503 and served_value(srv, "orders") == "3"
        mq.declare("nosuch")
        wait_for(lambda: served_value(srv, "gone") == "0", timeout=10, what="the queue once declared")
        assert counter(srv, "extmetrics_rabbitmq_connects_total", "ok") == 1, srv.metrics()
    finally:
        srv.stop()
        mq.delete("nosuch")


@T.case
def wrong_credentials_and_vhosts_are_clear_errors():
    env = dict(ENV, AMQP_URL=f"amqp://{APP}:wrong-{PW_Q}@127.0.0.1:{mq.port}/",
               HTTP_URL=f"http://{APP}:wrong-{PW_Q}@127.0.0.1:{mq.http_port}/")
    msg = failure([amqp("m")], "m", env)
    assert "error establishing connection to RabbitMQ" in msg and "ACCESS_REFUSED" in msg, msg
    msg = failure([http("m")], "m", env)
    assert "error requesting RabbitMQ API status: 401" in msg, msg
    msg = failure([amqp("m", vhostName="no-such-vhost")], "m")
    assert "error establishing connection to RabbitMQ" in msg, msg
    msg = failure([amqp("m")], "m", dict(ENV, AMQP_URL=f"amqp://127.0.0.1:{mq.http_port}/"))   # not AMQP there
    assert "error establishing connection to RabbitMQ" in msg, msg


@T.case
def tls_amqps_https_and_sasl_external():
    c = mq.certs
    tls = {"tls": "enable", "ca": c["ca"]}
    amqps = {"AMQP_URL": f"amqps://{APP}:{PW_Q}@localhost:{mq.tls_port}/"}
    assert value([amqp("m", **tls)], "m", dict(ENV, **amqps)) == "3"
    # without the CA the broker's certificate is not trusted (amqps alone: system roots, verified)
    msg = failure([amqp("m")], "m", dict(ENV, **amqps))
    assert "error establishing connection to RabbitMQ" in msg, msg
    assert value([amqp("m", tls="enable", unsafeSsl="true")], "m", dict(ENV, **amqps)) == "3"
    # SASL EXTERNAL: a client certificate (CN extmetrics) and no credentials; its encrypted key too
    ext = {"AMQP_URL": f"amqps://localhost:{mq.tls_port}/"}
    assert value([amqp("m", cert=c["cert"], key=c["key"], **tls)], "m", dict(ENV, **ext)) == "3"
    assert value([amqp("m", cert=c["cert"], key=c["key_enc"], keyPassword="key-pw-42", **tls)], "m",
                 dict(ENV, **ext)) == "3"
    # the management API over HTTPS, CA verified
    https = {"HTTP_URL": f"https://{APP}:{PW_Q}@localhost:{mq.https_port}/"}
    assert value([http("m", **tls)], "m", dict(ENV, **https)) == "3"
    assert "error inspecting RabbitMQ" in failure([http("m")], "m", dict(ENV, **https))
    assert value([http("m", unsafeSsl="true")], "m", dict(ENV, **https)) == "3"


@T.case
def hung_broker_is_cut_at_the_timeout_and_blocks_nobody():
    api = ApiServer()
    api.set("/v", '{"v": 1}')
    ms = [dict(amqp("a"), pollingInterval="300ms", timeout="1s", staleAfter="2s"),
          dict(http("h"), pollingInterval="300ms", timeout="1s", staleAfter="2s"),
          dict(metric_entry("n", "metrics-api", {"url": api.url("/v"), "valueLocation": "v", "targetValue": "1"}),
               pollingInterval="300ms")]
    srv = Server(metrics_config(ms), env=ENV)
    try:
        wait_for(lambda: served_value(srv, "a") == "3" and served_value(srv, "h") == "3", timeout=10, what="values")
        mq.pause()
        t0 = time.time()
        keeps_updating(srv, "n", lambda n: api.set("/v", json.dumps({"v": n})), [2, 3, 4])
        # both cut at their 1 s timeout, again and again, while the neighbour kept its pace
        wait_for(lambda: "error inspecting RabbitMQ: no answer in time" in served(srv, "a")[1].get("message", ""),
                 timeout=15, what="the AMQP declare timed out")
        wait_for(lambda: "no answer within 1000 ms" in served(srv, "h")[1].get("message", ""), timeout=15,
                 what="the management API request timed out")
        assert time.time() - t0 < 30
    finally:
        mq.resume()
        srv.stop()
        api.stop()


@T.case
def outage_keeps_the_last_value_then_503_then_recovers():
    ms = [dict(amqp("a"), pollingInterval="500ms", timeout="1s", staleAfter="4s"),
          dict(http("h"), pollingInterval="500ms", timeout="1s", staleAfter="4s")]
    srv = Server(metrics_config(ms), env=ENV)
    try:
        wait_for(lambda: served_value(srv, "a") == "3" and served_value(srv, "h") == "3", timeout=10, what="values")
        mq.proc.kill()      # a crash: the port closes at once
        mq.proc.wait()
        t_down = time.time()
        time.sleep(1.5)
        assert served_value(srv, "a") == "3" and served_value(srv, "h") == "3", (served(srv, "a"), served(srv, "h"))
        wait_for(lambda: served(srv, "a")[0] == 503 and served(srv, "h")[0] == 503, timeout=15, what="503")
        assert time.time() - t_down >= 3.0
        st, d = served(srv, "a")
        assert "error establishing connection to RabbitMQ" in d["message"] and "could not connect" in d["message"], d
        st, d = served(srv, "h")
        assert "error inspecting RabbitMQ" in d["message"] and "Couldn't connect to server" in d["message"], d
        p = kubectl_raw(srv, f"{GV}/namespaces/default/a")
        assert p.returncode != 0 and "ServiceUnavailable" in p.stderr, p.stderr
        mq.start()
        mq.declare("orders")    # transient queues do not survive the crash; users and vhosts do
        mq.purge("orders")
        mq.publish("orders", 3)
        stats_ready("orders", want=3)
        wait_for(lambda: served_value(srv, "a") == "3" and served_value(srv, "h") == "3", timeout=60, what="recovery")
        assert counter(srv, "extmetrics_rabbitmq_connects_total", "error") >= 1
        for s in SECRETS:
            assert s not in srv.logs() and s not in srv.metrics(), s
    finally:
        srv.stop()
        if mq.proc.poll() is not None:
            mq.start()


@T.case
def garbage_answers_are_errors():
    api = ApiServer()
    cases = [("{\"messages\": -5}", "a count cannot be negative"), ("{\"messages\": 1.5}", "not an integer"),
             ("<html>proxy error</html>", "not JSON"),
             ("{\"message_stats\": {\"publish_details\": {\"rate\": 1e999}}}", "not JSON")]
    try:
        for body, want in cases:
            api.set("/api/queues/%2F/q", body)
            msg = failure([http("m", queue="q")], "m", dict(ENV, HTTP_URL=api.url("/")))
            assert want in msg, (body, msg)
        api.set("/api/queues/%2F/q", "x" * (9 << 20))
        msg = failure([http("m", queue="q")], "m", dict(ENV, HTTP_URL=api.url("/")))
        assert "larger than" in msg, msg
    finally:
        api.stop()


@T.case
def config_errors_name_file_line_and_key():
    assert_config_errors([
        (amqp("m", mode="MessageRate"), "mode: protocol amqp not supported; must be HTTP to use trigger mode MessageRate"),
        (http("m", mode="Feelings"), "mode: trigger mode Feelings must be one of"),
        (http("m", queueLength="10"), "queueLength: queueLength is deprecated; use mode and value"),
        (amqp("m", useRegex="true"), "useRegex: configure useRegex=true only with HTTP protocol"),
        (amqp("m", timeout="5s"), "timeout: AMQP protocol doesn't support custom timeouts"),
        (http("m", username="u"), "password: username and password must be given together"),
        (http("m", tls="yes"), "tls: incorrect value for TLS given"),
        (http("m", tls="enable"), "tls: enable with an http:// host"),
        (http("m", pageSize="0"), "pageSize: pageSize should be 1 or greater"),
        (http("m", operation="median"), "operation: operation mode median must be one of sum, avg, max"),
        (metric_entry("m", "rabbitmq", {"host": "ftp://h/", "queueName": "q"}), "host: unknown host URL scheme: `ftp`"),
        (metric_entry("m", "rabbitmq", {"host": "amqp://h:0/", "queueName": "q"}), "host: the port must be"),
        (http("m", oauthTokenURI="https://idp/token", clientID="c"), "oauthTokenURI: OAuth2 client credentials are not"),
    ], env=ENV)


@T.case
def secrets_never_shown():
    srv = Server(metrics_config([dict(amqp("a", vhostName="nope"), pollingInterval="300ms"),
                                 dict(http("h", queue="nosuch"), pollingInterval="300ms")]), env=ENV)
    try:
        wait_for(lambda: served(srv, "a")[0] == 503 and served(srv, "h")[0] == 503, timeout=10, what="errors")
        text = json.dumps([served(srv, "a"), served(srv, "h")]) + srv.logs() + srv.metrics()
        for s in SECRETS:
            assert s not in text, s
    finally:
        srv.stop()


T.main()
