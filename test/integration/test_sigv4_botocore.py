"""test_sigv4_botocore.py - our SigV4 (scalers/aws/sigv4.c) against botocore's SigV4Auth, byte for byte."""
import datetime
import os
import random
import shutil
import subprocess
from urllib.parse import quote

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from lib import Cases, ROOT, tmpdir

T = Cases("sigv4 vs botocore")
SEED = int(os.environ.get("SIGV4_SEED", "20150830"))
NCASES = 400
_state = {}


def driver():
    """Compiles test/tools/sigv4_sign.c against scalers/aws/sigv4.c once."""
    if "bin" not in _state:
        d = tmpdir()
        T.at_exit(lambda: shutil.rmtree(d, ignore_errors=True))
        out = os.path.join(d, "sigv4_sign")
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "openssl"], capture_output=True,
                               text=True, check=True).stdout.split()
        cc = os.environ.get("CC", "cc")
        extra = os.environ.get("SIGV4_CFLAGS", "-O1 -g").split()
        # err.c, strbuf.c, text.c and secret.c are the core's: built without -Werror so their warnings are not ours to fail on
        objs = []
        for src in ("adapter/util/err.c", "adapter/util/strbuf.c", "adapter/util/text.c", "adapter/util/secret.c"):
            obj = os.path.join(d, os.path.basename(src)[:-2] + ".o")
            p = subprocess.run([cc, "-std=c11", "-D_GNU_SOURCE", "-I", ROOT, *extra, "-c", "-o", obj,
                                os.path.join(ROOT, src)], capture_output=True, text=True)
            assert p.returncode == 0, p.stderr
            objs.append(obj)
        p = subprocess.run([cc, "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror",
                            "-Wno-unused-parameter", "-pthread", "-I", ROOT, *extra,
                            "-o", out, os.path.join(ROOT, "test/tools/sigv4_sign.c"),
                            os.path.join(ROOT, "scalers/aws/sigv4.c"), *objs, *flags],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        _state["bin"] = out
    return _state["bin"]


def hx(b):
    if isinstance(b, str):
        b = b.encode("utf-8")
    return b.hex() or "-"


def ours(cases):
    """Signs every case with the C driver; returns its output lines."""
    lines = []
    for c in cases:
        f = [c["method"], c["url"], c["region"], c["service"], str(c["now"]), c["akid"], c["secret"],
             c["token"] or "", c["body"]]
        for k, v in c["headers"]:
            f += [k, v]
        lines.append("\t".join(hx(x) for x in f))
    p = subprocess.run([driver()], input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=60)
    out = p.stdout.splitlines()
    assert len(out) == len(cases), (p.returncode, p.stderr, out[-3:])
    return out


def theirs(c):
    """Signs a case with botocore.auth.SigV4Auth at the case's time."""
    when = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=c["now"])
    botocore.auth.get_current_datetime = lambda *a, **k: when
    r = AWSRequest(method=c["method"], url=c["bare_url"], data=c["body"], params=c["params"])
    for k, v in c["headers"]:
        r.headers[k] = v  # HTTPHeaders appends: repeated names are kept
    botocore.auth.SigV4Auth(Credentials(c["akid"], c["secret"], c["token"]), c["service"], c["region"]).add_auth(r)
    return r.headers["Authorization"], r.headers["X-Amz-Date"], r.headers.get("X-Amz-Security-Token")


# Path segments are raw UTF-8 or already percent-encoded (both are encoded once more by
# both signers). A raw tab is not a URL byte (urlsplit drops it), so it appears encoded.
SEGMENTS = ["a", "queue", "b c", "\u00e9t\u00e9", "\u65e5\u672c", "..", ".", "", "x%2Fy", "a+b", "~u", "!*()",
            "it's", "123456789012", "q=1", "semi;colon", "\u1234", "tab%09x", "A-Z_0.9"]
QKEYS = ["Action", "Version", "QueueUrl", "a", "A", "b", "_x", "key with space", "k\u00e9y", "x/y", "=", "p+q",
         "MaxResults", "Attribute.1.Name", "empty"]
QVALS = ["", "1", "GetQueueAttributes", "2012-11-05", "v w", "\u00fcml\u00e4ut", "a&b=c", "50%", "x/y:z",
         "+plus+", "~-._", "\u65e5", "http://h/q?x=1", "  spaced  ", "1,2,3"]
HEADERS = [("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", "AmazonSQS.GetQueueAttributes"),
           ("My-Header", "  a   b \t c  "), ("my-header", "second"), ("X-Custom", "\tleading tab"),
           ("User-Agent", "extmetrics/test"), ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
           ("X-Empty", ""), ("Accept", "*/*"), ("X-Amz-Meta-Number", "42")]
HOSTS = [("https", "sqs.us-east-1.amazonaws.com"), ("http", "127.0.0.1:4566"), ("https", "Monitoring.EU-West-1.amazonaws.com"),
         ("https", "example.amazonaws.com:443"), ("http", "localhost:80"), ("http", "[::1]:9000"),
         ("https", "sts.amazonaws.com:8443")]


