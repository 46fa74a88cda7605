"""Ossification and compute efficiency: fine-tuned against from-scratch loss at the same D, and
compute-efficient frontiers from the evaluation curves (pandas/numpy only).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from transfer_laws.analysis.scratch import scratch_curves


def ossification_map(runs: pd.DataFrame, loss_column: str = "test_loss") -> pd.DataFrame:
    """Per (curriculum, N, D_F): mean fine-tuned minus from-scratch loss at the same D (the size's
    ``ScratchCurve``, inside its measured range), with the seed spread of the fine-tuned runs beside it."""
    curves = scratch_curves(runs, loss_column)
    rows = []
    for (cur, n, d), g in runs[runs.curriculum != "scratch"].groupby(["curriculum", "n_params", "d_train_chars"]):
        c = curves.get(n)
        if c is None or c.d_max_chars <= np.exp(c.knots_log_d[0]) or not c.measured(d):
            continue
        l_scratch = float(c.loss(d))
        rows.append({"curriculum": cur, "n_params": n, "d_train_chars": d, "finetuned_minus_scratch": g[loss_column].mean() - l_scratch,
                     "seed_sd": float(g[loss_column].std(ddof=1)) if len(g) > 1 else np.nan, "n_seeds": len(g),
                     "ossified": g[loss_column].mean() > l_scratch})
    return pd.DataFrame(rows)


def compute_frontier(curves: pd.DataFrame, runs: pd.DataFrame, include_pretrain: bool = False,
                     compute_column: str = "flops_full", loss_column: str = "val_loss") -> pd.DataFrame:
    """Compute-efficient frontier per curriculum: the lowest loss reached at each compute, pooled over
    runs' evaluation points. With ``include_pretrain``, fine-tunes are charged their pre-training."""
    pts = curves.merge(runs[["run_id", "curriculum", "phase", "pretrain_id"]], on="run_id")
    pts = pts[pts.phase == "target"].copy()
    if include_pretrain:
        pre = runs.set_index("run_id")["flops_full" if compute_column == "flops_full" else "flops_kaplan"]
        pts[compute_column] = pts[compute_column] + pts.pretrain_id.map(pre).fillna(0.0)
    pts = pts.sort_values(compute_column)
    pts["frontier_loss"] = np.nan
    for cur, g in pts.groupby("curriculum"):
        pts.loc[g.index, "frontier_loss"] = _frontier_at(g[compute_column], g[loss_column])
    return pts


def _frontier_at(compute: pd.Series, loss: pd.Series) -> np.ndarray:
    """The lowest loss reached by any point at compute <= each point's compute (ties count)."""
    best = loss.groupby(compute).min().sort_index().cummin()
    return compute.map(best).to_numpy(float)


def time_on_frontier(points: pd.DataFrame, tolerance: float = 0.01, loss_column: str = "val_loss",
                     compute_column: str = "flops_full", by: str | None = None) -> pd.DataFrame:
    """Per run: the fraction of its evaluation points within ``tolerance`` (relative) of the frontier
    of all curricula together at the same compute; with ``by`` (e.g. ``n_params``), the frontier of
    each group separately (claim 7 per size), and the group as a column."""
    p = points.sort_values(compute_column).copy()
    groups = [(None, p)] if by is None else list(p.groupby(by))
    p["overall_frontier"] = np.nan
    for _, g in groups:
        p.loc[g.index, "overall_frontier"] = _frontier_at(g[compute_column], g[loss_column])
    p["on_frontier"] = p[loss_column] <= (1 + tolerance) * p["overall_frontier"]
    keys = ["run_id", "curriculum"] + ([by] if by is not None else [])
    return p.groupby(keys, as_index=False).on_frontier.mean().rename(columns={"on_frontier": "fraction_on_frontier"})
