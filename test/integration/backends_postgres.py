"""backends_postgres.py - a real PostgreSQL 15 (initdb into a temp dir) on a free 127.0.0.1 port."""
import atexit
import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile

from backends_prometheus import die_with_parent
from lib import free_port, wait_for


def _bindir():
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    raise AssertionError("PostgreSQL server binaries not found (apt-get install postgresql)")


BIN = _bindir()
PSQL = shutil.which("psql") or os.path.join(BIN, "psql")


class Postgres:
    """A private cluster: local (Unix socket) connections trust, TCP
    connections on 127.0.0.1 need a SCRAM password, so wrong passwords fail
    for real. initdb refuses root, so as root the server runs as `postgres`.
    The postmaster is a direct child (not daemonised by pg_ctl), so it dies
    with the test process. stop()/start() keep port and data."""

    def __init__(self, superuser_password="postgres-pw"):
        self.root = os.geteuid() == 0
        self.dir = tempfile.mkdtemp(prefix="emtest-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.superuser_password = superuser_password
        self.proc = None
        self.log = None
        if self.root:
            pw = pwd.getpwnam("postgres")
            self.uid, self.gid = pw.pw_uid, pw.pw_gid
            os.chown(self.dir, self.uid, self.gid)
        pwfile = os.path.join(self.dir, "pwfile")
        with open(pwfile, "w") as f:
            f.write(superuser_password + "\n")
        if self.root:
            os.chown(pwfile, self.uid, self.gid)
        p = subprocess.run([os.path.join(BIN, "initdb"), "-D", self.data, "-U", "postgres", "--pwfile", pwfile,
                            "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync", "-E", "UTF8",
                            "--locale=C.UTF-8"],
                           capture_output=True, text=True, preexec_fn=self._as_owner, timeout=120)
        os.unlink(pwfile)
        if p.returncode != 0:
            raise AssertionError(f"initdb failed: {p.stdout}{p.stderr}")
        atexit.register(self.cleanup)
        self.start()

    def _as_owner(self):
        if self.root:
            os.setgid(self.gid)
            os.setuid(self.uid)


    def start(self):
        self.log = open(os.path.join(self.dir, "postgres.log"), "a")
        if self.root:
            os.chown(self.log.name, self.uid, self.gid)
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "postgres"), "-D", self.data, "-p", str(self.port), "-k", self.dir,
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off",
             "-c", "synchronous_commit=off", "-c", "log_min_messages=warning"],
            stdout=self.log, stderr=subprocess.STDOUT,
            # the death signal is set after setuid: a credential change clears it
            preexec_fn=die_with_parent(then=self._as_owner))
        wait_for(self.ready, timeout=20, what="postgres ready")

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"postgres exited rc={self.proc.returncode}: {self.logs()}")
        return self.psql("SELECT 1", check=False).returncode == 0

    def logs(self):
        with open(os.path.join(self.dir, "postgres.log")) as f:
            return f.read()

    def psql(self, sql, db="postgres", check=True):
        """Runs SQL as the superuser over the Unix socket (trust)."""
        p = subprocess.run([PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", self.dir,
                            "-p", str(self.port), "-U", "postgres", "-d", db, "-c", sql],
                           capture_output=True, text=True, timeout=30)
        if check and p.returncode != 0:
            raise AssertionError(f"psql failed: {sql}: {p.stderr}")
        return p

    def scalar(self, sql, db="postgres"):
        return self.psql(sql, db).stdout.strip()

    def require_tls(self, cn):
        """Turns on TLS (a self-signed certificate for cn) and makes TCP connections require it, as a
        client's `sslmode: require` expects."""
        crt, key = os.path.join(self.dir, "server.crt"), os.path.join(self.dir, "server.key")
        p = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-days", "2", "-subj", f"/CN={cn}", "-keyout", key, "-out", crt],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        os.chmod(key, 0o600)
        if self.root:
            os.chown(crt, self.uid, self.gid)
            os.chown(key, self.uid, self.gid)
        hba = os.path.join(self.data, "pg_hba.conf")
        with open(hba) as f:
            lines = f.read().splitlines()
        with open(hba, "w") as f:
            f.write("\n".join(re.sub(r"^host(\s)", r"hostssl\1", l) for l in lines) + "\n")
        for sql in (f"ALTER SYSTEM SET ssl_cert_file = '{crt}'", f"ALTER SYSTEM SET ssl_key_file = '{key}'",
                    "ALTER SYSTEM SET ssl = on", "SELECT pg_reload_conf()"):
            self.psql(sql)
        wait_for(lambda: self.scalar("SHOW ssl") == "on", timeout=10, what="ssl on")

    def stop(self):
        """Fast shutdown (SIGINT): clients are disconnected, like a restart."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(2)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log:
            self.log.close()
            self.log = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