def enc(s, rng):
    """Percent-encodes a query component the way some client might: strictly,
    with lowercase hex, with needless escapes of unreserved bytes, or leaving
    harmless reserved bytes raw. All decode to s."""
    style = rng.randrange(4)
    if style == 0:
        return quote(s, safe="")
    if style == 1:
        return "".join(p.lower() if p.startswith("%") else p
                       for p in _split_escapes(quote(s, safe="")))
    if style == 2:
        return "".join("%%%02X" % b for b in s.encode("utf-8"))
    return quote(s, safe="/:@,;!*'()")


def _split_escapes(q):
    i = 0
    while i < len(q):
        if q[i] == "%":
            yield q[i:i + 3]
            i += 3
        else:
            yield q[i]
            i += 1


def gen_cases(n, seed):
    rng = random.Random(seed)
    cases = []
    for i in range(n):
        scheme, host = rng.choice(HOSTS)
        path = "/" + "/".join(rng.choice(SEGMENTS) for _ in range(rng.randrange(0, 5)))
        if rng.random() < 0.2:
            path += "/"
        if rng.random() < 0.1:
            path = ""
        params = []
        for _ in range(rng.choice([0, 0, 1, 2, 3, 5, 8])):
            k = rng.choice(QKEYS)
            params.append((k, rng.choice(QVALS)))
            if rng.random() < 0.2:  # repeated key, other value
                params.append((k, rng.choice(QVALS)))
        qs = []
        for k, v in params:
            if v == "" and rng.random() < 0.5:
                qs.append(enc(k, rng))  # "k" alone is "k="
            else:
                qs.append(enc(k, rng) + "=" + enc(v, rng))
        bare = f"{scheme}://{host}{path}"
        url = bare + ("?" + "&".join(qs) if qs else "")
        headers = [rng.choice(HEADERS) for _ in range(rng.randrange(0, 4))]
        if rng.random() < 0.1:
            headers.append(("Host", host.lower()))
        body = rng.choice([b"", b"", b'{"QueueUrl":"http://127.0.0.1/1/q"}',
                           "\u65e5\u672c\u8a9e body".encode(), bytes(range(256)), b"Action=ListUsers&Version=2010-05-08",
                           os.urandom(rng.randrange(1, 3000))])
        token = rng.choice([None, None, "FQoGZXIvYXdzE//////////+token=", "IQoJb3JpZ2luX2VjE" + "x" * 600])
        cases.append({
            "method": rng.choice(["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "post"]),
            "url": url, "bare_url": bare, "params": params,
            "region": rng.choice(["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1"]),
            "service": rng.choice(["sqs", "monitoring", "sts", "service", "execute-api"]),
            "now": rng.randrange(631152000, 4102444800),  # 1990 .. 2100
            "akid": rng.choice(["AKIDEXAMPLE", "ASIAXXXXXXXXXXXXXXXX", "AKIA" + "%016d" % i]),
            "secret": rng.choice(["wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "s3cr3t+/=" * 4, "x"]),
            "token": token, "body": body, "headers": headers,
        })
    return cases


@T.case
def generated_cases_match_botocore():
    cases = gen_cases(NCASES, SEED)
    # the generator covers what it claims to
    assert sum(1 for c in cases if "%20" in quote(c["bare_url"]) or " " in c["bare_url"]) > 20
    assert sum(1 for c in cases if any(ord(ch) > 127 for ch in c["bare_url"])) > 20
    assert sum(1 for c in cases if len({k for k, _ in c["params"]}) < len(c["params"])) > 20
    assert sum(1 for c in cases if any(v == "" for _, v in c["params"])) > 20
    assert sum(1 for c in cases if c["token"]) > 50
    assert sum(1 for c in cases if c["body"]) > 100
    got = ours(cases)
    bad = []
    for c, line in zip(cases, got):
        auth, date, token = theirs(c)
        parts = line.split("\t")
        if len(parts) != 4 or parts[0] != auth or parts[1] != date or parts[2] != (token or "-"):
            bad.append((c["method"], c["url"], c["headers"], line, auth))
    for b in bad[:5]:
        print("#   mismatch:", repr(b))
    assert not bad, f"{len(bad)} of {len(cases)} differ (seed {SEED})"
    print(f"#   {len(cases)} generated requests signed identically (seed {SEED})")


@T.case
def any_change_changes_the_signature():
    """The comparison can fail: perturbing one input on our side only must
    give a different Authorization than botocore's."""
    base = gen_cases(40, SEED + 1)
    mutated = []
    for i, c in enumerate(base):
        m = dict(c)
        which = i % 5
        if which == 0:
            m["secret"] = c["secret"] + "x"
        elif which == 1:
            m["now"] = c["now"] + 86400
        elif which == 2:
            m["url"] = c["url"] + ("&" if "?" in c["url"] else "?") + "extra=1"
        elif which == 3:
            m["body"] = c["body"] + b"!"
        else:
            m["headers"] = c["headers"] + [("X-Added", "1")]
        mutated.append(m)
    got = ours(mutated)
    for c, line in zip(base, got):
        assert line.split("\t")[0] != theirs(c)[0], c["url"]


@T.case
def driver_reports_errors():
    c = gen_cases(1, SEED)[0]
    c["url"] = "ftp://nowhere/"
    out = ours([c])
    assert out[0].startswith("ERROR ") and "URL" in out[0], out


if __name__ == "__main__":
    T.main()
