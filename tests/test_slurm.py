"""Sweeps on SLURM (issue 21), for real: a single-node cluster from Debian's packages, a tiny grid
(a pre-training, two fine-tunes, one from-scratch run) submitted through submitit, one job
cancelled, the sweep run again; the records equal a local-executor run's (same specs and ids,
losses to 1e-6 with threads pinned alike)."""

import json
import subprocess
import sys
import time

import pytest

from slurm_cluster import Cluster

from test_sweep import GRID as SWEEP_GRID

# test_sweep's tiny grid: a pre-training, two text fine-tunes and one from-scratch run
GRID = SWEEP_GRID.format(steps=12).replace('curriculum = ["scratch", "text"]', 'curriculum = "text"') + """
[[block]]
phase = "target"
curriculum = "scratch"
size = "n13k"
d_train_chars = 3000
"""


def _records(folder):
    out = {}
    for p in sorted((folder / "runs").glob("*.json")):
        r = json.loads(p.read_text())
        out[r["run_id"]] = r
    return out


def _sweep(grid, results, env, *extra, wait=True):
    cmd = [sys.executable, "-m", "transfer_laws", "sweep", str(grid), "--results", str(results), "--device", "cpu", *extra]
    if wait:
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="a Debian SLURM cluster")
def test_slurm_sweep_matches_local_after_a_cancel(tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID)
    with Cluster(tmp_path / "cluster") as cluster:
        env = {**cluster.env, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # threads pinned alike
        local = _sweep(grid, tmp_path / "local", env)
        assert local.returncode == 0, local.stderr[-2000:]
        expected = _records(tmp_path / "local")
        assert len(expected) == 4

        slurm = ["--executor", "slurm", "--slurm-folder", str(tmp_path / "jobs")]
        first = _sweep(grid, tmp_path / "slurm", env, *slurm, wait=False)
        # the fine-tune at the larger D_F waits on its pre-training job: cancel it while it is held
        target = next(r["run_id"] for r in expected.values() if r["spec"]["phase"] == "target"
                      and r["spec"]["curriculum"] == "text" and r["spec"]["d_train_chars"] == 30000)
        end = time.time() + 120
        while time.time() < end:
            q = subprocess.run(["squeue", "--me", "--noheader", "--format=%j"], capture_output=True, text=True, env=env)
            if target in q.stdout.split():
                break
            time.sleep(0.5)
        else:
            first.kill()
            pytest.fail(f"job {target} never appeared in the queue:\n{first.stdout.read() if first.stdout else ''}")
        subprocess.run(["scancel", f"--name={target}"], check=True, env=env)
        out1, _ = first.communicate(timeout=900)
        assert first.returncode == 0, out1[-3000:]
        assert f"FAILED {target}" in out1 and "log " in out1, out1[-3000:]
        assert target not in _records(tmp_path / "slurm")

        second = _sweep(grid, tmp_path / "slurm", env, *slurm)
        assert second.returncode == 0, (second.stdout + second.stderr)[-3000:]
        submitted = [l for l in second.stdout.splitlines() if l.startswith("submitted ")]
        assert len(submitted) == 1 and target in submitted[0], second.stdout  # only the cancelled run again

    got = _records(tmp_path / "slurm")
    assert set(got) == set(expected)
    for rid, want in expected.items():
        have = got[rid]
        assert have["spec"] == want["spec"]
        for key in ("test_loss", "val_loss"):
            assert abs(have[key] - want[key]) <= 1e-6, (rid, key, have[key], want[key])
        assert [p["val_loss"] for p in have["curve"]] == pytest.approx([p["val_loss"] for p in want["curve"]], abs=1e-6)
