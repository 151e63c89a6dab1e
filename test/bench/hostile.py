#!/usr/bin/env python3
"""hostile.py - issue 14's attacks at full size against $EXTMETRICS; prints figures, asserts nothing.

1. memory: 3 Prometheus metrics whose answer is millions of empty arrays just
   under the body cap (PROM_CAP, 4 MiB now, 16 MiB before), and 3 CloudWatch
   metrics doing the same under the AWS cap (AWS_CAP, 8 MiB now, 32 MiB
   before): peak RSS.
2. slowloris: 1,024 TLS connections from 127.0.0.2 each sending a header line
   every 10 s, for ATTACK_SECONDS; a normal client from 127.0.0.2 and one from
   127.0.0.1 meanwhile: success rate, p50/p99, attack connections still open.
3. idle flood: 5,000 TCP connections from 127.0.0.3 to the TLS port; normal
   clients from 127.0.0.3 and 127.0.0.1: success rate, p99, how many of the
   flood were refused.
"""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from backends_hostile import Stub, get, json_answer, proc_status, raw_connect  # noqa: E402
from backends_moto import clean_aws_env  # noqa: E402
from lib import Server, wait_for  # noqa: E402

MiB = 1 << 20
PROM_CAP = int(os.environ.get("PROM_CAP", 4 * MiB))
AWS_CAP = int(os.environ.get("AWS_CAP", 8 * MiB))
ATTACK_SECONDS = float(os.environ.get("ATTACK_SECONDS", 60))
GV = "/apis/external.metrics.k8s.io/v1beta1"
PATH = f"{GV}/namespaces/default/always-on"
CRON = {"name": "always-on", "namespaces": ["*"], "type": "cron",
        "metadata": {"timezone": "UTC", "start": "0 0 1 1 *", "end": "* * * * *", "desiredReplicas": "3"}}
ENV = clean_aws_env({"EM_AKID": "AKIABENCH", "EM_SK": "bench-secret"})


def config(*metrics):
    return json.dumps({"server": {"auth": {"mode": "none"}}, "defaults": {"pollingInterval": "1s", "timeout": "5s"},
                       "metrics": list(metrics)})


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))] if xs else float("nan")


