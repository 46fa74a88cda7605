"""What the chapters read: the committed runs as tables, and a sentence saying their scale."""

from __future__ import annotations

import pandas as pd

from transfer_laws import runs


def runs_frame(root=None) -> pd.DataFrame:
    return runs.runs_table(runs.load_records(root))


def curves_frame(root=None) -> pd.DataFrame:
    return runs.curves_table(runs.load_records(root))


def study_runs(root=None, prefer: tuple[str, ...] = ("main", "pilot")) -> tuple[pd.DataFrame, str]:
    """Target runs of the first experiment in ``prefer`` that has both scratch and fine-tuned runs
    (the main grid once it exists; the pilot until then), and that experiment's name."""
    df = runs_frame(root)
    for exp in prefer:
        sub = df[(df.experiment == exp) & (df.phase == "target")]
        if (sub.curriculum == "scratch").any() and (sub.curriculum != "scratch").any():
            return sub.reset_index(drop=True), exp
    return df.iloc[0:0], ""


def pretrain_runs(experiment: str, root=None) -> pd.DataFrame:
    df = runs_frame(root)
    return df[(df.phase == "pretrain") & (df.experiment == experiment)].reset_index(drop=True)


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
