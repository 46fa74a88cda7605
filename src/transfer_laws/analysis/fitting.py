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
from transfer_laws.analysis.effective_data import INTERPOLATED, UNDEFINED, median_multiplier
from transfer_laws.analysis.scratch import (DEFAULT_EPSILON, CurveBank, batch_refit_laws, curves_from_arrays, flat_at,
                                            local_slopes)

DEFAULT_LOW_DATA_FRACTION = 0.1  # low-data regime: D_F <= 10% of D(N), as the paper
# ... where D(N) lies inside the size's from-scratch runs; where it lies beyond them (or no tail law
# locates it), D_F up to the range every size shares (analysis_plan.md, item 5)
LOW_DATA_SHARED_CHARS = 1e5


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

    def log10_d_transferred(self, n_params: float, d_train_chars: float) -> dict:
        """log10 D_T at one (N, D_F) by this law, with its bootstrap interval from the draws
        (``bootstrap.interval``'s keys; only ``point`` without draws)."""
        law = lambda lk, a, b: (lk + a * np.log(d_train_chars) + b * np.log(n_params)) / np.log(10)  # noqa: E731
        point = float(law(np.log(self.k), self.alpha, self.beta))
        if self.draws is None or not len(self.draws):
            return {"point": point}
        d = np.asarray(self.draws, float)
        return {"point": point, **bootstrap.interval(law(d[:, 0], d[:, 1], d[:, 2]), point)}


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
    return PointsLayout(runs, loss_column).points(runs[loss_column].to_numpy(float), low_data_fraction, epsilon,
                                                  curves=curves)


class PointsLayout:
    """What ``transfer_points`` reads of a runs table apart from its losses, as index arrays: built
    once, it turns any vector of losses for the same rows (a bootstrap replicate) into the D_E table
    and the curves, in numpy (a replicate never regroups the table)."""

    def __init__(self, runs: pd.DataFrame, loss_column: str = "test_loss"):
        self.runs, self.loss_column = runs, loss_column
        cur = runs.curriculum.to_numpy()
        self.d = runs.d_train_chars.to_numpy(float)
        n = runs.n_params.to_numpy()
        sc = cur == "scratch"
        self.scratch = {size: np.flatnonzero(sc & (n == size)) for size in np.unique(n[sc])}
        self.ft = np.flatnonzero(~sc)
        self.ft_frame = runs.iloc[self.ft]
        self.ft_n = n[self.ft]
        self.se = (runs["test_loss_se"].to_numpy(float) if "test_loss_se" in runs and loss_column == "test_loss"
                   else None)

    def groups(self, loss: np.ndarray) -> dict:
        return {size: (self.d[i], loss[i]) for size, i in self.scratch.items()}

    def curves(self, loss: np.ndarray, starts: dict | None = None, laws: dict | None = None) -> dict:
        return curves_from_arrays(self.groups(loss), starts, laws)

    def points(self, loss: np.ndarray, low_data_fraction: float = DEFAULT_LOW_DATA_FRACTION,
               epsilon: float = DEFAULT_EPSILON, curves: dict | None = None, starts: dict | None = None,
               laws: dict | None = None):
        """(table, curves) as ``transfer_points``; ``starts``: refit the curves' laws from these (or
        take them from ``laws``, N -> law, already refitted)."""
        curves = self.curves(loss, starts, laws) if curves is None else curves
        ft_loss = loss[self.ft]
        d_e = np.full(len(self.ft), np.nan)
        status = np.full(len(self.ft), UNDEFINED, dtype=object)
        d_conv = np.full(len(self.ft), np.nan)
        upper = np.full(len(self.ft), np.nan)
        largest = np.full(len(self.ft), np.nan)
        flat = np.zeros(len(self.ft), bool)
        for size in np.unique(self.ft_n):
            idx = self.ft_n == size
            if size in curves:
                d_e[idx], status[idx] = curves[size].d_effective(ft_loss[idx])
                d_conv[idx] = curves[size].d_converged(epsilon)
                upper[idx] = curves[size].d_effective_upper(ft_loss[idx])
            if size in self.scratch:
                rows = self.scratch[size]
                largest[idx] = self.d[rows].max()
                inter = idx & (status == INTERPOLATED)
                if inter.any():
                    ends, slope, se = local_slopes(self.d[rows], loss[rows], None if self.se is None else self.se[rows])
                    flat[inter] = flat_at(d_e[inter], ends, slope, se)
        d_f = self.d[self.ft]
        with np.errstate(invalid="ignore"):
            located = d_conv <= largest  # D(N) inside the from-scratch runs (False where either is NaN)
            low_data = np.where(located, d_f <= low_data_fraction * d_conv, d_f <= LOW_DATA_SHARED_CHARS)
            table = self.ft_frame.assign(**{
                self.loss_column: ft_loss, "d_effective": d_e, "d_effective_status": status,
                "d_transferred": d_e - d_f, "fraction_from_transfer": (d_e - d_f) / d_e, "multiplier": d_e / d_f,
                "d_effective_upper": upper,
                "d_converged": d_conv, "d_converged_beyond_data": ~located,
                "low_data": low_data, "near_convergence": located & ~low_data, "flat": flat})
        return table, curves


