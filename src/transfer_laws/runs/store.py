"""The run store: atomic run records under ``results/``, and the tidy ``runs.csv`` / ``curves.csv`` tables.

A finished run writes one JSON record, ``results/runs/<run_id>.json``, through a temporary file
renamed into place: a record that exists is complete, and a run without one is simply not done.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from transfer_laws.runs.record import RunRecord
from transfer_laws.runs.spec import RunSpec

def results_dir(root: str | os.PathLike | None = None) -> Path:
    """``results/`` of the repository (or $TRANSFER_LAWS_RESULTS, or ``root``)."""
    if root is not None:
        return Path(root)
    if os.environ.get("TRANSFER_LAWS_RESULTS"):
        return Path(os.environ["TRANSFER_LAWS_RESULTS"])
    return Path(__file__).resolve().parents[3] / "results"


def record_path(run_id: str, root: Path | None = None) -> Path:
    return results_dir(root) / "runs" / f"{run_id}.json"


def checkpoint_path(run_id: str, root: Path | None = None) -> Path:
    return results_dir(root) / "checkpoints" / f"{run_id}.safetensors"


def is_done(spec: RunSpec, root: Path | None = None) -> bool:
    return record_path(spec.run_id, root).exists()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_record(record: RunRecord | dict, root: Path | None = None) -> Path:
    """Write a record atomically (a dict is checked against ``RunRecord`` first)."""
    rec = record if isinstance(record, RunRecord) else RunRecord.from_dict(record)
    path = record_path(rec.run_id, root)
    atomic_write_bytes(path, (json.dumps(rec.to_dict(), indent=1, sort_keys=True) + "\n").encode())
    return path


def load_records(root: Path | None = None) -> list[dict]:
    d = results_dir(root) / "runs"
    return [json.loads(p.read_text()) for p in sorted(d.glob("*.json"))] if d.exists() else []


def window_losses(records: list[dict]) -> dict[str, np.ndarray]:
    """Run id -> per-window test losses (nats/token), for the records that store them (those written
    after per-window losses were added to the record; older records have only the mean and its SE)."""
    return {r["run_id"]: np.asarray(r["test_window_losses_nats"], dtype=float)
            for r in records if r.get("test_window_losses_nats")}


# ---- tables ---------------------------------------------------------------------------------

RUN_COLUMNS = [
    "run_id", "phase", "experiment", "curriculum", "pretrain_id", "pretrain_tokens", "size", "n_params",
    "n_params_total", "d_train_chars", "d_train_tokens", "seed", "lr", "val_loss", "test_loss", "test_loss_se",
    "test_bits_per_char", "best_step", "steps", "tokens_seen", "epochs", "stop_reason", "flops_kaplan",
    "flops_full", "wall_seconds", "hardware", "device",
    # recipe 2 (issue 17); empty for first-grid records
    "recipe", "data_seed", "tokenizer", "schedule", "pretrain_seed", "batch_size_used", "zero_shot", "unresolved",
    "diverged", "cpu_seconds", "max_epochs",
    # horizon branches (wsd target runs that differ only in max_epochs): the key they share
    "horizon_family",
    # a fine-tune against its own checkpoint on the same test windows (recipe-2 pre-trainings store
    # the checkpoint's per-window losses): the mean difference and its paired standard error
    "vs_checkpoint_nats", "vs_checkpoint_se",
    # downstream tasks (issue 22): "lm" for next-token runs; D in examples and the test accuracy
    "task", "d_train_examples", "test_accuracy",
]
CURVE_COLUMNS = ["run_id", "step", "tokens", "chars", "flops_kaplan", "flops_full", "lr", "val_loss",
                 "zero_shot_loss"]


def runs_table(records: list[dict]) -> pd.DataFrame:
    by_id = {r["run_id"]: r for r in records}
    rows = []
    for r in records:
        s = r["spec"]
        pre = by_id.get(s.get("pretrain_id") or "")
        rows.append({
            "run_id": r["run_id"], "phase": s["phase"], "experiment": s["experiment"],
            "curriculum": s["curriculum"], "pretrain_id": s.get("pretrain_id"),
            "pretrain_tokens": (pre["tokens_seen"] if pre else (r["tokens_seen"] if s["phase"] == "pretrain" else None)),
            "size": s["size"], "n_params": r["n_params"], "n_params_total": r["n_params_total"],
            "d_train_chars": s.get("d_train_chars") or r.get("d_train_chars"), "d_train_tokens": r["d_train_tokens"],
            "seed": s["seed"], "lr": s["lr"], "val_loss": r["val_loss"], "test_loss": r["test_loss"],
            "test_loss_se": r["test_loss_se"], "test_bits_per_char": r["test_bits_per_char"],
            "best_step": r["best_step"], "steps": r["steps"], "tokens_seen": r["tokens_seen"], "epochs": r["epochs"],
            "stop_reason": r["stop_reason"], "flops_kaplan": r["flops_kaplan"], "flops_full": r["flops_full"],
            "wall_seconds": r["wall_seconds"], "hardware": r["hardware"]["name"], "device": r["hardware"]["device"],
            "recipe": s.get("recipe", 1), "data_seed": s.get("data_seed", 0), "tokenizer": s.get("tokenizer", "main"),
            "schedule": s.get("schedule", "cosine"), "pretrain_seed": pre["spec"]["seed"] if pre else None,
            "batch_size_used": r.get("batch_size", s["batch_size"]),
            "zero_shot": _checks(r).get("zero_shot") if s["phase"] == "target" else None,
            "unresolved": _checks(r).get("unresolved") if s["phase"] == "target" else None,
            # from the curve for every record (recipe-2 records written before the check lack it)
            "diverged": _diverged(r) if s["phase"] == "target" else None,
            "cpu_seconds": r.get("cpu_seconds"), "max_epochs": s.get("max_epochs"),
            "horizon_family": _horizon_family(s),
            **_vs_checkpoint(r, pre),
            "task": s.get("task", "lm"), "d_train_examples": s.get("d_train_examples"),
            "test_accuracy": r.get("test_accuracy"),
        })
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def _horizon_family(spec: dict) -> str | None:
    if spec["phase"] != "target" or spec.get("schedule", "cosine") != "wsd":
        return None
    from transfer_laws.train import resume

    return resume.family(RunSpec.from_dict(spec))


def _checks(record: dict) -> dict:
    """The record's own checks (recipe 2), or the same checks applied to its stored curve (recipe 1)."""
    if "checks" in record:
        return record["checks"]
    from transfer_laws.runs.checks import checks

    return checks(record["curve"], record["best_step"]) if record.get("curve") else {}


def _diverged(record: dict) -> bool:
    from transfer_laws.runs.checks import diverged

    return diverged(record.get("curve") or [], record["best_step"])


def _vs_checkpoint(record: dict, pre: dict | None) -> dict:
    from transfer_laws.runs.checks import paired_difference

    w, w0 = record.get("test_window_losses_nats"), (pre or {}).get("checkpoint_test_window_losses_nats")
    if record.get("task") or not w or not w0 or len(w) != len(w0):
        return {"vs_checkpoint_nats": None, "vs_checkpoint_se": None}
    gap, se = paired_difference([np.asarray(w, float)], [np.asarray(w0, float)])
    return {"vs_checkpoint_nats": gap, "vs_checkpoint_se": se}


def curves_table(records: list[dict]) -> pd.DataFrame:
    rows = [{"run_id": r["run_id"], **{k: pt.get(k) for k in CURVE_COLUMNS[1:]}} for r in records for pt in r["curve"]]
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)
