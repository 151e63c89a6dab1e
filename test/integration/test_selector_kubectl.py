"""test_selector_kubectl.py - apiservice/selector.c against the real labels.Parse inside kubectl.

`kubectl set selector --local` runs apimachinery's labels.Parse (through
metav1.ParseToLabelSelector) without any server: a parse error comes back as
`couldn't parse the selector string "<sel>": <labels.Parse error>`. Every
selector here goes through both; the error texts must be equal byte for byte
(ours cut to EM_ERR_MSG_MAX-1 bytes), and what kubectl accepts we must accept,
and our String() form must parse again to itself.
"""
import os
import random
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from lib import ROOT, Cases, tmpdir, write

ERR_MAX = 511  # EM_ERR_MSG_MAX - 1
T = Cases("selector vs kubectl")
state = {}

SERVICE = """apiVersion: v1
kind: Service
metadata: {name: s}
spec: {selector: {a: b}, ports: [{port: 80}]}
"""

FIXED = [
    "", " ", "x", "!x", "x=a", "x==a", "x!=a", "x=", "x==", "x!=", "x= ,y", "x in (a)", "x in (b,a,b)",
    "x notin (a,b)", "x in ()", "x in (,)", "x in (,a)", "x in (a,)", "x in (a,,b)", "x in (a,,)",
    "x in (,,)", "x in(a)", "x in (in,notin)", "in=notin", "notin in (in)", "x>1", "x<10", "x>-1",
    "x>a", "x>-a", "x>", "x<", "x>99999999999999999999", "x<9223372036854775807",
    "x>-9223372036854775808", "x>+5", "b=2,a=1", "x,y,!z", "z,y,x", "  x  =  a  ,  y  ",
    "x\tin\t(a)", "x\r\n=\na", "x=a=b", "x=a b", "x in (a b)", "x y", "x in", "x in a", "x in (",
    "x in (a", "x in (a,,", "x in (=)", "x in ((a)", "x=(", "!", "!=a", "!!x", "!x=a", "!x in (a)",
    "x,", "x,,y", ",", "=a", "x===", "x)", "x=a)", "x = = a", "x<=1", "x=>1", "x in (a),(",
    "x=a,", "a/b", "!a/b", "a/b/c", "/a", "a/", "/", "A/b", "a.b/c", "a..b/c", "-a/c", "a-/c",
    "a_b/c", "1.2.3/c", "a./c", ".a/c", "-x=a", "x-=a", "x.y_z-w=v", "X=Y", "1=2", "x=-a", "x=a-",
    "x=a.b_c-d", "x=_", "x in (-a,-b)", "x notin (a,-b,c)", "x=a\"b", "x=\\", "x=é", "x=\x01",
    "\x0b", "x=\xe2\x80\x8b", "x=\xc2\xa0", "x=\xef\xbf\xbd", "x=\U0001F600", "x=\u0378",
    "x=\u00ad\ue000\U0010ffff\U000e0001\u2028\u3000\ufeff\u0600\U00031350\U000323af\u1e9e\u0e00\u0e01",
    "x=\x7f\x1b\a\b\f", "x=" + "".join(chr(c) for c in range(0x2000, 0x2070, 7)),
    "x=a,x=b", "a in (a),a notin (b)", "x>1,x<5", "example.com/app=web,tier in (fe,be)",
    "x=" + "a" * 63, "x=" + "a" * 64, "x=" + "a" * 63 + "-", "x=-" + "a" * 64,
    "a" * 63 + "=v", "a" * 64 + "=v", "b" * 253 + "/c", "b" * 254 + "/c", "B" * 254 + "/c",
    "b" * 254 + "/" + "c" * 64, "a/" + "c" * 64 + "-", "x in (" + ",".join("v%d" % i for i in range(20)) + ")",
    ",".join("k%02d=v" % i for i in range(30)),
]
# invalid UTF-8 can be passed to kubectl only as raw bytes
FIXED_BYTES = [b"\xff=a", b"x=\xff", b"x=\xc3", b"x=\xed\xa0\x80", b"x=\xf4\x90\x80\x80"]

TOKENS = ["x", "y", "k8s.io/z", "in", "notin", "(", ")", ",", "=", "==", "!=", "!", ">", "<", " ", " ",
          "1", "-1", "-a", "A.b", "a_b", "é", "\t", "a/", "/b", "9223372036854775808", "_"]