def in_regime(table: pd.DataFrame, curriculum: str | None = None) -> np.ndarray:
    """The fine-tunes a transfer law is fitted on (analysis_plan.md items 4-5), as a boolean mask of
    ``table``'s rows (``transfer_points``): in the low-data regime and off the from-scratch curve's
    flat head, of ``curriculum`` where one is named. The loss-space fit reads all of them; the
    direct and the paper's fits only those with D_T > 0 (``_fit_points``)."""
    keep = table.low_data.to_numpy(bool) & ~table.flat.to_numpy(bool)
    return keep & (table.curriculum.to_numpy() == curriculum) if curriculum is not None else keep


def _fit_points(table: pd.DataFrame, curriculum: str) -> pd.DataFrame:
    """The points the direct and the paper's fits read: ``in_regime`` and D_T > 0."""
    return table[in_regime(table, curriculum) & (table.d_transferred > 0).to_numpy()
                 & np.isfinite(table.d_transferred).to_numpy()]


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


# The box the loss-space fit's optimiser works in (log k, alpha, beta, gamma): far outside any
# measured law, so that only a fit to noise reaches it; a bootstrap interval whose end sits on a
# bound says so (``bootstrap.interval``'s ``bounds``).
LOSS_SPACE_BOUNDS = {"log_k": (-30.0, 60.0), "alpha": (-1.0, 2.0), "beta": (-2.0, 3.0), "gamma": (-3.0, 3.0)}


def fit_transfer_loss_space(ft: pd.DataFrame, curves: dict, loss_column: str = "test_loss",
                            start: tuple | None = None, rows=None, with_pretraining: bool = False) -> tuple:
    """Fine-tuned loss = L_N(D_F + k D_F^alpha N^beta [P^gamma]) through each size's from-scratch
    curve (``ScratchCurve``; ``rows``: a mask of ``ft``'s rows to fit, all by default): uses every
    low-data fine-tune, including noisy or ossified ones (no censoring of D_T <= 0). Log-space Huber
    loss with the curve's analytic slope in the Jacobian; from a grid of 9 starts, or from ``start``
    = (k, alpha, beta[, gamma]) alone (the bootstrap's refits). ``with_pretraining``: P, the
    pre-training tokens (``pretrain_tokens``), enters with its exponent gamma, returned fourth."""
    n = ft.n_params.to_numpy(float)
    keep = np.isin(n, [x for x, c in curves.items() if c.has_law]) & (True if rows is None else rows)
    n = n[keep]
    if len(n) < 3 or len(np.unique(n)) < 2:
        raise ValueError("the loss-space fit needs at least 3 fine-tunes over 2 values of N")
    dF, loss = ft.d_train_chars.to_numpy(float)[keep], ft[loss_column].to_numpy(float)[keep]
    cols = [np.log(dF), np.log(n)]
    if with_pretraining:
        cols.append(np.log(ft.pretrain_tokens.to_numpy(float)[keep]))
    x = np.column_stack(cols)  # log D_F, log N [, log P]
    log_loss = np.log(loss)
    sizes = list(np.unique(n))
    bank = CurveBank([curves[v] for v in sizes], np.searchsorted(sizes, n))
    cache = {}

    def evaluate(p):
        key = tuple(p)
        if key not in cache:
            with np.errstate(over="ignore", invalid="ignore"):  # a trial step far out: infinite cost
                d_t = np.exp(p[0] + x @ p[1:])
                pred, slope = bank.loss_and_slope(dF + d_t)
                cache.clear()
                cache[key] = (np.log(pred) - log_loss, d_t * slope / pred)  # d log L / d log D_T
        return cache[key]

    resid = lambda p: evaluate(p)[0]  # noqa: E731

    def jac(p):
        g = evaluate(p)[1]
        return np.column_stack([g, g[:, None] * x])

    box = list(LOSS_SPACE_BOUNDS.values())[: 1 + x.shape[1]]
    lo, hi = np.array([b[0] for b in box], float), np.array([b[1] for b in box], float)
    if start is not None:  # a bootstrap refit: one start next to the optimum, by ``huber_lm``, centred:
        # (log k + slopes . mean, slopes) at the mean of each log column decorrelates the intercept
        # from the slopes (the log columns lie far from 0)
        m = x.mean(axis=0)

        def centred(q):
            g = evaluate(np.r_[q[0] - q[1:] @ m, q[1:]])
            return g[0], np.column_stack([g[1], g[1][:, None] * (x - m)])

        slopes = np.asarray(start[1:], float)
        q0 = np.r_[np.log(start[0]) + slopes @ m, slopes]
        q, _ = huber_lm(centred, q0, np.r_[-np.inf, lo[1:]], np.r_[np.inf, hi[1:]], 0.01)
        log_k = float(np.clip(q[0] - q[1:] @ m, lo[0], hi[0]))
        return (float(np.exp(log_k)), *map(float, q[1:]))
    starts = [(np.log(10.0), a0, b0) + ((0.0,) if with_pretraining else ())
              for a0 in (0.1, 0.4, 0.8) for b0 in (0.0, 0.4, 0.8)]
    if with_pretraining:  # P sits far from 1: start log k where the mean log P cancels
        mp = x[:, 2].mean()
        starts += [(np.log(10.0) - g0 * mp, 0.4, 0.4, g0) for g0 in (-0.5, 0.5)]
    best = None
    for s0 in starts:
        r = least_squares(resid, np.clip(s0, lo + 1e-9, hi - 1e-9), jac=jac, loss="huber", f_scale=0.01,
                          bounds=(lo, hi))
        if best is None or r.cost < best.cost:
            best = r
    return (float(np.exp(best.x[0])), *map(float, best.x[1:]))


