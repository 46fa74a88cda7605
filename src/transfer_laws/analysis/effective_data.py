"""Effective data D_E and effective data transferred D_T = D_E - D_F (numpy/pandas only).

As in Hernandez et al. (2021), D_E of a fine-tuned model is read off the from-scratch results of
the *same* N: the best loss as a function of dataset size, interpolated monotonically in log D (PCHIP).
A fine-tuned loss below the largest from-scratch D's loss can only be *extrapolated* (through a
fitted L(N, D), flagged); one above the smallest D's loss is *undefined* at this grid.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

INTERPOLATED, EXTRAPOLATED, UNDEFINED = "interpolated", "extrapolated", "undefined"


def monotone_curve(d: np.ndarray, loss: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted D and the best loss reached with at most that much data (running minimum).

    Several runs at one D (seeds) are averaged first."""
    df = pd.DataFrame({"d": d, "loss": loss}).groupby("d", as_index=False).loss.mean().sort_values("d")
    return df.d.to_numpy(float), np.minimum.accumulate(df.loss.to_numpy(float))


def inverse_curve(d: np.ndarray, l: np.ndarray):
    """log D as a function of loss along a monotone from-scratch curve: monotone cubic (PCHIP)
    interpolation of log D against loss, which follows a smooth power-law-like curve far more
    closely than straight segments between half-decade points (linear on one segment)."""
    from scipy.interpolate import PchipInterpolator

    keep = np.r_[True, np.diff(l) < 0]  # drop flat stretches of the running minimum: first D reaching a loss
    x, y = -l[keep], np.log(d[keep])
    if len(x) < 3:
        return lambda loss: np.interp(-np.asarray(loss, float), x, y)
    f = PchipInterpolator(x, y)
    return lambda loss: f(-np.asarray(loss, float))


def effective_data(loss: float, d_scratch: np.ndarray, loss_scratch: np.ndarray,
                   extrapolate: Callable[[float], float] | None = None) -> tuple[float, str]:
    """D_E for one fine-tuned loss, and how it was obtained.

    ``extrapolate(loss) -> D`` inverts a fitted from-scratch law beyond the largest D."""
    d, l = monotone_curve(np.asarray(d_scratch), np.asarray(loss_scratch))
    if len(d) == 0 or not np.isfinite(loss):
        return float("nan"), UNDEFINED
    if loss > l[0]:
        return float("nan"), UNDEFINED  # worse than the smallest from-scratch run: below the grid
    if loss < l[-1]:
        if extrapolate is None:
            return float("nan"), UNDEFINED
        d_e = extrapolate(loss)
        return (float(d_e), EXTRAPOLATED) if np.isfinite(d_e) and d_e > d[-1] else (float("nan"), UNDEFINED)
    return float(np.exp(inverse_curve(d, l)(loss))), INTERPOLATED


def effective_data_table(runs: pd.DataFrame, loss_column: str = "test_loss",
                         extrapolators: dict | None = None) -> pd.DataFrame:
    """For every fine-tuned run (curriculum != scratch): D_E, its status, D_T, fraction, multiplier."""
    scratch = runs[runs.curriculum == "scratch"]
    ft = runs[runs.curriculum != "scratch"]
    parts = []
    for n, g in ft.groupby("n_params", sort=False):
        s = scratch[scratch.n_params == n]
        ext = (extrapolators or {}).get(n)
        d_e = np.full(len(g), np.nan)
        status = np.full(len(g), UNDEFINED, dtype=object)
        if len(s):
            d, l = monotone_curve(s.d_train_chars.to_numpy(), s[loss_column].to_numpy())
            loss = g[loss_column].to_numpy(float)
            inside = (loss <= l[0]) & (loss >= l[-1])
            d_e[inside] = np.exp(inverse_curve(d, l)(loss[inside]))
            status[inside] = INTERPOLATED
            below = loss < l[-1]
            if ext is not None and below.any():
                de = np.array([ext(x) for x in loss[below]], dtype=float)
                ok = np.isfinite(de) & (de > d[-1])
                idx = np.flatnonzero(below)
                d_e[idx[ok]] = de[ok]
                status[idx[ok]] = EXTRAPOLATED
        dF = g.d_train_chars.to_numpy(float)
        parts.append(g.assign(d_effective=d_e, d_effective_status=status, d_transferred=d_e - dF,
                              fraction_from_transfer=(d_e - dF) / d_e, multiplier=d_e / dF))
    if not parts:
        return ft.assign(d_effective=[], d_effective_status=[], d_transferred=[], fraction_from_transfer=[],
                         multiplier=[])
    return pd.concat(parts).sort_index()


def share_interpolated(table: pd.DataFrame) -> float:
    return float((table.d_effective_status == INTERPOLATED).mean()) if len(table) else float("nan")
