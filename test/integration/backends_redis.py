"""backends_redis.py - real Redis 7 servers on free 127.0.0.1 ports: plain (password, ACL user, TLS),
a 3-master cluster, and a master + replica watched by a sentinel."""
import atexit
import os
import shutil
import subprocess
import tempfile

from backends_prometheus import die_with_parent
from lib import Backend, free_port, stop_process, wait_for

SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
SENTINEL = shutil.which("redis-sentinel") or "/usr/bin/redis-sentinel"
CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"


def make_certs(d):
    """A CA, a server certificate for localhost and 127.0.0.1, and a client certificate."""
    def ossl(*args):
        p = subprocess.run(["openssl", *args], cwd=d, capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError(f"openssl {args}: {p.stderr}")
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
         "-subj", "/CN=extmetrics test CA")
    with open(os.path.join(d, "ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name, cn in (("server", "localhost"), ("client", "extmetrics")):
        ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}")
        extra = ["-extfile", "ext"] if name == "server" else []
        ossl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", f"{name}.pem", "-days", "2", *extra)
    # the client key again, encrypted (keyPassword)
    ossl("pkey", "-in", "client.key", "-aes256", "-passout", "pass:key-pw-42", "-out", "client-enc.key")
    return {k: open(os.path.join(d, f)).read() for k, f in
            (("ca", "ca.pem"), ("cert", "client.pem"), ("key", "client.key"), ("key_enc", "client-enc.key"))}


class Redis(Backend):
    """One redis-server. password: requirepass (the default user); users: {name: password} ACL users with
    every permission; tls_dir: certificates from make_certs (then the port speaks TLS only and, with
    client_certs, requires client certificates). stop()/start() keep port and (empty) data; pause()/resume() SIGSTOP/SIGCONT it."""

    def __init__(self, password=None, users=None, tls_dir=None, client_certs=True, extra=()):
        self.dir = tempfile.mkdtemp(prefix="emtest-redis-")
        self.port = free_port()
        self.password = password
        self.users = users or {}
        self.tls_dir = tls_dir
        self.client_certs = client_certs
        self.extra = list(extra)
        self.proc = None
        atexit.register(self.cleanup)
        self.start()

    def args(self):
        a = [SERVER, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", self.dir,
             "--logfile", os.path.join(self.dir, "redis.log")]
        if self.tls_dir:
            a += ["--port", "0", "--tls-port", str(self.port),
                  "--tls-cert-file", os.path.join(self.tls_dir, "server.pem"),
                  "--tls-key-file", os.path.join(self.tls_dir, "server.key"),
                  "--tls-ca-cert-file", os.path.join(self.tls_dir, "ca.pem"),
                  "--tls-auth-clients", "yes" if self.client_certs else "no"]
        else:
            a += ["--port", str(self.port)]
        if self.password:
            a += ["--requirepass", self.password]
        for name, pw in self.users.items():
            a += ["--user", name, "on", f">{pw}", "~*", "&*", "+@all"]
        return a + self.extra

    def start(self):
        self.proc = subprocess.Popen(self.args(), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                     preexec_fn=die_with_parent())
        wait_for(self.ready, timeout=10, what="redis ready")

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"redis-server exited rc={self.proc.returncode}: {self.logs()[-2000:]}")
        return self.cli("PING", check=False).stdout.strip() == "PONG"

    def logs(self):
        try:
            with open(os.path.join(self.dir, "redis.log")) as f:
                return f.read()
        except OSError:
            return ""

    def cli(self, *cmd, check=True, db=0):
        """redis-cli as the default user (or the first ACL user when there is no password)."""
        a = [CLI, "-h", "127.0.0.1", "-p", str(self.port), "-n", str(db), "--no-auth-warning"]
        if self.tls_dir:
            a += ["--tls", "--cacert", os.path.join(self.tls_dir, "ca.pem"),
                  "--cert", os.path.join(self.tls_dir, "client.pem"), "--key", os.path.join(self.tls_dir, "client.key")]
        if self.password:
            a += ["-a", self.password]
        elif self.users:
            name, pw = next(iter(self.users.items()))
            a += ["--user", name, "--pass", pw]
        p = subprocess.run(a + [str(c) for c in cmd], capture_output=True, text=True, timeout=30)
        if check and (p.returncode != 0 or p.stdout.startswith(("ERR", "WRONGPASS", "NOAUTH"))):
            raise AssertionError(f"redis-cli {cmd}: {p.stdout}{p.stderr}")
        return p

    def value(self, *cmd, db=0):
        return self.cli(*cmd, db=db).stdout.strip()