def huber_lm(fun, p0, lo, hi, f_scale: float, max_iter: int = 200, ftol: float = 1e-8, xtol: float = 1e-8):
    """Minimise the Huber cost of the residuals r(p) inside the box [lo, hi]: a Levenberg-Marquardt
    iteration (Nielsen's damping update), ``fun(p) -> (r, J)``, with the Huber gradient and curvature
    from the quadratic (inlier) residuals only, as ``scipy.optimize.least_squares(loss="huber")``
    scales them; stops on scipy's ftol and xtol. A parameter at a bound whose descent leaves the
    box is held there. The bootstrap's refits (one start, next to the optimum) take as many
    evaluations as scipy's trust-region solver at a third of its cost per iteration; where the
    objective is flat they may stop elsewhere along the flat direction (agreement within 2e-3 on
    the first grid's replicates, at equal cost within 1e-9; in 1 of 300 mix replicates, where the
    cost has two basins, it settles in the other one). Returns (p, evaluations)."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    p = np.clip(np.asarray(p0, float), lo, hi)
    def cost_of(r):
        a = np.abs(r)
        return float(np.sum(np.where(a <= f_scale, 0.5 * r**2, f_scale * a - 0.5 * f_scale**2)))

    r, jac = fun(p)
    nfev = 1
    cost, lam, nu = cost_of(r), 1e-3, 2.0
    for _ in range(max_iter):
        inlier = np.abs(r) <= f_scale
        w = np.where(inlier, 1.0, f_scale / np.maximum(np.abs(r), 1e-300))
        g = jac.T @ (w * r)
        held = ((p >= hi) & (g < 0)) | ((p <= lo) & (g > 0))
        jh = jac * ~held
        a = jh.T @ (jh * np.where(inlier, 1.0, 1e-10)[:, None])
        g = g * ~held
        # Marquardt's scaling from the reweighted curvature (positive even where every residual is
        # in the linear part and ``a`` vanishes)
        diag = np.maximum(np.einsum("ij,i,ij->j", jh, w, jh), 1e-12) + held
        try:
            step = -np.linalg.solve(a + np.diag(held + lam * diag), g)
        except np.linalg.LinAlgError:
            break
        trial = np.clip(p + step, lo, hi)
        s = trial - p
        if np.linalg.norm(s) < xtol * (xtol + np.linalg.norm(p)):
            break
        r2, jac2 = fun(trial)
        nfev += 1
        cost2 = cost_of(r2)
        pred = -(g @ s + 0.5 * s @ a @ s)
        rho = (cost - cost2) / pred if pred > 0 else -1
        if np.isfinite(cost2) and cost2 < cost:
            done = cost - cost2 <= ftol * cost and rho > 0.25  # scipy's ftol test
            p, r, jac, cost = trial, r2, jac2, cost2
            lam *= max(1 / 3, 1 - (2 * rho - 1) ** 3) if rho > 0 else 1
            nu = 2.0
            if done:
                break
        else:
            lam *= nu
            nu *= 2
            if lam > 1e12:
                break
    return p, nfev


METHODS = ("direct", "paper", "loss")


def _fit_method(method, table, curves, curriculum, loss_column, start=None):
    if method == "direct":
        pts = _fit_points(table, curriculum)
        return fit_transfer_direct(pts.d_train_chars, pts.n_params, pts.d_transferred)
    if method == "paper":
        pts = _fit_points(table, curriculum)
        return fit_transfer_paper(pts.d_train_chars, pts.n_params, pts.fraction_from_transfer)
    return fit_transfer_loss_space(table, curves, loss_column, start, rows=in_regime(table, curriculum))


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
    if noise is None:
        noise = bootstrap.checkpoint_noise(table, curves, bootstrap.scratch_noise_by_size(runs, loss_column))
    res = bootstrap.Resampler(runs, curves, table, noise, predict, loss_column)
    # one random stream per replicate, so that the draws do not depend on how many workers run them
    seeds = np.random.SeedSequence(seed).spawn(n_bootstrap)
    job = (res, PointsLayout(res.runs, loss_column), curves, statistic, low_data_fraction, epsilon)
    draws = [d for d in _map_replicates(job, seeds) if d is not None]
    return np.array(draws, dtype=float), res.levels()


_JOB = None  # the replicate job a forked worker inherits (closures do not pickle)


def _replicates_of(job, seeds) -> list:
    """The statistic of each seed's replicate: every replicate drawn first, the from-scratch laws of
    all of them refitted in one vectorised pass (``scratch.batch_refit_laws``), then each replicate's
    D_E table and statistic. A replicate whose statistic raises ValueError gives None."""
    res, layout, curves, statistic, low_data_fraction, epsilon = job
    losses = [np.exp(res.sample_log_loss(np.random.default_rng(s))) for s in seeds]
    laws = batch_refit_laws([layout.groups(loss) for loss in losses], curves)
    out = []
    for loss, law in zip(losses, laws):
        try:
            bt, bcurves = layout.points(loss, low_data_fraction, epsilon, starts=curves, laws=law)
            out.append(statistic(bt, bcurves))
        except ValueError:
            out.append(None)
    return out


def _chunk(seeds):
    return _replicates_of(_JOB, seeds)


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
        return _replicates_of(job, seeds)
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
    return fit_joint(runs, (curriculum,), loss_column, low_data_fraction, n_bootstrap, seed, epsilon, method,
                     noise).fit(curriculum)


@dataclass(frozen=True)
class JointFit:
    """Several pre-training curricula fitted by one method in every replicate of one hierarchical
    bootstrap (``fit_joint``): each curriculum's law and intervals, and paired draws of their
    differences (the shared-beta test, the claims' paired comparisons), from one set of replicates.

    ``draws`` has per curriculum (in ``curricula`` order) the columns log k, alpha, beta and the log
    median multiplier D_E / D_F at the smallest D_F; a replicate where one curriculum could not be
    fitted has nan there. A curriculum fitted with another convention for N (``fit_joint``'s
    ``n_conventions``) is the key ``"<curriculum>@<convention>"``, fitted on the same replicates."""

    curricula: tuple  # the keys: curricula, then "<curriculum>@<convention>"
    method: str
    laws: dict  # curriculum -> (k, alpha, beta)
    multipliers: dict  # curriculum -> log median multiplier at the smallest D_F (the point)
    n_points: dict
    share_interpolated: dict
    draws: np.ndarray = field(repr=False)
    levels: dict = field(default_factory=dict)
    table: pd.DataFrame = field(default=None, repr=False)  # the full data's D_E table
    errors: dict = field(default_factory=dict)  # curriculum -> why its law could not be fitted

    def _col(self, curriculum: str, j: int) -> np.ndarray:
        return self.draws[:, 4 * self.curricula.index(curriculum) + j] if len(self.draws) else np.zeros(0)

    def fit(self, curriculum: str) -> TransferFit:
        if curriculum in self.errors:
            raise ValueError(self.errors[curriculum])
        if curriculum not in self.laws:
            raise ValueError(f"no fine-tunes of curriculum {curriculum!r} in the table")
        k, a, b = self.laws[curriculum]
        d = np.column_stack([self._col(curriculum, j) for j in range(3)]) if len(self.draws) else np.zeros((0, 3))
        d = d[np.isfinite(d).all(axis=1)]
        ci, extra = _intervals(d, (np.log(k), a, b))
        return TransferFit(k, a, b, self.n_points[curriculum], ci, self.share_interpolated[curriculum], d, extra,
                           self.levels)

    def paired(self, a: str, b: str, statistic) -> tuple[float, np.ndarray]:
        """``statistic(cols_a, cols_b)`` (each (log k, alpha, beta, log multiplier)) at the point and on
        every replicate where both curricula were fitted."""
        for c in (a, b):
            self.fit(c)  # raises when the curriculum has no law
        pt = lambda c: np.array([np.log(self.laws[c][0]), *self.laws[c][1:], self.multipliers[c]])
        point = statistic(pt(a), pt(b))
        cols = lambda c: np.column_stack([self._col(c, j) for j in range(4)]).T
        ca, cb = cols(a), cols(b)
        ok = np.isfinite(ca[:3]).all(axis=0) & np.isfinite(cb[:3]).all(axis=0)
        return point, statistic(ca[:, ok], cb[:, ok])


def _log_multiplier_at_smallest(table: pd.DataFrame, curriculum: str) -> float:
    """log of the median multiplier D_E / D_F of the curriculum's fine-tunes at the table's smallest D_F
    (``effective_data.median_multiplier``: a fine-tune worse than the smallest from-scratch run counts
    at its bound, never dropped)."""
    d = table.d_train_chars.to_numpy(float)
    rows = table[(table.curriculum.to_numpy() == curriculum) & (d == d.min())]
    m, _ = median_multiplier(rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.log(m)) if np.isfinite(m) else float("nan")


def fit_joint(runs: pd.DataFrame, curricula=None, loss_column: str = "test_loss",
              low_data_fraction: float = DEFAULT_LOW_DATA_FRACTION, n_bootstrap: int = 200, seed: int = 0,
              epsilon: float = DEFAULT_EPSILON, method: str = "direct", noise: pd.DataFrame | None = None,
              n_conventions: dict | None = None) -> JointFit:
    """Every curriculum of ``curricula`` (default: every pre-training curriculum in the table) fitted
    by ``method`` on the same replicates of the hierarchical bootstrap (``replicates``): one bootstrap
    gives each law's intervals and every paired difference between them. ``n_conventions`` (name ->
    a column of N per run, e.g. {"total": "n_params_total"}) fits each curriculum again with that N,
    on the same replicates (key ``"<curriculum>@<name>"``): the same draws a separate bootstrap of the
    relabelled table would give, for a share of the cost."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r} (expected {METHODS})")
    if curricula is None:
        curricula = sorted(c for c in runs.curriculum.unique() if c != "scratch")
    curricula = tuple(curricula)
    sub = runs[runs.curriculum.isin(["scratch", *curricula])].reset_index(drop=True)
    table, curves = transfer_points(sub, loss_column, low_data_fraction, epsilon)
    # other conventions for N: the same table and curves with N relabelled (a size's runs share one N)
    relabel = {conv: dict(zip(sub.n_params, sub[col])) for conv, col in (n_conventions or {}).items()}

    def views(t, cv):
        """(key, curriculum, table, curves) of every fit a table gives: each curriculum in each convention."""
        out = [(c, c, t, cv) for c in curricula]
        for conv, m in relabel.items():
            t2, cv2 = t.assign(n_params=t.n_params.map(m)), {m[n]: c for n, c in cv.items()}
            out += [(f"{c}@{conv}", c, t2, cv2) for c in curricula]
        return out

    laws, n_points, share, errors = {}, {}, {}, {}
    for key, c, t, cv in views(table, curves):
        try:
            laws[key] = _fit_method(method, t, cv, c, loss_column)
        except ValueError as exc:  # asked for alone, the curriculum's failure is the call's
            if len(curricula) == 1 and not relabel:
                raise
            errors[key] = str(exc)
            continue
        own = t[t.curriculum == c]
        n_points[key] = len(_fit_points(t, c)) if method != "loss" else int(in_regime(t, c).sum())
        share[key] = float((own.d_effective_status == INTERPOLATED).mean())
    keys = tuple(key for key, *_ in views(table, curves))
    mult = {key: _log_multiplier_at_smallest(table, c) for key, c, *_ in views(table, curves)}

    def statistic(bt, bcurves):
        out = []
        bmult = {c: _log_multiplier_at_smallest(bt, c) for c in curricula}
        for key, c, t, cv in views(bt, bcurves):
            if key in errors:
                out += [np.nan] * 4
                continue
            try:
                bk, ba, bb = _fit_method(method, t, cv, c, loss_column, start=laws[key])
                out += [np.log(bk), ba, bb, bmult[c]]
            except ValueError:
                if len(keys) == 1:
                    raise
                out += [np.nan] * 4
        return out

    def predict(curriculum, rows):
        if curriculum not in laws:
            return np.full(len(rows), np.nan)
        return _law_predictor(curves, laws[curriculum])(curriculum, rows)

    draws, levels = replicates(sub, statistic, n_bootstrap, seed, loss_column, low_data_fraction, epsilon,
                               predict=predict, noise=noise, points=(table, curves))
    draws = draws.reshape(-1, 4 * len(keys))
    return JointFit(keys, method, laws, mult, n_points, share, draws, levels, table, errors)


