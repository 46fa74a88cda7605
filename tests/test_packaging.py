"""Packaging (issue 21): the core installs without the training stack and runs `fit`; a command
that needs an extra says which, in one line, with exit status 2."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from test_fitting import world

ROOT = Path(__file__).resolve().parents[1]


def test_a_missing_extra_is_named_in_one_line(monkeypatch, capsys):
    from transfer_laws import cli

    def needs_torch(args):
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(cli, "build_parser", lambda: _parser(needs_torch))
    assert cli.main(["x"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "[train]" in err and "pip install 'transfer-laws[train]'" in err


def _parser(func):
    import argparse

    p = argparse.ArgumentParser()
    p.add_argument("x")
    p.set_defaults(func=func)
    return p


@pytest.mark.slow
def test_the_wheel_installs_without_extras_and_fits(tmp_path):
    """Build the wheel, install it into a fresh venv with the core only (numpy, scipy and pandas,
    at the constraints' versions), and run `fit` on a planted table; torch must be absent there."""
    import shutil

    src = tmp_path / "src-copy"  # build from a copy: setuptools writes build/ into the tree it builds
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist,
                    src], check=True, capture_output=True)
    wheel = next(dist.glob("transfer_laws-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    py = venv / "bin" / "python"
    subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-c", ROOT / "constraints.txt",
                    wheel], check=True, capture_output=True)
    listed = subprocess.run([py, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True).stdout.lower()
    for heavy in ("torch", "lightning", "jupyter-book", "pytest", "altair"):
        assert f"\n{heavy}==" not in "\n" + listed, f"{heavy} was installed with the core"
    w = world(seed=5)
    from transfer_laws.analysis.study import STUDY_EXPERIMENT  # the experiment `fit` reads by default

    table = pd.concat([w, w[w.curriculum == "text"].assign(curriculum="mix")]).assign(experiment=STUDY_EXPERIMENT)
    table.to_csv(tmp_path / "runs.csv", index=False)
    r = subprocess.run([py, "-m", "transfer_laws", "fit", tmp_path / "runs.csv", "--bootstrap", "20"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "text: k =" in r.stdout and "mix: k =" in r.stdout
    r = subprocess.run([py, "-m", "transfer_laws", "fit", tmp_path / "runs.csv", "--law", "chinchilla", "--json"],
                       capture_output=True, text=True, cwd=tmp_path)  # the joint law on the same table's scratch rows
    assert r.returncode == 0, r.stderr
    assert {"E", "A", "B", "alpha", "beta"} <= set(__import__("json").loads(r.stdout))
    r = subprocess.run([py, "-m", "transfer_laws", "sweep", "nothing.toml"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and "[train]" in r.stderr, r.stderr
