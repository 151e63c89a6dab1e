"""test_auth.py - authentication and authorization of the real binary: front proxy, client certificates,
TokenReview and SubjectAccessReview against an HTTPS stand-in, fromCluster, fail closed, caching, rotation."""
import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import time
import urllib.request

from lib import Cases, Server, kubectl_raw, wait_for, write, tmpdir, SLOW
from backends_kubeapi import KubeAPI

T = Cases("auth")
GV = "/apis/external.metrics.k8s.io/v1beta1"
MP = GV + "/namespaces/{ns}/always-on"


def metric_path(ns):
    return MP.format(ns=ns)


# ----------------------------------------------------------------------------- certificates (openssl CLI)

class PKI:
    """CAs and certificates made with the openssl command line in one directory."""

    def __init__(self):
        self.dir = tmpdir()

    def p(self, name):
        return os.path.join(self.dir, name)

    def _run(self, *args):
        r = subprocess.run(["openssl", *args], capture_output=True, text=True)
        assert r.returncode == 0, (args, r.stderr)

    def ca(self, name, cn=None):
        self._run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                  "-keyout", self.p(name + ".key"), "-out", self.p(name + ".crt"), "-days", "3",
                  "-subj", f"/CN={cn or name}",
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        return self.p(name + ".crt")

    def leaf(self, name, ca, subj, eku="clientAuth", san=None, days=2):
        """A certificate signed by CA `ca`, valid for days; returns (crt, key)."""
        key, csr, ext = self.p(name + ".key"), self.p(name + ".csr"), self.p(name + ".ext")
        self._run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                  "-keyout", key, "-out", csr, "-subj", subj)
        lines = [f"extendedKeyUsage={eku}", "keyUsage=critical,digitalSignature"]
        if san:
            lines.append(f"subjectAltName={san}")
        write(ext, "\n".join(lines) + "\n")
        self._run("x509", "-req", "-in", csr, "-CA", self.p(ca + ".crt"), "-CAkey", self.p(ca + ".key"),
                  "-CAcreateserial", "-out", self.p(name + ".crt"), "-days", str(days), "-extfile", ext)
        return self.p(name + ".crt"), key

    def expired(self, name, ca, subj):
        """A clientAuth certificate that expired in 2020, via `openssl ca` (x509 cannot back-date)."""
        d = self.p("ca-" + name)
        os.makedirs(os.path.join(d, "new"), exist_ok=True)
        write(os.path.join(d, "index.txt"), "")
        write(os.path.join(d, "serial"), "1000\n")
        cnf = write(os.path.join(d, "ca.cnf"), f"""
[ca]
default_ca = this
[this]
dir = {d}
database = {d}/index.txt
new_certs_dir = {d}/new
serial = {d}/serial
default_md = sha256
policy = any
[any]
commonName = supplied
organizationName = optional
[client]
extendedKeyUsage = clientAuth
keyUsage = critical,digitalSignature
""")
        key, csr = self.p(name + ".key"), self.p(name + ".csr")
        self._run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                  "-keyout", key, "-out", csr, "-subj", subj)
        self._run("ca", "-batch", "-config", cnf, "-cert", self.p(ca + ".crt"), "-keyfile", self.p(ca + ".key"),
                  "-in", csr, "-out", self.p(name + ".crt"), "-startdate", "20200101000000Z",
                  "-enddate", "20200102000000Z", "-extensions", "client", "-notext")
        return self.p(name + ".crt"), key

    def pem(self, name):
        with open(self.p(name + ".crt")) as f:
            return f.read()


