"""backends_kubeapi.py - an HTTPS stand-in for the Kubernetes API: TokenReview, SubjectAccessReview and the
kube-system/extension-apiserver-authentication ConfigMap, following the documented JSON; counts calls, can stop.

Nothing real can run here (no kube-apiserver), so this follows the wire format of
authentication.k8s.io/v1 TokenReview and authorization.k8s.io/v1 SubjectAccessReview
(POST, 201 Created, the object echoed back with status filled) and core/v1 ConfigMap (GET).
"""
import collections
import http.server
import json
import ssl
import threading

from lib import free_port

TOKENREVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
SARS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
AUTHCM = "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication"


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class KubeAPI:
    """tokens: token -> user dict (username, uid, groups, extra) for authenticated tokens.
    policy(spec) -> (allowed, denied, reason) decides SubjectAccessReviews.
    configmap: the data of extension-apiserver-authentication (None: 404).
    sa_token: the ServiceAccount token the client must present."""

    def __init__(self, cert, key, sa_token, tokens=None, policy=None, configmap=None):
        self.cert, self.key, self.sa_token = cert, key, sa_token
        self.tokens = dict(tokens or {})
        self.policy = policy or (lambda spec: (False, False, ""))
        self.configmap = configmap
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self.calls = collections.Counter()   # ("tokenreview", token) / ("sar", user, ns, resource) / ("configmap",)
        self.sar_specs = []
        self.tr_bodies = []
        self.bad_auth = 0
        self.httpd = None
        self.start()

    def count(self, *key):
        with self.lock:
            return self.calls[key]

    def total(self, kind):
        with self.lock:
            return sum(v for k, v in self.calls.items() if k[0] == kind)

    def reset(self):
        with self.lock:
            self.calls.clear()
            self.sar_specs.clear()
            self.tr_bodies.clear()

    def _handler(self):
        api = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, code, obj):
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                # One request per connection: a stopped stand-in must not keep
                # answering on a client's kept-alive connection.
                self.send_header("Connection", "close")
                self.close_connection = True
                self.end_headers()
                self.wfile.write(body)

            def authorized(self):
                if self.headers.get("Authorization") == f"Bearer {api.sa_token}":
                    return True
                with api.lock:
                    api.bad_auth += 1
                self.reply(401, status(401, "Unauthorized", "Unauthorized"))
                return False

            def do_GET(self):
                if not self.authorized():
                    return
                if self.path != AUTHCM:
                    return self.reply(404, status(404, "NotFound", "the server could not find the requested resource"))
                with api.lock:
                    api.calls[("configmap",)] += 1
                    data = api.configmap
                if data is None:
                    return self.reply(404, status(404, "NotFound",
                                                  'configmaps "extension-apiserver-authentication" not found'))
                self.reply(200, {"kind": "ConfigMap", "apiVersion": "v1",
                                 "metadata": {"name": "extension-apiserver-authentication",
                                              "namespace": "kube-system"},
                                 "data": data})

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                if not self.authorized():
                    return
                if self.headers.get("Content-Type") != "application/json":
                    return self.reply(415, status(415, "UnsupportedMediaType", "need application/json"))
                try:
                    obj = json.loads(raw)
                except ValueError:
                    return self.reply(400, status(400, "BadRequest", "not JSON"))
                if self.path == TOKENREVIEWS:
                    if obj.get("kind") != "TokenReview" or obj.get("apiVersion") != "authentication.k8s.io/v1":
                        return self.reply(400, status(400, "BadRequest", "not a TokenReview"))
                    token = obj["spec"]["token"]
                    with api.lock:
                        api.calls[("tokenreview", token)] += 1
                        api.tr_bodies.append(obj)
                        user = api.tokens.get(token)
                    st = {"authenticated": True, "user": user} if user else \
                        {"authenticated": False, "user": {}, "error": "invalid bearer token"}
                    return self.reply(201, {**obj, "metadata": {"creationTimestamp": None}, "status": st})
                if self.path == SARS:
                    if obj.get("kind") != "SubjectAccessReview" or obj.get("apiVersion") != "authorization.k8s.io/v1":
                        return self.reply(400, status(400, "BadRequest", "not a SubjectAccessReview"))
                    spec = obj["spec"]
                    ra = spec.get("resourceAttributes") or {}
                    with api.lock:
                        api.calls[("sar", spec.get("user"), ra.get("namespace"), ra.get("resource"))] += 1
                        api.sar_specs.append(spec)
                        policy = api.policy
                    allowed, denied, reason = policy(spec)
                    st = {"allowed": allowed}
                    if denied:
                        st["denied"] = True
                    if reason:
                        st["reason"] = reason
                    return self.reply(201, {**obj, "metadata": {"creationTimestamp": None}, "status": st})
                self.reply(404, status(404, "NotFound", "the server could not find the requested resource"))

        return H

    def start(self):
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        httpd.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        self.httpd = httpd
        threading.Thread(target=httpd.serve_forever, daemon=True).start()

    def stop(self):
        """Stops listening (the port then refuses connections); start() again on the same port."""
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
