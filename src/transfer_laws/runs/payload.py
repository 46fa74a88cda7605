"""A self-contained bundle (at most 64 MiB) for running part of a grid on a GPU machine.

``python -m transfer_laws payload GRID OUT_DIR [--python-train-chars N] [--sizes ..] [--curricula ..]``
selects the grid's runs that are not done, are on the target distribution, use the main tokenizer,
whose pre-training run is done here, and (for runs on a prefix of the split, ``data_seed = 0``) use
at most N Python training characters; optionally only some sizes and curricula. It writes into OUT_DIR:

* ``plan.jsonl``: those runs' specs, longest first;
* the first N characters of the Python training split (an exact prefix: every D <= N addresses
  the same tokens as the full split; only its first million when every selected run has a data seed,
  for the sweep's throughput probe); the sampled training
  stream of every selected run with a data seed (``data_seed >= 1``, recipe 2), precomputed, since
  those streams draw from the whole split; and the fixed evaluation windows of the Python
  validation and test splits at every window count a selected run evaluates on (the same windows
  as on the full data);
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
from transfer_laws.data.windows import StudyData, eval_file_name, sample_stream, save_eval_set, save_stream
from transfer_laws.runs.sweep import GridError, load_grid, write_plan_file
from transfer_laws.train.config import LADDER
from transfer_laws.train.loop import git_commit

LIMIT_BYTES = 64 * 2**20
PROBE_CHARS = 1_000_000  # Python training characters a payload of sampled streams carries for throughput probes


def build(grid: Path | list[Path] | None, out: Path, python_train_chars: int = 10_000_000,
          results_root: Path | None = None, limit_bytes: int = LIMIT_BYTES, sizes: list[str] | None = None,
          curricula: list[str] | None = None) -> Path:
    """``grid``: one grid or several (their selected runs together, each once). The plan is written
    longest run first (``gpu_cost``), so that a packed pass stopped at its budget has started its
    longest runs at once rather than after the short ones."""
    data = StudyData()
    grids = [] if grid is None else [grid] if isinstance(grid, (str, Path)) else list(grid)
    for name, given, known in (("size", sizes, LADDER), ("curriculum", curricula, ("scratch", "text", "mix"))):
        if given and set(given) - set(known):
            raise GridError(f"unknown {name} {sorted(set(given) - set(known))}; known: {', '.join(known)}")
    meta = json.loads((data.dir / "prepare.json").read_text())
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "results" / "runs").mkdir(parents=True)
    (tmp / "results" / "checkpoints").mkdir(parents=True)
    plan, seen = [], set()
    for g in grids:
        for p in load_grid(g, data, results_root):
            if (p.spec.run_id not in seen and not runs.is_done(p.spec, results_root) and p.spec.phase == "target"
                    and p.spec.task == "lm" and p.spec.tokenizer == data.tokenizer
                    and (p.spec.data_seed or p.spec.d_train_chars <= python_train_chars)
                    and (sizes is None or p.spec.size in sizes)
                    and (curricula is None or p.spec.curriculum in curricula)
                    and (p.spec.pretrain_id is None or runs.record_path(p.spec.pretrain_id, results_root).exists())):
                plan.append(p)
                seen.add(p.spec.run_id)
    if grids and not plan:
        raise GridError(f"no run of {', '.join(map(str, grids))} is left to put in a payload with this selection")
    plan.sort(key=lambda p: -gpu_cost(p.spec, data))
    for pid in sorted({p.spec.pretrain_id for p in plan if p.spec.pretrain_id}):
        shutil.copy(runs.record_path(pid, results_root), tmp / "results" / "runs")
        shutil.copy(runs.checkpoint_path(pid, results_root), tmp / "results" / "checkpoints")
    write_plan_file(plan, tmp / "plan.jsonl")
    evals = {("val", windows.N_VAL_WINDOWS, 128), ("test", windows.N_TEST_WINDOWS, 128),
             ("test", windows.N_ZERO_SHOT_WINDOWS, 128)}
    for p in plan:
        evals |= {("val", p.spec.val_windows, p.spec.n_ctx), ("test", p.spec.test_windows, p.spec.n_ctx),
                  ("test", windows.N_ZERO_SHOT_WINDOWS, p.spec.n_ctx)}
    for split, n, n_ctx in sorted(evals):
        save_eval_set(data._windows("python", split, n, n_ctx), tmp / eval_file_name("python", split, n, n_ctx))
    train = data.array("python", "train")
    # the prefix the runs without a data seed train on; else a short one, for the sweep's throughput probe
    prefix_chars = python_train_chars if grid is None or any(not p.spec.data_seed for p in plan) \
        else min(python_train_chars, PROBE_CHARS)
    n = train.n_tokens_for_chars(prefix_chars)
    tokens.save(tmp, "python", "train", np.asarray(train.tokens[:n]), np.asarray(train.cum_chars[:n]))
    streams = sorted({(p.spec.data_seed, p.spec.d_train_chars) for p in plan if p.spec.data_seed})
    for seed, d in streams:
        save_stream(tmp, seed, d, *sample_stream(train, seed, d))
    (tmp / "prepare.json").write_text(json.dumps({
        "token_hashes": meta["token_hashes"], "vocab_size": meta["vocab_size"],
        "payload": {"python_train_chars": prefix_chars, "python_train_tokens": n, "runs": len(plan),
                    "sampled_streams": len(streams), "git_commit": git_commit(),
                    "note": "python/train is an exact prefix of the full split; sampled streams and evaluation "
                            "windows precomputed"}},
        indent=1) + "\n")
    size = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
    if size > limit_bytes:
        shutil.rmtree(tmp)
        raise RuntimeError(f"payload would be {size / 2**20:.1f} MiB, over the {limit_bytes / 2**20:.0f} MiB limit: "
                           "lower --python-train-chars")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def gpu_cost(spec: runs.RunSpec, data: StudyData) -> float:
    """A run's relative time on a GPU, for ordering a payload: its step budget, each step costing a
    fixed overhead (these models are bound by Python and kernel launches there, docs: the GPU
    throughput table) plus its arithmetic, which matters from about 3M parameters on."""
    from transfer_laws.train.loop import budget_steps

    return budget_steps(spec, data.training_arrays(spec)[2]) * (1.0 + LADDER[spec.size].n_params() / 3e6)
