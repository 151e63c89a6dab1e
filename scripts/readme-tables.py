#!/usr/bin/env python3
"""readme-tables.py - rewrites (or with --check, verifies) the generated tables in README.md: the scaler
option tables from `extmetrics scalers TYPE`, between <!-- BEGIN OPTIONS TYPE --> and <!-- END OPTIONS TYPE -->,
and the settings table from `extmetrics settings`, between <!-- BEGIN SETTINGS --> and <!-- END SETTINGS -->.
A marker may name several types (variants of one scaler: `redis redis-cluster redis-sentinel`):
their option tables must be the same, and the section shows it once, without the summary line."""
import re
import subprocess
import sys

BIN = sys.argv[sys.argv.index("--bin") + 1] if "--bin" in sys.argv else "build/extmetrics"
check = "--check" in sys.argv
readme = open("README.md").read()
out = readme
bad = []


def table(typ, summary):
    text = subprocess.run([BIN, "scalers", typ], capture_output=True, text=True, check=True).stdout
    lines = [l for l in text.splitlines() if not l.startswith("#### ")]
    if not summary:
        lines = lines[next((i for i, l in enumerate(lines) if l.startswith("| key ")), len(lines)):]
    return "\n".join(lines).strip("\n") + "\n"


for m in re.finditer(r"<!-- BEGIN OPTIONS (\S+(?: \S+)*) -->\n(.*?)<!-- END OPTIONS \1 -->", readme, re.S):
    types, current = m.group(1).split(), m.group(2)
    tables = [table(t, len(types) == 1) for t in types]
    if any(not t.strip() for t in tables):
        bad.append(f"{m.group(1)}: no such scaler in {BIN}")
        continue
    if any(t != tables[0] for t in tables):
        bad.append(f"{m.group(1)}: the variants' option tables differ")
    if current != tables[0]:
        bad.append(f"{m.group(1)}: table differs from `extmetrics scalers {types[0]}`")
    out = out.replace(m.group(0), f"<!-- BEGIN OPTIONS {m.group(1)} -->\n{tables[0]}<!-- END OPTIONS {m.group(1)} -->")
m = re.search(r"<!-- BEGIN SETTINGS -->\n(.*?)<!-- END SETTINGS -->", readme, re.S)
if not m:
    bad.append("no <!-- BEGIN SETTINGS --> ... <!-- END SETTINGS --> in README.md")
else:
    settings = subprocess.run([BIN, "settings"], capture_output=True, text=True, check=True).stdout
    if m.group(1) != settings:
        bad.append("settings: table differs from `extmetrics settings`")
    out = out.replace(m.group(0), f"<!-- BEGIN SETTINGS -->\n{settings}<!-- END SETTINGS -->")
if check:
    for b in bad:
        print(b)
    sys.exit(1 if bad else 0)
open("README.md", "w").write(out)