def _intervals(draws: np.ndarray, point) -> tuple[dict, dict]:
    """ci95 per parameter (k on its own scale, from log k), and bias / Monte-Carlo error / kind."""
    if len(draws) < 10:
        return {}, {}
    ci, extra = {}, {"bias": {}, "mc_error": {}, "interval_kind": {}}
    for j, name in enumerate(("k", "alpha", "beta")):
        r = bootstrap.interval(draws[:, j], point[j], bounds=LOSS_SPACE_BOUNDS["log_k" if name == "k" else name])
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
    joint = fit_joint(runs, (a, b), loss_column, low_data_fraction, n_bootstrap, seed, epsilon, method, noise)
    return shared_beta_from(joint, a, b, margin)


def shared_beta_from(joint: JointFit, a: str, b: str, margin: float = 0.1) -> SharedBeta:
    """The shared-beta test of two curricula of a joint fit: the difference's interval on its paired
    draws, the AIC of a shared-beta against a separate-beta direct fit on the full data's points."""
    table = joint.table
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

    diff, draws = joint.paired(a, b, lambda x, y: x[2] - y[2])
    # the plan's interval (``bootstrap.interval``: basic where biased, never excluding the point);
    # a raw percentile interval had printed beta_text - beta_mix = -1.3 [2.6, 2.9] on a degenerate fit
    lo95, hi95 = bootstrap.interval(draws, diff).get("ci", (np.nan, np.nan))
    lo90, hi90 = bootstrap.interval(draws, diff, level=0.90).get("ci", (np.nan, np.nan))
    s, sep = aic(True), aic(False)
    return SharedBeta(float(diff), [float(lo95), float(hi95)], float(s), float(sep), margin,
                      bool(-margin < lo90 and hi90 < margin), float(max(abs(lo90), abs(hi90))),
                      "shared" if s <= sep else "separate", joint.method)


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


