"""Learning-rate sweeps read from the runs table: per cell, the best rate, whether it is bracketed,
and the optimum of a parabola in log rate through the best rate and its neighbours.

A *cell* is a set of runs that differ only in their learning rate. Its best rate is *bracketed*
when it is neither the lowest nor the highest rate tried; a cell whose best sits at an edge is
flagged, never hidden (issue 17). Pure pandas/numpy: no training stack.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CELL_COLUMNS = ["experiment", "phase", "curriculum", "size", "n_params", "d_train_chars", "data_seed", "pretrain_id",
                "pretrain_tokens", "tokenizer", "schedule", "batch_size_used", "seed"]


def parabola_optimum(log_lr: np.ndarray, loss: np.ndarray) -> float:
    """exp of the vertex of the parabola through the best point and its two neighbours (log rate);
    the best rate itself when the best is at an edge or the three points are not convex."""
    i = int(np.argmin(loss))
    if i == 0 or i == len(loss) - 1:
        return float(np.exp(log_lr[i]))
    x, y = log_lr[i - 1 : i + 2], loss[i - 1 : i + 2]
    # the parabola through three points, solved exactly (no least-squares conditioning warnings)
    a, b, _ = np.linalg.solve(np.column_stack([x**2, x, np.ones(3)]), y)
    if a <= 0:
        return float(np.exp(log_lr[i]))
    return float(np.exp(np.clip(-b / (2 * a), log_lr[i - 1], log_lr[i + 1])))


def lr_sweeps(runs: pd.DataFrame, metric: str = "val_loss", min_rates: int = 3) -> pd.DataFrame:
    """One row per cell with at least ``min_rates`` distinct rates: the rates and losses tried, the
    best rate, ``bracketed``, the parabola's optimum ``lr_opt`` and the loss spread across the rates.
    Pass the runs of the current plan (``in_plan``), so that a superseded run does not join the
    cell of its successor."""
    cols = [c for c in CELL_COLUMNS if c in runs.columns]
    df = runs.copy()
    df[cols] = df[cols].astype(object).where(df[cols].notna(), "-")
    rows = []
    for key, g in df.groupby(cols, sort=True, dropna=False):
        # repeated runs at one rate (seeds, or a cell that does not hold every other field fixed:
        # pass only the current plan's runs) are averaged
        g = g.groupby("lr", as_index=False)[metric].mean().sort_values("lr")
        if len(g) < min_rates:
            continue
        lr, loss = g["lr"].to_numpy(float), g[metric].to_numpy(float)
        i = int(np.argmin(loss))
        rows.append({**dict(zip(cols, key)), "n_rates": len(g), "lrs": lr.tolist(), "losses": loss.tolist(),
                     "best_lr": lr[i], "best_loss": loss[i], "bracketed": 0 < i < len(g) - 1,
                     "lr_opt": parabola_optimum(np.log(lr), loss),
                     "edge_gap": float(min(loss[max(i - 1, 0)], loss[min(i + 1, len(g) - 1)]) - loss[i])
                     if 0 < i < len(g) - 1 else float("nan")})
    out = pd.DataFrame(rows)
    return out.replace("-", None) if len(out) else out


def fit_rate_rule(cells: pd.DataFrame, source: str, with_d: bool = False, d_ref: float = 1e4):
    """A ``hparams.RateRule`` fitted by least squares to the log optima (``lr_opt``) of bracketed
    cells: log lr = log lr_ref + a log(N / n_ref) [+ b log(D / d_ref)], with n_ref the smallest N.
    Cells whose best rate sits at an edge are refused (their optimum is unknown)."""
    from transfer_laws.train.hparams import RateRule

    ok = cells[cells.bracketed.astype(bool)]
    if ok.empty:
        raise ValueError("no bracketed cell to fit a rate rule to (every best rate sits at an edge)")
    n = ok.n_params.to_numpy(float)
    n_ref = float(n.min())
    cols = [np.ones(len(ok)), np.log(n / n_ref)]
    if with_d:
        cols.append(np.log(ok.d_train_chars.to_numpy(float) / d_ref))
    x = np.column_stack(cols)
    if np.linalg.matrix_rank(x) < x.shape[1]:
        raise ValueError(f"{len(ok)} bracketed cell(s) cannot fix {x.shape[1]} coefficients (need distinct N"
                         + (" and D)" if with_d else ")"))
    coef, *_ = np.linalg.lstsq(x, np.log(ok.lr_opt.to_numpy(float)), rcond=None)
    return RateRule(lr_ref=float(np.exp(coef[0])), n_ref=n_ref, n_exponent=float(coef[1]), source=source,
                    d_ref=d_ref if with_d else 1.0, d_exponent=float(coef[2]) if with_d else 0.0)


CELL_KEY = ["phase", "curriculum", "n_params", "d_train_chars"]


def tuned_rates(runs: pd.DataFrame, rules: dict | None = None) -> pd.DataFrame:
    """Per (phase, curriculum, N, D): the tuned learning rate and its source. A bracketed sweep's best
    rate (the most common best over that key's sweep cells: seeds, data samples and checkpoints form
    separate cells) where one exists; otherwise, for recipe-2 runs, the fitted rule of their kind
    (``hparams.RECIPE2_RULES``, or ``rules``). Keys with neither are absent: not tuned."""
    from transfer_laws.train.hparams import RECIPE2_RULES, kind_of_run

    rules = RECIPE2_RULES if rules is None else rules
    rows = {}
    cells = lr_sweeps(runs) if {"lr", "val_loss"} <= set(runs.columns) else pd.DataFrame()
    if len(cells):
        for key, g in cells[cells.bracketed.astype(bool)].groupby(CELL_KEY, dropna=False):
            rows[key] = {"lr_tuned": float(g.best_lr.mode().iloc[0]), "tuned_by": f"sweep ({len(g)} cell(s))"}
    if "recipe" in runs and "lr" in runs:
        r2 = runs[runs.recipe.fillna(1).astype(int) == 2]
        for key, g in r2.groupby(CELL_KEY, dropna=False):
            kind = kind_of_run(key[0], key[1])
            if key in rows or kind not in rules:
                continue
            rule = rules[kind]
            rows[key] = {"lr_tuned": rule(float(key[2]), float(key[3]) if rule.d_exponent else None),
                         "tuned_by": f"rule ({rule.source})"}
    out = pd.DataFrame([{**dict(zip(CELL_KEY, k)), **v} for k, v in rows.items()],
                       columns=[*CELL_KEY, "lr_tuned", "tuned_by"])
    return out


def at_tuned_rate(runs: pd.DataFrame, rules: dict | None = None) -> pd.Series:
    """True for each run whose learning rate is its key's tuned rate (``tuned_rates``), to 2
    significant digits; False where the key was never tuned (the first grid's Kaplan rates)."""
    from transfer_laws.train.hparams import significant

    t = tuned_rates(runs, rules)
    if t.empty or "lr" not in runs:
        return pd.Series(False, index=runs.index)
    m = runs[CELL_KEY].merge(t, on=CELL_KEY, how="left").set_index(runs.index)
    lr = runs.lr.astype(float).map(significant)
    return (m.lr_tuned.notna() & (m.lr_tuned.map(lambda x: significant(x) if np.isfinite(x) else np.nan) == lr))