pki = PKI()
pki.ca("fpca", "front-proxy-ca")
pki.ca("clientca", "kubernetes-client-ca")
pki.ca("rogue", "front-proxy-ca")            # same subject as the real one, other key
pki.ca("kubeca", "kubernetes-api-ca")
pki.ca("servingca", "extmetrics-serving-ca")
FP = pki.leaf("fp", "fpca", "/CN=front-proxy-client")
INTRUDER = pki.leaf("intruder", "fpca", "/CN=intruder")
ROGUE = pki.leaf("roguefp", "rogue", "/CN=front-proxy-client")
EXPIRED = pki.expired("expiredfp", "fpca", "/CN=front-proxy-client")
SERVERAUTH = pki.leaf("srvonly", "fpca", "/CN=front-proxy-client", eku="serverAuth")
ALICE = pki.leaf("alice", "clientca", "/O=team-a-readers/O=devs/CN=alice")
MALLORY = pki.leaf("mallory", "rogue", "/O=system:masters/CN=mallory")
KUBE_SRV = pki.leaf("kubesrv", "kubeca", "/CN=kube-apiserver", eku="serverAuth", san="IP:127.0.0.1,DNS:localhost")
SERVING1 = pki.leaf("serving1", "servingca", "/CN=extmetrics-1", eku="serverAuth", san="IP:127.0.0.1")
SERVING2 = pki.leaf("serving2", "servingca", "/CN=extmetrics-2", eku="serverAuth", san="IP:127.0.0.1", days=1)
SA_TOKEN = "sa-token-of-extmetrics"
SA_FILE = write(pki.p("sa-token"), SA_TOKEN + "\n")

TOKENS = {
    "jane-token": {"username": "jane", "uid": "u-jane", "groups": ["devs"]},
    "cache-token": {"username": "carl", "groups": ["devs"]},
    "root-token": {"username": "root", "groups": ["system:masters"]},
    "late-token": {"username": "lena", "groups": ["devs"]},
    "review-token": {"username": "jane", "uid": "u-jane", "groups": ["devs"]},
}


def policy(spec):
    """The cluster's RBAC, as the stand-in answers SubjectAccessReviews."""
    if "nonResourceAttributes" in spec:
        return False, False, ""
    ra = spec.get("resourceAttributes") or {}
    user, groups, ns = spec.get("user"), spec.get("groups") or [], ra.get("namespace")
    if ra.get("verb") != "list" or ra.get("group") != "external.metrics.k8s.io" or ra.get("version") != "v1beta1":
        return False, False, "unexpected attributes"
    if ns == "forbidden-ns":
        return False, True, "denied by the stand-in's policy"
    if ns == "team-a" and (user in ("jane", "carl", "lena") or "team-a-readers" in groups):
        return True, False, "RBAC: allowed by RoleBinding team-a/readers"
    return False, False, ""   # no opinion


kube = KubeAPI(KUBE_SRV[0], KUBE_SRV[1], SA_TOKEN, tokens=TOKENS, policy=policy, configmap={
    "client-ca-file": pki.pem("clientca"),
    "requestheader-client-ca-file": pki.pem("fpca"),
    "requestheader-allowed-names": json.dumps(["front-proxy-client"]),
    "requestheader-username-headers": json.dumps(["X-Remote-User", "Impersonate-User"]),
    "requestheader-group-headers": json.dumps(["X-Remote-Group", "Impersonate-Group"]),
    "requestheader-extra-headers-prefix": json.dumps(["X-Remote-Extra-"]),
})
T.at_exit(kube.stop)

METRICS = """
defaults: {pollingInterval: 2s, timeout: 2s}
metrics:
  - name: always-on
    namespaces: ["*"]
    type: cron
    metadata: {timezone: UTC, start: "0 0 1 1 *", end: "* * * * *", desiredReplicas: "3"}
"""

KUBE_API = f"""    kubernetesAPI: {{url: "{kube.url}", caFile: {pki.p('kubeca.crt')}, tokenFile: {SA_FILE}, timeout: 2s}}
"""

# Files only: the front proxy's CA and names from the config. Impersonate-* are
# listed as identity headers too, only so that kubectl (which cannot send
# arbitrary headers) can drive the front-proxy path with --as/--as-group.
FILES_CONFIG = f"""
server:
  auth:
    clientCAFile: {pki.p('clientca.crt')}
    requestHeader:
      clientCAFile: {pki.p('fpca.crt')}
      allowedNames: [front-proxy-client]
      usernameHeaders: [X-Remote-User, Impersonate-User]
      groupHeaders: [X-Remote-Group, Impersonate-Group]
    cacheTTL: 3s
    authorization: {{mode: subjectAccessReview}}
{KUBE_API}""" + METRICS