def fit_by_transfer_share(runs: pd.DataFrame, curriculum: str, min_share: float = 0.5,
                          loss_column: str = "test_loss", epsilon: float = DEFAULT_EPSILON) -> dict:
    """The sensitivity regime of analysis_plan.md item 5: the primary (loss-space) law fitted on the
    fine-tunes where transfer supplies at least ``min_share`` of the effective data (D_T / D_E), off
    the flat head, in place of the D(N) rule; a point estimate (the rule selects on the outcome, so
    it is never primary and gets no interval). Returns k, alpha, beta and the points used."""
    sub = runs[runs.curriculum.isin(["scratch", curriculum])].reset_index(drop=True)
    table, curves = transfer_points(sub, loss_column, epsilon=epsilon)
    keep = ((table.curriculum.to_numpy() == curriculum) & (table.fraction_from_transfer.to_numpy(float) >= min_share)
            & ~table.flat.to_numpy(bool))
    k, a, b = fit_transfer_loss_space(table, curves, loss_column, rows=keep)
    return {"k": k, "alpha": a, "beta": b, "points": int(keep.sum())}


def leave_largest_size_out(runs: pd.DataFrame, curriculum: str, loss_column: str = "test_loss",
                           low_data_fraction: float = DEFAULT_LOW_DATA_FRACTION, epsilon: float = DEFAULT_EPSILON,
                           n_resamples: int = 2000, seed: int = 0) -> dict:
    """Out of sample in N: the primary (loss-space) law fitted on the low-data fine-tunes of every size
    but the largest, then the largest size's fine-tuned losses predicted through its own from-scratch
    curve (and its D_T, where measured positive). Returns the held-out points (``points``: predicted
    and measured loss, the error in nats, the log D_T error) and the summary: the median and worst
    absolute loss error, and the mean absolute loss error with a 95% interval from resampling the
    held-out points. ValueError where the training sizes cannot carry the fit (fewer than 2)."""
    sub = runs[runs.curriculum.isin(["scratch", curriculum])].reset_index(drop=True)
    table, curves = transfer_points(sub, loss_column, low_data_fraction, epsilon)
    keep = ((table.curriculum.to_numpy() == curriculum) & table.low_data.to_numpy(bool)
            & ~table.flat.to_numpy(bool))
    largest = float(table.n_params[table.curriculum == curriculum].max())
    held = keep & (table.n_params.to_numpy(float) == largest)
    if not held.any() or largest not in curves:
        raise ValueError(f"no low-data {curriculum} fine-tune of the largest size to predict")
    k, a, b = fit_transfer_loss_space(table, curves, loss_column, rows=keep & ~held)
    h = table[held]
    d_f = h.d_train_chars.to_numpy(float)
    d_t = k * d_f ** a * largest ** b
    measured = h[loss_column].to_numpy(float)
    predicted = np.asarray(curves[largest].loss(d_f + d_t), float)
    err = predicted - measured
    obs = h.d_transferred.to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        log_dt = np.where(obs > 0, np.abs(np.log(d_t) - np.log(obs)), np.nan)
    rng = np.random.default_rng(seed)
    means = np.abs(err)[rng.integers(0, len(err), (n_resamples, len(err)))].mean(axis=1)
    points = pd.DataFrame({"d_train_chars": d_f, "measured_loss": measured, "predicted_loss": predicted,
                           "loss_error_nats": err, "predicted_d_transferred": d_t, "d_transferred": obs,
                           "abs_log_error_d_transferred": log_dt}).sort_values("d_train_chars", kind="stable")
    return {"n_params": largest, "law": (k, a, b), "points": points,
            "median_abs_loss_error": float(np.median(np.abs(err))), "worst_abs_loss_error": float(np.abs(err).max()),
            "mean_abs_loss_error": float(np.abs(err).mean()),
            "mean_abs_loss_error_ci95": [float(x) for x in np.quantile(means, [0.025, 0.975])],
            "median_abs_log_error_d_transferred": float(np.nanmedian(log_dt)) if np.isfinite(log_dt).any()
            else float("nan")}


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


