"""idle.py - extmetrics' memory per idle API connection: fresh (TLS handshake only) and kept alive after one
request, without and with request-header authentication (which sizes the connection pool for a user in many
groups), and the header size a front-proxy request may have."""
import os
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from lib import Server, tmpdir  # noqa: E402

N = int(os.environ.get("IDLE_CONNECTIONS", "200"))
METRIC = """metrics:
  - {name: a, namespaces: ["*"], type: cron, metadata: {timezone: UTC, start: "0 0 1 1 *", end: "* * * * *",
     desiredReplicas: "3"}}
"""


def front_proxy_ca():
    d = tmpdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", os.path.join(d, "ca.key"), "-out", os.path.join(d, "ca.crt"), "-days", "1",
                    "-subj", "/CN=front-proxy-ca"], check=True, capture_output=True)
    return os.path.join(d, "ca.crt")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))


def connect(srv, request):
    s = ssl._create_unverified_context().wrap_socket(socket.create_connection(("127.0.0.1", srv.port)))
    if request:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"\r\n\r\nok" not in data:
            data += s.recv(4096)
    return s


def per_connection(srv, request):
    time.sleep(0.5)
    r0 = rss_kb(srv.proc.pid)
    conns = [connect(srv, request) for _ in range(N)]
    time.sleep(1)
    kept = sum(1 for c in conns if not _closed(c))
    r1 = rss_kb(srv.proc.pid)
    for c in conns:
        c.close()
    time.sleep(1)
    return (r1 - r0) / N, kept


def _closed(sock):
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except (BlockingIOError, ssl.SSLWantReadError):
        return False
    finally:
        sock.setblocking(True)


def main():
    configs = {
        "auth none": "server:\n  auth: {mode: none}\n" + METRIC,
        "request-header auth": "server:\n  auth:\n    requestHeader: {clientCAFile: %s}\n    tokenReview: false\n"
                               "    authorization: {mode: allowAuthenticated}\n" % front_proxy_ca() + METRIC,
    }
    print(f"{'':22} {'fresh idle kB/conn':>19} {'kept-alive idle kB/conn':>24} {'kept open':>10}")
    for name, text in configs.items():
        srv = Server(text)
        try:
            fresh, _ = per_connection(srv, request=False)
            used, kept = per_connection(srv, request=True)
        finally:
            srv.stop()
        print(f"{name:22} {fresh:19.1f} {used:24.1f} {kept:>6}/{N}")


if __name__ == "__main__":
    main()
