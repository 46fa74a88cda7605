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
    with tarfile.open(out / "results.tar") as tf:
        names = [m.name for m in tf.getmembers() if m.name.endswith(".json")]
    assert len(names) == 4
    t = pd.read_csv(out / "throughput.csv")
    assert "all (packed)" in set(t["size"]) and (t.tokens > 0).all()