class RedisCluster:
    """Three masters (no replicas), every slot assigned with `redis-cli --cluster create`."""

    def __init__(self, password=None):
        self.password = password
        self.nodes = [Redis(password=password,
                            # the bus port explicitly: port + 10000 may be taken or above 65535
                            extra=("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                                   "--cluster-port", str(free_port()),
                                   "--cluster-node-timeout", "2000", *(("--masterauth", password) if password else ())))
                      for _ in range(3)]
        cmd = [CLI, "--cluster", "create", *[f"127.0.0.1:{n.port}" for n in self.nodes], "--cluster-replicas", "0",
               "--cluster-yes"]
        if password:
            cmd += ["-a", password, "--no-auth-warning"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError(f"cluster create: {p.stdout}{p.stderr}")
        wait_for(lambda: all("cluster_state:ok" in n.cli("CLUSTER", "INFO").stdout for n in self.nodes),
                 timeout=20, what="cluster state ok")

    def node_of(self, key):
        """The node serving key's slot."""
        slot = int(self.nodes[0].value("CLUSTER", "KEYSLOT", key))
        for n in self.nodes:
            for line in n.cli("CLUSTER", "NODES").stdout.splitlines():
                f = line.split()
                if "myself" in f[2]:
                    for r in f[8:]:
                        lo, _, hi = r.partition("-")
                        if lo.isdigit() and int(lo) <= slot <= int(hi or lo):
                            return n
        raise AssertionError(f"no node serves {key}")

    def cli(self, *cmd):
        """A command routed to the node that serves its key (cmd[1])."""
        return self.node_of(str(cmd[1])).value(*cmd)

    def cleanup(self):
        for n in self.nodes:
            n.cleanup()


class RedisSentinel:
    """A master and a replica (both with password) watched by one sentinel (its own password) as
    `master_name`; failover() makes the replica the master."""

    def __init__(self, master_name="mymaster", password="data-pw-1", sentinel_password="sentinel-pw-2"):
        self.name = master_name
        self.password = password
        self.sentinel_password = sentinel_password
        self.master = Redis(password=password, extra=("--masterauth", password))
        self.replica = Redis(password=password, extra=("--masterauth", password, "--replicaof", "127.0.0.1",
                                                       str(self.master.port)))
        wait_for(lambda: "master_link_status:up" in self.replica.cli("INFO", "replication").stdout, timeout=15,
                 what="replica in sync")
        self.dir = tempfile.mkdtemp(prefix="emtest-sentinel-")
        self.port = free_port()
        conf = os.path.join(self.dir, "sentinel.conf")
        with open(conf, "w") as f:
            f.write(f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\nlogfile {self.dir}/sentinel.log\n"
                    f"requirepass {sentinel_password}\n"
                    f"sentinel monitor {master_name} 127.0.0.1 {self.master.port} 1\n"
                    f"sentinel auth-pass {master_name} {password}\n"
                    f"sentinel down-after-milliseconds {master_name} 1000\n"
                    f"sentinel failover-timeout {master_name} 5000\n")
        self.proc = subprocess.Popen([SENTINEL, conf], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                     preexec_fn=die_with_parent())
        atexit.register(self.cleanup)
        wait_for(lambda: self.master_port() == self.master.port, timeout=10, what="sentinel ready")
        # the sentinel must know the replica before it can fail over to it
        wait_for(lambda: self.sentinel("SENTINEL", "REPLICAS", master_name).strip() != "", timeout=15,
                 what="sentinel sees the replica")

    def sentinel(self, *cmd):
        p = subprocess.run([CLI, "-h", "127.0.0.1", "-p", str(self.port), "-a", self.sentinel_password,
                            "--no-auth-warning", *cmd], capture_output=True, text=True, timeout=30)
        return p.stdout

    def master_port(self):
        out = self.sentinel("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.name).split()
        return int(out[1]) if len(out) == 2 else None

    def failover(self):
        """Promotes the replica (SENTINEL FAILOVER) and waits until the sentinel names it."""
        before = self.master_port()
        out = self.sentinel("SENTINEL", "FAILOVER", self.name)
        assert out.strip() == "OK", out
        wait_for(lambda: self.master_port() not in (None, before), timeout=20, what="failover")
        self.master, self.replica = self.replica, self.master
        wait_for(lambda: "role:master" in self.master.cli("INFO", "replication").stdout, timeout=15,
                 what="new master")

    def cleanup(self):
        stop_process(self.proc)
        for r in (self.master, self.replica):
            r.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)