srv = Server(FILES_CONFIG)
T.at_exit(srv.stop)


def ctx_with(cert=None):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    if cert:
        c.load_cert_chain(cert[0], cert[1])
    return c


def get(server, path, cert=None, headers=None):
    """(status, parsed JSON body) with an optional client certificate and headers."""
    st, _, body = server.api(path, headers=headers or {}, context=ctx_with(cert))
    return st, json.loads(body) if body.strip().startswith("{") else body


def kc(server, path, cert=None, token=None, as_user=None, as_groups=()):
    """kubectl get --raw; always with some credentials (kubectl would prompt otherwise)."""
    extra = []
    if cert:
        extra += ["--client-certificate", cert[0], "--client-key", cert[1]]
    if token:
        extra += ["--token", token]
    if as_user:
        extra += ["--as", as_user]
    for g in as_groups:
        extra += ["--as-group", g]
    assert cert or token, "kubectl needs credentials"
    return kubectl_raw(server, path, extra)


UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


def forbidden(user, ns, reason=""):
    msg = (f'always-on.external.metrics.k8s.io is forbidden: User "{user}" cannot list resource "always-on" '
           f'in API group "external.metrics.k8s.io" in the namespace "{ns}"')
    if reason:
        msg += ": " + reason
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": msg,
            "reason": "Forbidden", "details": {"group": "external.metrics.k8s.io", "kind": "always-on"},
            "code": 403}


def assert_value(p):
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["kind"] == "ExternalMetricValueList" and d["items"][0]["value"] == "3", d


def assert_401(p):
    assert p.returncode != 0 and "Unauthorized" in p.stderr, (p.returncode, p.stdout, p.stderr)


def assert_403(p, user, ns):
    assert p.returncode != 0, p.stdout
    want = (f'Error from server (Forbidden): always-on.external.metrics.k8s.io is forbidden: User "{user}" '
            f'cannot list resource "always-on" in API group "external.metrics.k8s.io" in the namespace "{ns}"')
    assert want in p.stderr, p.stderr


def counter(text, name, labels):
    m = re.search(re.escape(name + "{" + labels + "}") + r" (\S+)", text)
    return float(m.group(1)) if m else 0.0


# ----------------------------------------------------------------------------- front proxy

@T.case
def front_proxy_with_x_remote_user_is_200():
    kube.reset()
    # the aggregator's health probe: system:masters is allowed without a review
    st, body = get(srv, GV, FP, {"X-Remote-User": "system:kube-aggregator", "X-Remote-Group": "system:masters"})
    assert st == 200 and body["kind"] == "APIResourceList", (st, body)
    st, body = get(srv, metric_path("other-ns"), FP,
                   {"X-Remote-User": "system:kube-aggregator", "X-Remote-Group": "system:masters"})
    assert st == 200 and body["items"][0]["value"] == "3", (st, body)
    assert kube.total("sar") == 0
    # a user named by the front proxy, authorized by SubjectAccessReview
    st, body = get(srv, metric_path("team-a"), FP,
                   {"X-Remote-User": "jane", "X-Remote-Group": "devs", "X-Remote-Extra-Scopes": "view"})
    assert st == 200, (st, body)
    spec = kube.sar_specs[-1]
    assert spec["user"] == "jane" and spec["groups"] == ["devs", "system:authenticated"], spec
    assert spec["extra"] == {"scopes": ["view"]}, spec
    assert spec["resourceAttributes"] == {"namespace": "team-a", "verb": "list", "group": "external.metrics.k8s.io",
                                          "version": "v1beta1", "resource": "always-on"}, spec
    # the same through kubectl: CN front-proxy-client, the user in Impersonate-User
    assert_value(kc(srv, metric_path("team-a"), cert=FP, as_user="jane"))
    assert_value(kc(srv, metric_path("elsewhere"), cert=FP, as_user="system:kube-aggregator",
                    as_groups=["system:masters"]))


