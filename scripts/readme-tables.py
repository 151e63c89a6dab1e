#!/usr/bin/env python3
"""readme-tables.py - rewrites (or with --check, verifies) the scaler option tables in README.md
from `extmetrics scalers TYPE`, between <!-- BEGIN OPTIONS TYPE --> and <!-- END OPTIONS TYPE -->."""
import re
import subprocess
import sys

BIN = sys.argv[sys.argv.index("--bin") + 1] if "--bin" in sys.argv else "build/extmetrics"
check = "--check" in sys.argv
readme = open("README.md").read()
out = readme
bad = []
for m in re.finditer(r"<!-- BEGIN OPTIONS (\S+) -->\n(.*?)<!-- END OPTIONS \1 -->", readme, re.S):
    typ, current = m.group(1), m.group(2)
    table = subprocess.run([BIN, "scalers", typ], capture_output=True, text=True, check=True).stdout
    table = "\n".join(l for l in table.splitlines() if not l.startswith("#### ")).strip("\n") + "\n"
    if not table.strip():
        bad.append(f"{typ}: no such scaler in {BIN}")
        continue
    if current != table:
        bad.append(f"{typ}: table differs from `extmetrics scalers {typ}`")
    out = out.replace(m.group(0), f"<!-- BEGIN OPTIONS {typ} -->\n{table}<!-- END OPTIONS {typ} -->")
if check:
    for b in bad:
        print(b)
    sys.exit(1 if bad else 0)
open("README.md", "w").write(out)
