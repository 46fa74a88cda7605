"""The layout's promises: chapters that read tables load no torch; analysis and report never do."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
TRAINING_DEMO = {"03_model_training.md"}  # the live training demo trains a model in the page


def _imports(chapter: Path) -> list[str]:
    cells = re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", chapter.read_text(), flags=re.S)
    return [line for cell in cells for line in cell.splitlines() if re.match(r"(import|from) \w", line)]


@pytest.mark.parametrize("chapter", sorted(p.name for p in BOOK.glob("*.md") if p.name not in TRAINING_DEMO))
def test_chapter_imports_load_no_torch(chapter):
    lines = _imports(BOOK / chapter)
    code = "\n".join(lines + ["import sys", "bad = [m for m in ('torch', 'lightning') if m in sys.modules]",
                              "assert not bad, f'imports {bad}'"])
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, f"{chapter}: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.stdout}"


def test_analysis_and_report_load_no_torch():
    code = ("import importlib, pkgutil, sys, transfer_laws.analysis as a, transfer_laws.report as r\n"
            "for pkg in (a, r):\n"
            "    for m in pkgutil.iter_modules(pkg.__path__):\n"
            "        importlib.import_module(f'{pkg.__name__}.{m.name}')\n"
            "assert 'torch' not in sys.modules and 'lightning' not in sys.modules\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