def raw_request(server, path, cert, header_lines):
    """One HTTP/1.1 request with header lines as given (a header may repeat); (status, body text)."""
    import socket
    sock = ctx_with(cert).wrap_socket(socket.create_connection(("127.0.0.1", server.port), timeout=30 * SLOW))
    with sock:
        sock.sendall((f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
                      "".join(f"{k}: {v}\r\n" for k, v in header_lines) + "\r\n").encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


@T.case
def front_proxy_user_in_many_groups_is_not_431():
    # The aggregator sends one X-Remote-Group header per group: 2,001 of them (96 kB) do not fit the
    # 64 KiB that serves without request-header authentication, and must not get 431 here.
    groups = [f"group-{i:06d}-of-a-big-directory" for i in range(2000)] + ["team-a-readers"]
    lines = [("X-Remote-User", "gail")] + [("X-Remote-Group", g) for g in groups]
    assert sum(len(k) + len(v) + 4 for k, v in lines) > 64 * 1024
    kube.reset()
    st, body = raw_request(srv, metric_path("team-a"), FP, lines)
    assert st == 200 and json.loads(body)["items"][0]["value"] == "3", (st, body[:300])
    spec = kube.sar_specs[-1]
    assert spec["user"] == "gail" and spec["groups"] == groups + ["system:authenticated"], spec["groups"][-3:]


@T.case
def front_proxy_cert_with_cn_not_allowed_is_401():
    st, body = get(srv, metric_path("team-a"), INTRUDER, {"X-Remote-User": "jane", "X-Remote-Group": "system:masters"})
    assert (st, body) == (401, UNAUTHORIZED), (st, body)
    assert_401(kc(srv, metric_path("team-a"), cert=INTRUDER, as_user="jane", as_groups=["system:masters"]))


@T.case
def cert_from_rogue_ca_is_401():
    # Python's client presents its certificate whatever CAs the server names
    st, body = get(srv, metric_path("team-a"), ROGUE, {"X-Remote-User": "jane", "X-Remote-Group": "system:masters"})
    assert (st, body) == (401, UNAUTHORIZED), (st, body)
    st, body = get(srv, GV, MALLORY)
    assert (st, body) == (401, UNAUTHORIZED), (st, body)
    assert_401(kc(srv, metric_path("team-a"), cert=ROGUE, as_user="jane", as_groups=["system:masters"]))


@T.case
def identity_headers_without_cert_are_never_trusted():
    for h in ({"X-Remote-User": "system:admin", "X-Remote-Group": "system:masters"},
              {"x-remote-user": "system:admin", "x-remote-group": "system:masters"},
              {"Impersonate-User": "system:admin", "Impersonate-Group": "system:masters"}):
        st, body = get(srv, metric_path("team-b"), None, h)
        assert (st, body) == (401, UNAUTHORIZED), (h, st, body)
    # kubectl must send some credential: with a valid token the user is jane,
    # and X-Remote-Group/Impersonate-Group: system:masters changes nothing
    p = kc(srv, metric_path("team-b"), token="jane-token", as_user="system:admin", as_groups=["system:masters"])
    assert_403(p, "jane", "team-b")
    st, body = get(srv, metric_path("team-b"), None, {"Authorization": "Bearer jane-token",
                                                      "X-Remote-User": "system:admin",
                                                      "X-Remote-Group": "system:masters"})
    assert (st, body) == (403, forbidden("jane", "team-b")), (st, body)
    # a client certificate with headers: the certificate's user, not the headers'
    st, body = get(srv, metric_path("team-b"), ALICE, {"X-Remote-User": "system:admin",
                                                       "X-Remote-Group": "system:masters"})
    assert (st, body) == (403, forbidden("alice", "team-b")), (st, body)


@T.case
def expired_or_server_only_front_proxy_cert_is_401():
    st, body = get(srv, metric_path("team-a"), EXPIRED, {"X-Remote-User": "jane"})
    assert (st, body) == (401, UNAUTHORIZED), (st, body)
    assert_401(kc(srv, metric_path("team-a"), cert=EXPIRED, as_user="jane"))
    st, body = get(srv, metric_path("team-a"), SERVERAUTH, {"X-Remote-User": "jane"})
    assert (st, body) == (401, UNAUTHORIZED), (st, body)


@T.case
def front_proxy_without_username_header_is_401():
    st, body = get(srv, metric_path("team-a"), FP, {"X-Remote-Group": "system:masters"})
    assert (st, body) == (401, UNAUTHORIZED), (st, body)


def acceptable_cas(port, *flags):
    """The CA names of the server's CertificateRequest, as openssl s_client prints them."""
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *flags], input="",
                       capture_output=True, text=True, timeout=20)
    m = re.search(r"Acceptable client certificate CA names\n((?:.+\n)+?)(?:Requested|Client Certificate Types)",
                  p.stdout)
    return m.group(1).split("\n")[:-1] if m else ("none" if "No client certificate CA names sent" in p.stdout
                                                    else p.stdout)


