"""lib.py - integration test harness: cases, free ports, the extmetrics binary, kubectl."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
import ssl

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.abspath(os.environ.get("EXTMETRICS", os.path.join(ROOT, "build", "extmetrics")))
# Under ASan everything is slower; tests scale their waits by this.
SLOW = 3.0 if "asan" in BIN else 1.0


class Cases:
    """Collects test functions; main() runs them and prints `N passed, N failed`."""

    def __init__(self, name):
        self.name = name
        self.cases = []
        self.cleanups = []

    def case(self, fn):
        self.cases.append(fn)
        return fn

    def at_exit(self, fn):
        self.cleanups.append(fn)

    def main(self):
        passed = failed = 0
        only = os.environ.get("ONLY")
        print(f"# {self.name}")
        try:
            for i, fn in enumerate(self.cases, 1):
                if only and only not in fn.__name__:
                    continue
                t0 = time.time()
                try:
                    fn()
                    passed += 1
                    print(f"ok {i} - {fn.__name__} ({time.time() - t0:.1f}s)", flush=True)
                except Exception:
                    failed += 1
                    print(f"not ok {i} - {fn.__name__}", flush=True)
                    for line in traceback.format_exc().splitlines():
                        print("#   " + line)
        finally:
            for fn in reversed(self.cleanups):
                try:
                    fn()
                except Exception:
                    failed += 1
                    print(f"not ok - cleanup {getattr(fn, '__name__', fn)}", flush=True)
                    for line in traceback.format_exc().splitlines():
                        print("#   " + line)
        print(f"{passed} passed, {failed} failed", flush=True)
        sys.exit(1 if failed else 0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.time() + timeout * SLOW
    last = None
    while time.time() < deadline:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # keep polling; report the last error
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}" + (f": {last!r}" if last else ""))


def tmpdir():
    return tempfile.mkdtemp(prefix="emtest-")


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def run(args, env=None, timeout=60, input=None):
    """Runs a command; returns CompletedProcess with text stdout/stderr."""
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run(args, capture_output=True, text=True, env=e, timeout=timeout * SLOW, input=input)


def em(*args, env=None, timeout=60):
    """Runs build/extmetrics with args."""
    return run([BIN, *args], env=env, timeout=timeout)


def em_get(config, ns, metric, selector=None, env=None):
    """`extmetrics get`: returns (rc, parsed stdout JSON or None, stderr)."""
    args = ["get", "--config", config, ns, metric]
    if selector is not None:
        args += ["--selector", selector]
    p = em(*args, env=env)
    out = None
    if p.stdout.strip():
        out = json.loads(p.stdout)
    return p.returncode, out, p.stderr


def status_from(err):
    """The metav1.Status JSON line of `extmetrics get`'s stderr (log lines precede it)."""
    for line in reversed(err.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


class Server:
    """A running `extmetrics serve` on free ports. Use .api(path) and .metrics()."""

    def __init__(self, config_text=None, config_path=None, extra_args=(), env=None, wait=True, ports=None):
        """ports: (api, metrics) to listen on, e.g. a stopped server's, to restart it in place."""
        self.dir = tmpdir()
        self.port, self.mport = ports or (free_port(), free_port())
        if config_path is None:
            config_path = write(os.path.join(self.dir, "config.yaml"), config_text)
        self.config = config_path
        self.log = open(os.path.join(self.dir, "server.log"), "w+")
        e = dict(os.environ)
        if env:
            e.update(env)
        self.proc = subprocess.Popen(
            [BIN, "serve", "--config", config_path, "--listen", f"127.0.0.1:{self.port}",
             "--metrics-listen", f"127.0.0.1:{self.mport}", *extra_args],
            stdout=self.log, stderr=subprocess.STDOUT, env=e)
        if wait:
            wait_for(self.ready, timeout=15, what="server readiness")

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"server exited rc={self.proc.returncode}: {self.logs()}")
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{self.mport}/readyz", timeout=1).status == 200
        except Exception:
            return False

    def logs(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def url(self, path):
        return f"https://127.0.0.1:{self.port}{path}"

    def api(self, path, headers=None, method="GET", context=None, body=None):
        """HTTPS request without verification; returns (status, headers, body text)."""
        ctx = context or ssl._create_unverified_context()
        req = urllib.request.Request(self.url(path), method=method, headers=headers or {}, data=body)
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=10 * SLOW) as r:
                return r.status, dict(r.headers), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode()

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.mport}/metrics", timeout=5) as r:
            return r.read().decode()

    def stop(self, sig=15, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.check_sanitizers()
        return self.proc.returncode

    def check_sanitizers(self):
        """Fails when the server's log holds an ASan/UBSan/LSan report."""
        log = self.logs()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            if marker in log:
                i = log.index(marker)
                raise AssertionError(f"sanitizer report in server log: {log[max(0, i - 200):i + 3000]}")


def kubectl_raw(server, path, extra=()):
    """kubectl get --raw against the server (no verification unless extra says otherwise)."""
    args = ["kubectl", "get", "--raw", path, "--server", f"https://127.0.0.1:{server.port}"]
    if not any(a.startswith("--certificate-authority") for a in extra):
        args.append("--insecure-skip-tls-verify")
    # Without any credentials kubectl prompts for a username.
    if not any(a.startswith(("--token", "--client-certificate", "--username")) for a in extra):
        args.append("--token=extmetrics-test")
    env = {"KUBECONFIG": "/dev/null"}
    return run([*args, *extra], env=env, timeout=30)


# ---------------------------------------------------------------- scaler tests' common steps

GV = "/apis/external.metrics.k8s.io/v1beta1"


def metric_entry(name, type_, metadata, **md):
    """A metric entry served in every namespace: metadata with md applied (values as strings; "-"
    removes a key)."""
    m = dict(metadata, **{k: str(v) for k, v in md.items()})
    return {"name": name, "namespaces": ["*"], "type": type_, "metadata": {k: v for k, v in m.items() if v != "-"}}


def metrics_config(metrics, polling="1s", timeout="2s"):
    """A config (JSON, which YAML reads) serving these metric entries without authentication."""
    return json.dumps({"server": {"auth": {"mode": "none"}},
                       "defaults": {"pollingInterval": polling, "timeout": timeout}, "metrics": metrics})


def get_metric(metrics, name, env=None, ns="default"):
    """`extmetrics get` of one of these metric entries: (rc, the value list or the Status, stderr, seconds)."""
    path = write(os.path.join(tmpdir(), "c.yaml"), metrics_config(metrics))
    t0 = time.time()
    try:
        rc, out, err = em_get(path, ns, name, env=env)
    finally:
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)
    return rc, out if rc == 0 else status_from(err), err, time.time() - t0


