#!/usr/bin/env python3
"""checksrc.py - checks the mechanical rules of CODE_STYLE.md (as curl's checksrc does): banned calls, file
header lines, the one cleanup label, indentation, line length, secrets wiped through secret.h, NULL-safe
destructors. With no arguments it checks the tree; otherwise the files named. Prints FILE:LINE: rule: message
for each finding and exits 1 when there is one."""
import os
import re
import subprocess
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
C_DIRS = ("adapter", "apiservice", "scalers", "test/unit", "test/fuzz", "test/tools")
SCRIPT_DIRS = ("scripts", "test/integration", "test/bench", ".ci")
MAX_COLS = 140   # tabs count 8 columns
TAB = 8

# Unbounded writes, hidden static buffers, silent parse failures: use snprintf/em_strbuf, strtoll with checks
# (em_parse_int), strtok_r/strcspn, gmtime_r/localtime_r. gets and tmpnam/mktemp are unsafe by design.
BANNED = {
    "gets": "reads without a bound",
    "sprintf": "unbounded: use snprintf or em_strbuf",
    "vsprintf": "unbounded: use vsnprintf or em_strbuf",
    "strcpy": "unbounded: use snprintf, memcpy with a length, or strdup",
    "strcat": "unbounded: use em_strbuf",
    "strncat": "easy to get wrong: use em_strbuf",
    "strncpy": "may leave no NUL: use snprintf or memcpy with a length",
    "strtok": "keeps hidden state: use strtok_r or strcspn",
    "atoi": "no error detection: use em_parse_int or strtol with checks",
    "atol": "no error detection: use em_parse_int or strtol with checks",
    "atoll": "no error detection: use em_parse_int or strtoll with checks",
    "atof": "no error detection: use em_parse_float",
    "gmtime": "static buffer: use gmtime_r",
    "localtime": "static buffer: use localtime_r",
    "ctime": "static buffer: use strftime with gmtime_r",
    "asctime": "static buffer: use strftime",
    "tmpnam": "racy: use mkstemp",
    "mktemp": "racy: use mkstemp",
}
# The one function allowed to wipe memory directly; everything else goes through it.
WIPE_CALLS = ("explicit_bzero", "OPENSSL_cleanse", "memset_s")
WIPE_HOME = "adapter/util/secret.c"
# The label a function leaves through to free what it holds is `out` (and `out_<what>` for a variant, as
# out_locked); these other names for it are refused.
CLEANUP_NAMES = {"fail", "failed", "failure", "done", "oom", "nomem", "bad", "err", "error", "errout", "cleanup",
                 "clean", "bail", "finish", "end", "exit", "leave", "quit", "fin"}
DESTRUCTOR = re.compile(r"^(?:static )?void (em_\w+_(?:free|close|destroy|release|unref))\((?:const )?"
                        r"(?:struct )?\w+ \*+(\w+)\)\n\{\n(.*?)\n\}", re.M | re.S)


def tracked_files():
    try:
        out = subprocess.run(["git", "-C", ROOT, "ls-files"], capture_output=True, text=True, check=True).stdout
        files = out.split()
    except (OSError, subprocess.CalledProcessError):
        files = [os.path.relpath(os.path.join(d, f), ROOT) for d, _, fs in os.walk(ROOT) for f in fs]
    return sorted(f for f in files if is_c(f) or is_script(f))


def is_c(path):
    return path.startswith(tuple(d + "/" for d in C_DIRS)) and path.endswith((".c", ".h", ".def"))


def is_script(path):
    return path.startswith(tuple(d + "/" for d in SCRIPT_DIRS)) and (
        path.endswith((".py", ".sh")) or path == ".ci/run")