@T.case
def certificate_request_names_the_client_cas():
    assert acceptable_cas(srv.port) == ["CN = kubernetes-client-ca", "CN = front-proxy-ca"]
    assert acceptable_cas(srv.port, "-tls1_2") == ["CN = kubernetes-client-ca", "CN = front-proxy-ca"]


# ----------------------------------------------------------------------------- client certificates

@T.case
def client_cert_user_and_groups_then_namespace_a_not_b():
    kube.reset()
    assert_value(kc(srv, metric_path("team-a"), cert=ALICE))
    spec = kube.sar_specs[-1]
    assert spec["user"] == "alice" and spec["groups"] == ["team-a-readers", "devs", "system:authenticated"], spec
    p = kc(srv, metric_path("team-b"), cert=ALICE)
    assert_403(p, "alice", "team-b")
    st, body = get(srv, metric_path("team-b"), ALICE)
    assert (st, body) == (403, forbidden("alice", "team-b")), (st, body)


@T.case
def discovery_openapi_and_health():
    kube.reset()
    for path in (GV, "/apis", "/apis/external.metrics.k8s.io", "/version"):
        p = kc(srv, path, cert=ALICE)
        assert p.returncode == 0, (path, p.stderr)
    st, _ = get(srv, "/openapi/v2", ALICE)
    assert st == 404, st   # allowed, then simply not served
    assert kube.total("sar") == 0, kube.calls
    for path in (GV, "/version", "/openapi/v2", "/apis"):
        st, body = get(srv, path)
        assert (st, body) == (401, UNAUTHORIZED), (path, st, body)
    for path in ("/healthz", "/livez", "/readyz"):
        st, body = get(srv, path)
        assert st == 200, (path, st, body)
    # a non-resource path goes to a SubjectAccessReview with nonResourceAttributes
    st, body = get(srv, "/foo", ALICE)
    assert st == 403, (st, body)
    assert body["message"] == 'forbidden: User "alice" cannot get path "/foo"' and body["details"] == {}, body
    assert kube.sar_specs[-1]["nonResourceAttributes"] == {"path": "/foo", "verb": "get"}, kube.sar_specs


# ----------------------------------------------------------------------------- tokens and reviews

@T.case
def token_review_and_sar_allowed_denied_no_opinion():
    kube.reset()
    assert_value(kc(srv, metric_path("team-a"), token="review-token"))
    tr = kube.tr_bodies[-1]
    assert tr == {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                  "spec": {"token": "review-token"}}, tr
    spec = kube.sar_specs[-1]
    assert spec["user"] == "jane" and spec["uid"] == "u-jane", spec
    assert spec["groups"] == ["devs", "system:authenticated"], spec
    # denied, with the review's reason appended as Kubernetes does
    st, body = get(srv, metric_path("forbidden-ns"), None, {"Authorization": "Bearer review-token"})
    assert (st, body) == (403, forbidden("jane", "forbidden-ns", "denied by the stand-in's policy")), (st, body)
    # no opinion: forbidden too
    assert_403(kc(srv, metric_path("team-b"), token="review-token"), "jane", "team-b")
    st, body = get(srv, metric_path("team-b"), None, {"Authorization": "Bearer review-token"})
    assert (st, body) == (403, forbidden("jane", "team-b")), (st, body)
    # a token the API does not know
    assert_401(kc(srv, metric_path("team-a"), token="nobody-token"))
    st, body = get(srv, metric_path("team-a"), None, {"Authorization": "Bearer nobody-token"})
    assert (st, body) == (401, UNAUTHORIZED), (st, body)
    # system:masters from a TokenReview is allowed without a review
    n = kube.total("sar")
    assert_value(kc(srv, metric_path("anywhere"), token="root-token"))
    assert kube.total("sar") == n
    # the ServiceAccount token was presented on every call
    assert kube.bad_auth == 0


