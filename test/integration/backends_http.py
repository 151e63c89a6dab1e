"""backends_http.py - a real HTTP(S) server on a free 127.0.0.1 port (Python's http.server and ssl, in a thread) that
serves bodies by path and checks credentials as a metrics endpoint would: basic, bearer, API key (header or query),
client certificates."""
import base64
import http.server
import socket
import ssl
import threading
import time
import urllib.parse

from lib import free_port


class ApiServer:
    """routes: {path: (status, content type, body)}, changed at will. auth: None, ("basic", user, pw),
    ("bearer", token), ("header", name, key), ("query", name, key). tls: a make_certs dir (HTTPS), with
    client_certs: a verified client certificate is required. hang(): every request waits until release()."""

    def __init__(self, auth=None, tls_dir=None, client_certs=False):
        self.port = free_port()
        self.routes = {}
        self.auth = auth
        self.tls_dir = tls_dir
        self.client_certs = client_certs
        self.requests = []          # (path with query, headers dict) of each request
        self.conns = set()          # open connections: stop() cuts kept-alive ones too
        self.hung = threading.Event()
        self.srv = None
        self.start()

    def url(self, path="/"):
        return f"{'https' if self.tls_dir else 'http'}://127.0.0.1:{self.port}{path}"

    def set(self, path, body, ctype="application/json", status=200):
        self.routes[path] = (status, ctype, body)

    def authorized(self, h):
        if not self.auth:
            return True
        kind = self.auth[0]
        if kind == "basic":
            want = "Basic " + base64.b64encode(f"{self.auth[1]}:{self.auth[2]}".encode()).decode()
            return h.headers.get("Authorization") == want
        if kind == "bearer":
            return h.headers.get("Authorization") == f"Bearer {self.auth[1]}"
        if kind == "header":
            return h.headers.get(self.auth[1]) == self.auth[2]
        if kind == "query":
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(h.path).query)
            return q.get(self.auth[1]) == [self.auth[2]]
        return False

    def start(self):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def setup(self):
                super().setup()
                outer.conns.add(self.connection)

            def do_GET(self):
                outer.requests.append((self.path, dict(self.headers)))
                while outer.hung.is_set():
                    time.sleep(0.05)
                if not outer.authorized(self):
                    return self.reply(401, "text/plain", "unauthorized")
                route = outer.routes.get(urllib.parse.urlsplit(self.path).path)
                if not route:
                    return self.reply(404, "text/plain", "not found")
                self.reply(*route)

            def reply(self, status, ctype, body):
                data = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Srv(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass    # a client that hangs up (a timeout under test) is not news

        self.srv = Srv(("127.0.0.1", self.port), Handler)
        self.srv.daemon_threads = True
        if self.tls_dir:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(f"{self.tls_dir}/server.pem", f"{self.tls_dir}/server.key")
            if self.client_certs:
                ctx.verify_mode = ssl.CERT_REQUIRED
                ctx.load_verify_locations(f"{self.tls_dir}/ca.pem")
            self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def hang(self):
        self.hung.set()

    def release(self):
        self.hung.clear()

    def stop(self):
        if self.srv:
            self.release()
            self.srv.shutdown()
            self.srv.server_close()
            for c in list(self.conns):
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.conns.clear()
            self.srv = None

    def cleanup(self):
        self.stop()
