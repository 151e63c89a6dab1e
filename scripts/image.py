#!/usr/bin/env python3
"""image.py - `make image`: the OCI image of build/extmetrics, assembled without a container engine.

The root filesystem is one layer holding only what the binary needs at run time, every file taken
from this machine's installed Debian packages: the stripped binary, the shared libraries the
dynamic loader resolves for it (and the loader), the CA bundle of ca-certificates, tzdata's zone
files, /etc/passwd, /etc/group and /etc/nsswitch.conf; and, for licence compliance (LGPL and GPL
libraries travel with their terms), /usr/share/doc/PACKAGE/copyright of every package with files
in it and the common licence texts those name. The image config (user, entrypoint, cmd,
ports, working directory, labels) is read from the Dockerfile's final stage, so the Docker build and
this one describe the same image. The output is one tar that is both an OCI image layout
(skopeo/podman/containerd `oci-archive:`) and a `docker save` archive (manifest.json, for
`docker load`). Fixed mtimes, owners and entry order, so the same inputs give the same digests.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import re
import shlex
import subprocess
import sys
import tarfile
import tempfile
import time

NAME = "extmetrics"
# Debian's default PATH, as the bookworm-slim base of the Dockerfile sets it.
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
DOC = "/usr/share/doc"
COMMON_LICENSES = "/usr/share/common-licenses"
ZONEINFO = "/usr/share/zoneinfo"
# Without it glibc asks DNS before /etc/hosts (its built-in default), so `localhost` or a
# hostAliases entry would go to the cluster's DNS first.
NSSWITCH = "passwd: files\ngroup: files\nhosts: files dns\n"
# dpkg architecture -> OCI platform (architecture, variant).
ARCHES = {"amd64": ("amd64", None), "arm64": ("arm64", "v8"), "armhf": ("arm", "v7"), "i386": ("386", None),
          "ppc64el": ("ppc64le", None), "s390x": ("s390x", None), "riscv64": ("riscv64", None)}
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


class ImageError(Exception):
    pass


# --- Dockerfile: the image config is declared there once --------------------------------------

def dockerfile_final_stage(text):
    """The final stage's instructions as (WORD, rest) pairs, continuation lines joined."""
    stages, cur = [], ""
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("#") or (not s and not cur):   # comments may sit inside a continued instruction
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        word, _, rest = (cur + s).partition(" ")
        cur = ""
        if word.upper() == "FROM":
            stages.append([])
        elif stages:
            stages[-1].append((word.upper(), rest.strip()))
    if not stages:
        raise ImageError("Dockerfile: no FROM")
    return stages[-1]


def substitute(value, args):
    """$NAME and ${NAME} from the stage's ARGs (as docker build does for LABEL, USER, WORKDIR)."""
    return re.sub(r"\$(?:\{(\w+)\}|(\w+))", lambda m: args.get(m.group(1) or m.group(2), ""), value)


def image_settings(stage, build_args):
    """User, workdir, ports, entrypoint, cmd, labels and the binary's path from the final stage."""
    args, out = {}, {"labels": {}, "ports": [], "workdir": "/"}
    for word, rest in stage:
        if word == "ARG":
            name, eq, default = rest.partition("=")
            args[name] = build_args.get(name, default if eq else "")
        elif word == "LABEL":
            for pair in shlex.split(rest):
                k, _, v = pair.partition("=")
                out["labels"][k] = substitute(v, args)
        elif word == "USER":
            out["user"] = substitute(rest, args)
        elif word == "WORKDIR":
            out["workdir"] = substitute(rest, args)
        elif word == "EXPOSE":
            out["ports"] += [p if "/" in p else p + "/tcp" for p in rest.split()]
        elif word in ("ENTRYPOINT", "CMD"):
            out[word.lower()] = json.loads(rest)
        elif word == "COPY" and rest.startswith("--from="):
            out["binary_path"] = rest.split()[-1]
    for key, what in (("user", "USER"), ("entrypoint", "ENTRYPOINT"), ("binary_path", "COPY --from=STAGE")):
        if key not in out:
            raise ImageError(f"Dockerfile: final stage has no {what}")
    # An unset build arg gives an empty label: leave it out rather than ship "".
    out["labels"] = {k: v for k, v in out["labels"].items() if v}
    return out


