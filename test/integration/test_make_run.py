"""test_make_run.py - `make run PORT=... METRICS_PORT=...` serves the demo on those ports, and the
commands its banner prints work as printed; ports that cannot work are refused with the reason."""
import os
import re
import shlex
import signal
import subprocess

from lib import ROOT, SLOW, Cases, free_port, run, tmpdir, wait_for

T = Cases("make run")


def make_run(*args):
    return ["make", "--no-print-directory", "-s", "-C", ROOT, "run", *args]


@T.case
def banner_commands_work_on_the_ports_given():
    port, mport = free_port(), free_port()
    log = open(os.path.join(tmpdir(), "run.log"), "w+")
    p = subprocess.Popen(make_run(f"PORT={port}", f"METRICS_PORT={mport}"), stdout=log,
                         stderr=subprocess.STDOUT, start_new_session=True)

    def stop():
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGINT)   # Ctrl-C, to make and the server alike
            try:
                p.wait(timeout=15 * SLOW)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    T.at_exit(stop)

    def text():
        log.flush()
        with open(log.name) as f:
            return f.read()

    def ready():
        assert p.poll() is None, f"make run exited rc={p.returncode}: {text()}"
        return run(["curl", "-sf", f"http://127.0.0.1:{mport}/readyz"], timeout=5).returncode == 0
    wait_for(ready, timeout=120, what="make run serving")
    banner = text()
    assert f"https://127.0.0.1:{port}" in banner and f"http://127.0.0.1:{mport}" in banner, banner
    assert ":6443" not in banner and ":9022" not in banner, banner
    cmds = [c.replace("\\\n", " ") for c in re.findall(r"^  ((?:kubectl|curl) (?:.*\\\n)*.*)$", banner, re.M)]
    assert len(cmds) == 3, cmds
    outs = []
    for c in cmds:
        r = run(shlex.split(c), env={"KUBECONFIG": "/dev/null"}, timeout=30)
        assert r.returncode == 0, f"{c}: {r.stderr}"
        outs.append(r.stdout)
    assert '"metricName":"always-on"' in outs[0] and '"value":"3"' in outs[0], outs[0]
    assert '"metricLabels":{"app":"web","team":"demo"}' in outs[1], outs[1]
    assert "extmetrics_http_requests_total" in outs[2], outs[2][:500]
    assert f"serving external.metrics.k8s.io on https://127.0.0.1:{port} and /metrics on http://127.0.0.1:{mport}" \
        in text(), text()


@T.case
def ports_that_cannot_work_are_refused():
    same = str(free_port())
    for args, msg in ((["PORT=https"], "PORT=https is not a port (1-65535)"),
                      (["METRICS_PORT=70000"], "METRICS_PORT=70000 is not a port (1-65535)"),
                      ([f"PORT={same}", f"METRICS_PORT={same}"], f"PORT and METRICS_PORT are both {same}")):
        r = run(make_run(*args), timeout=300)
        assert r.returncode != 0 and msg in r.stderr, (args, r.stderr)
        assert "extmetrics demo" not in r.stdout, r.stdout


if __name__ == "__main__":
    T.main()
