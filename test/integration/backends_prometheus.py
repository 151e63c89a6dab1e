"""backends_prometheus.py - real Prometheus 2.42 + Pushgateway on 127.0.0.1 free ports, and a recording reverse proxy."""
import atexit
import base64
import crypt
import ctypes
import http.server
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from lib import free_port, stop_process, tmpdir, wait_for, write

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PUSHGATEWAY = shutil.which("prometheus-pushgateway") or "/usr/bin/prometheus-pushgateway"


_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _set_pdeathsig():
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def die_with_parent(then=None):
    """A preexec_fn: the server gets SIGTERM when the test process dies, even
    by SIGKILL or timeout, so no backend outlives its test run. The kernel
    ties this to the forking *thread*, so it is only armed for servers started
    from the main thread (from a helper thread, the server would be killed as
    soon as that thread ends). `then` runs first (e.g. dropping privileges,
    which would clear the setting)."""
    main = threading.current_thread() is threading.main_thread()

    def preexec():
        if then:
            then()
        if main:
            _set_pdeathsig()
    return preexec


def _http(method, url, body=None, headers=None, timeout=5):
    req = urllib.request.Request(url, method=method, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


_stop = stop_process


class Pushgateway:
    """prometheus-pushgateway on a free port. push() replaces a job's group."""

    def __init__(self):
        self.dir = tmpdir()
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.log = open(os.path.join(self.dir, "pushgateway.log"), "w")
        # No persistence: Debian's build defaults to /var/lib/prometheus/pushgateway.data, and
        # series pushed in one run would come back in the next.
        self.proc = subprocess.Popen([PUSHGATEWAY, f"--web.listen-address={self.addr}", "--persistence.file="],
                                     stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent())
        atexit.register(self.cleanup)
        wait_for(lambda: _http("GET", f"http://{self.addr}/-/ready")[0] == 200, timeout=15,
                 what="pushgateway ready")

    def push(self, job, text):
        """Replaces every metric of group job=<job> with the exposition text."""
        st, body = _http("PUT", f"http://{self.addr}/metrics/job/{urllib.parse.quote(job, safe='')}",
                         body=text.encode(), headers={"Content-Type": "text/plain"})
        if st not in (200, 202):
            raise AssertionError(f"push failed: {st} {body}")

    def delete(self, job):
        _http("DELETE", f"http://{self.addr}/metrics/job/{urllib.parse.quote(job, safe='')}")

    def stop(self):
        _stop(self.proc)
        if not self.log.closed:
            self.log.close()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def make_tls(d):
    """A throw-away CA, a server certificate for 127.0.0.1 and a client
    certificate (openssl CLI, EC P-256). Returns {name: path}."""
    def ossl(*args):
        p = subprocess.run(["openssl", *args], cwd=d, capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise AssertionError(f"openssl {args[0]} failed: {p.stderr}")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    ossl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=extmetrics-test-ca")
    write(os.path.join(d, "server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    write(os.path.join(d, "client.ext"), "extendedKeyUsage=clientAuth\n")
    for who in ("server", "client"):
        ossl("req", *ec, "-keyout", f"{who}.key", "-out", f"{who}.csr", "-subj", f"/CN={who}")
        ossl("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", f"{who}.pem", "-days", "2", "-extfile", f"{who}.ext")
    return {n: os.path.join(d, n) for n in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")}


class Prometheus:
    """Prometheus scraping the given targets every second as job "pushgateway"
    (honor_labels, so a pushed job label stays `job`), or as scrape_configs say. basic_auth={user: password} turns on its
    own --web.config.file basic auth; tls (from make_tls) serves HTTPS and
    requires a client certificate from that CA. stop()/start() keep port and
    storage."""

    def __init__(self, targets=(), basic_auth=None, tls=None, scrape_configs=None):
        self.dir = tmpdir()
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.addr}"
        self.basic_auth = basic_auth
        cfg = ["global:", "  scrape_interval: 1s", "  evaluation_interval: 1s"]
        if scrape_configs is not None:   # given whole (a list of scrape_config objects): JSON is YAML
            cfg += ["scrape_configs: " + json.dumps(scrape_configs)]
        elif targets:
            cfg += ["scrape_configs:", "  - job_name: pushgateway", "    honor_labels: true", "    static_configs:",
                    "      - targets: [" + ", ".join(f'"{t}"' for t in targets) + "]"]
        else:
            cfg += ["scrape_configs: []"]
        self.config = write(os.path.join(self.dir, "prometheus.yml"), "\n".join(cfg) + "\n")
        self.web_config = None
        self.tls = tls
        lines = []
        if basic_auth:
            lines.append("basic_auth_users:")
            for user, pw in basic_auth.items():
                lines.append(f"  {user}: '{crypt.crypt(pw, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 4))}'")
        if tls:
            self.url = f"https://{self.addr}"
            lines += ["tls_server_config:", f"  cert_file: {tls['server.pem']}", f"  key_file: {tls['server.key']}",
                      "  client_auth_type: RequireAndVerifyClientCert", f"  client_ca_file: {tls['ca.pem']}"]
        if lines:
            self.web_config = write(os.path.join(self.dir, "web.yml"), "\n".join(lines) + "\n")
        self.proc = None
        self.log = None
        atexit.register(self.cleanup)
        self.start()

    def _auth_headers(self):
        if not self.basic_auth:
            return {}
        user, pw = next(iter(self.basic_auth.items()))
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()}

    def start(self):
        args = [PROMETHEUS, f"--config.file={self.config}", f"--storage.tsdb.path={self.dir}/data",
                f"--web.listen-address={self.addr}", "--log.level=warn"]
        if self.web_config:
            args.append(f"--web.config.file={self.web_config}")
        self.log = open(os.path.join(self.dir, "prometheus.log"), "a")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent())
        wait_for(self.ready, timeout=20, what="prometheus ready")

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"prometheus exited rc={self.proc.returncode}: {self.logs()}")
        if self.tls:
            ctx = ssl.create_default_context(cafile=self.tls["ca.pem"])
            ctx.load_cert_chain(self.tls["client.pem"], self.tls["client.key"])
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1, context=ctx) as r:
                    return r.status == 200
            except OSError:
                return False
        try:
            return _http("GET", f"{self.url}/-/ready", headers=self._auth_headers(), timeout=1)[0] == 200
        except OSError:
            return False

    def logs(self):
        with open(os.path.join(self.dir, "prometheus.log")) as f:
            return f.read()

    def query(self, q):
        """Instant query; returns the parsed JSON body."""
        st, body = _http("GET", f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": q}),
                         headers=self._auth_headers())
        return json.loads(body)

    def api(self, path, params=()):
        """GET /api/v1/<path> with query parameters (pairs, repeatable); the parsed JSON body."""
        st, body = _http("GET", f"{self.url}/api/v1/{path}?" + urllib.parse.urlencode(list(params)),
                         headers=self._auth_headers())
        return json.loads(body)

    def wait_series(self, q, n=1, timeout=20):
        """Waits until q returns n series (the first scrape takes ~5-6 s)."""
        def ok():
            r = self.query(q)
            return r["status"] == "success" and len(r["data"]["result"]) == n and r["data"]["result"]
        return wait_for(ok, timeout=timeout, interval=0.2, what=f"{n} series for {q}")

    def wait_value(self, q, value, timeout=20):
        """Waits until q returns one series whose value equals value (number or text)."""
        def ok():
            r = self.query(q)
            res = r["data"]["result"]
            return len(res) == 1 and float(res[0]["value"][1]) == float(value)
        return wait_for(ok, timeout=timeout, interval=0.2, what=f"{q} == {value}")

    def stop(self):
        _stop(self.proc)
        if self.log:
            self.log.close()
            self.log = None

    def cleanup(self):
        """Stops and removes the storage directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class RecordingProxy:
    """A small HTTP/1.1 keep-alive reverse proxy in front of Prometheus that
    records every request and counts client connections. With bearer set it
    answers 401 unless `Authorization: Bearer <bearer>`; delay (seconds)
    holds each answer back, for timeout tests. With echo_headers it answers
    every request 401 with those request headers in the body, as a careless
    server or proxy might (secret-leak tests)."""

    def __init__(self, upstream, bearer=None, echo_headers=()):
        self.upstream = upstream.rstrip("/")
        self.bearer = bearer
        self.echo_headers = tuple(echo_headers)
        self.delay = 0.0
        self.requests = []
        self.connections = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                # headers and body are separate writes: without this, Nagle +
                # delayed ACK add 40 ms to every keep-alive request
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with proxy.lock:
                    proxy.connections += 1

            def log_message(self, *args):
                pass

            def _answer(self, code, body, ctype="application/json"):
                data = body.encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True   # the client gave up (timeout tests)

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                rec = {"method": self.command, "path": self.path, "headers": dict(self.headers),
                       "body": body.decode(errors="replace")}
                u = urllib.parse.urlsplit(self.path)
                rec["params"] = urllib.parse.parse_qs(u.query, keep_blank_values=True)
                if body and self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
                    rec["form"] = urllib.parse.parse_qs(rec["body"], keep_blank_values=True)
                with proxy.lock:
                    proxy.requests.append(rec)
                if proxy.delay:
                    time.sleep(proxy.delay)
                if proxy.echo_headers:
                    got = ", ".join(f"{h}: {self.headers.get(h)}" for h in proxy.echo_headers if h in self.headers)
                    self._answer(401, f"Unauthorized; you sent {got}\n", "text/plain")
                    return
                if proxy.bearer is not None and self.headers.get("Authorization") != f"Bearer {proxy.bearer}":
                    self._answer(401, "Unauthorized\n", "text/plain")
                    return
                fwd_headers = {}
                if "Content-Type" in self.headers:
                    fwd_headers["Content-Type"] = self.headers["Content-Type"]
                try:
                    st, text = _http(self.command, proxy.upstream + self.path, body=body or None,
                                     headers=fwd_headers, timeout=10)
                except OSError as e:
                    self._answer(502, f"upstream unreachable: {e}\n", "text/plain")
                    return
                self._answer(st, text)

            def do_GET(self):
                self._handle()

            def do_POST(self):
                self._handle()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reset(self):
        with self.lock:
            self.requests = []
            self.connections = 0

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