def value_of(result):
    """The one value of a get_metric result (which must be a success)."""
    rc, out, err, _ = result
    assert rc == 0 and out["kind"] == "ExternalMetricValueList" and len(out["items"]) == 1, (rc, out, err)
    return out["items"][0]["value"]


def failed(result, code=503):
    """The Status message of a get_metric result (which must be a failure with code)."""
    rc, st, err, _ = result
    assert rc == 1 and st and st["kind"] == "Status" and st["code"] == code, (rc, st, err)
    return st["message"]


def get_value(metrics, name, env=None):
    """The one value `extmetrics get` serves for one of these metric entries (a success)."""
    return value_of(get_metric(metrics, name, env))


def get_failure(metrics, name, env=None, secrets=()):
    """The 503 Status message of `extmetrics get` for one of these metric entries, checked to hold
    none of the secrets."""
    msg = failed(get_metric(metrics, name, env))
    for s in secrets:
        assert s not in msg, (s, msg)
    return msg


def assert_config_errors(cases, env=None):
    """check-config refuses each (metric entry, expected text) alone: rc 1, the text, FILE:LINE:COL."""
    d = tmpdir()
    try:
        for m, want in cases:
            path = write(os.path.join(d, "bad.yaml"), metrics_config([m]))
            p = em("check-config", path, env=env)
            out = p.stdout + p.stderr
            assert p.returncode == 1 and re.search(r"bad\.yaml:\d+:\d+: ", out) and want in out, (want, out)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def keeps_updating(srv, name, set_value, values, within=1.0, probe=None):
    """Sets each value (set_value(n)) and asserts srv serves it within `within` seconds (x SLOW), as
    a metric must while a neighbour is slow or hung; returns probe() after each, when given."""
    seen = []
    for n in values:
        set_value(n)
        t0 = time.time()
        wait_for(lambda: served_value(srv, name) == str(n), timeout=3, what=f"{name}={n}")
        assert time.time() - t0 < within * SLOW, (name, n, time.time() - t0)
        if probe:
            seen.append(probe())
        time.sleep(0.4)
    return seen


def served(srv, name, ns="default"):
    """(HTTP status, parsed body) of a metric as the server answers it."""
    st, _, body = srv.api(f"{GV}/namespaces/{ns}/{name}")
    return st, json.loads(body)


def served_value(srv, name, ns="default"):
    """The served value of a single-item metric, None when not 200."""
    st, d = served(srv, name, ns)
    return d["items"][0]["value"] if st == 200 else None


def counter(srv, name, result):
    """An own-metrics counter with a result label, 0 before its first count."""
    m = re.search(rf'^{name}\{{result="{result}"\}} (\S+)$', srv.metrics(), re.M)
    return float(m.group(1)) if m else 0.0


def stop_process(proc, timeout=10):
    """Stops a server the test started: SIGCONT (a paused one must see the SIGTERM), SIGTERM, and
    SIGKILL when it has not exited after timeout seconds."""
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGCONT)
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Backend:
    """A real server process a test runs (self.proc, files in self.dir): pause() / resume()
    (SIGSTOP / SIGCONT: it accepts connections and answers nothing), stop(), cleanup()."""
    proc = None
    dir = None
    stop_timeout = 10

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def stop(self):
        stop_process(self.proc, self.stop_timeout)

    def cleanup(self):
        self.stop()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
