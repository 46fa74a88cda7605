"""Effective data D_E and effective data transferred D_T = D_E - D_F (numpy/pandas only).

As in Hernandez et al. (2021), D_E of a fine-tuned model is read off the from-scratch results of
the *same* N: the best loss as a function of dataset size, interpolated monotonically in log D.
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
    # first segment whose right end reaches the loss; linear in log D between its ends
    i = int(np.argmax(l <= loss))
    if i == 0 or l[i] == l[i - 1]:
        return float(d[i]), INTERPOLATED
    t = (l[i - 1] - loss) / (l[i - 1] - l[i])
    return float(np.exp(np.log(d[i - 1]) + t * (np.log(d[i]) - np.log(d[i - 1])))), INTERPOLATED


def effective_data_table(runs: pd.DataFrame, loss_column: str = "test_loss",
                         extrapolators: dict | None = None) -> pd.DataFrame:
    """For every fine-tuned run (curriculum != scratch): D_E, its status, D_T, fraction, multiplier."""
    scratch = runs[runs.curriculum == "scratch"]
    rows = []
    for _, r in runs[runs.curriculum != "scratch"].iterrows():
        s = scratch[scratch.n_params == r.n_params]
        ext = (extrapolators or {}).get(r.n_params)
        d_e, status = effective_data(r[loss_column], s.d_train_chars.to_numpy(), s[loss_column].to_numpy(), ext)
        rows.append({**r.to_dict(), "d_effective": d_e, "d_effective_status": status,
                     "d_transferred": d_e - r.d_train_chars, "fraction_from_transfer": (d_e - r.d_train_chars) / d_e,
                     "multiplier": d_e / r.d_train_chars})
    return pd.DataFrame(rows)


def share_interpolated(table: pd.DataFrame) -> float:
    return float((table.d_effective_status == INTERPOLATED).mean()) if len(table) else float("nan")