def random_selectors(n, seed=7):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        if rng.random() < 0.7:
            out.append("".join(rng.choice(TOKENS) for _ in range(rng.randint(1, 9))))
        else:
            out.append("".join(rng.choice("xy=!(),<> in-/1a.") for _ in range(rng.randint(1, 14))))
    return out


def build_dump():
    d = tmpdir()
    state["dir"] = d
    exe = os.path.join(d, "selector_dump")
    cc = os.environ.get("CC", "cc")
    p = subprocess.run([cc, "-std=c11", "-D_GNU_SOURCE", "-O1", "-I", ROOT, "-o", exe,
                        os.path.join(ROOT, "test/tools/selector_dump.c"), os.path.join(ROOT, "apiservice/selector.c"),
                        os.path.join(ROOT, "adapter/util/uniprint.c"), os.path.join(ROOT, "adapter/util/goquote.c"),
                        os.path.join(ROOT, "adapter/options.c"), os.path.join(ROOT, "adapter/util/err.c"),
                        os.path.join(ROOT, "adapter/util/strbuf.c"), os.path.join(ROOT, "adapter/util/duration.c"),
                        os.path.join(ROOT, "adapter/util/secret.c"), os.path.join(ROOT, "adapter/util/text.c"),
                        "-lcrypto", "-lm"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    state["exe"] = exe
    state["svc"] = write(os.path.join(d, "svc.yaml"), SERVICE)
    T.at_exit(lambda: shutil.rmtree(d, ignore_errors=True))


def ours(selectors):
    """[(ok, text)] from selector_dump for byte-string selectors."""
    inp = "".join(s.hex() + "\n" for s in selectors)
    p = subprocess.run([state["exe"]], input=inp, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    out = []
    for line in p.stdout.splitlines():
        kind, _, hx = line.partition(" ")
        out.append((kind == "OK", bytes.fromhex(hx)))
    assert len(out) == len(selectors), (len(out), len(selectors))
    return out


def kubectl(sel):
    """(ok, error bytes) from kubectl's labels.Parse."""
    env = dict(os.environ, KUBECONFIG="/dev/null")
    p = subprocess.run(["kubectl", "set", "selector", "-f", state["svc"], "--local", "-o", "name", "--", sel],
                       capture_output=True, env=env, timeout=60)
    prefix = b'error: couldn\'t parse the selector string "' + sel + b'": '
    if p.stderr.startswith(prefix):
        # kubectl 1.32 says "characters" in length errors; current apimachinery
        # (and api-contract.md) says "bytes", which we follow.
        text = p.stderr[len(prefix):].rstrip(b"\n")
        for n in (b"63", b"253"):
            text = text.replace(b"must be no more than " + n + b" characters", b"must be no more than " + n + b" bytes")
        return False, text
    return True, p.stderr


def compare(selectors):
    mine = ours(selectors)
    with ThreadPoolExecutor(max_workers=2) as ex:
        theirs = list(ex.map(kubectl, selectors))
    bad = []
    for sel, (ok, text), (kok, ktext) in zip(selectors, mine, theirs):
        if ok != kok:
            bad.append(f"{sel!r}: ours ok={ok} {text[:200]!r}; kubectl ok={kok} {ktext[:200]!r}")
        elif not ok and text != ktext[:ERR_MAX]:
            bad.append(f"{sel!r}:\n  ours    {text!r}\n  kubectl {ktext!r}")
    assert not bad, f"{len(bad)} of {len(selectors)} differ:\n" + "\n".join(bad[:20])
    return mine


@T.case
def kubectl_is_there():
    assert shutil.which("kubectl"), "kubectl (Debian kubernetes-client) is needed"
    build_dump()
    ok, text = kubectl(b"x y")
    assert not ok and text == b"unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt", text


@T.case
def fixed_selectors_match_kubectl():
    sels = [s.encode() for s in FIXED] + FIXED_BYTES
    mine = compare(sels)
    n_ok = sum(1 for ok, _ in mine if ok)
    assert 30 < n_ok < len(sels) - 30, n_ok  # both kinds well represented


@T.case
def random_selectors_match_kubectl():
    sels = [s.encode() for s in random_selectors(400)]
    compare(sels)


@T.case
def normalized_form_is_accepted_and_stable():
    sels = [s.encode() for s in FIXED + random_selectors(400)]
    forms = [text for ok, text in ours(sels) if ok]
    assert len(forms) > 50, len(forms)
    again = ours(forms)
    for f, (ok, text) in zip(forms, again):
        assert ok and text == f, (f, ok, text)
    # kubectl accepts every normalized form too
    compare(forms[:120])


if __name__ == "__main__":
    T.main()
