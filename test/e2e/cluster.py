"""cluster.py - a real Kubernetes control plane on 127.0.0.1: etcd, kube-apiserver (aggregator, front proxy, RBAC)
and kube-controller-manager (HPA and workload controllers) on free ports, with its PKI, kubectl and a REST client."""
import base64
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from backends_prometheus import die_with_parent  # noqa: E402
from lib import free_port, tmpdir, wait_for, write  # noqa: E402

FEATURE_GATES = "HPAScaleToZero=true"
CONTROLLERS = "serviceaccount-token,serviceaccount,horizontalpodautoscaling,deployment,replicaset,statefulset"


class Proc:
    """A child process with its log file; stop() ends it by its PID (SIGTERM, then SIGKILL)."""

    def __init__(self, name, args, d, env=None):
        self.name, self.args = name, args
        self.log_path = os.path.join(d, f"{name}.log")
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     preexec_fn=die_with_parent())

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def check(self):
        if not self.alive():
            raise AssertionError(f"{self.name} exited rc={self.proc.returncode}: {self.tail()}")

    def tail(self, n=3000):
        self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()[-n:]

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


# ---------------------------------------------------------------- PKI (openssl CLI)

def _openssl(d, *args):
    p = subprocess.run(["openssl", *args], cwd=d, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args[:2])} failed: {p.stderr}")


def make_ca(d, name, cn):
    """A self-signed CA: d/name.crt, d/name.key."""
    _openssl(d, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
             "-subj", f"/CN={cn}", "-keyout", f"{name}.key", "-out", f"{name}.crt")
    return os.path.join(d, f"{name}.crt"), os.path.join(d, f"{name}.key")


def issue(d, ca, name, cn, org=None, sans=None, usage="serverAuth"):
    """A certificate signed by ca (crt, key): d/name.crt, d/name.key."""
    subj = f"/CN={cn}" + (f"/O={org}" if org else "")
    _openssl(d, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", subj,
             "-keyout", f"{name}.key", "-out", f"{name}.csr")
    ext = f"extendedKeyUsage={usage}\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
    if sans:
        ext += "subjectAltName=" + ",".join(sans) + "\n"
    write(os.path.join(d, f"{name}.ext"), ext)
    _openssl(d, "x509", "-req", "-in", f"{name}.csr", "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
             "-days", "2", "-out", f"{name}.crt", "-extfile", f"{name}.ext")
    return os.path.join(d, f"{name}.crt"), os.path.join(d, f"{name}.key")


class PKI:
    """What a kubeadm cluster has: the cluster CA and apiserver certificate, the front-proxy CA and its
    client certificate (CN front-proxy-client), the service-account signing key."""

    def __init__(self, d):
        self.dir = d
        self.ca = make_ca(d, "ca", "e2e-cluster-ca")
        self.apiserver = issue(d, self.ca, "apiserver", "kube-apiserver",
                               sans=["IP:127.0.0.1", "DNS:localhost", "DNS:kubernetes.default.svc"])
        self.front_proxy_ca = make_ca(d, "front-proxy-ca", "e2e-front-proxy-ca")
        self.front_proxy_client = issue(d, self.front_proxy_ca, "front-proxy-client", "front-proxy-client",
                                        usage="clientAuth")
        self.sa_key = os.path.join(d, "sa.key")
        self.sa_pub = os.path.join(d, "sa.pub")
        _openssl(d, "genrsa", "-out", "sa.key", "2048")
        _openssl(d, "rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub")


# ---------------------------------------------------------------- the control plane

