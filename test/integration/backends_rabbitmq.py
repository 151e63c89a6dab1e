"""backends_rabbitmq.py - a real RabbitMQ 3.10 node (Debian's rabbitmq-server) in a temp dir on free 127.0.0.1 ports:
AMQP, AMQPS (client certificates, SASL EXTERNAL), the management API over HTTP and HTTPS."""
import atexit
import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request

from backends_prometheus import die_with_parent
from backends_redis import make_certs
from lib import Backend, free_port, wait_for

# Debian's /usr/sbin/rabbitmq-server switches to the rabbitmq user; the real script runs as whoever starts it
SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
ADMIN, ADMIN_PW = "admin", "admin-pw-7"


class RabbitMQ(Backend):
    """One node (boot takes 8-25 s: one per test module). Users: admin (administrator, every vhost),
    guest (allowed from loopback), and `extmetrics` without password for SASL EXTERNAL (the client
    certificate's CN). The node (beam) is a direct child, its epmd a private one on its own port that cleanup() stops.
    stop()/start() keep ports and data; pause()/resume() SIGSTOP/SIGCONT the Erlang VM."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="emtest-rabbitmq-")
        self.stop_timeout = 60
        self.certs = make_certs(self.dir)
        self.port, self.tls_port, self.http_port, self.https_port, self.dist_port, self.epmd_port = \
            (free_port() for _ in range(6))
        self.node = f"emtest{os.getpid()}x{self.port}@localhost"
        d = self.dir
        with open(os.path.join(d, "rabbitmq.conf"), "w") as f:
            f.write(f"""listeners.tcp.default = 127.0.0.1:{self.port}
