"""Fits as pure functions returning small result objects (numpy/scipy only; never read files).

Implemented so far: the per-N from-scratch curve L_N(D) = E + B * D**(-b) and D(N); the transfer
law fitted directly in log space on low-data points with positive D_T (Huber loss, several
starts); a bootstrap stratified by (curriculum, N) that resamples runs within each stratum,
recomputes D_E and refits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from transfer_laws.effective_data import INTERPOLATED, effective_data_table

DEFAULT_EPSILON = 0.05  # D(N): within 5% of the infinite-data loss ("a few percent", PAPER.md)
DEFAULT_LOW_DATA_FRACTION = 0.1  # low-data regime: D_F <= 10% of D(N), as the paper


@dataclass(frozen=True)
class ScratchCurve:
    """L_N(D) = e + b_coef * D**(-b_exp), one model size."""

    n_params: float
    e: float
    b_coef: float
    b_exp: float

    def loss(self, d):
        return self.e + self.b_coef * np.power(d, -self.b_exp)

    def d_for_loss(self, loss):
        """Inverse: the D reaching ``loss`` (inf at or below e)."""
        loss = np.asarray(loss, float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(loss > self.e, np.power(self.b_coef / (loss - self.e), 1.0 / self.b_exp), np.inf)

    def d_converged(self, epsilon: float = DEFAULT_EPSILON) -> float:
        """D(N): the smallest D with L_N(D) <= (1 + epsilon) * L_N(inf)."""
        return float(np.power(self.b_coef / (epsilon * self.e), 1.0 / self.b_exp))


def fit_scratch_curve(d, loss, n_params: float = np.nan) -> ScratchCurve:
    """Log-space Huber fit of E + B D^-b, from a grid of starts; E constrained below the best loss."""
    d, loss = np.asarray(d, float), np.asarray(loss, float)
    if len(d) < 3:
        raise ValueError(f"need at least 3 from-scratch points to fit L(D) at N={n_params:g}, got {len(d)}")
    lmin = loss.min()

    def resid(p):
        e, log_b, b = p
        return np.log(e + np.exp(log_b) * np.power(d, -b)) - np.log(loss)

    best = None
    for e0 in (0.3 * lmin, 0.7 * lmin, 0.95 * lmin):
        for b0 in (0.1, 0.3, 0.6):
            log_b0 = np.log(max(loss.max() - e0, 1e-3)) + b0 * np.log(d.min())
            r = least_squares(resid, [e0, log_b0, b0], loss="huber", f_scale=0.01,
                              bounds=([1e-6, -50, 1e-3], [lmin, 80, 3.0]))
            if best is None or r.cost < best.cost:
                best = r
    e, log_b, b = best.x
    return ScratchCurve(float(n_params), float(e), float(np.exp(log_b)), float(b))


@dataclass(frozen=True)
class TransferFit:
    k: float
    alpha: float
    beta: float
    n_points: int
    ci95: dict = field(default_factory=dict)
    share_interpolated: float = float("nan")


def fit_transfer_direct(d_finetune, n_params, d_transferred) -> tuple[float, float, float]:
    """log D_T = log k + alpha log D_F + beta log N, Huber loss in log space, several starts."""
    x1, x2, y = np.log(d_finetune), np.log(n_params), np.log(d_transferred)
    if len(y) < 3:
        raise ValueError(f"need at least 3 points with positive D_T to fit the transfer law, got {len(y)}")
    if np.ptp(x2) == 0:
        raise ValueError("all points share one N: beta is not identifiable (alpha alone: fix N and vary D_F)")
    if np.ptp(x1) == 0:
        raise ValueError("all points share one D_F: alpha is not identifiable")
    resid = lambda p: p[0] + p[1] * x1 + p[2] * x2 - y
    best = None
    for a0 in (0.1, 0.5, 1.0):
        for b0 in (0.0, 0.4, 1.0):
            r = least_squares(resid, [np.mean(y - a0 * x1 - b0 * x2), a0, b0], loss="huber", f_scale=0.5)
            if best is None or r.cost < best.cost:
                best = r
    log_k, alpha, beta = best.x
    return float(np.exp(log_k)), float(alpha), float(beta)


def transfer_points(runs: pd.DataFrame, loss_column: str = "test_loss",
                    low_data_fraction: float = DEFAULT_LOW_DATA_FRACTION, epsilon: float = DEFAULT_EPSILON):
    """D_E table with the low-data flag (D_F <= f * D(N)) from per-N from-scratch fits."""
    curves = {}
    for n, g in runs[runs.curriculum == "scratch"].groupby("n_params"):
        if g.d_train_chars.nunique() >= 3:
            curves[n] = fit_scratch_curve(g.d_train_chars, g[loss_column], n)
    ext = {n: c.d_for_loss for n, c in curves.items()}
    table = effective_data_table(runs, loss_column, {n: (lambda l, f=f: float(f(l))) for n, f in ext.items()})
    if table.empty:
        return table, curves
    d_conv = table.n_params.map(lambda n: curves[n].d_converged(epsilon) if n in curves else np.nan)
    table["d_converged"] = d_conv
    table["low_data"] = table.d_train_chars <= low_data_fraction * d_conv
    return table, curves


def fit_transfer(runs: pd.DataFrame, curriculum: str, loss_column: str = "test_loss",
                 low_data_fraction: float = DEFAULT_LOW_DATA_FRACTION, n_bootstrap: int = 200, seed: int = 0,
                 epsilon: float = DEFAULT_EPSILON) -> TransferFit:
    """Direct fit for one pre-training curriculum, with a stratified bootstrap (95% percentile intervals)."""
    sub = runs[runs.curriculum.isin(["scratch", curriculum])]

    def once(frame):
        table, _ = transfer_points(frame, loss_column, low_data_fraction, epsilon)
        pts = table[(table.curriculum == curriculum) & table.low_data & (table.d_transferred > 0)
                    & np.isfinite(table.d_transferred)]
        return fit_transfer_direct(pts.d_train_chars, pts.n_params, pts.d_transferred), table, len(pts)

    (k, a, b), table, n_points = once(sub)
    share = float((table[table.curriculum == curriculum].d_effective_status == INTERPOLATED).mean())
    rng = np.random.default_rng(seed)
    strata = [g.index.to_numpy() for _, g in sub.groupby(["curriculum", "n_params"])]
    draws = []
    for _ in range(n_bootstrap):
        idx = np.concatenate([rng.choice(s, size=len(s), replace=True) for s in strata])
        try:
            (bk, ba, bb), _, _ = once(sub.loc[idx].reset_index(drop=True))
            draws.append((np.log(bk), ba, bb))
        except ValueError:
            continue
    ci = {}
    if len(draws) >= 10:
        arr = np.array(draws)
        lo, hi = np.percentile(arr, [2.5, 97.5], axis=0)
        ci = {"k": [float(np.exp(lo[0])), float(np.exp(hi[0]))], "alpha": [float(lo[1]), float(hi[1])],
              "beta": [float(lo[2]), float(hi[2])]}
    return TransferFit(k, a, b, n_points, ci, share)