@T.case
def reviews_are_cached_then_expire():
    kube.reset()
    for _ in range(6):
        st, _ = get(srv, metric_path("team-a"), None, {"Authorization": "Bearer cache-token"})
        assert st == 200
    for _ in range(3):
        assert_value(kc(srv, metric_path("team-a"), token="cache-token"))
    assert kube.count("tokenreview", "cache-token") == 1, kube.calls
    assert kube.count("sar", "carl", "team-a", "always-on") == 1, kube.calls
    # denials are cached as well
    for _ in range(3):
        st, _ = get(srv, metric_path("team-b"), None, {"Authorization": "Bearer cache-token"})
        assert st == 403
    assert kube.count("sar", "carl", "team-b", "always-on") == 1, kube.calls
    # unknown tokens too (one review for many attempts)
    for _ in range(3):
        get(srv, metric_path("team-a"), None, {"Authorization": "Bearer guess-1"})
    assert kube.count("tokenreview", "guess-1") == 1, kube.calls
    # cacheTTL is 3 s here
    time.sleep(3.3)
    st, _ = get(srv, metric_path("team-a"), None, {"Authorization": "Bearer cache-token"})
    assert st == 200
    assert kube.count("tokenreview", "cache-token") == 2, kube.calls
    assert kube.count("sar", "carl", "team-a", "always-on") == 2, kube.calls


@T.case
def kubernetes_api_down_fails_closed_logged_once():
    # warm the cache for jane in team-a, then take the API away
    st, _ = get(srv, metric_path("team-a"), None, {"Authorization": "Bearer jane-token"})
    assert st == 200
    kube.stop()
    try:
        for _ in range(8):
            # a token never seen: no TokenReview possible -> 401
            st, body = get(srv, metric_path("team-a"), None, {"Authorization": "Bearer late-token"})
            assert (st, body) == (401, UNAUTHORIZED), (st, body)
            # a known user but a review not cached -> 403
            st, body = get(srv, metric_path("new-ns"), ALICE)
            assert st == 403 and body["reason"] == "Forbidden", (st, body)
            assert body["message"].endswith(": the authorizer (SubjectAccessReview) could not be reached"), body
        logs = srv.logs()
        assert logs.count("denying the requests that need it (fail closed)") == 1, logs
        m = srv.metrics()
        assert counter(m, "extmetrics_authn_total", 'method="token",result="error"') >= 8, m
        assert counter(m, "extmetrics_authz_total", 'result="error"') >= 8, m
    finally:
        kube.start()
    # back: after the short back-off the same requests succeed
    wait_for(lambda: get(srv, metric_path("team-a"), None, {"Authorization": "Bearer late-token"})[0] == 200,
             timeout=15, what="recovery after the API returns")
    assert "Kubernetes API " + kube.url + ": reachable again" in srv.logs()


@T.case
def own_metrics_count_methods_and_results():
    m = srv.metrics()
    assert counter(m, "extmetrics_authn_total", 'method="requestheader",result="success"') >= 3, m
    assert counter(m, "extmetrics_authn_total", 'method="x509",result="success"') >= 2, m
    assert counter(m, "extmetrics_authn_total", 'method="token",result="success"') >= 3, m
    assert counter(m, "extmetrics_authn_total", 'method="x509",result="failure"') >= 3, m
    assert counter(m, "extmetrics_authn_total", 'method="none",result="failure"') >= 3, m
    assert counter(m, "extmetrics_authn_total", 'method="token",result="failure"') >= 1, m
    assert counter(m, "extmetrics_authz_total", 'result="allowed"') >= 5, m
    assert counter(m, "extmetrics_authz_total", 'result="denied"') >= 4, m
    assert "# TYPE extmetrics_authn_total counter" in m


