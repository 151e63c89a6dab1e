"""churn.py - what scale costs against a real Prometheus: 10,000 eagerly polled prometheus metrics (CPU, memory,
queries counted by Prometheus itself); 10,000 templated instances created by distinct selectors and dropped when
idle, 5 cycles (memory after each drop must stay flat); two replicas behind one aggregator-like keep-alive client
(queries counted by Prometheus: with polling on demand the replica nobody asks costs nothing).
BENCH_PROM_METRICS (default 10000), BENCH_CHURN (default 10000), BENCH_CHURN_CYCLES (default 5)."""
import http.client
import os
import re
import ssl
import sys
import time
import urllib.request

sys.path.insert(0, "test/integration")
from lib import Server, wait_for  # noqa: E402
from backends_prometheus import Prometheus  # noqa: E402

N_PROM = int(os.environ.get("BENCH_PROM_METRICS", "10000"))
N_CHURN = int(os.environ.get("BENCH_CHURN", "10000"))
CYCLES = int(os.environ.get("BENCH_CHURN_CYCLES", "5"))
TICK = os.sysconf("SC_CLK_TCK")
GV = "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/"


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(x.split()[1]) for x in f if x.startswith("VmRSS")) / 1024


def prom_queries(prom):
    """/api/v1/query requests Prometheus itself has served."""
    with urllib.request.urlopen(prom.url + "/metrics", timeout=5) as r:
        text = r.read().decode()
    return sum(float(m.group(1)) for m in
               re.finditer(r'prometheus_http_requests_total\{code="200",handler="/api/v1/query"\} (\S+)', text))


def config(metrics, polling="eager", interval="10s"):
    return ("server: {auth: {mode: none}, threads: 2}\n"
            f"defaults: {{pollingInterval: {interval}, timeout: 5s, polling: {polling}}}\nmetrics:\n" + metrics)


def prom_metric(name, prom, query="vector(1)", extra=""):
    return (f'  - {{name: {name}, namespaces: ["*"], type: prometheus, {extra}metadata: {{serverAddress: "{prom.url}", '
            f'query: "{query}", threshold: "1"}}}}\n')


class Client:
    """One kept-alive connection, as the aggregator holds one."""

    def __init__(self, port):
        self.c = http.client.HTTPSConnection("127.0.0.1", port, context=ssl._create_unverified_context(), timeout=30)

    def get(self, path):
        self.c.request("GET", GV + path)
        r = self.c.getresponse()
        return r.status, r.read()


prom = Prometheus()
try:
    # ---- 10,000 prometheus metrics, eager, every 10 s
    s = Server(config("".join(prom_metric(f"p{i}", prom) for i in range(N_PROM))), wait=False)
    t0 = time.monotonic()
    wait_for(s.ready, timeout=60, interval=0.01, what="readiness")
    ready = time.monotonic() - t0
    q0 = prom_queries(prom)
    wait_for(lambda: prom_queries(prom) - q0 >= N_PROM, timeout=120, interval=0.5, what="first round")
    time.sleep(10)
    c0, q0, t0 = cpu_s(s.proc.pid), prom_queries(prom), time.monotonic()
    time.sleep(20)
    c1, q1, t1 = cpu_s(s.proc.pid), prom_queries(prom), time.monotonic()
    print(f"{N_PROM} prometheus metrics every 10 s (polling: eager) against a real Prometheus: ready {ready:.2f} s, "
          f"{(q1 - q0) / (t1 - t0):.0f} queries/s (Prometheus' count), {(c1 - c0) / (t1 - t0):.3f} of a core, "
          f"{(c1 - c0) / max(q1 - q0, 1) * 1e6:.0f} CPU us per poll, RSS {rss_mb(s.proc.pid):.1f} MB")
    s.stop()

    # ---- templated churn: distinct selectors, dropped after 10 x 1 s idle
    s = Server(config('  - {name: t, namespaces: ["*"], type: cron, maxInstances: 100000, metadata: {timezone: UTC, '
                      'start: "0 0 1 1 *", end: "* * * * *", desiredReplicas: "${selector.n}"}}\n',
                      polling="demand", interval="1s"))
    cl = Client(s.port)
    rows = []
    for cycle in range(CYCLES):
        t0 = time.monotonic()
        for i in range(N_CHURN):
            st, body = cl.get(f"t?labelSelector=n%3D{cycle * N_CHURN + i + 1}")
            assert st == 200, (st, body)
        made = time.monotonic() - t0
        peak = rss_mb(s.proc.pid)
        wait_for(lambda: 'metric="t"' not in s.metrics(), timeout=60, interval=0.5, what="instances dropped")
        time.sleep(1)
        rows.append((made, peak, rss_mb(s.proc.pid)))
    print(f"{N_CHURN} templated instances made by distinct selectors, then dropped when idle, {CYCLES} cycles:")
    for i, (made, peak, after) in enumerate(rows):
        print(f"  cycle {i + 1}: made in {made:.1f} s, RSS {peak:.1f} MB with them, {after:.1f} MB after the drop")
    print(f"  growth after drop from cycle 1 to {CYCLES}: {rows[-1][2] - rows[0][2]:+.1f} MB (goal: flat)")
    s.stop()

    # ---- two replicas, one aggregator-like client (one kept-alive connection: one replica gets the traffic)
    metrics = "".join(prom_metric(f"r{i}", prom) for i in range(20))

    def run(replicas):
        servers = [Server(config(metrics, polling="demand", interval="1s")) for _ in range(replicas)]
        try:
            cl = Client(servers[0].port)
            q0 = prom_queries(prom)
            end = time.monotonic() + 20
            while time.monotonic() < end:   # the HPA controller asks for each metric every ~15 s; here every 2 s
                for i in range(20):
                    assert cl.get(f"r{i}")[0] == 200
                time.sleep(2)
            return prom_queries(prom) - q0
        finally:
            for x in servers:
                x.stop()

    one, two = run(1), run(2)
    print(f"two replicas, one kept-alive client, 20 metrics every 1 s for 20 s (polling: demand): Prometheus queries "
          f"{one:.0f} with one replica, {two:.0f} with two: {two / one:.2f} x (goal <= 1.2)")
finally:
    prom.stop()
