"""Runs that survive interruption: in-progress checkpoints and the forks that share a stable phase.

A run of recipe 2 writes a Lightning checkpoint (weights, optimiser, schedule, loop counters and the
evaluator's state; the window sampler is indexed by step, so it needs none) to
``results/in_progress/<run_id>.ckpt`` every few minutes; ``train`` resumes from it when it exists
and deletes it once the record lands. A session that must stop commits that folder.

Warm-up-stable-decay pre-training runs that differ only in their token budget share every step
before the earlier one starts to cool down. A run therefore saves a *fork* at the cool-down start
of itself and of each sibling the sweep names, under ``results/forks/<family>/step_<s>.ckpt``, and a
run starts from the latest fork of its family at or before its own cool-down start. A fork is a
cache: a run that finds none computes the same steps itself. The family ignores the experiment's
name, which changes no computation.

From-scratch (and fine-tuning) runs with the wsd schedule and an explicit warm-up form families the
same way across their horizon (``max_epochs``; the study's *horizon branches*): a 400-epoch branch
starts from the 200-epoch branch's fork at 160 epochs. Their warm-up must be explicit, as a warm-up
that is a share of the horizon would differ between siblings.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from transfer_laws import runs


def in_progress_path(run_id: str, root: Path | None = None) -> Path:
    return runs.results_dir(root) / "in_progress" / f"{run_id}.ckpt"


# the fields that set only a wsd run's horizon (the experiment's name changes no computation either)
_PRETRAIN_HORIZON = ("train_tokens", "max_steps", "experiment")
_TARGET_HORIZON = ("max_epochs", "max_steps", "min_steps", "experiment")


def family(spec: runs.RunSpec) -> str | None:
    """The key shared by wsd runs that differ only in their horizon: pre-training runs by token budget,
    target runs (with an explicit warm-up) by epoch cap; None for every other run."""
    if spec.schedule != "wsd" or (spec.phase == "target" and spec.warmup_steps is None):
        return None
    horizon = _PRETRAIN_HORIZON if spec.phase == "pretrain" else _TARGET_HORIZON
    d = {k: v for k, v in spec.to_dict().items() if k not in horizon}
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def fork_path(key: str, step: int, root: Path | None = None) -> Path:
    return runs.results_dir(root) / "forks" / key / f"step_{step:07d}.ckpt"


def latest_fork(key: str | None, at_most: int, root: Path | None = None) -> Path | None:
    """The family's fork with the largest step <= ``at_most`` (a run's own cool-down start)."""
    if key is None:
        return None
    d = runs.results_dir(root) / "forks" / key
    steps = sorted(int(p.stem.split("_")[1]) for p in d.glob("step_*.ckpt")) if d.exists() else []
    steps = [s for s in steps if 0 < s <= at_most]
    return fork_path(key, steps[-1], root) if steps else None
