#!/usr/bin/env python3
"""List the functions in src/ longer than a limit (default 80 lines).

    scripts/long-fns.py [LIMIT] [DIR]

A function runs from its `fn` line to the first line that closes it: a `}`
at the indentation of the `fn` line (rustfmt's layout). Declarations
without a body (`fn f();` in a trait) are skipped. Prints `lines path:line
name`, longest first. Unit tests count like any other code.
"""
import pathlib
import re
import sys

FN = re.compile(r"^(\s*)(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?(?:extern\s+\"\w+\"\s+)?fn\s+(\w+)")


def functions(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        m = FN.match(line)
        if not m:
            continue
        indent, name = m.group(1), m.group(2)
        end = None
        for j in range(i, len(lines)):
            text = lines[j]
            if j > i and text.startswith(indent) and text[len(indent):].startswith("}"):
                end = j
                break
            if text.rstrip().endswith(";") and "{" not in "".join(lines[i : j + 1]):
                break  # a declaration without a body
            if j == i and text.rstrip().endswith("}") and "{" in text:
                end = j  # a one-line function
                break
        if end is not None:
            yield i + 1, name, end - i + 1


def main():
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 80
    root = pathlib.Path(sys.argv[2] if len(sys.argv) > 2 else "src")
    found = [
        (n, f"{p}:{line}", name)
        for p in sorted(root.rglob("*.rs"))
        for line, name, n in functions(p)
        if n > limit
    ]
    for n, at, name in sorted(found, reverse=True):
        print(f"{n:5} {at} {name}")


if __name__ == "__main__":
    main()