def parse_user(user):
    """USER uid:gid, numeric (runAsNonRoot verifies a numeric user without reading /etc/passwd)."""
    m = re.fullmatch(r"(\d+)(?::(\d+))?", user)
    if not m or int(m.group(1)) == 0:
        raise ImageError(f"Dockerfile: USER {user!r} must be a numeric non-root uid[:gid]")
    return int(m.group(1)), int(m.group(2) or m.group(1))


def normalize_ref(ref):
    """`extmetrics:latest` -> (docker.io/library/extmetrics:latest, latest), as Docker names it."""
    name, tag = ref, "latest"
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = ref.rsplit(":", 1)
    if "@" in ref or not re.fullmatch(r"[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::\d+)?(?:/[a-z0-9._-]+)*", name) \
            or not re.fullmatch(r"[\w][\w.-]{0,127}", tag):
        raise ImageError(f"invalid image reference {ref!r} (want NAME[:TAG])")
    first = name.split("/", 1)[0]
    if not ("/" in name and ("." in first or ":" in first or first == "localhost")):
        name = "docker.io/" + (name if "/" in name else "library/" + name)
    return f"{name}:{tag}", tag


def scrub_url(url):
    """A git remote URL without any user:password@ (it becomes a public label)."""
    return re.sub(r"^(\w[\w+.-]*://)[^/@]*@", r"\1", url)


# --- the root filesystem ----------------------------------------------------------------------

class Rootfs:
    """Entries by absolute path: ("dir", mode) | ("file", mode, bytes) | ("link", target)."""

    def __init__(self):
        self.entries = {"/": ("dir", 0o755)}

    def dirs_of(self, path):
        parent = os.path.dirname(path)
        while parent not in self.entries:
            self.entries[parent] = ("dir", 0o755)
            parent = os.path.dirname(parent)

    def add(self, path, entry):
        self.dirs_of(path)
        self.entries[path] = entry

    def add_bytes(self, path, data, mode=0o644):
        self.add(path, ("file", mode, data))

    def add_host(self, path, depth=0):
        """A host file at the same path, with every symlink met on the way (/lib -> usr/lib,
        libfoo.so.1 -> libfoo.so.1.2.3) recreated, so the loader finds it as on the host."""
        if depth > 40:
            raise ImageError(f"{path}: too many symlinks")
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            cur = "/" + "/".join(parts[:i])
            if os.path.islink(cur):
                target = os.readlink(cur)
                self.add(cur, ("link", target))
                resolved = os.path.normpath(os.path.join(os.path.dirname(cur), target))
                return self.add_host("/".join([resolved] + parts[i:]), depth + 1)
        if not os.path.isfile(path):
            raise ImageError(f"{path}: not a regular file")
        with open(path, "rb") as f:
            self.add_bytes(path, f.read(), os.stat(path).st_mode & 0o755)

    def files(self):
        return {p: e for p, e in self.entries.items() if e[0] == "file"}


