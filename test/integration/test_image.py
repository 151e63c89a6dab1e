"""test_image.py - `make image`: an OCI archive skopeo and umoci accept, holding only the binary, its
libraries, the CA bundle, tzdata, passwd/group and the copyright files of the Debian packages those come
from, that serves the demo config from its own root filesystem as its non-root user, with the root
read-only as the Deployment runs it."""
import http.server
import json
import os
import re
import shlex
import shutil
import signal
import ssl
import subprocess
import tarfile
import threading

from backends_prometheus import die_with_parent
from lib import ROOT, SLOW, Cases, free_port, kubectl_raw, run, tmpdir, wait_for
from deploylib import MANIFESTS, find, kustomize

T = Cases("image")
ARCHIVE = os.path.join(ROOT, "build", "extmetrics-image.oci.tar")
WORK = tmpdir()
T.at_exit(lambda: shutil.rmtree(WORK, ignore_errors=True))
GV = "/apis/external.metrics.k8s.io/v1beta1"
ZONEINFO = "/usr/share/zoneinfo/"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
done = {}


def make_image(*args):
    p = run(["make", "--no-print-directory", "-C", ROOT, "image", *args], timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def built():
    """`make image` once; its output."""
    if "out" not in done:
        done["out"] = make_image()
    return done["out"]


def ok(args):
    p = run(args, timeout=120)
    assert p.returncode == 0, f"{' '.join(args)}: {p.stderr}"
    return p.stdout


def image_config(transport="oci-archive"):
    built()
    return json.loads(ok(["skopeo", "inspect", "--config", f"{transport}:{ARCHIVE}"]))


def bundle():
    """The image unpacked as a runtime would: skopeo copies it into an OCI layout, umoci unpacks
    that into a root filesystem and a runtime spec (config.json)."""
    if "bundle" not in done:
        built()
        layout, b = os.path.join(WORK, "layout"), os.path.join(WORK, "bundle")
        ok(["skopeo", "copy", "-q", f"oci-archive:{ARCHIVE}", f"oci:{layout}:latest"])
        ok(["umoci", "unpack", "--image", f"{layout}:latest", b])
        with open(os.path.join(b, "config.json")) as f:
            done["bundle"] = (os.path.join(b, "rootfs"), json.load(f)["process"])
    return done["bundle"]


def deployment():
    return find(kustomize(os.path.join(MANIFESTS, "overlays", "quickstart")), "Deployment", "extmetrics")


def in_image(args, copy_to_tmp=(), **popen):
    """Popen of args run as the runtime spec says (uid, gid, cwd, env) inside the image's root
    filesystem: new mount and PID namespaces, the root bind-mounted read-only, /proc, /tmp a
    tmpfs (the Deployment's readOnlyRootFilesystem and emptyDir) holding copy_to_tmp, args[0]
    as PID 1. Under `timeout`, in its own process group: dropping to the image's user clears a
    parent-death signal, so timeout carries one (SIGTERM when this test dies, forwarded to the
    group) and bounds what a dead test leaves behind."""
    rootfs, proc = bundle()
    os.makedirs(os.path.join(rootfs, "proc"), exist_ok=True)   # a mount point, as runc makes it
    copies = "".join(f' && cp {shlex.quote(f)} "$R/tmp/"' for f in copy_to_tmp)
    setup = ('R=$1 W=$2 U=$3 G=$4; shift 4; mount --bind "$R" "$R" && mount -o remount,bind,ro "$R"'
             ' && mount -t proc proc "$R/proc" && mount -t tmpfs -o size=16m,mode=1777 tmpfs "$R/tmp"'
             f'{copies} && exec unshare --root="$R" --wd="$W" --setuid "$U" --setgid "$G" -- "$@"')
    env = dict(kv.split("=", 1) for kv in proc["env"])
    return subprocess.Popen(["timeout", "-s", "KILL", str(int(300 * SLOW)),
                             "unshare", "--mount", "--pid", "--fork", "sh", "-c", setup, "sh",
                             rootfs, proc["cwd"], str(proc["user"]["uid"]), str(proc["user"]["gid"]), *args],
                            env=env, preexec_fn=die_with_parent(), **popen)


def in_image_output(args):
    p = in_image(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate(timeout=60 * SLOW)
    assert p.returncode == 0, f"{args} in the image: rc={p.returncode}: {err}"
    return out


def resolve(rootfs, path, depth=0):
    """path inside rootfs with every symlink followed there (absolute targets stay inside)."""
    assert depth < 40, path
    parts = path.strip("/").split("/")
    for i in range(1, len(parts) + 1):
        cur = "/" + "/".join(parts[:i])
        if os.path.islink(rootfs + cur):
            target = os.readlink(rootfs + cur)
            base = "/" if target.startswith("/") else os.path.dirname(cur)
            return resolve(rootfs, os.path.normpath(os.path.join(base, target, *parts[i:])), depth + 1)
    return "/" + "/".join(parts)


def tree(rootfs):
    """{path: 'file'|'dir'|'link'} of the root filesystem."""
    out = {}
    for d, subdirs, names in os.walk(rootfs):
        for n in subdirs + names:
            p = os.path.join(d, n)
            rel = "/" + os.path.relpath(p, rootfs)
            out[rel] = "link" if os.path.islink(p) else "dir" if os.path.isdir(p) else "file"
    return out


def owners(paths):
    """The installed Debian packages that ship these host files (dpkg -S, by the path, its real one or,
    merged /usr, its /lib spelling, which dpkg's database may have instead)."""
    names = sorted({q for p in paths for q in (p, os.path.realpath(p), re.sub(r"^/usr/lib", "/lib", p))})
    out = run(["dpkg-query", "-S", *names], timeout=60).stdout
    return {line.split(": ", 1)[0].split(",")[0].split(":")[0].strip() for line in out.splitlines()
            if ": " in line and not line.startswith("diversion")}


def loader_list(rootfs, binary):
    """What the image's dynamic loader maps for binary, run inside the image."""
    interp = re.search(r"program interpreter: (\S+)\]", ok(["readelf", "-l", rootfs + binary])).group(1)
    out = in_image_output([interp, "--list", binary])
    assert "not found" not in out, out
    libs = {interp} | set(re.findall(r"=> (/\S+) \(0x", out)) | set(re.findall(r"^\s*(/\S+) \(0x", out, re.M))
    return {resolve(rootfs, p) for p in libs}


@T.case
def make_image_writes_an_archive_oci_and_docker_tools_read():
    out = built()
    raw = json.loads(ok(["skopeo", "inspect", "--raw", f"oci-archive:{ARCHIVE}"]))
    assert raw["mediaType"] == "application/vnd.oci.image.manifest.v1+json", raw
    assert [l["mediaType"] for l in raw["layers"]] == ["application/vnd.oci.image.layer.v1.tar+gzip"], raw
    compressed = raw["config"]["size"] + sum(l["size"] for l in raw["layers"])
    printed = float(re.search(r"([\d.]+) MB compressed", out).group(1))
    assert abs(printed - compressed / 1e6) < 0.1, (printed, compressed)
    assert compressed < 25e6, f"{compressed} bytes compressed (goal: under 25 MB)"
    # docker load reads manifest.json in the same tar: the same config through that door.
    assert image_config("docker-archive") == image_config(), "docker-archive and oci-archive configs differ"
    # Named as the manifests deploy it, for containerd/Docker (full name) and skopeo/podman (tag).
    image = deployment()["spec"]["template"]["spec"]["containers"][0]["image"]
    with tarfile.open(ARCHIVE) as tar:
        index = json.load(tar.extractfile("index.json"))
        docker = json.load(tar.extractfile("manifest.json"))
    ann = index["manifests"][0]["annotations"]
    assert ann == {"io.containerd.image.name": "docker.io/library/" + image,
                   "org.opencontainers.image.ref.name": image.split(":")[1]}, (ann, image)
    assert docker[0]["RepoTags"] == [image], docker
    print(f"# {out.splitlines()[1].strip()}")


@T.case
def config_runs_as_the_manifests_non_root_user_on_their_ports():
    cfg = image_config()
    c = cfg["config"]
    dep = deployment()
    pod = dep["spec"]["template"]["spec"]
    ctr = pod["containers"][0]
    uid, gid = c["User"].split(":")
    assert uid.isdigit() and int(uid) != 0, c["User"]
    assert (int(uid), int(gid)) == (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"])
    assert c["ExposedPorts"] == {f'{p["containerPort"]}/tcp': {} for p in ctr["ports"]}, c["ExposedPorts"]
    assert c["WorkingDir"] == "/"
    # The Deployment gives args only: the image's entrypoint runs them.
    assert "command" not in ctr and ctr["args"][0] == c["Cmd"][0] == "serve", (ctr, c)
    # The same settings as the Dockerfile's final stage (Docker users get the same image config).
    with open(os.path.join(ROOT, "Dockerfile")) as f:
        last = {w: v for w, v in re.findall(r"^(ENTRYPOINT|CMD|USER|WORKDIR)\s+(.+)$", f.read(), re.M)}
    assert c["Entrypoint"] == json.loads(last["ENTRYPOINT"]) == ["/usr/local/bin/extmetrics"], c["Entrypoint"]
    assert c["Cmd"] == json.loads(last["CMD"]) and c["User"] == last["USER"] and c["WorkingDir"] == last["WORKDIR"]
    labels = c["Labels"]
    assert labels["org.opencontainers.image.title"] == "extmetrics", labels
    assert labels["org.opencontainers.image.description"], labels
    head = ok(["git", "-C", ROOT, "rev-parse", "HEAD"]).strip()
    assert labels["org.opencontainers.image.revision"] == head, labels
    remote = run(["git", "-C", ROOT, "remote", "get-url", "origin"])
    assert ("org.opencontainers.image.source" in labels) == (remote.returncode == 0 and bool(remote.stdout.strip()))
    # The version label is what the binary in the image says it is.
    version = in_image_output([c["Entrypoint"][0], "version"]).split()
    assert labels["org.opencontainers.image.version"] == version[-1] and version[0] == "extmetrics", version
    assert cfg["os"] == "linux" and cfg["architecture"], cfg
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", cfg["created"]), cfg["created"]


@T.case
def runtime_spec_from_umoci_runs_the_entrypoint_as_that_user():
    _, proc = bundle()
    c = image_config()["config"]
    assert proc["args"] == c["Entrypoint"] + c["Cmd"], proc["args"]
    assert f'{proc["user"]["uid"]}:{proc["user"]["gid"]}' == c["User"], proc["user"]
    assert proc["cwd"] == "/"


@T.case
def holds_only_the_binary_its_libraries_ca_bundle_tzdata_and_passwd():
    rootfs, _ = bundle()
    entry = image_config()["config"]["Entrypoint"][0]
    t = tree(rootfs)
    files = {p for p, k in t.items() if k == "file"}
    libs = loader_list(rootfs, entry)
    zone = {p for p in ok(["dpkg-query", "-L", "tzdata"]).splitlines()
            if p.startswith(ZONEINFO) and os.path.isfile(p) and not os.path.islink(p)}
    etc = {"/etc/passwd", "/etc/group", "/etc/nsswitch.conf"}
    # libmariadb's authentication plugins, which it loads itself (dlopen)
    plugins = {p for p in ok(["dpkg-query", "-L", "libmariadb3"]).splitlines()
               if "/libmariadb3/plugin/" in p and os.path.isfile(p)}
    assert any(p.endswith("/caching_sha2_password.so") for p in plugins), plugins
    # every package with files in the image ships its copyright along (the LGPL/GPL libraries' terms),
    # and the common licence texts those name (base-files')
    packages = owners(libs | plugins) | {"tzdata", "ca-certificates"}   # update-ca-certificates makes the bundle
    copyrights = {resolve(rootfs, f"/usr/share/doc/{p}/copyright") for p in packages}
    named = set()
    for p in copyrights:
        with open(rootfs + p, errors="replace") as f:
            named |= {n.rstrip(".") for n in re.findall(r"/usr/share/common-licenses/([A-Za-z0-9.+_-]+)", f.read())}
    texts = {resolve(rootfs, "/usr/share/common-licenses/" + n) for n in named if n}
    assert texts, named
    licences = copyrights | texts | {resolve(rootfs, "/usr/share/doc/base-files/copyright")}
    expected = {entry, CA_BUNDLE} | libs | zone | etc | plugins | licences
    assert files == expected, f"extra: {sorted(files - expected)}, missing: {sorted(expected - files)}"
    # and make image's summary counts each of them once
    said = re.search(r"(\d+) copyright and licence files", built())
    assert said and int(said.group(1)) == len(licences), (said and said.group(0), len(licences))
    for p in licences:   # as Debian installed them
        with open(rootfs + p, "rb") as a, open(p, "rb") as b:
            assert a.read() == b.read(), p
    for pkg, licence in (("libgnutls30", "LGPL"), ("libmariadb3", "LGPL"), ("libc6", "LGPL"), ("libmicrohttpd12", "LGPL")):
        assert pkg in packages, (pkg, sorted(packages))
        with open(rootfs + f"/usr/share/doc/{pkg}/copyright", errors="replace") as f:
            assert licence in f.read(), pkg
    assert "/usr/share/common-licenses/LGPL-2.1" in texts and "/usr/share/common-licenses/GPL-3" in texts, texts
    # Libraries: from the loader's own list, each a file some installed Debian package ships.
    assert len(libs) > 10 and any("/libc.so" in p for p in libs) and any("libmicrohttpd" in p for p in libs), libs
    with open(rootfs + CA_BUNDLE, "rb") as a, open(CA_BUNDLE, "rb") as b:
        ca = a.read()
        assert ca == b.read(), "CA bundle differs from ca-certificates' on this machine"
    assert ca.count(b"-----BEGIN CERTIFICATE-----") > 100
    # Symlinks (merged /usr, library sonames, zone aliases) all land on something in the image.
    for p, k in t.items():
        if k == "link":
            assert resolve(rootfs, p) in t, f"{p} -> {os.readlink(rootfs + p)} dangles"
    # passwd/group name the image's user; nothing is owned by it or writable by it but /tmp.
    uid, gid = image_config()["config"]["User"].split(":")
    with open(rootfs + "/etc/passwd") as f:
        users = {l.split(":")[2]: l.split(":") for l in f.read().splitlines()}
    with open(rootfs + "/etc/group") as f:
        groups = {l.split(":")[2] for l in f.read().splitlines()}
    assert users[uid][3] == gid and gid in groups and set(users) == {"0", uid}, users
    for p in t:
        st = os.lstat(rootfs + p)
        assert st.st_uid == 0 and st.st_gid == 0, f"{p} owned by {st.st_uid}:{st.st_gid}"
        if t[p] != "link" and p != "/tmp":
            assert not st.st_mode & 0o6022, f"{p}: mode {oct(st.st_mode)}"
    assert os.stat(rootfs + entry).st_mode & 0o777 == 0o755
    sizes = {"binary": os.path.getsize(rootfs + entry), "libraries": sum(os.path.getsize(rootfs + p) for p in libs)}
    print(f"# {len(files)} files: binary {sizes['binary']} B, {len(libs)} libraries {sizes['libraries']} B,"
          f" {len(zone)} tzdata files, CA bundle, {' '.join(sorted(etc))}, {len(copyrights)} copyright files of"
          f" {len(packages)} packages and {len(texts)} licence texts; {sum(1 for k in t.values() if k == 'link')}"
          f" symlinks, {sum(1 for k in t.values() if k == 'dir')} directories")


@T.case
def same_inputs_give_the_same_archive_and_the_reference_is_settable():
    built()
    ref = "registry.example.com:5000/team/extmetrics:v1"
    args = [f"IMAGE={ref}", "IMAGE_SOURCE=https://ci:s3cret@git.example.com/team/extmetrics.git"]
    blobs = []
    for n in ("a", "b"):
        path = os.path.join(WORK, f"{n}.oci.tar")
        make_image(f"IMAGE_ARCHIVE={path}", *args)
        with open(path, "rb") as f:
            blobs.append(f.read())
    assert blobs[0] == blobs[1], "two builds from the same inputs differ"
    assert b"s3cret" not in blobs[0], "the remote's password went into the image"
    cfg = json.loads(ok(["skopeo", "inspect", "--config", f"oci-archive:{path}:v1"]))
    assert cfg["config"]["Labels"]["org.opencontainers.image.source"] == "https://git.example.com/team/extmetrics.git"
    with tarfile.open(path) as tar:
        index = json.load(tar.extractfile("index.json"))
        docker = json.load(tar.extractfile("manifest.json"))
    assert index["manifests"][0]["annotations"] == {"io.containerd.image.name": ref,
                                                    "org.opencontainers.image.ref.name": "v1"}, index
    assert docker[0]["RepoTags"] == [ref], docker
    # Only the config changed: the root filesystem layer is the default build's, byte for byte.
    layers = [json.loads(ok(["skopeo", "inspect", "--raw", f"oci-archive:{p}"]))["layers"] for p in (ARCHIVE, path)]
    assert layers[0] == layers[1], layers
    p = run(["make", "--no-print-directory", "-C", ROOT, "image", "IMAGE=Not A Ref",
             f"IMAGE_ARCHIVE={os.path.join(WORK, 'bad.tar')}"], timeout=600)
    assert p.returncode != 0 and "invalid image reference 'Not A Ref'" in p.stderr, p.stderr
    assert not os.path.exists(os.path.join(WORK, "bad.tar"))


class ImageServer:
    """`extmetrics serve --demo` from the image's root filesystem, on free loopback ports."""

    def __init__(self):
        self.port, self.mport = free_port(), free_port()
        self.log = open(os.path.join(WORK, "server.log"), "w+")
        entry = image_config()["config"]["Entrypoint"]
        self.proc = in_image([*entry, "serve", "--demo", "--listen", f"127.0.0.1:{self.port}",
                              "--metrics-listen", f"127.0.0.1:{self.mport}"],
                             stdout=self.log, stderr=subprocess.STDOUT)
        T.at_exit(self.kill)
        wait_for(self.ready, timeout=20, what="server in the image ready")
        # timeout -> unshare -> the server, which unshare forked as PID 1 of its namespace.
        self.pid = self.proc.pid
        for _ in range(2):
            with open(f"/proc/{self.pid}/task/{self.pid}/children") as f:
                (self.pid,) = [int(x) for x in f.read().split()]

    def ready(self):
        assert self.proc.poll() is None, f"exited rc={self.proc.returncode}: {self.logs()}"
        p = run(["curl", "-sf", f"http://127.0.0.1:{self.mport}/readyz"], timeout=5)
        return p.returncode == 0

    def logs(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def status(self, key):
        with open(f"/proc/{self.pid}/status") as f:
            return re.search(rf"^{key}:[ \t]*(.*)$", f.read(), re.M).group(1).split()

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)   # timeout made the group: all of it is ours
            self.proc.wait()


@T.case
def serves_the_demo_from_its_root_filesystem_as_non_root():
    rootfs, _ = bundle()
    srv = ImageServer()
    entry = image_config()["config"]["Entrypoint"][0]
    assert os.readlink(f"/proc/{srv.pid}/exe") == os.path.realpath(rootfs + entry)
    uid, gid = image_config()["config"]["User"].split(":")
    assert srv.status("Uid") == [uid] * 4 and srv.status("Gid") == [gid] * 4, (srv.status("Uid"), srv.status("Gid"))
    assert srv.status("Groups") == [] and srv.status("CapEff") == ["0000000000000000"]
    with open(f"/proc/{srv.pid}/mountinfo") as f:
        root = [l.split() for l in f.read().splitlines() if l.split()[4] == "/"]
    assert root and root[0][5].split(",")[0] == "ro", root
    token = ["--token=demo"]
    p = kubectl_raw(srv, f"{GV}/namespaces/default/always-on", extra=token)
    assert p.returncode == 0, p.stderr + srv.logs()
    items = json.loads(p.stdout)["items"]
    assert [(i["metricName"], i["value"]) for i in items] == [("always-on", "3")], items
    # Europe/Berlin comes from the image's tzdata (without it the demo config does not load).
    p = kubectl_raw(srv, f"{GV}/namespaces/default/business-hours?labelSelector=app%3Dweb", extra=token)
    assert p.returncode == 0, p.stderr
    item = json.loads(p.stdout)["items"][0]
    assert item["metricLabels"] == {"app": "web", "team": "demo"} and item["value"] in ("0", "5"), item
    p = kubectl_raw(srv, f"{GV}/namespaces/other/nightly-batch", extra=token)
    assert p.returncode != 0 and "NotFound" in p.stderr, p.stderr
    metrics = ok(["curl", "-sf", f"http://127.0.0.1:{srv.mport}/metrics"])
    assert re.search(r'^extmetrics_http_requests_total\{.*code="200".*\} [1-9]', metrics, re.M), metrics[:2000]
    # SIGTERM to PID 1, as the kubelet stops a container: a clean exit 0.
    os.kill(srv.pid, signal.SIGTERM)
    assert srv.proc.wait(timeout=15 * SLOW) == 0, srv.logs()
    assert "SIGTERM" in srv.logs()


@T.case
def https_backends_are_checked_against_the_image_ca_bundle():
    """A backend whose certificate no public CA signed is refused for that reason: the bundle is
    found and read in the image (without it: `error setting certificate file: <path>`)."""
    d = tmpdir()
    T.at_exit(lambda: shutil.rmtree(d, ignore_errors=True))
    ok(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        "-keyout", os.path.join(d, "key.pem"), "-out", os.path.join(d, "cert.pem")])
    httpd = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(d, "cert.pem"), os.path.join(d, "key.pem"))
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    T.at_exit(httpd.shutdown)
    cfg = os.path.join(d, "config.yaml")
    with open(cfg, "w") as f:
        json.dump({"server": {"auth": {"mode": "none"}}, "metrics": [{
            "name": "queue", "namespaces": ["*"], "type": "prometheus",
            "metadata": {"serverAddress": f"https://127.0.0.1:{httpd.server_port}", "query": "vector(1)",
                         "threshold": "1"}}]}, f)
    entry = image_config()["config"]["Entrypoint"][0]
    p = in_image([entry, "get", "--config", "/tmp/config.yaml", "default", "queue"], copy_to_tmp=[cfg],
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate(timeout=60 * SLOW)
    assert p.returncode == 1, (p.returncode, out, err)
    assert "SSL certificate problem: self-signed certificate" in err and "certificate file" not in err, err


if __name__ == "__main__":
    T.main()