# ----------------------------------------------------------------------------- from the cluster

@T.case
def from_cluster_reads_and_rereads_the_configmap():
    kube.reset()
    cfg = f"""
server:
  auth:
    fromCluster: true
    fromClusterRefresh: 1s
    cacheTTL: 1s
{KUBE_API}""" + METRICS
    s2 = Server(cfg)
    try:
        assert kube.count("configmap") >= 1
        assert acceptable_cas(s2.port) == ["CN = kubernetes-client-ca", "CN = front-proxy-ca"]
        # CAs, names and headers all come from the ConfigMap
        st, body = get(s2, metric_path("x"), FP, {"X-Remote-User": "agg", "X-Remote-Group": "system:masters"})
        assert st == 200, (st, body)
        assert_value(kc(s2, metric_path("team-a"), cert=FP, as_user="jane"))
        assert_value(kc(s2, metric_path("team-a"), cert=ALICE))
        assert_403(kc(s2, metric_path("team-b"), cert=ALICE), "alice", "team-b")
        assert_value(kc(s2, metric_path("team-a"), token="jane-token"))
        st, _ = get(s2, metric_path("team-a"), INTRUDER, {"X-Remote-User": "jane"})
        assert st == 401
        # the cluster changes the allowed names and the client CA: re-read,
        # front-proxy-client and alice are out, new connections name the new CA
        original = dict(kube.configmap)
        with kube.lock:
            kube.configmap = dict(kube.configmap, **{"requestheader-allowed-names": json.dumps(["intruder"]),
                                                     "client-ca-file": pki.pem("servingca")})
        try:
            wait_for(lambda: get(s2, metric_path("team-a"), FP, {"X-Remote-User": "jane"})[0] == 401,
                     timeout=10, what="the new allowed names")
            st, _ = get(s2, metric_path("team-a"), INTRUDER, {"X-Remote-User": "jane"})
            assert st == 200
            st, _ = get(s2, metric_path("team-a"), ALICE)
            assert st == 401
            assert acceptable_cas(s2.port) == ["CN = extmetrics-serving-ca", "CN = front-proxy-ca"]
        finally:
            with kube.lock:
                kube.configmap = original
        wait_for(lambda: get(s2, metric_path("team-a"), ALICE)[0] == 200, timeout=10, what="the old client CA back")
        assert "auth: client CAs and front-proxy settings reloaded" in s2.logs()
    finally:
        s2.stop()


@T.case
def from_cluster_unreachable_at_start_then_loaded():
    kube.stop()
    cfg = f"""
server:
  auth:
    fromCluster: true
    tokenReview: false
    authorization: {{mode: allowAuthenticated}}
{KUBE_API}""" + METRICS
    s3 = Server(cfg)
    try:
        st, _ = get(s3, metric_path("a"), ALICE)
        assert st == 401, st     # no client CA known yet: fail closed
        assert "cannot read kube-system/extension-apiserver-authentication" in s3.logs()
        kube.start()
        # retried every 10 s
        wait_for(lambda: get(s3, metric_path("a"), ALICE)[0] == 200, timeout=25, what="ConfigMap loaded on retry")
    finally:
        s3.stop()
        if kube.httpd is None:
            kube.start()


# ----------------------------------------------------------------------------- clientCert mode, static rules, rotation

@T.case
def client_cert_mode_with_static_rules():
    cfg = f"""
server:
  auth:
    mode: clientCert
    clientCAFile: {pki.p('clientca.crt')}
    authorization:
      mode: static
      rules:
        - {{groups: [team-a-readers], namespaces: [team-a], metrics: ["*"]}}
""" + METRICS
    s4 = Server(cfg)
    try:
        assert_value(kc(s4, metric_path("team-a"), cert=ALICE))
        assert_403(kc(s4, metric_path("team-b"), cert=ALICE), "alice", "team-b")
        assert_401(kc(s4, metric_path("team-a"), cert=FP, as_user="jane"))   # no front proxy in this mode
        assert_401(kc(s4, metric_path("team-a"), token="jane-token"))       # nor tokens
        assert acceptable_cas(s4.port) == ["CN = kubernetes-client-ca"]
    finally:
        s4.stop()