def device_systematic(runs: pd.DataFrame, curriculum: str, offsets, method: str = "loss",
                      loss_column: str = "test_loss", low_data_fraction: float = DEFAULT_LOW_DATA_FRACTION,
                      epsilon: float = DEFAULT_EPSILON) -> dict:
    """The systematic error of training on two devices (analysis plan, amendment 8): the law refitted
    with the loss of every GPU-trained from-scratch run (``device == "cuda"``) moved by each of
    ``offsets`` (CPU minus GPU, nats: what its CPU twin would have read, e.g. the hardware twins' mean
    and extremes), against the law as fitted. Returns the runs moved, each offset's point estimates,
    and per parameter the largest absolute change (log10 k for k); ``spread`` is empty when no GPU run
    is in the from-scratch curves (nothing to move) or a refit fails."""
    sub = runs[runs.curriculum.isin(["scratch", curriculum])].reset_index(drop=True)
    gpu = (sub.curriculum.to_numpy() == "scratch") & (sub.get("device", pd.Series("cpu", index=sub.index))
                                                       .fillna("cpu").to_numpy() == "cuda")
    out = {"moved_runs": int(gpu.sum()), "offsets": [float(o) for o in offsets], "points": {}, "spread": {}}
    if not gpu.any():
        return out

    def law(shift: float):
        moved = sub.assign(**{loss_column: sub[loss_column].to_numpy(float) + np.where(gpu, shift, 0.0)})
        table, curves = transfer_points(moved, loss_column, low_data_fraction, epsilon)
        return _fit_method(method, table, curves, curriculum, loss_column)

    try:
        base = law(0.0)
        moved = {float(o): law(float(o)) for o in offsets}
    except ValueError:
        return out
    arr = np.array([(np.log10(k), a, b) for k, a, b in moved.values()])
    ref = np.array([np.log10(base[0]), base[1], base[2]])
    out["points"] = {"as fitted": dict(zip(("k", "alpha", "beta"), map(float, base)))} | {
        f"{o:+.4f}": dict(zip(("k", "alpha", "beta"), map(float, v))) for o, v in moved.items()}
    out["spread"] = dict(zip(("log10_k", "alpha", "beta"), map(float, np.abs(arr - ref).max(axis=0))))
    return out


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
                     epsilon: float = DEFAULT_EPSILON, method: str = "loss") -> dict:
    """D_T = k D_F^alpha N^beta P^gamma where gamma is identified (with the hierarchical bootstrap's
    interval), else gamma None and the reason. ``method``: "loss" (the analysis plan's primary, in
    loss space through the from-scratch curves, D_T <= 0 kept) or "direct" (log-space, D_T > 0);
    the other method's gamma is returned beside it (``gamma_<method>``) as the cross-check. Also,
    with paired intervals: beta at fixed pre-training tokens (``beta_fixed_p``), and beta along the
    paper's path, where P grows as N_total (20 x N_total): ``beta_path`` = beta + gamma x
    ``path_exponent`` (d log N_total / d log N over the sizes). Only the latter is the paper's beta."""
    if method not in ("loss", "direct"):
        raise ValueError(f"unknown method {method!r} for the pre-training axis (loss or direct)")
    sub = runs[runs.curriculum.isin(["scratch", curriculum])].reset_index(drop=True)
    table, curves = transfer_points(sub, loss_column, low_data_fraction, epsilon)
    ok, reason = pretraining_identified(table, curriculum)
    if not ok:
        return {"gamma": None, "gamma_reason": reason}

    def fit(t, cv, how, start=None):
        if how == "loss":
            return fit_transfer_loss_space(t, cv, loss_column, start, rows=in_regime(t, curriculum),
                                           with_pretraining=True)
        p = _fit_points(t, curriculum)
        return fit_with_pretraining(p.d_train_chars, p.n_params, p.pretrain_tokens, p.d_transferred)

    point = fit(table, curves, method)
    other = "direct" if method == "loss" else "loss"
    try:
        cross = fit(table, curves, other)[3]
    except ValueError:
        cross = None
    # the paper's path: pre-training tokens in proportion to total parameters (20 x N_total), so
    # d log P / d log N is the slope of log N_total on log N over the sizes fitted
    sizes = sub.drop_duplicates("n_params")
    slope = (float(np.polyfit(np.log(sizes.n_params.astype(float)), np.log(sizes.n_params_total.astype(float)), 1)[0])
             if "n_params_total" in sub and len(sizes) >= 2 else None)

    def statistic(bt, bc):
        f = fit(bt, bc, method, start=point if method == "loss" else None)
        return [f[3], f[2], f[2] + f[3] * slope if slope is not None else np.nan]

    draws, _ = replicates(sub, statistic, n_bootstrap, seed, loss_column, low_data_fraction, epsilon,
                          points=(table, curves))
    draws = draws.reshape(-1, 3)
    names = ("gamma", "beta_fixed_p", "beta_path")
    values = (point[3], point[2], point[2] + point[3] * slope if slope is not None else None)
    box = {"gamma": LOSS_SPACE_BOUNDS["gamma"], "beta_fixed_p": LOSS_SPACE_BOUNDS["beta"]} if method == "loss" else {}
    iv = {nm: bootstrap.interval(draws[:, i], v, bounds=box.get(nm)) if v is not None else {}
          for i, (nm, v) in enumerate(zip(names, values))}
    return {"gamma": point[3], "gamma_reason": "", "gamma_method": method, f"gamma_{other}": cross,
            "ci95": iv["gamma"].get("ci"), "bias": iv["gamma"].get("bias"), "mc_error": iv["gamma"].get("mc_error"),
            "interval_kind": iv["gamma"].get("kind"),
            "beta_fixed_p": point[2], "beta_fixed_p_ci95": iv["beta_fixed_p"].get("ci"),
            "path_exponent": slope, "beta_path": values[2], "beta_path_ci95": iv["beta_path"].get("ci")}


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
    joint = fit_joint(runs, (a, b), loss_column, low_data_fraction, n_bootstrap, seed, epsilon, method, noise)
    return paired_from(joint, a, b)