def run(args, **kw):
    p = subprocess.run(args, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise ImageError(f"{' '.join(args)}: exit {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def interpreter(binary):
    m = re.search(r"Requesting program interpreter: (\S+)\]", run(["readelf", "-l", binary]))
    if not m:
        raise ImageError(f"{binary}: not a dynamically linked ELF executable")
    return m.group(1)


def linked_libraries(binary):
    """The files the dynamic loader maps for binary (its NEEDED entries, recursively), itself included."""
    interp = interpreter(binary)
    # A clean environment: LD_LIBRARY_PATH or LD_PRELOAD must not decide what ships.
    out = run([interp, "--list", binary], env={})
    libs = [interp]
    for line in out.splitlines():
        line = line.strip()
        if "not found" in line:
            raise ImageError(f"{binary}: {line}")
        m = re.match(r"\S+ => (/\S+) \(0x", line) or re.match(r"(/\S+) \(0x", line)
        if m and m.group(1) not in libs:
            libs.append(m.group(1))   # vdso lines have no path
    if len(libs) < 2:
        raise ImageError(f"{interp} --list {binary}: no libraries read from {out!r}")
    return libs


def debian_packages(paths):
    """{package: version} of the installed Debian packages that ship paths (each found by the path
    the loader named or by its real path: merged /usr has both spellings in dpkg's database)."""
    want = {p: {p, os.path.realpath(p)} for p in paths}
    q = subprocess.run(["dpkg-query", "-S", *sorted(set().union(*want.values()))], capture_output=True, text=True)
    owner = {}
    for line in q.stdout.splitlines():
        pkgs, sep, path = line.partition(": ")
        if sep and not pkgs.startswith("diversion"):
            owner[path] = pkgs.split(",")[0].split(":")[0].strip()
    found = {}
    for p, names in want.items():
        pkg = next((owner[n] for n in sorted(names) if n in owner), None)
        if not pkg:
            raise ImageError(f"{p}: no installed Debian package ships it (dpkg-query -S)")
        found[pkg] = None
    return {pkg: package_version(pkg) for pkg in sorted(found)}


def package_version(pkg):
    v = run(["dpkg-query", "-W", "-f=${Status} ${Version}", pkg]).split()
    if v[:3] != ["install", "ok", "installed"]:
        raise ImageError(f"Debian package {pkg} is not installed (apt-get install {pkg})")
    return v[3]


# Libraries that load modules of their own package at run time (dlopen), which the loader's list
# cannot show: libmariadb's client authentication plugins (MySQL 8's default caching_sha2_password,
# mysql_clear_password for allowCleartextPasswords, ed25519). Their own libraries are the binary's.
MODULE_DIRS = {"libmariadb3": "/libmariadb3/plugin/"}


def module_paths(packages):
    out = []
    for pkg, sub in MODULE_DIRS.items():
        if pkg in packages:
            out += [p for p in run(["dpkg-query", "-L", pkg]).splitlines() if sub in p and os.path.isfile(p)]
    return sorted(out)


def zoneinfo_paths():
    """Everything tzdata installs under /usr/share/zoneinfo (links out of it, like localtime ->
    /etc/localtime, stay behind: /etc/localtime is not in the image)."""
    out = []
    for p in run(["dpkg-query", "-L", "tzdata"]).splitlines():
        if not p.startswith(ZONEINFO + "/"):
            continue
        if os.path.islink(p):
            target = os.path.normpath(os.path.join(os.path.dirname(p), os.readlink(p)))
            if not target.startswith(ZONEINFO + "/") or not os.path.exists(target):
                continue
        out.append(p)
    return out


def licence_paths(packages):
    """/usr/share/doc/PACKAGE/copyright of each package, and the texts of /usr/share/common-licenses
    they name (base-files', whose copyright comes along then)."""
    packages, out, named = set(packages), [], set()
    for pkg in sorted(packages):
        p = f"{DOC}/{pkg}/copyright"
        if not os.path.isfile(p):
            raise ImageError(f"{p} is missing (a dpkg path-exclude for /usr/share/doc?): "
                             "the image must ship each package's copyright and licence")
        out.append(p)
        with open(p, errors="replace") as f:
            named |= {n.rstrip(".") for n in re.findall(COMMON_LICENSES + r"/([A-Za-z0-9.+_-]+)", f.read())}
    texts = [f"{COMMON_LICENSES}/{n}" for n in sorted(named) if n and os.path.isfile(f"{COMMON_LICENSES}/{n}")]
    if texts and "base-files" not in packages:
        out += licence_paths(["base-files"])
    return list(dict.fromkeys(out + texts))   # once each: base-files names texts the others name too


def build_rootfs(binary, settings):
    uid, gid = parse_user(settings["user"])
    fs, summary = Rootfs(), {}
    with tempfile.TemporaryDirectory() as tmp:
        stripped = os.path.join(tmp, NAME)
        run(["strip", "--strip-unneeded", "-o", stripped, binary])
        libs = linked_libraries(stripped)
        with open(stripped, "rb") as f:
            fs.add_bytes(settings["binary_path"], f.read(), 0o755)
    for lib in libs:
        fs.add_host(lib)
    summary["libraries"] = libs
    summary["packages"] = debian_packages(libs)
    summary["modules"] = module_paths(summary["packages"])
    for m in summary["modules"]:
        fs.add_host(m)
    summary["ca-certificates"] = package_version("ca-certificates")
    fs.add_host(CA_BUNDLE)
    summary["tzdata"] = package_version("tzdata")
    for p in zoneinfo_paths():
        if os.path.islink(p):
            fs.add(p, ("link", os.readlink(p)))
        elif os.path.isdir(p):
            fs.add(p, ("dir", 0o755))
        else:
            fs.add_host(p)
    summary["licences"] = licence_paths(list(summary["packages"]) + ["ca-certificates", "tzdata"])
    for p in summary["licences"]:
        fs.add_host(p)
    fs.add_bytes("/etc/passwd", f"root:x:0:0:root:/root:/usr/sbin/nologin\n"
                                f"{NAME}:x:{uid}:{gid}:{NAME}:/nonexistent:/usr/sbin/nologin\n".encode())
    fs.add_bytes("/etc/group", f"root:x:0:\n{NAME}:x:{gid}:\n".encode())
    fs.add_bytes("/etc/nsswitch.conf", NSSWITCH.encode())
    fs.add("/tmp", ("dir", 0o1777))
    return fs, summary


# --- tar, OCI layout ---------------------------------------------------------------------------

def tar_bytes(entries, mtime):
    """A tar of entries {name: entry}, sorted, root-owned, every mtime fixed."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(entries):
            e = entries[name]
            ti = tarfile.TarInfo(name)
            ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = mtime, 0, 0, "", ""
            data = None
            if e[0] == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, e[1]
            elif e[0] == "link":
                ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, e[1], 0o777
            else:
                ti.mode, ti.size, data = e[1], len(e[2]), io.BytesIO(e[2])
            tar.addfile(ti, data)
    return buf.getvalue()


def layer_entries(fs):
    out = {}
    for path, e in fs.entries.items():
        if path != "/":
            out[path.lstrip("/") + ("/" if e[0] == "dir" else "")] = e
    return out


def gzip_bytes(data):
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", fileobj=buf, mode="wb", compresslevel=6, mtime=0) as gz:
        gz.write(data)
    return buf.getvalue()


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def platform():
    deb = run(["dpkg", "--print-architecture"]).strip()
    if deb not in ARCHES:
        raise ImageError(f"no OCI platform known for Debian architecture {deb}")
    arch, variant = ARCHES[deb]
    p = {"architecture": arch, "os": "linux"}
    if variant:
        p["variant"] = variant
    return p


def image_config(settings, diff_id, created, plat):
    uid, gid = parse_user(settings["user"])
    cfg = {"User": f"{uid}:{gid}", "Env": ["PATH=" + PATH], "Entrypoint": settings["entrypoint"],
           "WorkingDir": settings["workdir"], "ExposedPorts": {p: {} for p in settings["ports"]},
           "Labels": settings["labels"]}
    if settings.get("cmd"):
        cfg["Cmd"] = settings["cmd"]
    return dict(plat, created=created, config=cfg, rootfs={"type": "layers", "diff_ids": [diff_id]},
                history=[{"created": created, "created_by": "make image (scripts/image.py)"}])


def oci_archive(settings, fs, ref, epoch):
    """(archive bytes, facts) of the OCI layout + docker-archive tar."""
    layer = tar_bytes(layer_entries(fs), epoch)
    layer_gz = gzip_bytes(layer)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    plat = platform()
    config = canonical(image_config(settings, sha256(layer), created, plat))
    manifest = canonical({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                          "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config)},
                          "layers": [{"mediaType": OCI_LAYER, "digest": sha256(layer_gz), "size": len(layer_gz)}]})
    full, tag = normalize_ref(ref)
    index = canonical({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{
        "mediaType": OCI_MANIFEST, "digest": sha256(manifest), "size": len(manifest), "platform": plat,
        # containerd (kind, minikube), Docker and podman name the image by the first; the second
        # is the OCI tag, what `skopeo ... oci-archive:FILE:TAG` selects.
        "annotations": {"io.containerd.image.name": full, "org.opencontainers.image.ref.name": tag}}]})
    blob = lambda d: "blobs/sha256/" + sha256(d).split(":")[1]
    docker = canonical([{"Config": blob(config), "RepoTags": [ref if ":" in ref.rsplit("/", 1)[-1] else ref + ":latest"],
                         "Layers": [blob(layer_gz)]}])
    entries = {"blobs/": ("dir", 0o755), "blobs/sha256/": ("dir", 0o755),
               "oci-layout": ("file", 0o644, canonical({"imageLayoutVersion": "1.0.0"})),
               "index.json": ("file", 0o644, index), "manifest.json": ("file", 0o644, docker)}
    for d in (config, manifest, layer_gz):
        entries[blob(d)] = ("file", 0o644, d)
    facts = {"digest": sha256(manifest), "compressed": len(layer_gz) + len(config) + len(manifest),
             "uncompressed": len(layer), "ref": full}
    return tar_bytes(entries, epoch), facts


def mb(n):
    return f"{n / 1e6:.1f} MB"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("--dockerfile", required=True)
    ap.add_argument("--ref", required=True, help="image reference, e.g. extmetrics:latest")
    ap.add_argument("--build-arg", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--epoch", type=int, default=0, help="mtime and creation time (SOURCE_DATE_EPOCH)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    try:
        build_args = dict(b.partition("=")[::2] for b in a.build_arg)
        if "VERSION" not in build_args:
            # The binary's own word: a label that cannot disagree with what it prints.
            build_args["VERSION"] = run([a.binary, "version"]).split()[-1]
        if "SOURCE" in build_args:
            build_args["SOURCE"] = scrub_url(build_args["SOURCE"])
        with open(a.dockerfile) as f:
            settings = image_settings(dockerfile_final_stage(f.read()), build_args)
        normalize_ref(a.ref)
        fs, summary = build_rootfs(a.binary, settings)
        archive, facts = oci_archive(settings, fs, a.ref, a.epoch)
    except (ImageError, OSError) as e:
        print(f"image: {e}", file=sys.stderr)
        return 1
    tmp = a.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(archive)
    os.replace(tmp, a.out)
    files = fs.files()
    lib_bytes = sum(len(files[os.path.realpath(p)][2]) for p in summary["libraries"])
    zone = [p for p in files if p.startswith(ZONEINFO + "/")]
    # files, not paths: some packages' doc folders are links to another's (libgcc-s1 -> gcc-12-base)
    licence_files = len({os.path.realpath(p) for p in summary["licences"]})
    print(f"image: {a.out}  {facts['ref']}  {facts['digest']}")
    print(f"  {mb(facts['compressed'])} compressed, {mb(facts['uncompressed'])} uncompressed, {len(files)} files:"
          f" binary {mb(len(files[settings['binary_path']][2]))}, {len(summary['libraries'])} libraries"
          f" {mb(lib_bytes)} from {len(summary['packages'])} Debian packages, {len(summary['modules'])} modules they"
          f" load (libmariadb's auth plugins), tzdata {summary['tzdata']}"
          f" ({len(zone)} files), CA bundle (ca-certificates {summary['ca-certificates']}),"
          f" passwd/group/nsswitch.conf, {licence_files} copyright and licence files")
    print(f"  user {settings['user']}, ports {' '.join(settings['ports'])}, entrypoint {settings['entrypoint']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
