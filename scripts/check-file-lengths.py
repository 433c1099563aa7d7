#!/usr/bin/env python3
"""Fails when a hand-written Swift file is longer than 500 lines, naming each such file.

A long file is a sign that it holds more than one thing: split it along meaning (one type, one
concern or one test suite per file), not at an arbitrary line. Generated files are exempt: they
say so in a line near their top that contains `GENERATED FILE: do not edit by hand` (as
scripts/gen-kms-shapes.py writes into Sources/KMSWire/KMSShapes.swift).

Usage: check-file-lengths.py [--self-test] [ROOT]  (ROOT defaults to the package's directory)

`--self-test` first runs the check on a doctored tree (a file one line too long, one exactly at
the limit, a long generated file, and a long file inside a build folder) and fails unless only
the first is reported, so the check cannot rot into one that always passes.
"""
import os
import sys
import tempfile

LIMIT = 500
GENERATED_MARKER = "GENERATED FILE: do not edit by hand"
MARKER_WINDOW = 10  # the marker must be within the first lines, where a reader sees it


def swift_files(root):
    """Every .swift file under `root`, skipping hidden folders (.build, .build-release, .git, …)."""
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
        for name in sorted(files):
            if name.endswith(".swift"):
                yield os.path.join(directory, name)


def too_long(root):
    """(path relative to `root`, line count) of each hand-written file over the limit."""
    found = []
    for path in swift_files(root):
        with open(path, encoding="utf-8", errors="replace") as file:
            lines = file.read().splitlines()
        if len(lines) <= LIMIT:
            continue
        if any(GENERATED_MARKER in line for line in lines[:MARKER_WINDOW]):
            continue
        found.append((os.path.relpath(path, root), len(lines)))
    return found


def self_test():
    with tempfile.TemporaryDirectory() as root:
        def write(relative, lines):
            path = os.path.join(root, relative)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as file:
                file.write("".join(line + "\n" for line in lines))

        write("Sources/A/Long.swift", ["// line"] * (LIMIT + 1))
        write("Sources/A/AtLimit.swift", ["// line"] * LIMIT)
        write("Sources/A/Generated.swift", ["// " + GENERATED_MARKER + "."] + ["// line"] * (LIMIT * 2))
        write(".build/checkouts/Dependency.swift", ["// line"] * (LIMIT * 2))
        found = too_long(root)
        expected = [(os.path.join("Sources", "A", "Long.swift"), LIMIT + 1)]
        if found != expected:
            print(f"check-file-lengths: error: self-test expected {expected}, got {found}", file=sys.stderr)
            return False
    return True


def main(argv):
    arguments = [a for a in argv[1:] if a != "--self-test"]
    if "--self-test" in argv[1:] and not self_test():
        return 1
    root = arguments[0] if arguments else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = too_long(root)
    for path, count in found:
        print(f"check-file-lengths: error: {path} has {count} lines, more than {LIMIT} "
              f"(split it along meaning, or mark it '{GENERATED_MARKER}' if a script writes it)",
              file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
