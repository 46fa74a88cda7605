"""environment.yml and pyproject.toml pin the same dependencies."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pins(reqs):
    out = {}
    for r in reqs:
        m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(==\s*[^;\s]+)?\s*", r)
        assert m, f"unparseable requirement {r!r}"
        out[m.group(1).lower().replace("_", "-")] = (m.group(2) or "").replace(" ", "")
    return out


def environment_pins(text: str) -> dict[str, str]:
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if re.match(r"\s*- pip:\s*$", l))
    reqs = []
    for l in lines[start + 1:]:
        m = re.match(r"\s+- (.+)$", l)
        if not m:
            break
        if not m.group(1).startswith("-e"):
            reqs.append(m.group(1))
    return _pins(reqs)


def test_environment_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    py = _pins(project["dependencies"])
    env = environment_pins((ROOT / "environment.yml").read_text())
    assert py == env, {k: (py.get(k), env.get(k)) for k in set(py) | set(env) if py.get(k) != env.get(k)}
    assert all(v.startswith("==") for v in py.values()), "every dependency is pinned exactly"
    assert py["torch"] == "==2.13.0"
    assert py["jupyter-book"].startswith("==1.")


def test_environment_yml_is_a_conda_env():
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s*- python=3\.11\s*$", text, re.M)
    assert re.search(r"^\s*- nodejs", text, re.M)
    assert re.search(r"^\s*- -e \.\s*$", text, re.M), "installs the package itself"


def test_pin_mismatch_is_detected():
    env = environment_pins("dependencies:\n  - pip:\n      - numpy==1.0\n")
    assert env != _pins(["numpy==2.0"])
