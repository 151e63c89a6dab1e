#!/usr/bin/env python3
"""soak.py - $EXTMETRICS for SOAK_SECONDS (600) under load with reloads and templated churn; prints RSS, threads and fds every 10 s.

200 metrics: 150 cron, a templated cron metric asked with a new selector
every 100 ms (instances made and dropped), and 48 Prometheus metrics on a
stub answering after 0.5-2 s (the worker pool grows). A SIGHUP every 10 s
swaps between two configs: with the slow Prometheus metrics and without
them (the pool must shrink back), and changing a third of the cron ones
(instances replaced). wrk keeps requesting a cached metric meanwhile.
SOAK_CHURN=0 / SOAK_RELOAD=0 leave out the churn / the reloads (to tell
what a growth comes from). Figures only; nothing is asserted.
"""
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from backends_hostile import Stub, get, proc_status  # noqa: E402
from lib import Server, write  # noqa: E402

SECONDS = int(os.environ.get("SOAK_SECONDS", 600))
CHURN = os.environ.get("SOAK_CHURN", "1") != "0"      # 0: no templated churn
RELOAD = os.environ.get("SOAK_RELOAD", "1") != "0"    # 0: no SIGHUP
EAGER = os.environ.get("SOAK_EAGER", "1") != "0"      # 0: for builds without `polling:`
GV = "/apis/external.metrics.k8s.io/v1beta1"


def cron(name, replicas):
    return {"name": name, "namespaces": ["*"], "type": "cron", "pollingInterval": "5s",
            "metadata": {"timezone": "Europe/Berlin", "start": "0 22 * * *", "end": "0 6 * * *",
                         "desiredReplicas": str(replicas)}}


def config(gen, slow_url):
    ms = [dict(cron("hot", 3), metadata={"timezone": "UTC", "start": "0 0 1 1 *", "end": "* * * * *",
                                         "desiredReplicas": "3"})]
    ms += [cron(f"c{i}", i + 1 + (gen if i % 3 == 0 else 0)) for i in range(150)]
    ms.append(dict(cron("tmpl", 1), pollingInterval="2s", maxInstances=400,
                   metadata={"timezone": "UTC", "start": "0 0 1 1 *", "end": "* * * * *",
                             "desiredReplicas": "${selector.n}"}))
    if gen % 2 == 0:
        ms += [{"name": f"p{i}", "namespaces": ["*"], "type": "prometheus", "pollingInterval": "1s", "timeout": "3s",
                "metadata": {"serverAddress": slow_url, "query": f"q{i}", "threshold": "1"}} for i in range(48)]
    defaults = {"pollingInterval": "30s", "timeout": "3s"}
    if EAGER:
        defaults["polling"] = "eager"   # every metric polled, asked for or not (builds with polling: demand)
    return json.dumps({"server": {"auth": {"mode": "none"}, "threads": 2}, "defaults": defaults, "metrics": ms})


def slow(*a):
    time.sleep(random.uniform(0.5, 2.0))
    return 200, "application/json", b'{"status":"success","data":{"resultType":"scalar","result":[0,"4"]}}'


def main():
    stub = Stub(slow)
    srv = Server(config(0, stub.url))
    stop = threading.Event()
    churned = [0]

    def churn():
        n = 0
        while not stop.is_set():
            n += 1
            get(srv.port, f"{GV}/namespaces/ns{n % 7}/tmpl?labelSelector=n%3D{n}", timeout=10)
            churned[0] += 1
            time.sleep(0.1)

    wrk = subprocess.Popen(["wrk", "-t1", "-c16", f"-d{SECONDS}s", srv.url(f"{GV}/namespaces/default/hot")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    t = threading.Thread(target=churn if CHURN else stop.wait)
    t.start()
    print(f"# {os.environ.get('EXTMETRICS')}: {SECONDS} s, 200 metrics, "
          f"{'SIGHUP every 10 s' if RELOAD else 'no reloads'}, wrk on a cached metric, "
          f"{'a new templated selector every 100 ms' if CHURN else 'no templated churn'}")
    print("   t_s  rss_MB  hwm_MB  threads  fds  reloads  churned")
    t0 = time.time()
    gen = 0
    try:
        while time.time() - t0 < SECONDS:
            time.sleep(10)
            if RELOAD:
                gen += 1
                write(srv.config, config(gen, stub.url))
                srv.proc.send_signal(signal.SIGHUP)
            st = proc_status(srv.proc.pid)
            print(f"{time.time() - t0:6.0f}  {st['VmRSS'] / 2**20:6.1f}  {st['VmHWM'] / 2**20:6.1f}  {st['Threads']:7d}  "
                  f"{st['fds']:3d}  {gen:7d}  {churned[0]:7d}", flush=True)
    finally:
        stop.set()
        t.join()
        out = wrk.communicate()[0]
        for line in out.splitlines():
            if "Requests/sec" in line or "requests in" in line:
                print("wrk:", line.strip())
        srv.stop()
        stub.stop()


if __name__ == "__main__":
    main()
