"""auth.py - the production path: front-proxy client certificate verified, SubjectAccessReview answer cached, against
nginx verifying the same client certificate and serving the same body; then a new client's p99 with 5,000 idle
keep-alive connections open. Uses test/bench/loadgen (wrk cannot present a client certificate).
BENCH_SECONDS (default 5), BENCH_ROUNDS (default 3), BENCH_CONNS (default 32), BENCH_IDLE (default 5000)."""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, "test/integration")
from lib import Server, free_port, write  # noqa: E402
from backends_kubeapi import KubeAPI  # noqa: E402

LOADGEN = os.environ.get("LOADGEN", "build/bench/loadgen")
SECS = os.environ.get("BENCH_SECONDS", "5")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNS = os.environ.get("BENCH_CONNS", "32")
IDLE = os.environ.get("BENCH_IDLE", "5000")
PATH = "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/queue-depth"
D = tempfile.mkdtemp()


def p(n):
    return os.path.join(D, n)


def openssl(*a):
    subprocess.run(["openssl", *a], check=True, capture_output=True)


def ca(name, cn):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", p(name + ".key"),
            "-out", p(name + ".crt"), "-days", "2", "-subj", "/CN=" + cn,
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")


def leaf(name, caname, cn, eku, san=None):
    write(p(name + ".ext"), f"extendedKeyUsage={eku}\nkeyUsage=critical,digitalSignature\n" +
          (f"subjectAltName={san}\n" if san else ""))
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", p(name + ".key"),
            "-out", p(name + ".csr"), "-subj", "/CN=" + cn)
    openssl("x509", "-req", "-in", p(name + ".csr"), "-CA", p(caname + ".crt"), "-CAkey", p(caname + ".key"),
            "-CAcreateserial", "-out", p(name + ".crt"), "-days", "1", "-extfile", p(name + ".ext"))


ca("fpca", "front-proxy-ca")
ca("kubeca", "kube-ca")
leaf("fp", "fpca", "front-proxy-client", "clientAuth")
leaf("kube", "kubeca", "kube-apiserver", "serverAuth", "IP:127.0.0.1")
leaf("srv", "kubeca", "extmetrics", "serverAuth", "IP:127.0.0.1")
write(p("token"), "bench-sa-token\n")
kube = KubeAPI(p("kube.crt"), p("kube.key"), "bench-sa-token", policy=lambda spec: (True, False, ""))

cfg = f"""
server:
  threads: 2
  tls: {{certFile: {p("srv.crt")}, keyFile: {p("srv.key")}}}
  auth:
    mode: delegated
    tokenReview: false
    cacheTTL: 1h
    requestHeader: {{clientCAFile: {p("fpca.crt")}, allowedNames: [front-proxy-client]}}
    authorization: {{mode: subjectAccessReview}}
    kubernetesAPI: {{url: "{kube.url}", caFile: {p("kubeca.crt")}, tokenFile: {p("token")}}}
defaults: {{pollingInterval: 30s, timeout: 3s}}
metrics:
  - {{name: queue-depth, namespaces: ["*"], type: cron, labels: {{queue: orders}},
     metadata: {{timezone: UTC, start: "0 0 1 1 *", end: "* * * * *", desiredReplicas: "22"}}}}
"""
em = Server(cfg)


def load(port, conns, idle="0"):
    out = subprocess.run([LOADGEN, str(port), PATH, str(conns), SECS, p("fp.crt"), p("fp.key"), idle],
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    rps, p50, p99, errors = out.stdout.split()
    return float(rps), float(p99), int(errors), out.stderr.strip()


# nginx: the same body, verifying the same client certificate
import http.client, ssl  # noqa: E401,E402
c = http.client.HTTPSConnection("127.0.0.1", em.port, context=(lambda x: (x.load_cert_chain(p("fp.crt"), p("fp.key")),
                                                                          setattr(x, "check_hostname", False), x)[2])(
    ssl._create_unverified_context()))
c.request("GET", PATH, headers={"X-Remote-User": "bench", "X-Remote-Group": "system:authenticated"})
r = c.getresponse()
body = r.read()
assert r.status == 200, (r.status, body)
os.makedirs(p("www" + os.path.dirname(PATH)))
write(p("www" + PATH), body.decode())
np_ = free_port()
write(p("nginx.conf"), f"""worker_processes 2;
pid {p("nginx.pid")};
error_log {p("nginx-error.log")};
events {{ worker_connections 16384; }}
worker_rlimit_nofile 20000;
http {{
  access_log off;
  server {{
    listen 127.0.0.1:{np_} ssl;
    ssl_certificate {p("srv.crt")}; ssl_certificate_key {p("srv.key")};
    ssl_client_certificate {p("fpca.crt")}; ssl_verify_client on;
    ssl_protocols TLSv1.2 TLSv1.3;
    keepalive_requests 1000000; keepalive_timeout 300s;
    root {p("www")};
    default_type application/json;
  }}
}}
""")
os.chmod(D, 0o755)
subprocess.run(["chmod", "-R", "a+rX", D])
subprocess.run(["nginx", "-c", p("nginx.conf"), "-p", D], check=True)
time.sleep(0.3)
try:
    print(f"front-proxy client certificate + cached SubjectAccessReview, {CONNS} keep-alive connections, {SECS}s runs")
    print("round  extmetrics_req/s  p99_ms  nginx_req/s  p99_ms")
    es, ns, ep, npp = 0.0, 0.0, [], []
    for i in range(ROUNDS):
        er, e99, eerr, _ = load(em.port, CONNS)
        nr, n99, nerr, _ = load(np_, CONNS)
        es, ns = es + er, ns + nr
        ep.append(e99)
        npp.append(n99)
        print(f"{i + 1:5d}  {er:16.0f}  {e99:6.2f}  {nr:11.0f}  {n99:6.2f}" +
              (f"  (errors {eerr}/{nerr})" if eerr or nerr else ""))
    ep.sort()
    npp.sort()
    print(f"extmetrics/nginx req/s ratio: {es / ns:.3f} (goal >= 0.9); p99 ratio (medians): "
          f"{ep[len(ep) // 2] / npp[len(npp) // 2]:.2f} (goal <= 1.5); SubjectAccessReviews sent: {kube.total('sar')}")
    base_e = load(em.port, 1)[1]
    base_n = load(np_, 1)[1]
    e = load(em.port, 1, IDLE)
    n = load(np_, 1, IDLE)
    print(f"a new client's p99 (1 connection): extmetrics {base_e:.2f} ms alone, {e[1]:.2f} ms with {IDLE} idle "
          f"keep-alive connections open ({e[3]}); nginx {base_n:.2f} / {n[1]:.2f} ms; "
          f"extmetrics with idle / nginx with idle: {e[1] / n[1]:.2f} (goal <= 2)")
finally:
    subprocess.run(["nginx", "-c", p("nginx.conf"), "-p", D, "-s", "stop"])
    em.stop()
    kube.stop()
