"""Fits as pure functions returning small result objects (numpy/scipy only; never read files).

The per-N from-scratch curve L_N(D) = E + B * D**(-b) and D(N); the transfer law three ways
(direct log-space fit of D_T; the paper's logit method; in loss space through the from-scratch
curves); a bootstrap stratified by (curriculum, N); the shared-beta test; leave-one-D_F-out
prediction; the ossification map; compute-efficient frontiers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from transfer_laws.analysis.effective_data import INTERPOLATED, effective_data_table, monotone_curve

DEFAULT_EPSILON = 0.05  # D(N): within 5% of the infinite-data loss ("a few percent", PAPER.md)
DEFAULT_LOW_DATA_FRACTION = 0.1  # low-data regime: D_F <= 10% of D(N), as the paper


@dataclass(frozen=True)
class ScratchCurve:
    """One model size's from-scratch loss against D.

    The tail, D >= ``d_fit_min_chars``, is the fitted law e + b_coef * D**(-b_exp), which sets the
    plateau e, D(N) and every extrapolation past the largest D. Below the tail (where small models'
    curves are flat, then fall steeply: not a power law) ``loss`` follows the measured best losses
    (``knots``: log D and loss, monotone), joined to the tail at its start; below the smallest
    measured D it stays at the first knot's loss.
    """

    n_params: float
    e: float
    b_coef: float
    b_exp: float
    d_fit_min_chars: float = 0.0
    knots_log_d: tuple = ()
    knots_loss: tuple = ()

    def tail_loss(self, d):
        """The fitted law e + B D^-b (valid from ``d_fit_min_chars`` on)."""
        return self.e + self.b_coef * np.power(np.asarray(d, float), -self.b_exp)

    @cached_property
    def _head(self):
        """The monotone interpolant through the knots, built once per curve (the loss-space fit
        calls ``loss`` tens of thousands of times)."""
        from scipy.interpolate import PchipInterpolator

        return PchipInterpolator(np.array(self.knots_log_d), np.array(self.knots_loss))

    def loss(self, d):
        d = np.asarray(d, float)
        if len(self.knots_log_d) < 2:
            return self.tail_loss(d)
        x = self.knots_log_d
        with np.errstate(divide="ignore"):
            log_d = np.log(np.maximum(d, np.exp(x[0])))
        head = self._head(np.minimum(log_d, x[-1]))
        return np.where(d >= self.d_fit_min_chars, self.tail_loss(d), head)

    def d_for_loss(self, loss):
        """Inverse of the tail law: the D reaching ``loss`` (inf at or below e). Used only to
        extrapolate below the lowest measured from-scratch loss, which lies in the tail."""
        loss = np.asarray(loss, float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(loss > self.e, np.power(self.b_coef / (loss - self.e), 1.0 / self.b_exp), np.inf)

    def d_converged(self, epsilon: float = DEFAULT_EPSILON) -> float:
        """D(N): the smallest D with L_N(D) <= (1 + epsilon) * L_N(inf), from the tail law."""
        return float(np.power(self.b_coef / (epsilon * self.e), 1.0 / self.b_exp))


def power_law_tail_start(d, loss) -> float:
    """The smallest D of the power-law tail: the end of the steepest decline in log D.

    At the smallest D small models learn little beyond unigram statistics and the curve is flat
    there, then falls steeply, then bends into its plateau: E + B D^-b describes only the part after
    the steepest decline (whose first point may still lie on the flat part). For a pure power law
    the steepest decline is the first segment, so only the smallest D is dropped. At least the 3
    largest D are always kept.
    """
    d_m, l_m = monotone_curve(np.asarray(d, float), np.asarray(loss, float))
    if len(d_m) < 3:
        return float(d_m[0])
    slopes = -np.diff(l_m) / np.diff(np.log(d_m))
    start = min(int(np.argmax(slopes)) + 1, len(d_m) - 3)
    return float(d_m[start])


def fit_scratch_curve(d, loss, n_params: float = np.nan, tail: bool = True) -> ScratchCurve:
    """Log-space Huber fit of E + B D^-b, from a grid of starts; E constrained below the best loss.

    With ``tail`` (the default) only points from :func:`power_law_tail_start` on are fitted.
    """
    d, loss = np.asarray(d, float), np.asarray(loss, float)
    if len(np.unique(d)) < 3:
        raise ValueError(f"need at least 3 from-scratch points to fit L(D) at N={n_params:g}, got {len(np.unique(d))}")
    d_all, loss_all = d, loss
    d_min = power_law_tail_start(d, loss) if tail else float(d.min())
    curve = _fit_tail(d_all, loss_all, d_min, n_params)
    if tail:  # extend the tail backwards while the next smaller D lies on the law within its noise
        d_m, l_m = monotone_curve(d_all, loss_all)
        while (d_m < d_min).any():
            prev = d_m[d_m < d_min][-1]
            on = d_all >= d_min
            rms = float(np.sqrt(np.mean((np.log(loss_all[on]) - np.log(curve.tail_loss(d_all[on]))) ** 2)))
            miss = abs(float(np.log(l_m[d_m == prev][0]) - np.log(curve.tail_loss(prev))))
            if miss > max(3 * rms, 0.05):  # 5% in loss: a point off the law by more is not its tail
                break
            d_min = float(prev)
            curve = _fit_tail(d_all, loss_all, d_min, n_params)
    d_m, l_m = monotone_curve(d_all, loss_all)
    head = d_m < d_min
    if not head.any():
        return curve
    x = np.append(np.log(d_m[head]), np.log(d_min))
    y = np.minimum.accumulate(np.append(l_m[head], float(curve.tail_loss(d_min))))
    return ScratchCurve(curve.n_params, curve.e, curve.b_coef, curve.b_exp, d_min, tuple(map(float, x)),
                        tuple(map(float, y)))


def _fit_tail(d_all, loss_all, d_min: float, n_params: float) -> ScratchCurve:
    keep = d_all >= d_min
    d, loss = d_all[keep], loss_all[keep]
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
    return ScratchCurve(float(n_params), float(e), float(np.exp(log_b)), float(b), d_min)


@dataclass(frozen=True)
class JointFit:
    """A joint from-scratch law L(N, D) fitted over all sizes: ``form`` is kaplan or chinchilla."""

    form: str
    params: dict
    huber_loss: float

    def loss(self, n_params, d):
        from transfer_laws.analysis import laws

        p = self.params
        if self.form == "kaplan":
            return laws.kaplan_loss(n_params, d, p["alpha_n"], p["alpha_d"], p["n_c"], p["d_c"])
        return laws.chinchilla_loss(n_params, d, p["e"], p["a"], p["b"], p["alpha"], p["beta"])


def _huber(r: np.ndarray, delta: float) -> np.ndarray:
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r**2, delta * (a - 0.5 * delta))


def fit_joint_scratch(n_params, d, loss, form: str = "chinchilla", delta: float = 1e-3) -> JointFit:
    """L(N, D) over all sizes, Kaplan's or the Chinchilla form, fitted as Hoffmann et al. and
    Besiroglu et al.: Huber loss on log-loss residuals (log-sum-exp parametrisation), L-BFGS from a
    grid of starts. D in whatever unit the runs use (characters here)."""
    from scipy.optimize import minimize
    from scipy.special import logsumexp

    n, d, y = np.log(np.asarray(n_params, float)), np.log(np.asarray(d, float)), np.log(np.asarray(loss, float))
    if len(y) < 5 or np.ptp(n) == 0:
        raise ValueError("a joint L(N, D) fit needs at least 5 runs over 2 or more sizes")
    if form == "chinchilla":
        # log L = LSE(a - alpha log N, b - beta log D, e): E = exp(e), A = exp(a), B = exp(b)
        def obj(p):
            a, b, e, al, be = p
            pred = logsumexp(np.stack([a - al * n, b - be * d, np.full_like(n, e)]), axis=0)
            return _huber(pred - y, delta).sum()

        starts = [(a, b, e, al, be) for a in (2.0, 8.0) for b in (2.0, 8.0) for e in (-1.0, 1.0)
                  for al, be in ((0.3, 0.3),)]
        names = ("log_a", "log_b", "log_e", "alpha", "beta")
    elif form == "kaplan":
        # log L = alpha_D * LSE((alpha_N/alpha_D)(log N_c - log N), log D_c - log D)
        def obj(p):
            log_nc, log_dc, an, ad = p
            pred = ad * logsumexp(np.stack([(an / ad) * (log_nc - n), log_dc - d]), axis=0)
            return _huber(pred - y, delta).sum()

        starts = [(nc, dc, an, ad) for nc in (15.0, 30.0) for dc in (15.0, 30.0) for an, ad in ((0.1, 0.1),)]
        names = ("log_n_c", "log_d_c", "alpha_n", "alpha_d")
    else:
        raise ValueError(f"unknown form {form!r} (expected kaplan or chinchilla)")
    best = min((minimize(obj, s, method="L-BFGS-B") for s in starts), key=lambda r: r.fun)
    p = dict(zip(names, best.x))
    if form == "chinchilla":
        params = {"e": float(np.exp(p["log_e"])), "a": float(np.exp(p["log_a"])), "b": float(np.exp(p["log_b"])),
                  "alpha": float(p["alpha"]), "beta": float(p["beta"])}
    else:
        params = {"n_c": float(np.exp(p["log_n_c"])), "d_c": float(np.exp(p["log_d_c"])),
                  "alpha_n": float(p["alpha_n"]), "alpha_d": float(p["alpha_d"])}
    return JointFit(form, params, float(best.fun))


@dataclass(frozen=True)
class TransferFit:
    k: float
    alpha: float
    beta: float
    n_points: int
    ci95: dict = field(default_factory=dict)
    share_interpolated: float = float("nan")
    draws: np.ndarray = field(default=None, repr=False, compare=False)  # bootstrap (log k, alpha, beta)


def fit_transfer_direct(d_train_chars, n_params, d_transferred) -> tuple[float, float, float]:
    """log D_T = log k + alpha log D_F + beta log N, Huber loss in log space (started from OLS)."""
    x1, x2, y = np.log(d_train_chars), np.log(n_params), np.log(d_transferred)
    if len(y) < 3:
        raise ValueError(f"need at least 3 points with positive D_T to fit the transfer law, got {len(y)}")
    if np.ptp(x2) == 0:
        raise ValueError("all points share one N: beta is not identifiable (alpha alone: fix N and vary D_F)")
    if np.ptp(x1) == 0:
        raise ValueError("all points share one D_F: alpha is not identifiable")
    resid = lambda p: p[0] + p[1] * x1 + p[2] * x2 - y
    # linear in log space: start from least squares, then a Huber refinement (robust to outliers)
    X = np.column_stack([np.ones_like(x1), x1, x2])
    start, *_ = np.linalg.lstsq(X, y, rcond=None)
    best = least_squares(resid, start, loss="huber", f_scale=0.5)
    log_k, alpha, beta = best.x
    return float(np.exp(log_k)), float(alpha), float(beta)


def scratch_curves(runs: pd.DataFrame, loss_column: str = "test_loss") -> dict[float, ScratchCurve]:
    """Per-N from-scratch fits (sizes with at least 3 distinct D)."""
    return {n: fit_scratch_curve(g.d_train_chars, g[loss_column], n)
            for n, g in runs[runs.curriculum == "scratch"].groupby("n_params") if g.d_train_chars.nunique() >= 3}


def transfer_points(runs: pd.DataFrame, loss_column: str = "test_loss",
                    low_data_fraction: float = DEFAULT_LOW_DATA_FRACTION, epsilon: float = DEFAULT_EPSILON,
                    curves: dict | None = None):
    """D_E table with D(N) and the low-data flag (D_F <= f * D(N)) from per-N from-scratch fits."""
    curves = scratch_curves(runs, loss_column) if curves is None else curves
    ext = {n: (lambda l, c=c: float(c.d_for_loss(l))) for n, c in curves.items()}
    table = effective_data_table(runs, loss_column, ext)
    if table.empty:
        return table.assign(d_converged=[], low_data=[]), curves
    table["d_converged"] = table.n_params.map(lambda n: curves[n].d_converged(epsilon) if n in curves else np.nan)
    largest = runs[runs.curriculum == "scratch"].groupby("n_params").d_train_chars.max()
    table["d_converged_beyond_data"] = table.d_converged > table.n_params.map(largest)
    table["low_data"] = table.d_train_chars <= low_data_fraction * table.d_converged
    return table, curves


def _fit_points(table: pd.DataFrame, curriculum: str) -> pd.DataFrame:
    return table[(table.curriculum == curriculum) & table.low_data & (table.d_transferred > 0)
                 & np.isfinite(table.d_transferred)]


def fit_transfer_paper(d_train_chars, n_params, fraction) -> tuple[float, float, float]:
    """The paper's method: logit(D_T/D_E) = c(D_F) + beta log N with one slope beta shared across
    D_F values; then "fit the fits": c(D_F) = log k + (alpha - 1) log D_F."""
    d_train_chars, n_params, fraction = (np.asarray(x, float) for x in (d_train_chars, n_params, fraction))
    ok = (fraction > 0) & (fraction < 1)
    d_train_chars, n_params, y = d_train_chars[ok], n_params[ok], np.log(fraction[ok] / (1 - fraction[ok]))
    levels = np.unique(d_train_chars)
    if len(levels) < 2 or np.ptp(np.log(n_params)) == 0:
        raise ValueError("the paper's method needs at least 2 D_F values and 2 values of N")
    # design: one intercept per D_F, shared slope on log N
    X = np.column_stack([(d_train_chars == v).astype(float) for v in levels] + [np.log(n_params)])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    intercepts, beta = coef[:-1], coef[-1]
    slope, log_k = np.polyfit(np.log(levels), intercepts, 1)
    return float(np.exp(log_k)), float(slope + 1.0), float(beta)


def fit_transfer_loss_space(ft: pd.DataFrame, curves: dict, loss_column: str = "test_loss") -> tuple[float, float, float]:
    """Fine-tuned loss = L_N(D_F + k D_F^alpha N^beta) through the from-scratch curves (measured
    points below each curve's power-law tail, the fitted tail above): uses every low-data fine-tune,
    including noisy or ossified ones (no censoring of D_T <= 0)."""
    ft = ft[ft.n_params.isin(list(curves))]
    if len(ft) < 3 or ft.n_params.nunique() < 2:
        raise ValueError("the loss-space fit needs at least 3 fine-tunes over 2 values of N")
    dF, n, loss = ft.d_train_chars.to_numpy(float), ft.n_params.to_numpy(float), ft[loss_column].to_numpy(float)
    groups = [(curves[x], n == x) for x in np.unique(n)]

    def resid(p):
        d_e = dF + np.exp(p[0]) * dF ** p[1] * n ** p[2]
        pred = np.empty_like(d_e)
        for c, idx in groups:
            pred[idx] = c.loss(d_e[idx])
        return np.log(pred) - np.log(loss)

    best = None
    for a0 in (0.1, 0.4, 0.8):
        for b0 in (0.0, 0.4, 0.8):
            r = least_squares(resid, [np.log(10.0), a0, b0], loss="huber", f_scale=0.01,
                              bounds=([-30, -1, -2], [60, 2, 3]))
            if best is None or r.cost < best.cost:
                best = r
    return float(np.exp(best.x[0])), float(best.x[1]), float(best.x[2])


METHODS = ("direct", "paper", "loss")


def _fit_method(method, table, curves, curriculum, loss_column):
    if method == "direct":
        pts = _fit_points(table, curriculum)
        return fit_transfer_direct(pts.d_train_chars, pts.n_params, pts.d_transferred)
    if method == "paper":
        pts = _fit_points(table, curriculum)
        return fit_transfer_paper(pts.d_train_chars, pts.n_params, pts.fraction_from_transfer)
    ft = table[(table.curriculum == curriculum) & table.low_data]
    return fit_transfer_loss_space(ft, curves, loss_column)


def _centred(resid: np.ndarray, n_fitted: int) -> np.ndarray:
    """Residuals centred and rescaled by sqrt(n / (n - p)) for the p parameters fitted to them
    (fitted residuals are smaller than the noise they estimate)."""
    n = len(resid)
    scale = np.sqrt(n / (n - n_fitted)) if n > n_fitted else 1.0
    return (resid - resid.mean()) * scale


def bootstrap_sample(runs: pd.DataFrame, rng, curves: dict, loss_column: str = "test_loss",
                     law: tuple[float, float, float] | None = None) -> pd.DataFrame:
    """One bootstrap replicate, stratified by (curriculum, N).

    Fine-tuned runs are resampled with replacement within their stratum. From-scratch runs keep
    their design (every D stays, so the interpolation grid does not lose points): their losses are
    the fitted curve times resampled log-residuals of the same N (a fixed-design residual
    bootstrap). Sizes without a fitted curve fall back to resampling runs. With ``law`` = (k, alpha,
    beta), fine-tunes get the same fixed-design treatment around L_N(D_F + k D_F^alpha N^beta)."""
    parts = []
    for (cur, n), g in runs.groupby(["curriculum", "n_params"]):
        if cur != "scratch" and law is not None and n in curves:
            d_f = g.d_train_chars.to_numpy(float)
            fitted = curves[n].loss(d_f + law[0] * d_f ** law[1] * n ** law[2])
            resid = _centred(np.log(g[loss_column].to_numpy(float)) - np.log(fitted), 0)
            parts.append(g.assign(**{loss_column: fitted * np.exp(rng.choice(resid, size=len(resid), replace=True))}))
        elif cur == "scratch" and n in curves:
            fitted = curves[n].loss(g.d_train_chars.to_numpy(float))
            # the noise is estimated on the fitted tail (below it the curve runs through the points)
            tail = g.d_train_chars.to_numpy(float) >= curves[n].d_fit_min_chars
            resid = _centred((np.log(g[loss_column].to_numpy(float)) - np.log(fitted))[tail], 3)
            parts.append(g.assign(**{loss_column: fitted * np.exp(rng.choice(resid, size=len(g), replace=True))}))
        else:
            parts.append(g.loc[rng.choice(g.index.to_numpy(), size=len(g), replace=True)])
    return pd.concat(parts).reset_index(drop=True)


def fit_transfer(runs: pd.DataFrame, curriculum: str, loss_column: str = "test_loss",
                 low_data_fraction: float = DEFAULT_LOW_DATA_FRACTION, n_bootstrap: int = 200, seed: int = 0,
                 epsilon: float = DEFAULT_EPSILON, method: str = "direct", residual_bootstrap: bool = True) -> TransferFit:
    """One pre-training curriculum, one method, with a stratified bootstrap (95% percentile intervals).

    The bootstrap (``bootstrap_sample``) resamples fine-tunes within each (curriculum, N) and the
    from-scratch residuals within each N, recomputes every D_E and refits; the
    from-scratch curves (which set D(N), the low-data regime and the extrapolations) stay those of
    the full data, so the regime does not move between replicates."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r} (expected {METHODS})")
    sub = runs[runs.curriculum.isin(["scratch", curriculum])].reset_index(drop=True)
    table, curves = transfer_points(sub, loss_column, low_data_fraction, epsilon)
    k, a, b = _fit_method(method, table, curves, curriculum, loss_column)
    n_points = len(_fit_points(table, curriculum)) if method != "loss" else int(
        (table[table.curriculum == curriculum].low_data).sum())
    share = float((table[table.curriculum == curriculum].d_effective_status == INTERPOLATED).mean())
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_bootstrap):
        boot = bootstrap_sample(sub, rng, curves, loss_column, law=(k, a, b) if residual_bootstrap else None)
        bt, _ = transfer_points(boot, loss_column, low_data_fraction, epsilon, curves=curves)
        try:
            bk, ba, bb = _fit_method(method, bt, curves, curriculum, loss_column)
            draws.append((np.log(bk), ba, bb))
        except ValueError:
            continue
    return TransferFit(k, a, b, n_points, _ci(draws), share, np.array(draws))