def blank_out(text):
    """The text with comments, string and character literals replaced by spaces (newlines kept), so the
    rules about code do not fire on prose or on messages."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + " " * (j - i - 2) + c if j - i >= 2 else text[i:j])
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def columns(line):
    col = 0
    for ch in line:
        col = (col // TAB + 1) * TAB if ch == "\t" else col + 1
    return col


def check_c(path, text, report):
    lines = text.split("\n")
    base = os.path.basename(path)
    if not lines or not lines[0].startswith(f"/* {base} - "):
        report(1, "header", f"the first line must be `/* {base} - what it is ... */`")
    code = blank_out(text)
    code_lines = code.split("\n")
    for no, (line, cline) in enumerate(zip(lines, code_lines), 1):
        if line != line.rstrip():
            report(no, "whitespace", "trailing whitespace")
        lead = re.match(r"[ \t]*", line).group(0)
        # tabs, then fewer than 8 spaces to align; one space alone continues a block comment
        if line.strip() and not re.fullmatch(r"\t+ {0,7}| ?", lead):
            report(no, "indent", "indent with tabs; spaces only to align after them (fewer than 8)")
        if columns(line) > MAX_COLS:
            report(no, "length", f"line longer than {MAX_COLS} columns ({columns(line)})")
        for m in re.finditer(r"(?<![\w.>])(\w+)\s*\(", cline):
            name = m.group(1)
            if name in BANNED:
                report(no, "banned", f"{name}(): {BANNED[name]}")
            if name in WIPE_CALLS and path != WIPE_HOME:
                report(no, "wipe", f"{name}(): wipe secrets with em_wipe / em_free_secret (secret.h)")
        m = re.match(r"^([A-Za-z_]\w*):\s*$", cline)
        if m and m.group(1) in CLEANUP_NAMES:
            report(no, "label", f"cleanup label `{m.group(1)}:`: the one cleanup label is `out:`")
        m = re.search(r"\bmemset\s*\(\s*([^,]+?)\s*,\s*0\s*,", cline)
        if m:
            target = re.escape(m.group(1).lstrip("&").strip())
            ahead = "\n".join(code_lines[no:no + 3])
            if re.search(r"\bfree\s*\(\s*%s\s*\)" % target, ahead):
                report(no, "wipe", "memset before free may be optimised away: use em_free_secret / em_wipe")
    for m in DESTRUCTOR.finditer(code):
        name, arg, body = m.groups()
        a = re.escape(arg)
        guard = re.search(r"!\s*%s\b|\b%s\s*&&|if \(%s\)|\b%s \?|\b%s [!=]= NULL" % ((a,) * 5), body)
        use = re.search(r"\b%s\s*(->|\[)|\*%s\b" % (a, a), body)
        if use and (not guard or guard.start() > use.start()):
            report(code[:m.start()].count("\n") + 1, "destructor", f"{name}() must accept NULL ({arg} is used "
                                                                  "before it is checked)")


def check_script(path, text, report):
    lines = text.split("\n")
    name = os.path.basename(path)
    head = lines[1] if lines and lines[0].startswith("#!") and len(lines) > 1 else (lines[0] if lines else "")
    pattern = r'(# |""")(\.ci/)?' + re.escape(name) + r"( [^-]*)? - "
    if not re.match(pattern, head):
        report(1, "header", f"the first line (after #!) must be `# {name} - what it is` "
                            f"(or `\"\"\"{name} - ...` for Python)")


def main(argv):
    files = argv or tracked_files()
    found = 0

    for path in files:
        rel = os.path.relpath(os.path.abspath(path), ROOT) if os.path.exists(path) else path
        full = os.path.join(ROOT, rel) if not os.path.isabs(path) and not os.path.exists(path) else path

        def report(line, rule, msg, rel=rel):
            nonlocal found
            found += 1
            print(f"{rel}:{line}: {rule}: {msg}")

        try:
            text = open(full, encoding="utf-8").read()
        except (OSError, UnicodeDecodeError) as e:
            report(0, "read", str(e))
            continue
        if rel.endswith((".c", ".h", ".def")):
            check_c(rel, text, report)
        else:
            check_script(rel, text, report)
    if found:
        print(f"checksrc: {found} finding{'s' if found != 1 else ''} (CODE_STYLE.md says why)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
