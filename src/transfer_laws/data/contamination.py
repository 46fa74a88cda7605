"""How much of a corpus looks like Python: a line-level detector of Python-only syntax."""

from __future__ import annotations

import re

# Lines that are (nearly) unambiguous Python: `def f(...):`, `class C(...):`, `from x import y`,
# `import x` at the start of a line, `elif ...:`, `except ...:`, `if __name__ == "__main__":`,
# and `self.x =` assignments. Prose almost never produces them; Go, Rust and TypeScript rarely.
PYTHON_LINE = re.compile(
    r"^\s*(?:def \w+\(.*\)\s*(?:->.*)?:\s*$"
    r"|class \w+(?:\(.*\))?:\s*$"
    r"|from [\w.]+ import [\w*(]"
    r"|import [\w.]+(?: as \w+)?\s*$"
    r"|elif .+:\s*$"
    r"|except(?: [\w.(), ]+(?: as \w+)?)?:\s*$"
    r"|if __name__ == ['\"]__main__['\"]:"
    r"|self\.\w+ = )"
)
DOC_THRESHOLD = 0.02  # a document "looks like Python" when >= 2% of its non-empty lines match


def python_line_rate(text: str) -> tuple[int, int]:
    """(matching lines, non-empty lines)."""
    lines = [l for l in text.split("\n") if l.strip()]
    return sum(1 for l in lines if PYTHON_LINE.match(l)), len(lines)


def looks_like_python(text: str) -> bool:
    hit, n = python_line_rate(text)
    return n > 0 and hit / n >= DOC_THRESHOLD and hit >= 3
