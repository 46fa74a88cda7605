"""What the chapters read: the committed runs as tables, and a sentence saying their scale."""

from __future__ import annotations

import pandas as pd

import os
from pathlib import Path

from transfer_laws import runs

MAIN_GRID = Path(__file__).resolve().parents[2] / "grids" / "main.toml"


def runs_frame(root=None) -> pd.DataFrame:
    return runs.runs_table(runs.load_records(root))


def curves_frame(root=None) -> pd.DataFrame:
    return runs.curves_table(runs.load_records(root))


def window_losses(root=None) -> dict:
    """Run id -> per-window test losses (nats/token) of the committed runs that store them."""
    return runs.window_losses(runs.load_records(root))


def grid_progress(grid: Path = MAIN_GRID, root=None, data=None) -> pd.DataFrame:
    """Every planned run of a grid file, one row each, with ``done`` (its record exists)."""
    from transfer_laws.sweep import load_grid

    if data is None:
        from transfer_laws.datasets import StudyData

        data = StudyData()
    rows = [{"run_id": p.spec.run_id, "phase": p.spec.phase, "experiment": p.spec.experiment,
             "curriculum": p.spec.curriculum, "size": p.spec.size, "d_train_chars": p.spec.d_train_chars,
             "seed": p.spec.seed, "pretrain_id": p.spec.pretrain_id, "done": runs.is_done(p.spec, root)}
            for p in load_grid(grid, data)]
    return pd.DataFrame(rows)


def complete_sizes(progress: pd.DataFrame, experiment: str = "main") -> list[str]:
    """Sizes all of whose planned runs in ``experiment`` (and the pre-training they use) are done."""
    out = []
    for size, g in progress[progress.experiment == experiment].groupby("size", sort=False):
        need = set(g.pretrain_id.dropna())
        pre_done = progress[progress.run_id.isin(need)].done.all()
        if g.done.all() and pre_done:
            out.append(size)
    return out


def min_complete_sizes() -> int:
    """How many complete main-grid sizes the chapters need before they read the main grid: 3 (the
    claims ledger judges nothing about N with fewer), or $TRANSFER_LAWS_MIN_SIZES."""
    return int(os.environ.get("TRANSFER_LAWS_MIN_SIZES", 3))


def study_runs(root=None, prefer: tuple[str, ...] = ("main", "pilot"), min_sizes: int | None = None,
               progress: pd.DataFrame | None = None) -> tuple[pd.DataFrame, str]:
    """Target runs of the first experiment in ``prefer`` that can be analysed, and its name.

    The main grid counts once at least ``min_sizes`` (default ``min_complete_sizes()``) of its
    sizes are complete (every planned run of that size done), and then only its complete sizes
    are returned, so that a half-run size never enters a fit. Other experiments (the pilot) count once they have scratch and fine-tuned runs.
    """
    df = runs_frame(root)
    min_sizes = min_complete_sizes() if min_sizes is None else min_sizes
    for exp in prefer:
        sub = df[(df.experiment == exp) & (df.phase == "target")]
        if exp == "main" and len(sub):
            if progress is None:
                progress = grid_progress(root=root)
            done = complete_sizes(progress, "main")
            if len(done) < min_sizes:
                continue
            sub = sub[sub["size"].isin(done) & sub.run_id.isin(progress.run_id)]  # the current plan only
        if (sub.curriculum == "scratch").any() and (sub.curriculum != "scratch").any():
            return sub.reset_index(drop=True), exp
    return df.iloc[0:0], ""


def pretrain_runs(experiment: str, root=None, targets: pd.DataFrame | None = None) -> pd.DataFrame:
    """Pre-training runs of an experiment; with ``targets``, only those the targets fine-tune from."""
    df = runs_frame(root)
    pre = df[(df.phase == "pretrain") & (df.experiment == experiment)]
    if targets is not None:
        pre = pre[pre.run_id.isin(targets.pretrain_id)]
    return pre.reset_index(drop=True)


def superseded(progress: pd.DataFrame, root=None, experiment: str = "main") -> pd.DataFrame:
    """Committed runs of an experiment that its current grid no longer plans (an earlier rule)."""
    df = runs_frame(root)
    return df[(df.experiment == experiment) & ~df.run_id.isin(progress.run_id)].reset_index(drop=True)


def current_runs(root=None, grid: Path = MAIN_GRID, progress: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every committed run except those of the grid's experiments that the grid no longer plans
    (an earlier rule's runs, kept in results/ for the comparison in the reproducing chapter)."""
    progress = grid_progress(grid, root) if progress is None else progress
    df = runs_frame(root)
    stale = df.experiment.isin(set(progress.experiment)) & ~df.run_id.isin(progress.run_id)
    return df[~stale].reset_index(drop=True)


def scale_note(df: pd.DataFrame) -> str:
    """One sentence: how many runs, which sizes, which data sizes, which hardware."""
    if df.empty:
        return "no runs"
    hw = ", ".join(f"{h} ({n})" for h, n in df.groupby("hardware").size().items())
    return (f"{len(df)} runs; N from {df.n_params.min():,.0f} to {df.n_params.max():,.0f} non-embedding parameters; "
            f"D from {df.d_train_chars.min():,.0f} to {df.d_train_chars.max():,.0f} characters; hardware: {hw}")


MATCH_KEYS = ["curriculum", "size", "d_train_chars", "seed", "lr", "pretrain_id"]


def hardware_pairs(df: pd.DataFrame, check_experiment: str = "hw-check", reference: str = "pilot") -> pd.DataFrame:
    """Runs trained twice, identical but for the experiment name, on different hardware: test losses
    side by side, with the standard error of each test loss (the evaluation's own noise)."""
    a = df[df.experiment == check_experiment]
    b = df[df.experiment == reference]
    m = a.merge(b, on=MATCH_KEYS, suffixes=("_check", "_reference"))
    m = m[m.hardware_check != m.hardware_reference]
    m["difference"] = m.test_loss_check - m.test_loss_reference
    return m[MATCH_KEYS + ["hardware_check", "test_loss_check", "hardware_reference", "test_loss_reference",
                           "difference", "test_loss_se_check"]]


def seed_spread(table: pd.DataFrame, column: str = "d_transferred") -> pd.DataFrame:
    """Relative spread of a quantity over seeds at each (curriculum, size, D_F)."""
    g = table.groupby(["curriculum", "size", "d_train_chars"])[column]
    out = g.agg(["mean", "min", "max", "count"]).reset_index()
    out = out[out["count"] > 1]
    out["relative_spread"] = (out["max"] - out["min"]) / out["mean"].abs()
    return out


def horizon_rule_comparison(progress: pd.DataFrame, root=None, experiment: str = "main") -> pd.DataFrame:
    """From-scratch runs done under an earlier horizon rule beside the current plan's run of the same
    size, D and seed: test loss, steps and best step under each (the cost of a too-short horizon)."""
    df = runs_frame(root)
    old = superseded(progress, root, experiment)
    old = old[(old.phase == "target") & (old.curriculum == "scratch")]
    new = df[df.run_id.isin(progress.run_id) & (df.phase == "target") & (df.curriculum == "scratch")]
    keys = ["size", "n_params", "d_train_chars", "seed"]
    cols = keys + ["test_loss", "steps", "best_step", "epochs"]
    m = old[cols].merge(new[cols], on=keys, suffixes=("_before", "_now"))
    m["loss_change_nats"] = m.test_loss_now - m.test_loss_before
    return m.sort_values(["n_params", "d_train_chars", "seed"]).reset_index(drop=True)