def _ci(draws) -> dict:
    if len(draws) < 10:
        return {}
    arr = np.array(draws)
    lo, hi = np.percentile(arr, [2.5, 97.5], axis=0)
    return {"k": [float(np.exp(lo[0])), float(np.exp(hi[0]))], "alpha": [float(lo[1]), float(hi[1])],
            "beta": [float(lo[2]), float(hi[2])]}


# ---- shared beta ----------------------------------------------------------------------------

@dataclass(frozen=True)
class SharedBeta:
    beta_difference: float  # beta_a - beta_b, separate fits
    ci95: list  # bootstrap interval of the difference
    aic_shared: float
    aic_separate: float
    margin: float  # equivalence margin on |beta_a - beta_b|
    equivalent: bool  # the 90% interval lies inside +-margin (two one-sided tests at 5%)
    smallest_margin_supported: float  # the margin this design could establish (max |90% bound|)
    preferred: str  # "shared" or "separate" by AIC


def shared_beta_test(runs: pd.DataFrame, curricula=("text", "mix"), loss_column: str = "test_loss",
                     low_data_fraction: float = DEFAULT_LOW_DATA_FRACTION, n_bootstrap: int = 200, seed: int = 0,
                     margin: float = 0.1, epsilon: float = DEFAULT_EPSILON) -> SharedBeta:
    """Is beta the same for two pre-training distributions? Interval of the difference, AIC of a
    shared-beta against a separate-beta direct fit, and an equivalence statement against ``margin``."""
    a, b = curricula
    sub = runs[runs.curriculum.isin(["scratch", a, b])].reset_index(drop=True)
    table, curves = transfer_points(sub, loss_column, low_data_fraction, epsilon)
    pa, pb = _fit_points(table, a), _fit_points(table, b)

    def aic(shared: bool) -> float:
        y = np.log(np.concatenate([pa.d_transferred, pb.d_transferred]))
        ia = np.r_[np.ones(len(pa)), np.zeros(len(pb))]
        lf = np.log(np.concatenate([pa.d_train_chars, pb.d_train_chars]))
        ln = np.log(np.concatenate([pa.n_params, pb.n_params]))
        cols = [ia, 1 - ia, ia * lf, (1 - ia) * lf] + ([ln] if shared else [ia * ln, (1 - ia) * ln])
        X = np.column_stack(cols)
        coef, *_ = np.linalg.lstsq(X, y, rcond=None)
        rss = float(np.sum((y - X @ coef) ** 2))
        n, p = len(y), X.shape[1] + 1
        return n * np.log(rss / n) + 2 * p

    diff = fit_transfer_direct(pa.d_train_chars, pa.n_params, pa.d_transferred)[2] - \
        fit_transfer_direct(pb.d_train_chars, pb.n_params, pb.d_transferred)[2]
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_bootstrap):
        boot = bootstrap_sample(sub, rng, curves, loss_column)
        bt, _ = transfer_points(boot, loss_column, low_data_fraction, epsilon, curves=curves)
        try:
            qa, qb = _fit_points(bt, a), _fit_points(bt, b)
            draws.append(fit_transfer_direct(qa.d_train_chars, qa.n_params, qa.d_transferred)[2]
                         - fit_transfer_direct(qb.d_train_chars, qb.n_params, qb.d_transferred)[2])
        except ValueError:
            continue
    draws = np.array(draws)
    lo95, hi95 = np.percentile(draws, [2.5, 97.5]) if len(draws) >= 10 else (np.nan, np.nan)
    lo90, hi90 = np.percentile(draws, [5, 95]) if len(draws) >= 10 else (np.nan, np.nan)
    s, sep = aic(True), aic(False)
    return SharedBeta(float(diff), [float(lo95), float(hi95)], float(s), float(sep), margin,
                      bool(-margin < lo90 and hi90 < margin), float(max(abs(lo90), abs(hi90))),
                      "shared" if s <= sep else "separate")