def peer_der(port, keep=None):
    c = ctx_with(ALICE)
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=c, timeout=10)
    conn.request("GET", metric_path("team-a"))
    r = conn.getresponse()
    r.read()
    assert r.status == 200, r.status
    der = conn.sock.getpeercert(binary_form=True)
    if keep is not None:
        keep.append(conn)
    else:
        conn.close()
    return der


def der_of(pem_file):
    with open(pem_file) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def expiry_of(pem_file):
    """notAfter of a certificate file, Unix seconds."""
    return int(ssl.cert_time_to_seconds(ssl._ssl._test_decode_cert(pem_file)["notAfter"]))


def expiry_served(server):
    m = re.search(r"^extmetrics_serving_certificate_expiry_timestamp_seconds (\S+)$", server.metrics(), re.M)
    return m and int(float(m.group(1)))


@T.case
def serving_certificate_rotation_without_dropping_connections():
    d = tmpdir()
    crt, key = os.path.join(d, "tls.crt"), os.path.join(d, "tls.key")
    shutil.copy(SERVING1[0], crt)
    shutil.copy(SERVING1[1], key)
    cfg = f"""
server:
  tls: {{certFile: {crt}, keyFile: {key}}}
  auth:
    mode: clientCert
    clientCAFile: {pki.p('clientca.crt')}
""" + METRICS
    s5 = Server(cfg)
    try:
        open_conns = []
        assert peer_der(s5.port, keep=open_conns) == der_of(SERVING1[0])
        # the expiry the certificate alert watches, of the certificate in use
        assert expiry_served(s5) == expiry_of(SERVING1[0]) != expiry_of(SERVING2[0]), s5.metrics()
        # kubectl verifies the serving certificate against its CA
        p = kubectl_raw(s5, metric_path("team-a"), ["--certificate-authority", pki.p("servingca.crt"),
                                                    "--client-certificate", ALICE[0], "--client-key", ALICE[1]])
        assert_value(p)
        # cert-manager style: new files appear (the key first, half-way a mismatching pair)
        shutil.copy(SERVING2[1], key + ".new")
        os.replace(key + ".new", key)
        time.sleep(1.5)
        assert peer_der(s5.port) == der_of(SERVING1[0])   # mismatched pair: the old one stays
        shutil.copy(SERVING2[0], crt + ".new")
        os.replace(crt + ".new", crt)
        wait_for(lambda: peer_der(s5.port) == der_of(SERVING2[0]), timeout=10, what="the new certificate")
        assert expiry_served(s5) == expiry_of(SERVING2[0]), s5.metrics()
        assert_value(kubectl_raw(s5, metric_path("team-a"), ["--certificate-authority", pki.p("servingca.crt"),
                                                             "--client-certificate", ALICE[0],
                                                             "--client-key", ALICE[1]]))
        # the connection opened before the rotation still works, with its old certificate
        conn = open_conns[0]
        conn.request("GET", metric_path("team-a"))
        r = conn.getresponse()
        assert r.status == 200 and json.loads(r.read())["items"][0]["value"] == "3"
        assert conn.sock.getpeercert(binary_form=True) == der_of(SERVING1[0])
        conn.close()
        assert "tls: serving certificate reloaded" in s5.logs()
        assert "tls: keeping the current serving certificate" in s5.logs()
    finally:
        s5.stop()


@T.case
def check_config_reports_auth_errors():
    d = tmpdir()
    bad = write(os.path.join(d, "bad.yaml"), """
server:
  auth:
    mode: clientCert
    requestHeader: {clientCAFile: /nope}
""" + METRICS)
    from lib import em
    p = em("check-config", bad)
    assert p.returncode == 1, p.stdout
    assert "clientCAFile: missing required key" in p.stdout, p.stdout
    assert "requestHeader: only with mode delegated" in p.stdout, p.stdout


if __name__ == "__main__":
    T.main()
