#!/usr/bin/env python3
"""Fails, listing them, on product files over 500 lines and product functions over 80 lines.

Product code is every tracked .cpp/.hpp outside tests/. Functions are found in the
clang-formatted text (the clang_format test keeps it so): a block that opens at the end of a line
whose statement has a parameter list, and closes with a '}' at the same indentation. Declarative
tables (brace initializers with no parameter list) are not functions and are not counted; a
function that only builds a table says so on the line above it with the comment
`// declarative table`.
Run by ctest (test `code_shape`).
"""
import re
import subprocess
import sys

MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80
NOT_FUNCTIONS = re.compile(r"^\s*(namespace|class|struct|enum|union|extern|template\s*<[^>]*>\s*(class|struct))\b")


def tracked_sources():
    out = subprocess.run(["git", "ls-files", "*.cpp", "*.hpp"], capture_output=True, text=True, check=True).stdout
    return [f for f in out.split() if not f.startswith("tests/")]


def functions(lines):
    """Yields (name_line, first, last) for every function body in the file (1-based lines)."""
    statement_start = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith(("//", "#")) or not stripped:
            statement_start = i + 1
            i += 1
            continue
        if stripped.endswith("{") and not stripped.startswith("}"):
            first = lines[statement_start]
            indent = len(first) - len(first.lstrip())
            statement = " ".join(l.strip() for l in lines[statement_start : i + 1])
            if "(" in statement and not NOT_FUNCTIONS.match(statement) and "= [" not in statement:
                end = i + 1
                closer = " " * indent + "}"
                while end < len(lines) and not lines[end].startswith(closer):
                    end += 1
                table = statement_start > 0 and "declarative table" in lines[statement_start - 1]
                if end < len(lines) and indent <= 4 and not table:
                    yield statement[:90], statement_start + 1, end + 1
                    i = end + 1
                    statement_start = i
                    continue
        if stripped.endswith((";", "{", "}")) or stripped.endswith(":"):
            statement_start = i + 1
        i += 1


def main():
    problems = []
    for path in tracked_sources():
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        if len(lines) - 1 > MAX_FILE_LINES:
            problems.append(f"{path}: {len(lines) - 1} lines (at most {MAX_FILE_LINES})")
        for name, first, last in functions(lines):
            n = last - first + 1
            if n > MAX_FUNCTION_LINES:
                problems.append(f"{path}:{first}: function of {n} lines (at most {MAX_FUNCTION_LINES}): {name}")
    if problems:
        print(f"check-code-shape: {len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        return 1
    print("check-code-shape: every product file and function is within its bound")
    return 0


if __name__ == "__main__":
    sys.exit(main())
