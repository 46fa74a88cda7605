"""pyproject.toml, constraints.txt and environment.yml agree: the core is numpy, scipy and pandas
as ranges; every requirement (extras included) is pinned exactly in constraints.txt, inside its
range; environment.yml installs through those constraints (issue 21)."""

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def _name(n: str) -> str:
    return n.lower().replace("_", "-")


def constraint_pins(text: str) -> dict[str, str]:
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        assert m, f"constraints.txt: {line!r} is not an exact pin"
        pins[_name(m.group(1))] = m.group(2)
    return pins


def project_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra, rs in project["optional-dependencies"].items():
        reqs += [Requirement(r) for r in rs if not Requirement(r).name == project["name"]]
    return reqs


def uncovered(reqs: list[Requirement], pins: dict[str, str]) -> list[str]:
    """Requirements without a pin, or whose pin lies outside their range."""
    bad = []
    for r in reqs:
        v = pins.get(_name(r.name))
        if v is None:
            bad.append(f"{r.name}: not pinned")
        elif not r.specifier.contains(v, prereleases=True):
            bad.append(f"{r.name}: pin {v} outside {r.specifier}")
    return bad


def test_core_is_the_analysis_stack_as_ranges():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {_name(Requirement(r).name): Requirement(r) for r in project["dependencies"]}
    assert set(core) == {"numpy", "scipy", "pandas"}
    assert all(not any(s.operator == "==" for s in r.specifier) for r in core.values()), "ranges, not pins"
    extras = project["optional-dependencies"]
    assert {"train", "book", "slurm", "test"} <= set(extras)
    assert any(r.startswith("torch") for r in extras["train"]) and any(r.startswith("submitit") for r in extras["slurm"])
    assert any(Requirement(r).name == "jupyter-book" and not Requirement(r).specifier.contains("2.0")
               for r in extras["book"]), "jupyter-book < 2"


def test_constraints_pin_every_requirement_inside_its_range():
    pins = constraint_pins((ROOT / "constraints.txt").read_text())
    assert not uncovered(project_requirements(), pins)
    assert pins["torch"] == "2.13.0" and pins["jupyter-book"].startswith("1.")


def test_environment_yml_installs_through_the_constraints():
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s*- python=3\.11\s*$", text, re.M)
    assert re.search(r"^\s*- nodejs", text, re.M)
    assert re.search(r"^\s*- -c constraints\.txt\s*$", text, re.M)
    assert re.search(r"^\s*- -e \.\[train,book,slurm,test\]\s*$", text, re.M), "installs the package with its extras"
    assert re.search(r"^\s*- torch==2\.13\.0\s*$", text, re.M), "torch pinned (a CPU build first)"


def test_makefile_installs_through_the_constraints():
    make = (ROOT / "Makefile").read_text()
    assert "torch==2.13.0" in make and "-c constraints.txt" in make


def test_a_pin_outside_its_range_or_missing_is_detected():
    assert uncovered([Requirement("numpy>=2")], {"numpy": "1.26.0"}) == ["numpy: pin 1.26.0 outside >=2"]
    assert uncovered([Requirement("scipy>=1")], {}) == ["scipy: not pinned"]
    with pytest.raises(AssertionError, match="not an exact pin"):
        constraint_pins("numpy>=1\n")
