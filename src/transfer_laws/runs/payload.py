"""A self-contained bundle (at most 64 MiB) for running part of a grid on a GPU machine.

``python -m transfer_laws payload GRID OUT_DIR [--python-train-chars N]`` selects the grid's
runs that are not done, are on the target distribution, use at most N Python training
characters and whose pre-training run is done here; and writes into OUT_DIR:

* ``plan.jsonl``: those runs' specs, in the sweep's order;
* the first N characters of the Python training split (an exact prefix: every D <= N addresses
  the same tokens as the full split) and the fixed evaluation windows of the Python validation
  and test splits, precomputed (the same windows as on the full data);
* ``results/``: the records and checkpoints of the pre-training runs the fine-tunes start from;
* ``prepare.json``: the full token hashes (what the runs' data are defined on) and the payload's
  contents.

Point ``TRANSFER_LAWS_PREPARED`` at OUT_DIR on the other machine and sweep ``plan.jsonl``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from transfer_laws import runs
from transfer_laws.data import tokens, windows
from transfer_laws.data.windows import StudyData, eval_file_name, save_eval_set
from transfer_laws.runs.sweep import load_grid, write_plan_file

LIMIT_BYTES = 64 * 2**20


def build(grid: Path | None, out: Path, python_train_chars: int = 10_000_000, results_root: Path | None = None,
          limit_bytes: int = LIMIT_BYTES) -> Path:
    data = StudyData()
    meta = json.loads((data.dir / "prepare.json").read_text())
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "results" / "runs").mkdir(parents=True)
    (tmp / "results" / "checkpoints").mkdir(parents=True)
    plan = []
    if grid is not None:
        plan = [p for p in load_grid(grid, data)
                if not runs.is_done(p.spec, results_root) and p.spec.phase == "target"
                and p.spec.d_train_chars <= python_train_chars
                and (p.spec.pretrain_id is None or runs.record_path(p.spec.pretrain_id, results_root).exists())]
        for pid in sorted({p.spec.pretrain_id for p in plan if p.spec.pretrain_id}):
            shutil.copy(runs.record_path(pid, results_root), tmp / "results" / "runs")
            shutil.copy(runs.checkpoint_path(pid, results_root), tmp / "results" / "checkpoints")
    write_plan_file(plan, tmp / "plan.jsonl")
    n_ctxs = sorted({p.spec.n_ctx for p in plan} | {128})
    for n_ctx in n_ctxs:
        for split, n in (("val", windows.N_VAL_WINDOWS), ("test", windows.N_TEST_WINDOWS),
                         ("test", windows.N_ZERO_SHOT_WINDOWS)):
            save_eval_set(data._windows("python", split, n, n_ctx), tmp / eval_file_name("python", split, n, n_ctx))
    train = data.array("python", "train")
    n = train.n_tokens_for_chars(python_train_chars)
    tokens.save(tmp, "python", "train", np.asarray(train.tokens[:n]), np.asarray(train.cum_chars[:n]))
    (tmp / "prepare.json").write_text(json.dumps({
        "token_hashes": meta["token_hashes"], "vocab_size": meta["vocab_size"],
        "payload": {"python_train_chars": python_train_chars, "python_train_tokens": n, "runs": len(plan),
                    "note": "python/train is an exact prefix of the full split; evaluation windows precomputed"}},
        indent=1) + "\n")
    size = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
    if size > limit_bytes:
        shutil.rmtree(tmp)
        raise RuntimeError(f"payload would be {size / 2**20:.1f} MiB, over the {limit_bytes / 2**20:.0f} MiB limit: "
                           "lower --python-train-chars")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out
