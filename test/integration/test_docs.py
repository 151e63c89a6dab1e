"""test_docs.py - the README stays true to the code: option and settings tables, config keys, own metrics, the layout."""
import glob
import os
import re
import subprocess
import sys

from lib import BIN, ROOT, Cases

T = Cases("docs")
README = open(os.path.join(ROOT, "README.md")).read()


@T.case
def scaler_tables_match_the_option_declarations():
    p = subprocess.run([sys.executable, "scripts/readme-tables.py", "--check", "--bin", BIN], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    listed = {t for m in re.findall(r"<!-- BEGIN OPTIONS (\S+(?: \S+)*) -->", README) for t in m.split()}
    out = subprocess.run([BIN, "scalers"], capture_output=True, text=True, check=True).stdout
    compiled = set(re.findall(r"^#### `(\S+)` options", out, re.M))
    assert compiled and compiled == listed, (compiled, listed)


@T.case
def scalers_of_one_type_and_of_an_unknown_one():
    out = subprocess.run([BIN, "scalers", "prometheus"], capture_output=True, text=True)
    assert out.returncode == 0 and re.findall(r"^#### `(\S+)` options", out.stdout, re.M) == ["prometheus"], out
    out = subprocess.run([BIN, "scalers", "promethus"], capture_output=True, text=True)
    assert out.returncode == 2 and out.stdout == "", out
    assert out.stderr.startswith('scalers: unknown scaler type "promethus" (did you mean "prometheus"?); the types are: '
                                 "cron prometheus "), out.stderr
    out = subprocess.run([BIN, "scalers", "aws-sqs"], capture_output=True, text=True)
    assert out.returncode == 2 and '(did you mean "aws-sqs-queue"?)' in out.stderr, out.stderr
    out = subprocess.run([BIN, "scalers", "nothing-like-it"], capture_output=True, text=True)
    assert out.returncode == 2 and "did you mean" not in out.stderr and " mysql" in out.stderr, out.stderr


@T.case
def settings_table_matches_the_declarations():
    # the server: and defaults: settings: generated from the table in adapter/settings.c
    p = subprocess.run([sys.executable, "scripts/readme-tables.py", "--check", "--bin", BIN], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    out = subprocess.run([BIN, "settings"], capture_output=True, text=True, check=True).stdout
    rows = re.findall(r"^\| `([\w.]+)` \|", out, re.M)
    assert len(rows) > 30 and "server.auth.requestHeader.usernameHeaders" in rows, rows
    assert all(f"| `{r}` |" in README for r in rows)


@T.case
def every_metric_key_is_documented():
    # the metrics: entries' keys (not settings): the keys[] lists of config.c
    src = open(os.path.join(ROOT, "adapter", "config.c")).read()
    keys = set()
    for arr in re.findall(r"static const char \*const \w+\[\] = \{(.*?)\};", src, re.S):
        keys.update(re.findall(r'"([A-Za-z]+)"', arr))
    assert len(keys) > 15, keys
    missing = sorted(k for k in keys if f"{k}" not in README)
    assert not missing, missing


@T.case
def every_own_metric_is_documented():
    names = set()
    for f in glob.glob(os.path.join(ROOT, "**", "*.c"), recursive=True):
        if "/test/" in f:
            continue
        names.update(re.findall(r'"(extmetrics_[a-z_]+)"', open(f).read()))
    assert "extmetrics_metric_value" in names, names
    missing = sorted(n for n in names if n not in README)
    assert not missing, missing


@T.case
def readme_opens_with_the_two_commands():
    head = "\n".join(README.splitlines()[:40])
    assert "make run" in head and "make test" in head


@T.case
def layout_lists_every_source_file_in_its_folder():
    block = README.split("## Layout", 1)[1].split("```", 2)[1]
    listed, folder = set(), None
    for line in block.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            folder = line.split()[0]
            continue
        # a row names its files first, then says what they are
        for tok in line.split():
            if not re.fullmatch(r"\w+\.(c|h|def)", tok):
                break
            listed.add(folder + tok)
    tree = set()
    for top in ("adapter", "apiservice", "scalers"):
        for d, _, files in os.walk(os.path.join(ROOT, top)):
            rel = os.path.relpath(d, ROOT) + "/"
            tree.update(rel + f for f in files if re.search(r"\.(c|h|def)$", f))
    assert len(tree) > 100, tree
    assert listed == tree, ("not in the layout:", sorted(tree - listed), "not in the tree:", sorted(listed - tree))


T.main()