listeners.ssl.default = 127.0.0.1:{self.tls_port}
ssl_options.cacertfile = {d}/ca.pem
ssl_options.certfile = {d}/server.pem
ssl_options.keyfile = {d}/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = false
auth_mechanisms.1 = PLAIN
auth_mechanisms.2 = AMQPLAIN
auth_mechanisms.3 = EXTERNAL
ssl_cert_login_from = common_name
management.tcp.ip = 127.0.0.1
management.tcp.port = {self.http_port}
management.ssl.ip = 127.0.0.1
management.ssl.port = {self.https_port}
management.ssl.cacertfile = {d}/ca.pem
management.ssl.certfile = {d}/server.pem
management.ssl.keyfile = {d}/server.key
collect_statistics_interval = 1000
management.rates_mode = basic
""")
        with open(os.path.join(d, "enabled_plugins"), "w") as f:
            f.write("[rabbitmq_management,rabbitmq_auth_mechanism_ssl].\n")
        for sub in ("home", "mnesia", "log"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        atexit.register(self.cleanup)
        self.start()
        self.api("PUT", f"/api/users/{ADMIN}", {"password": ADMIN_PW, "tags": "administrator"}, auth=("guest", "guest"))
        self.api("PUT", f"/api/permissions/%2F/{ADMIN}", {"configure": ".*", "write": ".*", "read": ".*"},
                 auth=("guest", "guest"))
        self.add_user("extmetrics", None)

    def env(self):
        e = dict(os.environ)
        e.update({
            "HOME": os.path.join(self.dir, "home"),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": os.path.join(self.dir, "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(self.dir, "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": os.path.join(self.dir, "mnesia"),
            "RABBITMQ_LOG_BASE": os.path.join(self.dir, "log"),
            "RABBITMQ_LOGS": os.path.join(self.dir, "log", "rabbit.log"),
            "RABBITMQ_PID_FILE": os.path.join(self.dir, "rabbit.pid"),
            # a private epmd on its own port (RabbitMQ starts one whatever the VM is told), stopped by cleanup()
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-noinput",
            # set: the script exec's the VM (the child is beam itself: pause() stops it, SIGTERM stops
            # it cleanly) instead of waiting on it in the background; stdin is /dev/null
            "RABBITMQ_ALLOW_INPUT": "1",
        })
        return e

    def epmd_up(self):
        try:
            socket.create_connection(("127.0.0.1", self.epmd_port), timeout=1).close()
            return True
        except OSError:
            return False

    def start(self):
        # the node's own epmd, up before the node: the VM would start it too, but a node that asks
        # before it listens fails to boot (nodistribution) on a loaded machine
        if not self.epmd_up():
            subprocess.run(["epmd", "-port", str(self.epmd_port), "-address", "127.0.0.1", "-daemon"], check=True,
                           timeout=30)
            wait_for(self.epmd_up, timeout=30, what="epmd")
        self.proc = subprocess.Popen([SERVER], stdin=subprocess.DEVNULL, stdout=open(os.path.join(self.dir, "stdout.log"), "a"),
                                     stderr=subprocess.STDOUT, env=self.env(), cwd=self.dir,
                                     preexec_fn=die_with_parent())
        wait_for(self.ready, timeout=120, interval=0.5, what="rabbitmq ready")

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"rabbitmq-server exited rc={self.proc.returncode}: {self.logs()[-3000:]}")
        try:
            self.api("GET", "/api/overview", auth=("guest", "guest"))
            return True
        except (OSError, urllib.error.URLError):
            return False

    def logs(self):
        out = ""
        for name in ("stdout.log", os.path.join("log", "rabbit.log")):
            try:
                with open(os.path.join(self.dir, name)) as f:
                    out += f.read()
            except OSError:
                pass
        return out

    # ---------------------------------------------------------------- management API

    def api(self, method, path, body=None, auth=(ADMIN, ADMIN_PW)):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}", data=data, method=method)
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read().decode()
            return json.loads(text) if text.strip() else None

    @staticmethod
    def q(s):
        return urllib.parse.quote(s, safe="")

    def add_vhost(self, vhost):
        self.api("PUT", f"/api/vhosts/{self.q(vhost)}")
        self.api("PUT", f"/api/permissions/{self.q(vhost)}/{ADMIN}", {"configure": ".*", "write": ".*", "read": ".*"})

    def add_user(self, user, password, vhosts=("/",), tags="monitoring"):
        """A user with every permission on vhosts; tag monitoring: it may read the management API."""
        body = {"tags": tags}
        body["password_hash" if password is None else "password"] = "" if password is None else password
        self.api("PUT", f"/api/users/{self.q(user)}", body)
        for v in vhosts:
            self.api("PUT", f"/api/permissions/{self.q(v)}/{self.q(user)}", {"configure": ".*", "write": ".*", "read": ".*"})

    def declare(self, queue, vhost="/"):
        self.api("PUT", f"/api/queues/{self.q(vhost)}/{self.q(queue)}", {"durable": False, "auto_delete": False})

    def delete(self, queue, vhost="/"):
        self.api("DELETE", f"/api/queues/{self.q(vhost)}/{self.q(queue)}")

    def publish(self, queue, n, vhost="/"):
        for i in range(n):
            r = self.api("POST", f"/api/exchanges/{self.q(vhost)}/amq.default/publish",
                         {"properties": {}, "routing_key": queue, "payload": f"m{i}", "payload_encoding": "string"})
            assert r and r.get("routed"), (queue, r)

    def purge(self, queue, vhost="/"):
        self.api("DELETE", f"/api/queues/{self.q(vhost)}/{self.q(queue)}/contents")

    def get(self, queue, n, vhost="/", ack=False):
        """Takes n messages: acknowledged (gone) or requeued (ready again)."""
        return self.api("POST", f"/api/queues/{self.q(vhost)}/{self.q(queue)}/get",
                        {"count": n, "ackmode": "ack_requeue_false" if ack else "ack_requeue_true",
                         "encoding": "auto"})

    def queue_info(self, queue, vhost="/"):
        return self.api("GET", f"/api/queues/{self.q(vhost)}/{self.q(queue)}")

    def cleanup(self):
        self.stop()
        subprocess.run(["epmd", "-port", str(self.epmd_port), "-kill"], capture_output=True, timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)