# ---- out of sample, ossification, compute efficiency ----------------------------------------

def leave_one_d_out(runs: pd.DataFrame, curriculum: str, loss_column: str = "test_loss",
                    low_data_fraction: float = DEFAULT_LOW_DATA_FRACTION, epsilon: float = DEFAULT_EPSILON) -> pd.DataFrame:
    """Fit on all low-data D_F values but one, predict D_T (and the loss) at the held-out one."""
    sub = runs[runs.curriculum.isin(["scratch", curriculum])].reset_index(drop=True)
    table, curves = transfer_points(sub, loss_column, low_data_fraction, epsilon)
    pts = _fit_points(table, curriculum)
    rows = []
    for d in sorted(pts.d_train_chars.unique()):
        train, test = pts[pts.d_train_chars != d], pts[pts.d_train_chars == d]
        try:
            k, a, b = fit_transfer_direct(train.d_train_chars, train.n_params, train.d_transferred)
        except ValueError:
            continue
        pred = k * test.d_train_chars ** a * test.n_params ** b
        pred_loss = [curves[n].loss(dd + p) for n, dd, p in zip(test.n_params, test.d_train_chars, pred)]
        rows.append({"held_out_d_train_chars": d, "n_points": len(test),
                     "log_error_d_transferred": float(np.sqrt(np.mean((np.log(pred) - np.log(test.d_transferred)) ** 2))),
                     "log_error_loss": float(np.sqrt(np.mean((np.log(pred_loss) - np.log(test[loss_column])) ** 2)))})
    return pd.DataFrame(rows)


