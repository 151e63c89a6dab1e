"""backends_mariadb.py - a real MariaDB 10.11 (mariadb-install-db into a temp dir) on a free 127.0.0.1 port."""
import atexit
import os
import shutil
import subprocess
import tempfile

from backends_prometheus import die_with_parent
from lib import Backend, free_port, wait_for

INSTALL = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"
SERVER = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
CLIENT = shutil.which("mariadb") or "/usr/bin/mariadb"


class MariaDB(Backend):
    """A private server: root over the Unix socket without a password, TCP on 127.0.0.1 only for users
    the tests create with passwords (wrong ones fail for real). tls_dir (certificates from
    backends_redis.make_certs): the server offers TLS. The server is a direct child, so it dies with
    the test process; stop()/start() keep port and data; pause()/resume() SIGSTOP/SIGCONT it."""

    def __init__(self, tls_dir=None):
        self.dir = tempfile.mkdtemp(prefix="emtest-mariadb-")
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "mysqld.sock")
        self.port = free_port()
        self.tls_dir = tls_dir
        self.stop_timeout = 60   # InnoDB's shutdown
        p = subprocess.run([INSTALL, "--no-defaults", f"--datadir={self.data}", "--auth-root-authentication-method=socket",
                            "--skip-test-db", *(["--user=root"] if os.geteuid() == 0 else [])],
                           capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise AssertionError(f"mariadb-install-db failed: {p.stdout}{p.stderr}")
        atexit.register(self.cleanup)
        self.start()

    def start(self):
        args = [SERVER, "--no-defaults", f"--datadir={self.data}", f"--socket={self.sock}", f"--port={self.port}",
                "--bind-address=127.0.0.1", "--skip-log-bin", "--innodb-buffer-pool-size=16M",
                "--skip-name-resolve", f"--pid-file={os.path.join(self.dir, 'mysqld.pid')}",
                f"--log-error={os.path.join(self.dir, 'error.log')}"]
        if os.geteuid() == 0:
            args.append("--user=root")
        if self.tls_dir:
            args += [f"--ssl-cert={os.path.join(self.tls_dir, 'server.pem')}",
                     f"--ssl-key={os.path.join(self.tls_dir, 'server.key')}",
                     f"--ssl-ca={os.path.join(self.tls_dir, 'ca.pem')}"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                     preexec_fn=die_with_parent())
        wait_for(self.ready, timeout=30, what="mariadb ready")

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"mariadbd exited rc={self.proc.returncode}: {self.logs()[-3000:]}")
        return self.sql("SELECT 1", check=False).returncode == 0

    def logs(self):
        try:
            with open(os.path.join(self.dir, "error.log")) as f:
                return f.read()
        except OSError:
            return ""

    def sql(self, sql, db=None, check=True):
        """Runs SQL as root over the Unix socket."""
        p = subprocess.run([CLIENT, "--no-defaults", "-S", self.sock, "-uroot", "-N", "-B",
                            *([db] if db else []), "-e", sql], capture_output=True, text=True, timeout=30)
        if check and p.returncode != 0:
            raise AssertionError(f"mariadb failed: {sql}: {p.stderr}")
        return p

    def scalar(self, sql, db=None):
        return self.sql(sql, db).stdout.strip()