def paired_from(joint: JointFit, a: str, b: str) -> dict:
    """``paired_curricula``'s differences of two curricula of a joint fit, on its paired draws."""
    table = joint.table
    n_ref, d_ref = reference_point(table[table.curriculum.isin([a, b])])
    log_dt = lambda c: c[0] + c[1] * np.log(d_ref) + c[2] * np.log(n_ref)  # log D_T at the reference point
    res = {"curricula": [a, b], "method": joint.method, "reference_n_params": n_ref,
           "reference_d_train_chars": d_ref, "smallest_d_train_chars": float(table.d_train_chars.min()),
           "levels": joint.levels}
    stats = {"alpha_difference": lambda x, y: x[1] - y[1],
             "log_d_transferred_ratio": lambda x, y: log_dt(x) - log_dt(y),
             f"log_multiplier_{a}": lambda x, y: x[3], f"log_multiplier_{b}": lambda x, y: y[3]}
    smallest = table[table.d_train_chars == table.d_train_chars.min()]
    for c in (a, b):  # the point counts fine-tunes worse than from scratch at their bound (``median_multiplier``)
        res[f"multiplier_is_upper_bound_{c}"] = median_multiplier(smallest[smallest.curriculum == c])[1]
    for name, f in stats.items():
        point, draws = joint.paired(a, b, f)
        draws = np.asarray(draws, float)
        res[name] = {"point": float(point), **bootstrap.interval(draws, point)} if len(draws) else {"point": float(point)}
    return res
