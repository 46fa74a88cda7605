"""Effective data D_E and effective data transferred D_T = D_E - D_F (numpy/pandas only).

As in Hernandez et al. (2021), D_E of a fine-tuned model is the data the *same* N needs from
scratch to reach its loss, read off that size's from-scratch curve (``scratch.ScratchCurve``: the
monotone curve through the measured points, continued by its fitted law). A fine-tuned loss below
the largest from-scratch D's loss is *extrapolated* along the law (flagged); one above the smallest
D's loss is *undefined* at this grid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from transfer_laws.analysis.scratch import (EXTRAPOLATED, INTERPOLATED, UNDEFINED, ScratchCurve,  # noqa: F401
                                            scratch_curves)


def effective_data(loss: float, curve: ScratchCurve) -> tuple[float, str]:
    """D_E for one fine-tuned loss, and how it was obtained."""
    d_e, status = curve.d_effective(loss)
    return float(d_e[0]), str(status[0])


def effective_data_table(runs: pd.DataFrame, loss_column: str = "test_loss", curves: dict | None = None) -> pd.DataFrame:
    """For every fine-tuned run (curriculum != scratch): D_E, its status, D_T, fraction, multiplier.

    ``curves`` (N -> ScratchCurve) defaults to ``scratch.scratch_curves`` of the table's own
    from-scratch runs."""
    curves = scratch_curves(runs, loss_column) if curves is None else curves
    ft = runs[runs.curriculum != "scratch"]
    d_e = np.full(len(ft), np.nan)
    status = np.full(len(ft), UNDEFINED, dtype=object)
    n = ft.n_params.to_numpy(float)
    loss = ft[loss_column].to_numpy(float)
    for size in np.unique(n):
        if size in curves:
            idx = n == size
            d_e[idx], status[idx] = curves[size].d_effective(loss[idx])
    d_f = ft.d_train_chars.to_numpy(float)
    return ft.assign(d_effective=d_e, d_effective_status=status, d_transferred=d_e - d_f,
                     fraction_from_transfer=(d_e - d_f) / d_e, multiplier=d_e / d_f)


def median_multiplier(rows: pd.DataFrame) -> tuple[float, bool]:
    """The median multiplier D_E / D_F of some fine-tunes, and whether it is an upper bound. A
    fine-tune worse than the smallest from-scratch run has no D_E at this grid but D_E < D_min: it
    counts at that bound (``d_effective_upper`` / D_F), not dropped (dropping the runs pre-training
    hurt most had turned a median below 1 into 1.3 on study2's text fine-tunes at D_F = 1,000). The
    median is exact when every such bound sorts below it, else an upper bound."""
    m = rows.multiplier.to_numpy(float)
    bound = (rows.d_effective_upper.to_numpy(float) / rows.d_train_chars.to_numpy(float)
             if "d_effective_upper" in rows else np.full(len(rows), np.nan))
    censored = ~np.isfinite(m) & np.isfinite(bound)
    values = np.where(censored, bound, m)
    values = values[np.isfinite(values)]
    if not len(values):
        return float("nan"), False
    med = float(np.median(values))
    return med, bool(censored.any() and bound[censored].max() >= med)


def share_interpolated(table: pd.DataFrame) -> float:
    return float((table.d_effective_status == INTERPOLATED).mean()) if len(table) else float("nan")
