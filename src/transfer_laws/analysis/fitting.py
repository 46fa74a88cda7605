"""The transfer law's fits as pure functions returning small result objects (numpy/scipy only;
never read files): three ways (direct log-space fit of D_T; the paper's logit method; in loss
space through the from-scratch curves, ``analysis.scratch``); a bootstrap stratified by
the hierarchical bootstrap (``analysis.bootstrap``); the shared-beta test; leave-one-D_F-out prediction; alpha at one size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from transfer_laws.analysis import bootstrap
from transfer_laws.analysis.effective_data import INTERPOLATED, effective_data_table
from transfer_laws.analysis.scratch import DEFAULT_EPSILON, flat_at, local_slopes, scratch_curves

DEFAULT_LOW_DATA_FRACTION = 0.1  # low-data regime: D_F <= 10% of D(N), as the paper


@dataclass(frozen=True)
class TransferFit:
    k: float
    alpha: float
    beta: float
    n_points: int
    ci95: dict = field(default_factory=dict)
    share_interpolated: float = float("nan")
    draws: np.ndarray = field(default=None, repr=False, compare=False)  # bootstrap (log k, alpha, beta)
    # per parameter: bias (median of the draws minus the point; log k for k), Monte-Carlo error of
    # each interval end, and the interval's kind (percentile or basic)
    diagnostics: dict = field(default_factory=dict, compare=False)
    levels: dict = field(default_factory=dict, compare=False)  # what the bootstrap resampled


def fit_transfer_direct(d_train_chars, n_params, d_transferred) -> tuple[float, float, float]:
    """log D_T = log k + alpha log D_F + beta log N, Huber loss in log space (started from OLS)."""
    x1, x2, y = (np.log(np.asarray(v, float)) for v in (d_train_chars, n_params, d_transferred))
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
    best = least_squares(resid, start, jac=lambda p: X, loss="huber", f_scale=0.5)
    log_k, alpha, beta = best.x
    return float(np.exp(log_k)), float(alpha), float(beta)


def transfer_points(runs: pd.DataFrame, loss_column: str = "test_loss",
                    low_data_fraction: float = DEFAULT_LOW_DATA_FRACTION, epsilon: float = DEFAULT_EPSILON,
                    curves: dict | None = None):
    """D_E table with D(N) and the low-data flag (D_F <= f * D(N)) from per-N from-scratch fits."""
    curves = scratch_curves(runs, loss_column) if curves is None else curves
    table = effective_data_table(runs, loss_column, curves)
    if table.empty:
        return table.assign(d_converged=[], low_data=[], flat=[]), curves
    table["d_converged"] = table.n_params.map(lambda n: curves[n].d_converged(epsilon) if n in curves else np.nan)
    largest = runs[runs.curriculum == "scratch"].groupby("n_params").d_train_chars.max()
    table["d_converged_beyond_data"] = table.d_converged > table.n_params.map(largest)
    table["low_data"] = table.d_train_chars <= low_data_fraction * table.d_converged
    table["flat"] = False
    sc = runs[runs.curriculum == "scratch"]
    for n, g in sc.groupby("n_params"):
        idx = table.index[(table.n_params == n) & (table.d_effective_status == INTERPOLATED)]
        if len(idx):
            ends, slope, se = local_slopes(g.d_train_chars, g[loss_column], g["test_loss_se"] if
                                           "test_loss_se" in g and loss_column == "test_loss" else None)
            table.loc[idx, "flat"] = flat_at(table.loc[idx, "d_effective"], ends, slope, se)
    return table, curves


def _fit_points(table: pd.DataFrame, curriculum: str) -> pd.DataFrame:
    """The points the direct and the paper's fits read: low-data, D_T > 0, not on a flat head."""
    return table[(table.curriculum == curriculum) & table.low_data & ~table.flat & (table.d_transferred > 0)
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


def fit_transfer_loss_space(ft: pd.DataFrame, curves: dict, loss_column: str = "test_loss",
                            start: tuple[float, float, float] | None = None) -> tuple[float, float, float]:
    """Fine-tuned loss = L_N(D_F + k D_F^alpha N^beta) through each size's from-scratch curve
    (``ScratchCurve``): uses every low-data fine-tune, including noisy or ossified ones (no
    censoring of D_T <= 0). Log-space Huber loss with the curve's analytic slope in the Jacobian;
    from a grid of 9 starts, or from ``start`` = (k, alpha, beta) alone (the bootstrap's refits)."""
    ft = ft[ft.n_params.isin([n for n, c in curves.items() if c.has_law])]
    if len(ft) < 3 or ft.n_params.nunique() < 2:
        raise ValueError("the loss-space fit needs at least 3 fine-tunes over 2 values of N")
    dF, n, loss = ft.d_train_chars.to_numpy(float), ft.n_params.to_numpy(float), ft[loss_column].to_numpy(float)
    log_df, log_n, log_loss = np.log(dF), np.log(n), np.log(loss)
    groups = [(curves[x], n == x) for x in np.unique(n)]
    cache = {}

    def evaluate(p):
        key = tuple(p)
        if key not in cache:
            d_t = np.exp(p[0] + p[1] * log_df + p[2] * log_n)
            d_e = dF + d_t
            pred, slope = np.empty_like(d_e), np.empty_like(d_e)
            for c, idx in groups:
                pred[idx], slope[idx] = c.loss_and_slope(d_e[idx])
            cache.clear()
            cache[key] = (np.log(pred) - log_loss, d_t * slope / pred)  # d log L / d log D_T
        return cache[key]

    resid = lambda p: evaluate(p)[0]

    def jac(p):
        g = evaluate(p)[1]
        return np.column_stack([g, g * log_df, g * log_n])

    starts = [(np.log(start[0]), start[1], start[2])] if start is not None else [
        (np.log(10.0), a0, b0) for a0 in (0.1, 0.4, 0.8) for b0 in (0.0, 0.4, 0.8)]
    lo, hi = np.array([-30, -1, -2]), np.array([60, 2, 3])
    best = None
    for s0 in starts:
        r = least_squares(resid, np.clip(s0, lo + 1e-9, hi - 1e-9), jac=jac, loss="huber", f_scale=0.01,
                          bounds=(lo, hi))
        if best is None or r.cost < best.cost:
            best = r
    return float(np.exp(best.x[0])), float(best.x[1]), float(best.x[2])


METHODS = ("direct", "paper", "loss")


def _fit_method(method, table, curves, curriculum, loss_column, start=None):
    if method == "direct":
        pts = _fit_points(table, curriculum)
        return fit_transfer_direct(pts.d_train_chars, pts.n_params, pts.d_transferred)
    if method == "paper":
        pts = _fit_points(table, curriculum)
        return fit_transfer_paper(pts.d_train_chars, pts.n_params, pts.fraction_from_transfer)
    ft = table[(table.curriculum == curriculum) & table.low_data & ~table.flat]
    return fit_transfer_loss_space(ft, curves, loss_column, start)


def replicates(runs: pd.DataFrame, statistic, n_bootstrap: int, seed: int, loss_column: str = "test_loss",
               low_data_fraction: float = DEFAULT_LOW_DATA_FRACTION, epsilon: float = DEFAULT_EPSILON,
               predict=None, noise: pd.DataFrame | None = None, points=None):
    """The hierarchical bootstrap (``analysis.bootstrap``) of any statistic of the transfer points:
    each replicate resamples checkpoints, data samples, runs and from-scratch runs, refits every
    size's from-scratch curve (from the full data's law), recomputes D(N), the low-data regime and
    every D_E, and calls ``statistic(table, curves)``; a replicate whose statistic raises ValueError
    is skipped. ``points``: the full data's (table, curves), when the caller has them. Returns (draws
    as an array, the resampler's levels)."""
    table, curves = transfer_points(runs, loss_column, low_data_fraction, epsilon) if points is None else points
    noise = bootstrap.checkpoint_noise(table) if noise is None else noise
    res = bootstrap.Resampler(runs, curves, table, noise, predict, loss_column)
    # one random stream per replicate, so that the draws do not depend on how many workers run them
    seeds = np.random.SeedSequence(seed).spawn(n_bootstrap)
    job = (res, curves, statistic, loss_column, low_data_fraction, epsilon)
    draws = [d for d in _map_replicates(job, seeds) if d is not None]
    return np.array(draws, dtype=float), res.levels()


_JOB = None  # the replicate job a forked worker inherits (closures do not pickle)


def _one_replicate(job, seed_seq):
    res, curves, statistic, loss_column, low_data_fraction, epsilon = job
    boot = res.sample(np.random.default_rng(seed_seq))
    try:
        bcurves = scratch_curves(boot, loss_column, starts=curves)
        bt, _ = transfer_points(boot, loss_column, low_data_fraction, epsilon, curves=bcurves)
        return statistic(bt, bcurves)
    except ValueError:
        return None


def _chunk(seeds):
    return [_one_replicate(_JOB, s) for s in seeds]


def workers() -> int:
    """Processes the bootstrap uses: $TRANSFER_LAWS_WORKERS, else every CPU this process may use."""
    import os

    env = os.environ.get("TRANSFER_LAWS_WORKERS")
    return max(1, int(env)) if env else len(os.sched_getaffinity(0))


MIN_PARALLEL_REPLICATES = 100  # below this, forking costs more than it saves


def _map_replicates(job, seeds) -> list:
    """The replicates in order, over forked worker processes when there are enough of them."""
    global _JOB
    n_workers = min(workers(), max(1, len(seeds) // 50))
    if n_workers < 2 or len(seeds) < MIN_PARALLEL_REPLICATES:
        return [_one_replicate(job, s) for s in seeds]
    import multiprocessing as mp

    chunks = [seeds[i::n_workers] for i in range(n_workers)]
    _JOB = job
    try:
        with mp.get_context("fork").Pool(n_workers) as pool:
            parts = pool.map(_chunk, chunks)
    finally:
        _JOB = None
    out = [None] * len(seeds)
    for i, part in enumerate(parts):
        out[i::n_workers] = part
    return out


def _law_predictor(curves: dict, law: tuple[float, float, float]):
    def predict(curriculum, rows):
        d_f, n = rows.d_train_chars.to_numpy(float), rows.n_params.to_numpy(float)
        out = np.full(len(rows), np.nan)
        for x in np.unique(n):
            if x in curves and curves[x].has_law:
                i = n == x
                out[i] = np.log(curves[x].loss(d_f[i] + law[0] * d_f[i] ** law[1] * x ** law[2]))
        return out
    return predict


def fit_transfer(runs: pd.DataFrame, curriculum: str, loss_column: str = "test_loss",
                 low_data_fraction: float = DEFAULT_LOW_DATA_FRACTION, n_bootstrap: int = 200, seed: int = 0,
                 epsilon: float = DEFAULT_EPSILON, method: str = "direct",
                 noise: pd.DataFrame | None = None) -> TransferFit:
    """One pre-training curriculum, one method, with the hierarchical bootstrap's 95% intervals
    (``replicates``; percentile, or basic where the bias matters: ``bootstrap.interval``).

    ``noise`` (``bootstrap.checkpoint_noise``) sets the checkpoint level where the table itself has
    no checkpoint replicates (e.g. from a pre-training-seed experiment)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r} (expected {METHODS})")
    sub = runs[runs.curriculum.isin(["scratch", curriculum])].reset_index(drop=True)
    table, curves = transfer_points(sub, loss_column, low_data_fraction, epsilon)
    k, a, b = _fit_method(method, table, curves, curriculum, loss_column)
    n_points = len(_fit_points(table, curriculum)) if method != "loss" else int(
        (table[table.curriculum == curriculum].low_data & ~table[table.curriculum == curriculum].flat).sum())
    share = float((table[table.curriculum == curriculum].d_effective_status == INTERPOLATED).mean())

    def statistic(bt, bcurves):
        bk, ba, bb = _fit_method(method, bt, bcurves, curriculum, loss_column, start=(k, a, b))
        return np.log(bk), ba, bb

    draws, levels = replicates(sub, statistic, n_bootstrap, seed, loss_column, low_data_fraction, epsilon,
                               predict=_law_predictor(curves, (k, a, b)), noise=noise, points=(table, curves))
    ci, extra = _intervals(draws, (np.log(k), a, b))
    return TransferFit(k, a, b, n_points, ci, share, draws, extra, levels)


def _intervals(draws: np.ndarray, point) -> tuple[dict, dict]:
    """ci95 per parameter (k on its own scale, from log k), and bias / Monte-Carlo error / kind."""
    if len(draws) < 10:
        return {}, {}
    ci, extra = {}, {"bias": {}, "mc_error": {}, "interval_kind": {}}
    for j, name in enumerate(("k", "alpha", "beta")):
        r = bootstrap.interval(draws[:, j], point[j])
        lo, hi = r["ci"]
        ci[name] = [float(np.exp(lo)), float(np.exp(hi))] if name == "k" else [lo, hi]
        extra["bias"][name] = r["bias"] if name != "k" else r["bias"]  # log k for k
        extra["mc_error"][name] = r["mc_error"]
        extra["interval_kind"][name] = r["kind"]
    return ci, extra


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
    method: str = "direct"  # how each curriculum was fitted in every replicate


def shared_beta_test(runs: pd.DataFrame, curricula=("text", "mix"), loss_column: str = "test_loss",
                     low_data_fraction: float = DEFAULT_LOW_DATA_FRACTION, n_bootstrap: int = 200, seed: int = 0,
                     margin: float = 0.1, epsilon: float = DEFAULT_EPSILON, method: str = "direct",
                     noise: pd.DataFrame | None = None) -> SharedBeta:
    """Is beta the same for two pre-training distributions? Interval of the difference (each curriculum
    fitted by ``method`` in every replicate), AIC of a shared-beta against a separate-beta direct fit,
    and an equivalence statement against ``margin``."""
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

    law_a = _fit_method(method, table, curves, a, loss_column)
    law_b = _fit_method(method, table, curves, b, loss_column)
    diff = law_a[2] - law_b[2]

    def statistic(bt, bcurves):
        return (_fit_method(method, bt, bcurves, a, loss_column, start=law_a)[2]
                - _fit_method(method, bt, bcurves, b, loss_column, start=law_b)[2])

    draws, _ = replicates(sub, statistic, n_bootstrap, seed, loss_column, low_data_fraction, epsilon,
                          noise=noise, points=(table, curves))
    draws = np.array(draws)
    lo95, hi95 = np.percentile(draws, [2.5, 97.5]) if len(draws) >= 10 else (np.nan, np.nan)
    lo90, hi90 = np.percentile(draws, [5, 95]) if len(draws) >= 10 else (np.nan, np.nan)
    s, sep = aic(True), aic(False)
    return SharedBeta(float(diff), [float(lo95), float(hi95)], float(s), float(sep), margin,
                      bool(-margin < lo90 and hi90 < margin), float(max(abs(lo90), abs(hi90))),
                      "shared" if s <= sep else "separate", method)


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


# ---- the sensitivity reported beside every fit ------------------------------------------------

def method_spread(runs: pd.DataFrame, curriculum: str, loss_column: str = "test_loss",
                  low_data_fraction: float = DEFAULT_LOW_DATA_FRACTION, epsilon: float = DEFAULT_EPSILON) -> dict:
    """The systematic error of the method (analysis plan, item 6): per parameter, the largest minus
    the smallest point estimate over the methods that could be fitted (log10 k for k), and the points."""
    sub = runs[runs.curriculum.isin(["scratch", curriculum])].reset_index(drop=True)
    table, curves = transfer_points(sub, loss_column, low_data_fraction, epsilon)
    points = {}
    for m in METHODS:
        try:
            points[m] = _fit_method(m, table, curves, curriculum, loss_column)
        except ValueError:
            continue
    if len(points) < 2:
        return {"methods": sorted(points), "spread": {}}
    arr = np.array([(np.log10(k), a, b) for k, a, b in points.values()])
    spread = dict(zip(("log10_k", "alpha", "beta"), map(float, arr.max(axis=0) - arr.min(axis=0))))
    return {"methods": sorted(points), "spread": spread,
            "points": {m: {"k": k, "alpha": a, "beta": b} for m, (k, a, b) in points.items()}}


def pretraining_identified(table: pd.DataFrame, curriculum: str) -> tuple[bool, str]:
    """gamma (the exponent of pre-training tokens P) is identified only where at least 2 budgets
    exist at each of at least 2 sizes among the fitted points (analysis plan, item 8)."""
    if "pretrain_tokens" not in table:
        return False, "the table has no pretrain_tokens column"
    pts = _fit_points(table, curriculum)
    budgets = pts.groupby("n_params").pretrain_tokens.nunique()
    if (budgets >= 2).sum() >= 2:
        return True, ""
    return False, (f"{int((budgets >= 2).sum())} size(s) have 2 or more pre-training budgets among the fitted "
                   "points (2 needed at each of 2 sizes); with one budget per size P is a function of N "
                   "(the first grid: 20 x N_total), so gamma cannot be separated from beta")


def fit_with_pretraining(d_train_chars, n_params, pretrain_tokens, d_transferred) -> tuple[float, ...]:
    """log D_T = log k + alpha log D_F + beta log N + gamma log P (Huber in log space, as the direct fit)."""
    cols = [np.log(np.asarray(v, float)) for v in (d_train_chars, n_params, pretrain_tokens)]
    y = np.log(np.asarray(d_transferred, float))
    X = np.column_stack([np.ones_like(y)] + cols)
    if len(y) < 5 or np.linalg.matrix_rank(X) < 4:
        raise ValueError("log D_F, log N and log P are collinear or too few points: gamma is not identifiable")
    start, *_ = np.linalg.lstsq(X, y, rcond=None)
    best = least_squares(lambda p: X @ p - y, start, jac=lambda p: X, loss="huber", f_scale=0.5)
    log_k, alpha, beta, gamma = best.x
    return float(np.exp(log_k)), float(alpha), float(beta), float(gamma)


def pretraining_axis(runs: pd.DataFrame, curriculum: str, loss_column: str = "test_loss",
                     low_data_fraction: float = DEFAULT_LOW_DATA_FRACTION, n_bootstrap: int = 200, seed: int = 0,
                     epsilon: float = DEFAULT_EPSILON) -> dict:
    """D_T = k D_F^alpha N^beta P^gamma where gamma is identified (with the hierarchical bootstrap's
    interval), else gamma None and the reason."""
    sub = runs[runs.curriculum.isin(["scratch", curriculum])].reset_index(drop=True)
    table, curves = transfer_points(sub, loss_column, low_data_fraction, epsilon)
    ok, reason = pretraining_identified(table, curriculum)
    if not ok:
        return {"gamma": None, "gamma_reason": reason}

    def statistic(bt, _curves):
        p = _fit_points(bt, curriculum)
        return fit_with_pretraining(p.d_train_chars, p.n_params, p.pretrain_tokens, p.d_transferred)[3]

    pts = _fit_points(table, curriculum)
    gamma = fit_with_pretraining(pts.d_train_chars, pts.n_params, pts.pretrain_tokens, pts.d_transferred)[3]
    draws, _ = replicates(sub, statistic, n_bootstrap, seed, loss_column, low_data_fraction, epsilon,
                          points=(table, curves))
    r = bootstrap.interval(draws, gamma)
    return {"gamma": gamma, "gamma_reason": "", "ci95": r.get("ci"), "bias": r.get("bias"), "mc_error": r.get("mc_error")}


# ---- paired comparisons between curricula -----------------------------------------------------

def reference_point(table: pd.DataFrame) -> tuple[float, float]:
    """A reference (N, D_F) inside the grid, where k's comparison is measured instead of at
    N = D_F = 1: the size nearest the geometric middle of the sizes, and the D_F nearest the
    geometric middle of the low-data D_F values."""
    sizes = np.unique(table.n_params.to_numpy(float))
    d_f = np.unique(table[table.low_data].d_train_chars.to_numpy(float)) if table.low_data.any() else np.unique(
        table.d_train_chars.to_numpy(float))
    mid = lambda v: float(v[np.argmin(np.abs(np.log(v) - np.log(v).mean()))])
    return mid(sizes), mid(d_f)


def paired_curricula(runs: pd.DataFrame, curricula=("text", "mix"), loss_column: str = "test_loss",
                     low_data_fraction: float = DEFAULT_LOW_DATA_FRACTION, n_bootstrap: int = 200, seed: int = 0,
                     epsilon: float = DEFAULT_EPSILON, method: str = "direct",
                     noise: pd.DataFrame | None = None) -> dict:
    """Both curricula fitted (by ``method``) in every replicate of one hierarchical bootstrap, so that their
    differences have paired draws: alpha_a - alpha_b, log D_T (a over b) at ``reference_point``, and
    each curriculum's log median multiplier D_E / D_F at the smallest D_F (claim 8). Returns points,
    95% intervals (``bootstrap.interval``) and the reference point."""
    a, b = curricula
    sub = runs[runs.curriculum.isin(["scratch", a, b])].reset_index(drop=True)
    table, curves = transfer_points(sub, loss_column, low_data_fraction, epsilon)
    n_ref, d_ref = reference_point(table[table.curriculum.isin([a, b])])

    d_small = float(table.d_train_chars.min())
    laws_ = {c: _fit_method(method, table, curves, c, loss_column) for c in (a, b)}

    def statistic(bt, bcurves, start=True):
        out = []
        for c in (a, b):
            k, al, be = _fit_method(method, bt, bcurves, c, loss_column, start=laws_[c] if start else None)
            out += [al, np.log(k) + al * np.log(d_ref) + be * np.log(n_ref)]
        mult = [np.log(np.nanmedian(np.where(np.isfinite(m := bt[(bt.curriculum == c) & (bt.d_train_chars == d_small)]
                                                              .multiplier.to_numpy(float)), m, np.nan)))
                for c in (a, b)]
        return out[0] - out[2], out[1] - out[3], mult[0], mult[1]

    point = statistic(table, curves, start=False)
    draws, levels = replicates(sub, statistic, n_bootstrap, seed, loss_column, low_data_fraction, epsilon,
                               noise=noise, points=(table, curves))
    res = {"curricula": [a, b], "method": method, "reference_n_params": n_ref, "reference_d_train_chars": d_ref,
           "smallest_d_train_chars": d_small, "levels": levels}
    names = ("alpha_difference", "log_d_transferred_ratio", f"log_multiplier_{a}", f"log_multiplier_{b}")
    for j, name in enumerate(names):
        res[name] = {"point": float(point[j]), **bootstrap.interval(draws[:, j], point[j])} if len(draws) else {
            "point": float(point[j])}
    return res