def ossification_map(runs: pd.DataFrame, loss_column: str = "test_loss") -> pd.DataFrame:
    """Per (curriculum, N, D_F): mean fine-tuned minus from-scratch loss at the same D (the scratch
    curve interpolated in log D), with the seed spread of the fine-tuned runs beside it."""
    scratch = runs[runs.curriculum == "scratch"]
    rows = []
    for (cur, n, d), g in runs[runs.curriculum != "scratch"].groupby(["curriculum", "n_params", "d_train_chars"]):
        s = scratch[scratch.n_params == n]
        if s.d_train_chars.nunique() < 2:
            continue
        sd = s.groupby("d_train_chars")[loss_column].mean()
        if not (sd.index.min() <= d <= sd.index.max()):
            continue
        l_scratch = float(np.interp(np.log(d), np.log(sd.index.to_numpy(float)), sd.to_numpy(float)))
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
                     compute_column: str = "flops_full") -> pd.DataFrame:
    """Per run: the fraction of its evaluation points within ``tolerance`` (relative) of the frontier
    of all curricula together at the same compute."""
    p = points.sort_values(compute_column).copy()
    p["overall_frontier"] = _frontier_at(p[compute_column], p[loss_column])
    p["on_frontier"] = p[loss_column] <= (1 + tolerance) * p["overall_frontier"]
    return p.groupby(["run_id", "curriculum"], as_index=False).on_frontier.mean().rename(
        columns={"on_frontier": "fraction_on_frontier"})


def alpha_at_fixed_n(runs: pd.DataFrame, curriculum: str, loss_column: str = "test_loss",
                     low_data_fraction: float = DEFAULT_LOW_DATA_FRACTION) -> pd.DataFrame:
    """alpha measured cheaply: at each N alone, the slope of log D_T on log D_F (low-data points with
    D_T > 0); needs no other model size."""
    table, _ = transfer_points(runs[runs.curriculum.isin(["scratch", curriculum])], loss_column, low_data_fraction)
    pts = _fit_points(table, curriculum) if len(table) else table
    rows = []
    for n, g in pts.groupby("n_params"):
        if g.d_train_chars.nunique() >= 2:
            slope, intercept = np.polyfit(np.log(g.d_train_chars), np.log(g.d_transferred), 1)
            rows.append({"curriculum": curriculum, "n_params": n, "alpha": float(slope), "points": len(g),
                         "d_finetune_values": g.d_train_chars.nunique()})
    return pd.DataFrame(rows)
