import json

import numpy as np
import pytest
import torch
import pandas as pd

from transfer_laws.runs import payload
from transfer_laws.train import vocab_study
from transfer_laws.data import tokens
from transfer_laws.data.prepare import ensure_prepared
from transfer_laws.data.windows import StudyData


def test_chosen_vocab_is_lowest_mean_bpc():
    t = pd.DataFrame({"vocab_size": [512, 512, 1024, 1024], "size": ["a", "b", "a", "b"],
                      "val_bits_per_char": [2.0, 2.5, 2.1, 2.3]})
    from transfer_laws.data.report import chosen_vocab

    assert chosen_vocab(t) == 1024


GRID = """
[defaults]
batch_size = 8
n_ctx = 32
max_steps = 12
min_steps = 12
[[block]]
phase = "pretrain"
curriculum = "text"
size = "n13k"
[[block]]
phase = "target"
curriculum = ["scratch", "text"]
size = "n13k"
d_train_chars = [3000, 200000, 900000]
pretrain = { seed = 0 }
"""


def test_payload_bundles_what_the_gpu_needs(tmp_path):
    from transfer_laws.runs.sweep import load_grid, run_sweep

    grid = tmp_path / "grid.toml"
    grid.write_text(GRID)
    res = tmp_path / "res"
    data = StudyData()
    run_sweep(grid, data, device="cpu", max_runs=1, root=res, log=lambda *_: None)  # the pre-training run
    out = payload.build(grid, tmp_path / "p", python_train_chars=300_000, results_root=res)
    plan = load_grid(out / "plan.jsonl")
    assert sorted(p.spec.d_train_chars for p in plan) == [3000, 3000, 200000, 200000]  # 900000 > the prefix
    full = tokens.load(ensure_prepared(), "python", "train")
    part = tokens.load(out, "python", "train")
    assert np.array_equal(part.tokens, full.prefix(300_000))
    pre = [p.spec.pretrain_id for p in plan if p.spec.pretrain_id][0]
    assert (out / "results" / "checkpoints" / f"{pre}.safetensors").exists()
    # the payload's precomputed windows are the full data's windows
    d = StudyData(out)
    assert torch.equal(d.test_set(512, 32).x, data.test_set(512, 32).x)
    # a sweep of the plan on the payload alone writes records like the full data would
    done = run_sweep(out / "plan.jsonl", d, device="cpu", root=out / "results", log=lambda *_: None)
    assert len(done) == 4


@pytest.mark.slow
def test_gpu_pass_script_end_to_end_on_cpu(tmp_path):
    """scripts/gpu_pass.sh on a tiny payload, on CPU: records, throughput table, within its budget."""
    import os
    import shutil
    import subprocess
    import sys
    import tarfile
    from pathlib import Path

    from transfer_laws.runs.sweep import run_sweep

    root = Path(__file__).resolve().parents[1]
    work = tmp_path / "w"
    shutil.copytree(root / "src", work / "src")
    shutil.copytree(root / "scripts", work / "scripts")
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID)
    res = tmp_path / "res"
    run_sweep(grid, StudyData(), device="cpu", max_runs=1, root=res, log=lambda *_: None)
    payload.build(grid, work / ".payload", python_train_chars=300_000, results_root=res)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "GPU_PASS_DEVICE": "cpu",
           "GPU_PASS_PROCS": "2", "GPU_PASS_SECONDS": "240", "GPU_PASS_BENCH_SIZES": "n13k"}
    out = tmp_path / "out"
    r = subprocess.run(["bash", "scripts/gpu_pass.sh", str(out)], cwd=work, env=env, capture_output=True, text=True,
                       timeout=400)
    assert r.returncode == 0, r.stdout + r.stderr
    with tarfile.open(out / "results.tar.gz") as tf:
        names = [m.name for m in tf.getmembers() if m.name.endswith(".json")]
    assert len(names) == 4
    t = pd.read_csv(out / "throughput.csv")
    assert "all (packed)" in set(t["size"]) and (t.tokens > 0).all()


GRID_SAMPLED = """
[defaults]
recipe = 2
batch_size = 8
n_ctx = 32
val_windows = 64
test_windows = 96
[[block]]
phase = "target"
curriculum = "scratch"
size = ["n13k", "n28k"]
d_train_chars = [3000, 30000]
data_seed = [1, 2]
max_epochs = 2
min_steps = 1
"""


def test_payload_carries_sampled_streams_longest_first(tmp_path):
    """Recipe-2 runs draw their data from the whole split (data seeds): the payload carries each
    stream, identical to the full data's, and its window counts; the plan starts with the longest run."""
    from transfer_laws.runs.sweep import GridError, load_grid

    grid = tmp_path / "grid.toml"
    grid.write_text(GRID_SAMPLED)
    out = payload.build([grid], tmp_path / "p", results_root=tmp_path / "res", sizes=["n28k", "n13k"])
    full, part = StudyData(), StudyData(out)
    plan = load_grid(out / "plan.jsonl")
    assert len(plan) == 8
    costs = [payload.gpu_cost(p.spec, part) for p in plan]
    assert costs == sorted(costs, reverse=True) and plan[0].spec.size == "n28k" and plan[0].spec.d_train_chars == 30000
    for p in plan:
        a, b = full.training_arrays(p.spec), part.training_arrays(p.spec)
        assert np.array_equal(a[0][0], b[0][0]) and a[2:] == b[2:]
    assert torch.equal(part.test_set(96, 32).x, full.test_set(96, 32).x)
    assert part.val_set(plan[0].spec).x.shape == (64, 32)
    only = payload.build([grid], tmp_path / "q", results_root=tmp_path / "res", sizes=["n13k"])
    assert {p.spec.size for p in load_grid(only / "plan.jsonl")} == {"n13k"}
    with pytest.raises(GridError, match="unknown size"):
        payload.build([grid], tmp_path / "r", results_root=tmp_path / "res", sizes=["n7k"])
    assert not (tmp_path / "r").exists()
