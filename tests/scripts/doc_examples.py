#!/usr/bin/env python3
"""Checks the documentation's examples against a running service.

Usage: doc_examples.py BASE_URL FILE...

An example is a ```bash block holding one curl command, right after the line
MARKER, followed by a ```json block: the answer the command gives on the
demo data (`make run`'s seed). The command is run against BASE_URL in place
of localhost:8080 (as argv, never through a shell) and its answer must match
the block, where
  - "…" stands for any value, and `[…]` or `{…}` for any array or object;
  - an array ending in `, …]` needs only its first elements to match;
  - a member named *Cursor needs only the same type (cursors are signed
    with a key each run makes).
Prints one line per example and exits 1 when any does not match.
"""
import json
import re
import shlex
import subprocess
import sys

MARKER = "<!-- example: checked against the demo data by tests/scripts/doc_examples.py -->"
ANY = "…"


def examples(path):
    """Yields (line number, curl argv, expected text) for each marked example."""
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        if lines[i].strip() != MARKER:
            i += 1
            continue
        start = i + 1
        if lines[start].strip() != "```bash":
            raise SystemExit(f"{path}:{start + 1}: the marker must precede a ```bash block")
        end = lines.index("```", start + 1)
        command = " ".join(line.rstrip("\\").strip() for line in lines[start + 1:end])
        j = end + 1
        while lines[j].strip() == "":
            j += 1
        if lines[j].strip() != "```json":
            raise SystemExit(f"{path}:{j + 1}: the example's answer must follow as a ```json block")
        close = lines.index("```", j + 1)
        yield start + 1, shlex.split(command), "\n".join(lines[j + 1:close])
        i = close + 1


def expected_value(text):
    text = text.replace("[" + ANY + "]", json.dumps(ANY, ensure_ascii=False)).replace("{" + ANY + "}", json.dumps(ANY, ensure_ascii=False))
    text = re.sub(r",\s*" + ANY + r"\s*\]", ", " + json.dumps(ANY, ensure_ascii=False) + "]", text)
    return json.loads(text)


def differences(want, got, where="$"):
    if want == ANY:
        return []
    if where.endswith("Cursor") and isinstance(want, str):
        return [] if isinstance(got, str) else [f"{where}: a cursor, got {json.dumps(got)}"]
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return [f"{where}: an object, got {json.dumps(got)[:80]}"]
        if list(want) != list(got):
            return [f"{where}: members {list(want)}, got {list(got)}"]
        return [d for key in want for d in differences(want[key], got[key], f"{where}.{key}")]
    if isinstance(want, list):
        if not isinstance(got, list):
            return [f"{where}: an array, got {json.dumps(got)[:80]}"]
        prefix = len(want) > 0 and want[-1] == ANY
        items = want[:-1] if prefix else want
        if (len(got) < len(items)) if prefix else (len(got) != len(items)):
            return [f"{where}: {len(items)}{'+' if prefix else ''} elements, got {len(got)}"]
        return [d for k, item in enumerate(items) for d in differences(item, got[k], f"{where}[{k}]")]
    return [] if want == got and type(want) is type(got) else [
        f"{where}: {json.dumps(want)}, got {json.dumps(got)}"]


def main():
    base, files = sys.argv[1], sys.argv[2:]
    bad = 0
    count = 0
    for path in files:
        for line, argv, text in examples(path):
            count += 1
            if argv[0] != "curl":
                raise SystemExit(f"{path}:{line}: an example runs curl, not {argv[0]}")
            argv = [a.replace("localhost:8080", base) for a in argv]
            answer = subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout
            try:
                found = differences(expected_value(text), json.loads(answer))
            except json.JSONDecodeError as error:
                found = [f"not JSON ({error}): {answer[:200]}"]
            print(f"{path}:{line}: {'ok' if not found else 'DIFFERS'}")
            for d in found[:10]:
                print(f"  {d}")
            bad += 1 if found else 0
    if count == 0:
        print("no marked examples found")
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
