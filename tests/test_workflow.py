import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_github_workflow_is_valid():
    exe = Path(sys.executable).parent / "check-jsonschema"
    wf = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert wf
    r = subprocess.run([str(exe), "--builtin-schema", "vendor.github-workflows", *map(str, wf)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_schema_check_catches_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  build:\n    steps: 3\n")
    exe = Path(sys.executable).parent / "check-jsonschema"
    r = subprocess.run([str(exe), "--builtin-schema", "vendor.github-workflows", str(bad)], capture_output=True, text=True)
    assert r.returncode != 0
