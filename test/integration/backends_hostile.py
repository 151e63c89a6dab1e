"""backends_hostile.py - a stub HTTP backend on 127.0.0.1 that answers what a test tells it (hostile Prometheus and AWS answers), raw-socket clients, process figures."""
import http.server
import json
import os
import socket
import socketserver
import ssl
import threading
import time

from lib import free_port


class Stub:
    """A threaded HTTP/1.1 server answering every GET and POST with
    `answer(method, path, headers, body) -> (status, content_type, body
    bytes)`; `hits` counts requests. Real HTTP (keep-alive, Content-Length),
    only the content is made up: what Prometheus' /api/v1/query or an AWS
    JSON-protocol endpoint could send when broken or hostile."""

    def __init__(self, answer):
        self.answer = answer
        self.hits = 0
        self.lock = threading.Lock()
        owner = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle(self):
                try:
                    super().handle()
                except (ConnectionResetError, BrokenPipeError):
                    pass   # the client gave up (a body over its cap)

            def _go(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with owner.lock:
                    owner.hits += 1
                code, ctype, out = owner.answer(self.command, self.path, self.headers, body)
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                try:
                    self.wfile.write(out)
                except OSError:
                    pass   # the client gave up (a body over its cap)

            do_GET = do_POST = _go

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.port = free_port()
        self.srv = S(("127.0.0.1", self.port), H)
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


def json_answer(doc, pad_to=0):
    """doc as JSON; with pad_to, a member "pad" of empty arrays ("[],") makes
    it just under pad_to bytes: the shape that costs a JSON tree 30 times
    its size."""
    text = json.dumps(doc)
    if pad_to:
        n = (pad_to - len(text) - 16) // 3
        text = text[:-1] + ',"pad":[' + "[]," * (n - 1) + "[]]}"
        assert len(text) < pad_to, len(text)
    return text.encode()


def proc_status(pid):
    """VmRSS/VmHWM (bytes), Threads and open fds of a process, from /proc."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) * 1024
            elif k == "Threads":
                out[k] = int(v)
    out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return out


def raw_connect(port, source="127.0.0.1", tls=False, timeout=10):
    """A TCP connection from a given loopback source address (the whole of
    127.0.0.0/8 is local), TLS-wrapped (no verification) when asked."""
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    if tls:
        ctx = ssl._create_unverified_context()
        s = ctx.wrap_socket(s)
    return s


def read_all(s, timeout=10):
    """Everything until the peer closes (or timeout): (bytes, closed)."""
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return data, True
            data += d
    except (socket.timeout, ssl.SSLError, TimeoutError):
        return data, False
    except (ConnectionResetError, BrokenPipeError):
        return data, True


def get(port, path, source="127.0.0.1", timeout=10):
    """One HTTPS GET on a fresh connection: (status, body) or (None, error)."""
    t0 = time.monotonic()
    try:
        s = raw_connect(port, source, tls=True, timeout=timeout)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data, _ = read_all(s, timeout)
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        return int(head.split()[1]), body.decode(errors="replace"), time.monotonic() - t0
    except (OSError, IndexError, ValueError) as e:
        return None, repr(e), time.monotonic() - t0
