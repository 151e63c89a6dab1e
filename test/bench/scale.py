"""scale.py - cost per configured metric: N cron metrics polled every 2 s (polling: eager), at several N.

Prints per N: start-to-ready, adapter CPU over a window (share of one core and microseconds per
poll), RSS and bytes per metric over an empty config; then a reload of the largest config that
changes one metric (reload time, cached values kept, request latency during reloads).
Run by `make bench`; BENCH_SCALE_SIZES (default 100,1000,10000), BENCH_SCALE_SECONDS (default 10).
"""
import http.client
import os
import re
import ssl
import sys
import threading
import time

sys.path.insert(0, "test/integration")
from lib import Server, wait_for  # noqa: E402

SIZES = [int(x) for x in os.environ.get("BENCH_SCALE_SIZES", "100,1000,10000").split(",")]
WINDOW = float(os.environ.get("BENCH_SCALE_SECONDS", "10"))
INTERVAL_S = 2
TICK = os.sysconf("SC_CLK_TCK")


def config(n, changed=None):
    lines = ["server: {auth: {mode: none}, threads: 2}",
             f"defaults: {{pollingInterval: {INTERVAL_S}s, timeout: 3s, polling: eager}}",
             "metrics:"]
    for i in range(n):
        dr = i + 1 if i != changed else i + 100000
        lines.append(f'  - {{name: m{i}, namespaces: ["*"], type: cron, metadata: {{timezone: Europe/Berlin, '
                     f'start: "0 22 * * *", end: "0 6 * * *", desiredReplicas: "{dr}"}}}}')
    return "\n".join(lines) + "\n"


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def polls(s):
    """Fetches completed so far (the fetch-duration histogram's count)."""
    m = re.search(r'extmetrics_scaler_fetch_duration_seconds_count\{scaler="cron"\} (\S+)', s.metrics())
    return float(m.group(1)) if m else 0.0


def start(cfg):
    t0 = time.monotonic()
    s = Server(cfg, wait=False)
    wait_for(s.ready, timeout=60, interval=0.01, what="readiness")
    return s, time.monotonic() - t0


def measure(n):
    s, ready_s = start(config(n))
    try:
        # first round of fetches done, allocator warmed up
        wait_for(lambda: polls(s) >= n, timeout=60, interval=0.2, what="first poll round")
        time.sleep(INTERVAL_S)
        p0, c0, t0 = polls(s), cpu_s(s.proc.pid), time.monotonic()
        time.sleep(WINDOW)
        p1, c1, t1 = polls(s), cpu_s(s.proc.pid), time.monotonic()
        rss = status_kb(s.proc.pid, "VmRSS")
        anon = status_kb(s.proc.pid, "RssAnon")
        cpu, np = c1 - c0, max(p1 - p0, 1)
        return {"n": n, "ready_s": ready_s, "core": cpu / (t1 - t0), "us_per_poll": cpu / np * 1e6,
                "polls_per_s": np / (t1 - t0), "rss_kb": rss, "anon_kb": anon}
    finally:
        s.stop()


def reload_check(n):
    """Reload n metrics changing one: time to apply, cached values kept, requests not waiting."""
    s, _ = start(config(n))
    try:
        wait_for(lambda: polls(s) >= n, timeout=60, interval=0.2, what="first poll round")
        time.sleep(2 * INTERVAL_S)   # polls spread by jitter: steady state
        ctx = ssl._create_unverified_context()
        conn = http.client.HTTPSConnection("127.0.0.1", s.port, context=ctx, timeout=10)

        def get(name):
            conn.request("GET", f"/apis/external.metrics.k8s.io/v1beta1/namespaces/default/{name}")
            r = conn.getresponse()
            return r.status, r.read()

        probe = [f"m{i}" for i in range(1, n, max(1, n // 50))]
        before = {m: get(m) for m in probe}
        fetched_before = polls(s)
        lat, stop = [], threading.Event()

        def load():
            c2 = http.client.HTTPSConnection("127.0.0.1", s.port, context=ctx, timeout=10)
            while not stop.is_set():
                t = time.monotonic()
                c2.request("GET", "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/m1")
                c2.getresponse().read()
                lat.append(time.monotonic() - t)

        th = threading.Thread(target=load)
        th.start()
        time.sleep(0.5)
        with open(s.config, "w") as f:
            f.write(config(n, changed=0))
        t0 = time.monotonic()
        s.proc.send_signal(1)  # SIGHUP
        wait_for(lambda: "config reloaded" in s.logs(), timeout=30, interval=0.01, what="reload")
        took = time.monotonic() - t0
        kept_log = re.search(r"config reloaded: \d+ metrics, (\d+) unchanged kept their cache", s.logs())
        time.sleep(0.5)
        stop.set()
        th.join()
        after = {m: get(m) for m in probe}
        # the same value served, with no wait (a new instance would park for a first sample)
        kept = sum(1 for m in probe if before[m][0] == after[m][0] == 200 and
                   re.search(rb'"value":"[^"]*"', before[m][1]).group(0) == re.search(rb'"value":"[^"]*"', after[m][1]).group(0))
        lat.sort()
        p99 = lat[int(len(lat) * 0.99)] * 1000 if lat else float("nan")
        worst = lat[-1] * 1000 if lat else float("nan")
        refetched = polls(s) - fetched_before
        return took, int(kept_log.group(1)) if kept_log else -1, kept, len(probe), p99, worst, refetched
    finally:
        s.stop()


def main():
    base = measure(1)
    print(f"cron metrics polled every {INTERVAL_S}s (polling: eager), {WINDOW:.0f}s windows; "
          f"baseline 1 metric: RSS {base['rss_kb'] / 1024:.1f} MB")
    print("metrics  ready_s  core_share  cpu_us/poll  polls/s  RSS_MB  bytes/metric(RSS)  bytes/metric(anon)")
    for n in SIZES:
        r = measure(n)
        print(f"{n:7d}  {r['ready_s']:7.3f}  {r['core']:10.4f}  {r['us_per_poll']:11.1f}  {r['polls_per_s']:7.0f}  "
              f"{r['rss_kb'] / 1024:6.1f}  {(r['rss_kb'] - base['rss_kb']) * 1024 / n:17.0f}  "
              f"{(r['anon_kb'] - base['anon_kb']) * 1024 / n:18.0f}")
    big = max(SIZES)
    print(f"goals at {big}: core share < 0.10, RSS < 40 MB, ready < 1 s")
    took, kept_inst, kept, probed, p99, worst, refetched = reload_check(big)
    print(f"reload of {big} metrics changing one (SIGHUP to applied, config parse included): {took:.3f} s (goal < 1 s); "
          f"instances kept {kept_inst}/{big}; probed values unchanged {kept}/{probed}; requests during the reload "
          f"p99 {p99:.2f} ms, worst {worst:.2f} ms; fetches during the check {refetched:.0f}")


main()
