"""test_quantity_parse.py - em_quantity_format() output read back by python3-kubernetes' parse_quantity.

Builds test/tools/quantity_dump.c with apiservice/quantity.c, formats a few
thousand doubles (edge cases and seeded random ones from 1e-4 to 1e15), and
parses every text once with Debian's python3-kubernetes (an independent
Quantity parser): the value must be the double rounded to milli-units (what
the HPA reads as MilliValue = ceil(q*1000)), and the text must be the
canonical one (the largest SI suffix that keeps an integer mantissa).
"""
import decimal
import math
import os
import random
import re
import shutil
import subprocess
import sys
from decimal import Decimal

from lib import ROOT, Cases, tmpdir

T = Cases("quantity vs parse_quantity")
state = {}
INT64_MAX = 2**63 - 1
SUFFIX_EXP = {"m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
KUBE_PY = "/usr/bin/python3"
PARSER = r"""
import sys
from kubernetes.utils import parse_quantity
for line in sys.stdin:
    t = line.rstrip("\n")
    try:
        print(str(parse_quantity(t)))
    except Exception as e:
        print("ERR " + repr(e).replace("\n", " "))
"""


def build():
    d = tmpdir()
    T.at_exit(lambda: shutil.rmtree(d, ignore_errors=True))
    exe = os.path.join(d, "quantity_dump")
    p = subprocess.run([os.environ.get("CC", "cc"), "-std=c11", "-D_GNU_SOURCE", "-O1", "-I", ROOT,
                        "-o", exe,
                        os.path.join(ROOT, "test/tools/quantity_dump.c"), os.path.join(ROOT, "apiservice/quantity.c"),
                        "-lm"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    state["exe"] = exe


def fmt(values):
    inp = "".join(v.hex() + "\n" if math.isfinite(v) else repr(v) + "\n" for v in values)
    p = subprocess.run([state["exe"]], input=inp, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    out = p.stdout.split("\n")[:-1]
    assert len(out) == len(values), (len(out), len(values))
    return out


def kube_parse(texts):
    p = subprocess.run([KUBE_PY, "-c", PARSER], input="".join(t + "\n" for t in texts),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    out = p.stdout.split("\n")[:-1]
    assert len(out) == len(texts), (len(out), len(texts))
    return out


def expected_milli(v):
    """round-half-even of the exact binary value times 1000, as "%.3f" does; clamped like the formatter."""
    if not math.isfinite(v) or v <= 0:
        return 0
    m = int((Decimal(v) * 1000).to_integral_value(rounding=decimal.ROUND_HALF_EVEN))
    return min(m, INT64_MAX)


def canonical(m):
    """the text with the largest suffix that leaves an integer mantissa (independent of the C algorithm)."""
    if m == 0:
        return "0"
    best = "m"
    for suf, e in sorted(SUFFIX_EXP.items(), key=lambda kv: kv[1]):
        if m % 10 ** (e + 3) == 0:
            best = suf
    return str(m // 10 ** (SUFFIX_EXP[best] + 3)) + best


def values():
    rng = random.Random(20260820)
    vals = [0.0, -0.0, 1e-3, 0.0005, 0.0004999, 0.0015, 0.0625, 0.1875, 22.5, 1e15, 123456.789, 1000.0,
            1500.0, 1.5e6, 0.5, 1.0, 9e15, 9.2e15, 9223372036854774.0, 9223372036854776.0, 1e16, 1e300,
            sys.float_info.max, sys.float_info.min, 5e-324, 999.9999, 0.1, 0.2, 0.3, 1 / 3, 2 / 3,
            float("nan"), float("inf"), float("-inf"), -1.0, -1e-3, -1e300]
    vals += [rng.uniform(0, 2) for _ in range(300)]
    vals += [10 ** rng.uniform(-4, 15) for _ in range(2500)]
    vals += [float(rng.randrange(0, 10 ** rng.randint(1, 15))) for _ in range(600)]
    vals += [rng.randrange(0, 10 ** rng.randint(1, 12)) / 1000 for _ in range(600)]
    vals += [(2 * rng.randrange(0, 2 ** 20) + 1) / 2000 * 125 / 125 for _ in range(100)]   # ties and near-ties
    vals += [float(k) * 10 ** e for k in (1, 2, 5, 10, 12, 15, 100, 999, 1000, 1001) for e in range(-3, 16)]
    return vals


@T.case
def parser_is_there():
    assert os.path.exists(KUBE_PY), KUBE_PY
    p = subprocess.run([KUBE_PY, "-c", "from kubernetes.utils import parse_quantity; print(parse_quantity('22500m'))"],
                       capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.strip() == "22.500", (p.stdout, p.stderr)
    build()


@T.case
def documented_examples():
    got = fmt([22.5, 0.5, 1500.0, 1000.0, 1.5e6, 0.001, 0.0, float("nan"), -2.0])
    assert got == ["22500m", "500m", "1500", "1k", "1500k", "1m", "0", "0", "0"], got


@T.case
def values_read_back_exactly():
    vals = values()
    texts = fmt(vals)
    parsed = kube_parse(texts)
    bad = []
    for v, t, p in zip(vals, texts, parsed):
        m = expected_milli(v)
        if p.startswith("ERR"):
            bad.append(f"{v!r} -> {t!r}: parse_quantity failed: {p}")
            continue
        q = Decimal(p)
        milli = int((q * 1000).to_integral_value(rounding=decimal.ROUND_CEILING))  # the HPA's MilliValue()
        if q != Decimal(m) / 1000 or milli != m:
            bad.append(f"{v!r} -> {t!r} parsed as {p}, expected {m} milli-units")
        if len(t) > 31 or not re.fullmatch(r"(0|[1-9][0-9]*)(m|k|M|G|T|P|E)?", t):
            bad.append(f"{v!r} -> {t!r}: not a plain DecimalSI text")
        if t != canonical(m):
            bad.append(f"{v!r} -> {t!r}: canonical form is {canonical(m)!r}")
    assert not bad, f"{len(bad)} of {len(vals)} wrong:\n" + "\n".join(bad[:20])
    assert len(vals) > 4000, len(vals)


if __name__ == "__main__":
    T.main()
