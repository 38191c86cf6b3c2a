#!/usr/bin/env python3
"""The mechanical style, checked before any build (scripts/test.sh):

1. Every C++ file is as clang-format-16 writes it (.clang-format: Google style, 100 columns).
2. No source file over 600 lines, and no function of the code (tests/ aside) over 70 lines
   (lines of its definition, as Universal Ctags finds it), except those in scripts/style-ratchet.txt, which may shrink and
   never grow. A new file or function over the limit fails: split it.

Usage: scripts/check-style.py [--update]   (--update rewrites the ratchet to today's figures,
for a commit that makes something smaller)
"""
import os
import subprocess
import sys

FILE_LINES_MAX = 600
FUNCTION_LINES_MAX = 70
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RATCHET = os.path.join(ROOT, "scripts", "style-ratchet.txt")


def sources():
    out = subprocess.check_output(["git", "ls-files", "*.cc", "*.h"], cwd=ROOT, text=True)
    return [p for p in out.split("\n") if p and not p.startswith("tests/browser/")]


def measure(files):
    sizes = {}
    for path in files:
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            n = sum(1 for _ in f)
        if n > FILE_LINES_MAX:
            sizes[path] = n
    # Functions of the code, not the tests' cases (Boost.Test's macros read as functions).
    code = [p for p in files if not p.startswith("tests/")]
    tags = subprocess.check_output(
        ["ctags-universal", "--c++-kinds=f", "--fields=+ne", "--extras=+q", "-f", "-"] + code,
        cwd=ROOT, text=True)
    funcs = {}
    for line in tags.split("\n"):
        cols = line.split("\t")
        if len(cols) < 4:
            continue
        fields = dict(c.split(":", 1) for c in cols[3:] if ":" in c)
        if "line" not in fields or "end" not in fields:
            continue
        n = int(fields["end"]) - int(fields["line"]) + 1
        key = cols[1] + ":" + cols[0]
        if n > FUNCTION_LINES_MAX:
            funcs[key] = max(n, funcs.get(key, 0))
    return sizes, funcs


def read_ratchet():
    kept = {}
    if os.path.exists(RATCHET):
        for line in open(RATCHET, encoding="utf-8"):
            line = line.strip()
            if line and not line.startswith("#"):
                name, n = line.rsplit(" ", 1)
                kept[name] = int(n)
    return kept


def main():
    files = sources()
    failed = False
    fmt = subprocess.run(["clang-format-16", "--dry-run", "-Werror"] + files, cwd=ROOT,
                         capture_output=True, text=True)
    if fmt.returncode != 0:
        bad = sorted({l.split(":", 1)[0] for l in fmt.stderr.split("\n") if ": error:" in l})
        print("style: not as clang-format-16 writes them (run clang-format-16 -i on them):")
        for b in bad:
            print("  " + b)
        failed = True
    sizes, funcs = measure(files)
    now = {**{p: n for p, n in sizes.items()}, **funcs}
    if "--update" in sys.argv:
        with open(RATCHET, "w", encoding="utf-8") as f:
            f.write("# Files over %d lines and functions over %d lines that predate the limits:\n"
                    "# each may shrink, never grow (scripts/check-style.py).\n" %
                    (FILE_LINES_MAX, FUNCTION_LINES_MAX))
            for name in sorted(now):
                f.write("%s %d\n" % (name, now[name]))
        print("style: ratchet rewritten with %d entries" % len(now))
        return 0
    kept = read_ratchet()
    for name, n in sorted(now.items()):
        limit = FILE_LINES_MAX if name in sizes else FUNCTION_LINES_MAX
        if name not in kept:
            print("style: %s has %d lines (at most %d): split it" % (name, n, limit))
            failed = True
        elif n > kept[name]:
            print("style: %s grew to %d lines (the ratchet allows %d): split it" %
                  (name, n, kept[name]))
            failed = True
    shrunk = [k for k in kept if now.get(k, 0) < kept[k]]
    if shrunk and not failed:
        print("style: %d entries of the ratchet shrank: run scripts/check-style.py --update" %
              len(shrunk))
    if failed:
        return 1
    print("style: clang-format clean; %d files and %d functions held by the ratchet" %
          (len(sizes), len(funcs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
