"""test_checksrc.py - scripts/checksrc.py passes on the tree and catches each rule of CODE_STYLE.md in bad snippets."""
import os
import re
import subprocess
import sys

from lib import ROOT, Cases, tmpdir, write

T = Cases("checksrc")
SCRIPT = os.path.join(ROOT, "scripts", "checksrc.py")


def checksrc(*files):
    p = subprocess.run([sys.executable, SCRIPT, *files], capture_output=True, text=True, cwd=ROOT)
    findings = [l for l in p.stdout.splitlines() if not l.startswith("checksrc:")]
    return p.returncode, findings


def snippet(name, body, header=True):
    """A C file in a temporary folder: the right header line (unless told), then body."""
    text = (f"/* {name} - a snippet for test_checksrc. */\n" if header else "") + body
    return write(os.path.join(tmpdir(), name), text)


def expect(path, rule, line, count=1):
    """Checks path: exactly count findings of rule (at line, unless None); returns them."""
    rc, found = checksrc(path)
    parsed = [re.match(r"^(.*?):(\d+): (\w+): ", f) for f in found]
    assert all(parsed), found
    hits = [f for f, m in zip(found, parsed) if m.group(3) == rule]
    lines = [int(m.group(2)) for m in parsed if m.group(3) == rule]
    assert rc == 1, (path, found)
    assert len(hits) == count, (rule, found)
    assert line is None or lines == [line] * count, (line, hits)
    return hits


@T.case
def the_tree_passes():
    rc, found = checksrc()
    assert rc == 0, "\n".join(found)


@T.case
def a_clean_snippet_passes():
    path = snippet("clean.c", "#include <stdio.h>\n\n"
                   "/* sprintf( in a comment, strcpy in \"strcpy(\" a string: not calls */\n"
                   "static const char *m = \"use sprintf(buf) never\";\n\n"
                   "void em_thing_free(struct thing *t)\n{\n\tif (!t)\n\t\treturn;\n\tfree(t->name);\n}\n\n"
                   "int f(char *buf, size_t n, time_t t, struct tm *tm)\n{\n\tint rc = -1;\n\n"
                   "\tif (!buf)\n\t\tgoto out;\n\tsnprintf(buf, n, \"%s\", m);\n\tgmtime_r(&t, tm);\n"
                   "\tif (g(buf,\n\t       n) != 0)\n\t\tgoto out;\n\trc = 0;\nfound:\nout:\n\treturn rc;\n}\n")
    rc, found = checksrc(path)
    assert rc == 0 and not found, found


@T.case
def header_line_is_required():
    expect(snippet("noheader.c", "int x;\n", header=False), "header", 1)
    # the header must name this file
    expect(write(os.path.join(tmpdir(), "right.c"), "/* wrong.c - another file's header */\nint x;\n"), "header", 1)
    sh = write(os.path.join(tmpdir(), "tool.sh"), "#!/bin/sh\necho hi\n")
    expect(sh, "header", 1)
    good = write(os.path.join(tmpdir(), "tool.sh"), "#!/bin/sh\n# tool.sh - says hi\necho hi\n")
    assert checksrc(good) == (0, [])
    py = write(os.path.join(tmpdir(), "x.py"), '"""x.py - does x."""\n')
    assert checksrc(py) == (0, [])


@T.case
def each_banned_call_is_caught():
    names = ["gets", "sprintf", "vsprintf", "strcpy", "strcat", "strncat", "strncpy", "strtok", "atoi", "atol",
             "atoll", "atof", "gmtime", "localtime", "ctime", "asctime", "tmpnam", "mktemp"]
    body = "void f(void)\n{\n" + "".join(f"\t{n}(a, b);\n" for n in names) + "}\n"
    hits = expect(snippet("banned.c", body), "banned", None, count=len(names))
    for n, hit in zip(names, hits):
        assert f": banned: {n}():" in hit, (n, hit)
    assert ".c:4: banned: gets()" in hits[0], hits[0]


@T.case
def other_cleanup_labels_are_refused():
    for label in ("fail", "done", "oom", "bad", "cleanup", "err"):
        hits = expect(snippet("label.c", f"int f(void)\n{{\n\tgoto {label};\n{label}:\n\treturn 0;\n}}\n"),
                      "label", 5)
        assert f"`{label}:`" in hits[0], hits


@T.case
def indentation_and_whitespace():
    expect(snippet("spaces.c", "int f(void)\n{\n    return 0;\n}\n"), "indent", 4)
    expect(snippet("mixed.c", "int f(void)\n{\n \treturn 0;\n}\n"), "indent", 4)
    expect(snippet("eight.c", "int f(void)\n{\n\tg(1,\n\t        2);\n}\n"), "indent", 5)
    expect(snippet("trailing.c", "int f(void); \n"), "whitespace", 2)
    # one space alone continues a block comment
    assert checksrc(snippet("comment.c", "/* a\n * b\n */\nint x;\n")) == (0, [])


@T.case
def long_lines_are_caught_counting_tabs_as_eight():
    at_limit = "\t" + "x" * 131 + ";\n"     # 8 + 132 = 140 columns
    over = "\t" + "y" * 132 + ";\n"         # 141
    expect(snippet("long.c", "int f(void)\n{\n" + at_limit + over + "}\n"), "length", 5)


@T.case
def secrets_are_wiped_through_secret_h():
    expect(snippet("memset.c", "void f(char *key, size_t n)\n{\n\tmemset(key, 0, n);\n\tfree(key);\n}\n"), "wipe", 4)
    expect(snippet("bzero.c", "void f(char *key, size_t n)\n{\n\texplicit_bzero(key, n);\n}\n"), "wipe", 4)
    # zeroing a struct that is kept is fine
    rc, found = checksrc(snippet("zero.c", "void f(struct s *s)\n{\n\tfree(s->p);\n\tmemset(s, 0, sizeof(*s));\n}\n"))
    assert rc == 0, found


@T.case
def destructors_must_accept_null():
    hits = expect(snippet("dtor.c", "void em_thing_free(struct thing *t)\n{\n\tfree(t->name);\n\tfree(t);\n}\n"),
                  "destructor", 2)
    assert "em_thing_free()" in hits[0], hits


T.main()
