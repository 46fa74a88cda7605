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