class ControlPlane:
    """etcd + kube-apiserver + kube-controller-manager. users: name -> (token, groups) for the static
    token file (admin is in system:masters). downscale: the controller manager's
    --horizontal-pod-autoscaler-downscale-stabilization (HPAs without behavior)."""

    def __init__(self, bindir, users=None, downscale="5m0s", sync="5s"):
        self.bindir = bindir
        self.dir = tmpdir()
        self.procs = []
        self.pki = PKI(self.dir)
        self.tokens = {"admin": ("admin-" + os.urandom(8).hex(), ["system:masters"]),
                       "system:kube-controller-manager": ("kcm-" + os.urandom(8).hex(), [])}
        for name, groups in (users or {}).items():
            self.tokens[name] = (f"{name}-" + os.urandom(8).hex(), list(groups))
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self.kubeconfig = self.kubeconfig_for("admin")
        self.downscale, self.sync = downscale, sync

    def start(self):
        try:
            self._start_etcd()
            self._start_apiserver()
            self._start_controller_manager()
        except BaseException:
            self.stop()
            raise

    def _start_etcd(self):
        cport, pport = free_port(), free_port()
        peer = f"http://127.0.0.1:{pport}"
        self.etcd_url = f"http://127.0.0.1:{cport}"
        self.etcd = self._spawn("etcd", [
            shutil.which("etcd") or "/usr/bin/etcd", "--name", "e2e", "--data-dir", os.path.join(self.dir, "etcd"),
            "--listen-client-urls", self.etcd_url, "--advertise-client-urls", self.etcd_url,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", f"e2e={peer}",
            "--log-level", "warn"])

        def healthy():
            self.etcd.check()
            with urllib.request.urlopen(self.etcd_url + "/health", timeout=2) as r:
                return json.load(r).get("health") == "true"
        wait_for(healthy, timeout=30, interval=0.2, what="etcd healthy")

    def _start_apiserver(self):
        p = self.pki
        tokens = os.path.join(self.dir, "tokens.csv")
        with open(tokens, "w") as f:
            for name, (tok, groups) in self.tokens.items():
                f.write(f'{tok},{name},{name}' + (f',"{",".join(groups)}"' if groups else "") + "\n")
        self.apiserver = self._spawn("kube-apiserver", [
            os.path.join(self.bindir, "kube-apiserver"),
            "--etcd-servers", self.etcd_url,
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={self.port}",
            "--insecure-port=0",
            f"--tls-cert-file={p.apiserver[0]}", f"--tls-private-key-file={p.apiserver[1]}",
            f"--client-ca-file={p.ca[0]}",
            "--authorization-mode=RBAC", f"--token-auth-file={tokens}",
            f"--service-account-key-file={p.sa_pub}", f"--service-account-signing-key-file={p.sa_key}",
            "--service-account-issuer=https://kubernetes.default.svc",
            "--service-cluster-ip-range=10.96.0.0/24",
            # Endpoints refuse a loopback address: nothing to reconcile for `kubernetes`.
            "--endpoint-reconciler-type=none",
            f"--feature-gates={FEATURE_GATES}",
            # The aggregator's front proxy (what kubeadm configures).
            f"--requestheader-client-ca-file={p.front_proxy_ca[0]}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User", "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={p.front_proxy_client[0]}",
            f"--proxy-client-key-file={p.front_proxy_client[1]}",
            f"--cert-dir={os.path.join(self.dir, 'apiserver-certs')}",
            "--profiling=false", "--v=1"])
        wait_for(lambda: self.apiserver.check() or self.raw_status("/readyz") == 200, timeout=120, interval=0.5,
                 what="kube-apiserver ready")

    def _start_controller_manager(self):
        kcm = self.kubeconfig_for("system:kube-controller-manager")
        self.controller_manager = self._spawn("kube-controller-manager", [
            os.path.join(self.bindir, "kube-controller-manager"),
            f"--kubeconfig={kcm}", f"--authentication-kubeconfig={kcm}", f"--authorization-kubeconfig={kcm}",
            "--bind-address=127.0.0.1", f"--secure-port={free_port()}", "--port=0",
            f"--cert-dir={os.path.join(self.dir, 'kcm-certs')}",
            "--use-service-account-credentials",
            f"--service-account-private-key-file={self.pki.sa_key}", f"--root-ca-file={self.pki.ca[0]}",
            f"--controllers={CONTROLLERS}", f"--feature-gates={FEATURE_GATES}",
            f"--horizontal-pod-autoscaler-sync-period={self.sync}",
            f"--horizontal-pod-autoscaler-downscale-stabilization={self.downscale}",
            "--leader-elect=false", "--profiling=false", "--v=1"])
        # The HPA controller's own ServiceAccount and token: its identity from now on.
        wait_for(lambda: self.controller_manager.check() or self.sa_token("kube-system", "horizontal-pod-autoscaler"),
                 timeout=90, interval=0.5, what="the HPA controller's ServiceAccount token")

    def _spawn(self, name, args):
        proc = Proc(name, args, self.dir)
        self.procs.append(proc)
        return proc

    def stop(self):
        """Stops every process by its PID, newest first."""
        for proc in reversed(self.procs):
            proc.stop()
        self.procs = []

    # ------------------------------------------------------------ clients

    def kubeconfig_for(self, user):
        """The kubeconfig of user, written once (scenarios run kubectl from several threads at once)."""
        token = self.tokens[user][0]
        path = os.path.join(self.dir, f"kubeconfig-{user.replace(':', '_')}")
        with self.lock:
            if not os.path.exists(path):
                write(path, json.dumps({
                    "apiVersion": "v1", "kind": "Config", "current-context": "e2e",
                    "clusters": [{"name": "e2e", "cluster": {"server": self.url,
                                                             "certificate-authority": self.pki.ca[0]}}],
                    "users": [{"name": user, "user": {"token": token}}],
                    "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": user}}]}))
        return path

    def kubectl(self, *args, user="admin", input=None, check=True, timeout=60):
        """kubectl against this cluster; returns CompletedProcess (raises on failure with check)."""
        env = dict(os.environ, KUBECONFIG=self.kubeconfig_for(user))
        p = subprocess.run(["kubectl", *args], capture_output=True, text=True, env=env, input=input,
                           timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed rc={p.returncode}: {p.stderr}")
        return p

    def get(self, *args, user="admin"):
        """kubectl get ... -o json, parsed."""
        return json.loads(self.kubectl("get", *args, "-o", "json", user=user).stdout)

    def apply(self, objects):
        """kubectl apply of a list of objects (dicts)."""
        return self.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                                  "items": list(objects)})).stdout

    def _ctx(self):
        return ssl.create_default_context(cafile=self.pki.ca[0])

    def request(self, method, path, body=None, user="admin", ctype="application/json"):
        """A REST call as user; returns (status, parsed JSON or text)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, method=method, data=data, headers={
            "Authorization": f"Bearer {self.tokens[user][0]}", "Content-Type": ctype, "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, context=self._ctx(), timeout=30) as r:
                st, text = r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            st, text = e.code, e.read().decode()
        try:
            return st, json.loads(text)
        except ValueError:
            return st, text

    def raw_status(self, path):
        try:
            return self.request("GET", path)[0]
        except OSError:
            return None

    def sa_token(self, ns, name):
        """The legacy token Secret of a ServiceAccount (what v1.20 mounts in pods), or None yet."""
        st, sa = self.request("GET", f"/api/v1/namespaces/{ns}/serviceaccounts/{name}")
        if st != 200 or not sa.get("secrets"):
            return None
        st, sec = self.request("GET", f"/api/v1/namespaces/{ns}/secrets/{sa['secrets'][0]['name']}")
        if st != 200 or "token" not in sec.get("data", {}):
            return None
        return base64.b64decode(sec["data"]["token"]).decode()

    def token_request(self, ns, name, audience, seconds=3600):
        """A bound token from the TokenRequest API: what a projected volume holds."""
        st, tr = self.request("POST", f"/api/v1/namespaces/{ns}/serviceaccounts/{name}/token", {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"audiences": [audience], "expirationSeconds": seconds}})
        assert st == 201, (st, tr)
        return tr["status"]["token"]


class KubeletStandIn:
    """No kubelet runs here, so pods stay Pending. This marks the pods of the given namespaces Running and
    Ready through the pods/status subresource, as a kubelet would once their containers started (the HPA
    multiplies Value targets by ready pods; StatefulSets wait for each pod to be ready)."""

    def __init__(self, cp, namespaces, period=1.0):
        self.cp, self.namespaces, self.period = cp, set(namespaces), period
        self.stopping = threading.Event()
        self.marked = 0
        self.errors = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping.wait(self.period):
            for ns in list(self.namespaces):
                try:
                    self._mark(ns)
                except Exception as e:  # keep standing in; the scenarios report what they miss
                    self.errors.append(repr(e))

    def _mark(self, ns):
        st, pods = self.cp.request("GET", f"/api/v1/namespaces/{ns}/pods")
        if st != 200:
            return
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for pod in pods.get("items", []):
            status = pod.get("status", {})
            if pod["metadata"].get("deletionTimestamp") or status.get("phase") == "Running":
                continue
            cond = [{"type": t, "status": "True", "lastTransitionTime": now}
                    for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")]
            body = {"status": {"phase": "Running", "conditions": cond, "startTime": now, "podIP": "10.0.0.1",
                               "containerStatuses": [{"name": c["name"], "image": c["image"], "imageID": "",
                                                      "ready": True, "started": True, "restartCount": 0,
                                                      "state": {"running": {"startedAt": now}}}
                                                     for c in pod["spec"]["containers"]]}}
            st, _ = self.cp.request("PATCH", f"/api/v1/namespaces/{ns}/pods/{pod['metadata']['name']}/status",
                                    body, ctype="application/merge-patch+json")
            if st == 200:
                self.marked += 1

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=10)