def memory():
    prom_body = json_answer({"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {}, "value": [0, "7"]}]}}, pad_to=PROM_CAP - 1024)

    def cw(m, path, h, body):
        q = json.loads(body)["MetricDataQueries"]
        doc = {"MetricDataResults": [{"Id": x["Id"], "Values": [7], "StatusCode": "Complete"} for x in q]}
        return 200, "application/x-amz-json-1.0", json_answer(doc, pad_to=AWS_CAP - 1024)

    for kind in ("prometheus", "cloudwatch"):
        stub = Stub((lambda *a: (200, "application/json", prom_body)) if kind == "prometheus" else cw)
        if kind == "prometheus":
            ms = [{"name": f"p{i}", "namespaces": ["*"], "type": "prometheus",
                   "metadata": {"serverAddress": stub.url, "query": "q", "threshold": "1"}} for i in range(3)]
        else:
            # different windows: three calls, not one batch
            ms = [{"name": f"c{i}", "namespaces": ["*"], "type": "aws-cloudwatch",
                   "auth": {"params": {"awsAccessKeyID": {"fromEnv": "EM_AKID"},
                                       "awsSecretAccessKey": {"fromEnv": "EM_SK"}}},
                   "metadata": {"namespace": "N", "metricName": "M", "dimensionName": "D", "dimensionValue": "v",
                                "targetMetricValue": "1", "minMetricValue": "0", "awsRegion": "eu-west-1",
                                "awsEndpoint": stub.url, "metricCollectionTime": str(300 * (i + 1)),
                                "metricStatPeriod": "300"}} for i in range(3)]
        srv = Server(config(CRON, *ms), env=ENV)
        try:
            time.sleep(1)
            before = stub.hits
            t0 = time.time()
            while stub.hits < before + 15 and time.time() - t0 < 60:
                time.sleep(0.5)
            st = proc_status(srv.proc.pid)
            served = [srv.api(f"{GV}/namespaces/default/{m['name']}")[0] for m in ms]
            print(f"memory {kind:10s} 3 metrics, answers {len(prom_body) if kind == 'prometheus' else AWS_CAP} "
                  f"bytes of empty arrays, {stub.hits - before} polls: peak RSS {st['VmHWM'] / MiB:.1f} MB, "
                  f"now {st['VmRSS'] / MiB:.1f} MB, HTTP {served}, server alive: {srv.proc.poll() is None}")
        finally:
            srv.stop()
            stub.stop()


def normal_client(port, src, stop, out):
    while not stop.is_set():
        st, _, took = get(port, PATH, source=src, timeout=10)
        out.append((st == 200, took))
        time.sleep(0.5)


def report(what, src, results):
    ok = [t for good, t in results if good]
    print(f"{what}: client from {src}: {len(ok)}/{len(results)} succeeded, "
          f"p50 {pct(ok, 50) * 1000:.0f} ms, p99 {pct(ok, 99) * 1000:.0f} ms")


def slowloris():
    srv = Server(config(CRON))
    conns, failed = [], 0
    try:
        for _ in range(1024):
            try:
                s = raw_connect(srv.port, "127.0.0.2", tls=True, timeout=10)
                s.sendall(f"GET {PATH} HTTP/1.1\r\nHost: x\r\n".encode())
                conns.append(s)
            except OSError:
                failed += 1
        stop = threading.Event()
        res = {src: [] for src in ("127.0.0.2", "127.0.0.1")}
        ts = [threading.Thread(target=normal_client, args=(srv.port, src, stop, res[src])) for src in res]
        for t in ts:
            t.start()
        t0 = time.time()
        while time.time() - t0 < ATTACK_SECONDS:
            for s in conns:
                try:
                    s.sendall(b"X-Trickle: 1\r\n")
                except OSError:
                    pass
            time.sleep(10)
        stop.set()
        for t in ts:
            t.join()
        alive = 0
        for s in conns:
            try:
                s.sendall(b"X-Trickle: 1\r\n")
                alive += 1
            except OSError:
                pass
        print(f"slowloris: 1,024 TLS connections from 127.0.0.2, a header line each every 10 s for "
              f"{ATTACK_SECONDS:.0f} s: {failed} could not connect, {alive} still open at the end")
        for src, r in res.items():
            report("slowloris", src, r)
    finally:
        for s in conns:
            s.close()
        srv.stop()


def flood():
    srv = Server(config(CRON))
    conns, refused = [], 0
    try:
        for _ in range(5000):
            try:
                conns.append(raw_connect(srv.port, "127.0.0.3", timeout=5))
            except OSError:
                refused += 1
        time.sleep(0.5)
        reset = 0
        for s in conns:
            s.setblocking(False)
            try:
                if s.recv(1) == b"":
                    reset += 1
            except BlockingIOError:
                pass
            except OSError:
                reset += 1
        res = {"127.0.0.3": [], "127.0.0.1": []}
        for _ in range(50):
            for src in res:
                st, _, took = get(srv.port, PATH, source=src, timeout=10)
                res[src].append((st == 200, took))
        print(f"idle flood: 5,000 TCP connections from 127.0.0.3 to the TLS port: {refused} refused at connect, "
              f"{reset} closed by the server within 0.5 s")
        for src, r in res.items():
            report("idle flood", src, r)
    finally:
        for s in conns:
            s.close()
        srv.stop()


if __name__ == "__main__":
    print(f"# {os.environ.get('EXTMETRICS')}")
    for step in (sys.argv[1:] or ["memory", "slowloris", "flood"]):
        {"memory": memory, "slowloris": slowloris, "flood": flood}[step]()
