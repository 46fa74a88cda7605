"""The from-scratch curve of each model size: the one object through which the study reads the loss a
size reaches from scratch with D characters (its plots, D_E and D_T, the loss-space fit, the
ossification map, the experiments) and the convergence point D(N). The joint law L(N, D) over all
sizes is ``analysis.joint``. Pure numpy/scipy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

DEFAULT_EPSILON = 0.05  # D(N): within 5% of the infinite-data loss ("a few percent", PAPER.md)
# The tail law's floor E_N is fitted in [E_FLOOR_NATS, the lowest loss]; a fit whose floor ends below
# NO_PLATEAU_NATS (a thousandth of a nat, against losses of 3-7) found no plateau in the data: the tail
# is a pure power law over the measured range, and its D(N) is no measurement.
E_FLOOR_NATS = 1e-6
NO_PLATEAU_NATS = 1e-3
INTERPOLATED, EXTRAPOLATED, UNDEFINED = "interpolated", "extrapolated", "undefined"
_GRID_PER_SEGMENT = 64  # points per knot interval of the dense table that inverts the curve


class Pchip:
    """The monotone piecewise-cubic (PCHIP) interpolant through (x, y), as
    ``scipy.interpolate.PchipInterpolator`` builds it (Fritsch-Butland derivatives at the knots,
    Moler's one-sided ends) and evaluates it inside [x0, x_last], in numpy alone: built for every
    curve of every bootstrap replicate, where scipy's construction dominated the cost. ``c`` holds
    the piecewise polynomials' coefficients (scipy's ``PPoly.c``, highest power first)."""

    def __init__(self, x, y):
        x, y = np.asarray(x, float), np.asarray(y, float)
        h = np.diff(x)
        m = np.diff(y) / h
        if len(x) == 2:
            d = np.array([m[0], m[0]])
        else:
            sm = np.sign(m)
            cond = (sm[1:] != sm[:-1]) | (m[1:] == 0) | (m[:-1] == 0)
            w1, w2 = 2 * h[1:] + h[:-1], h[1:] + 2 * h[:-1]
            with np.errstate(divide="ignore", invalid="ignore"):
                whmean = (w1 / m[:-1] + w2 / m[1:]) / (w1 + w2)
            d = np.zeros_like(y)
            d[1:-1] = np.where(cond, 0.0, 1.0 / np.where(cond, 1.0, whmean))
            d[0] = self._edge(h[0], h[1], m[0], m[1])
            d[-1] = self._edge(h[-1], h[-2], m[-1], m[-2])
        t = (d[:-1] + d[1:] - 2 * m) / h
        self.x = x
        self.c = np.stack([t / h, (m - d[:-1]) / h - t, d[:-1], y[:-1]])

    @staticmethod
    def _edge(h0, h1, m0, m1) -> float:
        d = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
        if np.sign(d) != np.sign(m0):
            return 0.0
        if np.sign(m0) != np.sign(m1) and abs(d) > 3.0 * abs(m0):
            return 3.0 * m0
        return d

    def _local(self, z):
        z = np.asarray(z, float)
        j = np.clip(np.searchsorted(self.x, z, side="right") - 1, 0, len(self.x) - 2)
        return z - self.x[j], self.c[:, j]

    def __call__(self, z):
        s, (c0, c1, c2, c3) = self._local(z)
        return c3 + c2 * s + c1 * (s * s) + c0 * (s * s * s)  # scipy's order of summation

    def slope(self, z):
        s, (c0, c1, c2, _) = self._local(z)
        return c2 + (2 * c1) * s + (3 * c0) * (s * s)


class CurveBank:
    """Several sizes' curves evaluated in one vectorised pass: ``loss_and_slope(d)`` for rows that each
    read their own curve (``which[i]`` indexes ``curves``), the same numbers as each curve's own
    ``loss_and_slope`` (the monotone cubic's piecewise polynomials, Horner-evaluated at once; the
    loss-space fit evaluates them at every iteration of every bootstrap replicate)."""

    _OFFSET = 1e3  # log D of curve k is searched at log D + k * _OFFSET (log D < 100 for any data)

    def __init__(self, curves: list, which: np.ndarray):
        self.which = np.asarray(which, int)
        breaks, coefs, first_seg, n_seg = [], [], [], []
        x0, xl, yl, e, b, bexp = [], [], [], [], [], []
        seg = 0
        for k, c in enumerate(curves):
            x, y = c._knots
            first_seg.append(seg)
            n_seg.append(max(len(x) - 1, 0))
            if len(x) >= 2:
                breaks.append(x[:-1] + k * self._OFFSET)
                coefs.append(c._head.c)
                seg += len(x) - 1
            x0.append(x[0])
            xl.append(x[-1])
            yl.append(y[-1] if len(x) >= 2 else y[0])
            has = c.has_law
            e.append(c.e if has else np.nan)
            b.append(c.b_coef if has else np.nan)
            bexp.append(c.b_exp if has else np.nan)
        self.breaks = np.concatenate(breaks) if breaks else np.zeros(0)
        self.c = np.concatenate(coefs, axis=1) if coefs else np.zeros((4, 0))
        w = self.which
        self.first_seg, self.n_seg = np.asarray(first_seg)[w], np.asarray(n_seg)[w]
        self.x0, self.xl, self.yl = np.asarray(x0)[w], np.asarray(xl)[w], np.asarray(yl)[w]
        self.e, self.b, self.bexp = np.asarray(e)[w], np.asarray(b)[w], np.asarray(bexp)[w]
        self.has_law = np.isfinite(self.e)
        with np.errstate(invalid="ignore"):
            self.tail_at_last = self.e + self.b * np.exp(-self.bexp * self.xl)
        self.offset = w * self._OFFSET

    def loss_and_slope(self, d) -> tuple[np.ndarray, np.ndarray]:
        d = np.asarray(d, float)
        with np.errstate(divide="ignore"):
            log_d = np.log(np.maximum(d, np.exp(self.x0)))
        inside = np.minimum(log_d, self.xl)
        has_seg = self.n_seg > 0
        j = np.searchsorted(self.breaks, inside + self.offset, side="right") - 1
        j = np.clip(j, self.first_seg, self.first_seg + np.maximum(self.n_seg, 1) - 1)
        j = np.where(has_seg, j, 0)
        if self.c.shape[1]:
            t = inside + self.offset - self.breaks[j]
            c0, c1, c2, c3 = self.c[0, j], self.c[1, j], self.c[2, j], self.c[3, j]
            loss = np.where(has_seg, c3 + c2 * t + c1 * (t * t) + c0 * (t * t * t), self.yl)  # as Pchip
            head_slope = np.where(has_seg, c2 + (2 * c1) * t + (3 * c0) * (t * t), 0.0)
        else:
            loss, head_slope = self.yl.copy(), np.zeros_like(d)
        slope = np.where((log_d > self.x0) & (log_d <= self.xl), head_slope / d, 0.0)
        beyond = self.has_law & (log_d > self.xl)
        if beyond.any():
            with np.errstate(invalid="ignore", over="ignore"):
                tail = self.e + self.b * np.power(d, -self.bexp)
                loss = np.where(beyond, loss + tail - self.tail_at_last, loss)
                slope = np.where(beyond, -self.bexp * self.b * np.power(d, -self.bexp - 1.0), slope)
        return loss, slope


def monotone_curve(d, loss) -> tuple[np.ndarray, np.ndarray]:
    """Sorted D and the best loss reached with at most that much data (running minimum).

    Several runs at one D (seeds, data samples) are averaged first."""
    d, loss = np.asarray(d, float).ravel(), np.asarray(loss, float).ravel()
    levels, inv = np.unique(d, return_inverse=True)
    mean = np.bincount(inv, weights=loss, minlength=len(levels)) / np.bincount(inv, minlength=len(levels))
    return levels, np.minimum.accumulate(mean)


@dataclass(frozen=True)
class ScratchCurve:
    """One model size's from-scratch loss against D: what every reader of "the from-scratch loss at D"
    uses.

    - **Measured** (``knots``: log D and the running minimum of the seed-mean losses): between the
      smallest and the largest D the curve is the monotone cubic (PCHIP) through the knots in log D;
      below the smallest D it stays at the first knot's loss.
    - **Fitted** (the tail law e + b_coef * D**(-b_exp), fitted from ``d_fit_min_chars`` on; absent,
      all nan, with fewer than 3 distinct D): beyond the largest D the curve continues as the law,
      shifted to join the last knot, and D(N) is read off the law.

    ``loss`` is that curve and ``d_effective`` is its exact inverse (the first D reaching a loss),
    so D_E, the loss-space fit and every plot agree. ``model_loss`` (the knots below the tail's
    start, the law from it on) is the smooth model whose residuals the bootstrap resamples.
    """

    n_params: float
    knots_log_d: tuple
    knots_loss: tuple
    e: float = float("nan")
    b_coef: float = float("nan")
    b_exp: float = float("nan")
    d_fit_min_chars: float = float("nan")

    @property
    def has_law(self) -> bool:
        return bool(np.isfinite(self.e))

    @property
    def has_plateau(self) -> bool:
        """Whether the tail law found a floor E_N in the data (``NO_PLATEAU_NATS``)."""
        return bool(self.has_law and self.e > NO_PLATEAU_NATS)

    @property
    def d_max_chars(self) -> float:
        """The largest measured D."""
        return float(np.exp(self.knots_log_d[-1]))

    def measured(self, d) -> bool:
        """Whether D lies inside the measured range (from the smallest to the largest D run)."""
        return bool(np.exp(self.knots_log_d[0]) * (1 - 1e-9) <= d <= self.d_max_chars * (1 + 1e-9))

    def d_effective_upper(self, loss) -> np.ndarray:
        """For a loss above the curve's start (worse than the smallest measured D: D_E undefined, but
        below that D), the bound D_E < D_min in characters; nan for every other loss."""
        loss = np.atleast_1d(np.asarray(loss, float))
        x, y = self._knots
        return np.where(np.isfinite(loss) & (loss > y[0]), float(np.exp(x[0])), np.nan)

    def tail_loss(self, d):
        """The fitted law e + B D^-b (valid from ``d_fit_min_chars`` on)."""
        return self.e + self.b_coef * np.power(np.asarray(d, float), -self.b_exp)

    @cached_property
    def _knots(self):
        return np.asarray(self.knots_log_d, float), np.asarray(self.knots_loss, float)

    @cached_property
    def _head(self):
        """The monotone interpolant through the knots, built once per curve (the loss-space fit
        calls ``loss`` tens of thousands of times)."""
        x, y = self._knots
        if len(x) < 2:
            return lambda z: np.full_like(np.asarray(z, float), y[0])
        return Pchip(x, y)

    @cached_property
    def _inverse_table(self):
        """(-loss, log D) on a dense grid of the measured range, strictly increasing in -loss: the
        first D reaching each loss (flat stretches keep their left end)."""
        x, _ = self._knots
        if len(x) < 2:
            return -np.asarray(self.knots_loss, float), x
        # np.linspace(a, b, _GRID_PER_SEGMENT, endpoint=False) for every segment at once (the same numbers)
        step = (x[1:] - x[:-1]) / _GRID_PER_SEGMENT
        gx = np.concatenate([(np.arange(_GRID_PER_SEGMENT)[None, :] * step[:, None] + x[:-1, None]).ravel(), x[-1:]])
        gl = np.minimum.accumulate(self._head(gx))
        keep = np.r_[True, np.diff(gl) < 0]
        return -gl[keep], gx[keep]

    def loss(self, d):
        """The from-scratch loss with D characters (vectorised)."""
        d = np.asarray(d, float)
        x, y = self._knots
        with np.errstate(divide="ignore"):
            log_d = np.log(np.maximum(d, np.exp(x[0])))
        inside = self._head(np.minimum(log_d, x[-1]))
        if not self.has_law:
            return inside
        beyond = y[-1] + self.tail_loss(d) - self.tail_loss(np.exp(x[-1]))
        return np.where(log_d > x[-1], beyond, inside)

    @cached_property
    def _head_slope(self):
        x, _ = self._knots
        if len(x) < 2:
            return lambda z: np.zeros_like(np.asarray(z, float))
        return self._head.slope

    def loss_and_slope(self, d) -> tuple[np.ndarray, np.ndarray]:
        """``loss(d)`` and its derivative d loss / d D (zero on the flat stretch below the smallest D)."""
        d = np.asarray(d, float)
        x, _ = self._knots
        with np.errstate(divide="ignore"):
            log_d = np.log(np.maximum(d, np.exp(x[0])))
        inside = np.minimum(log_d, x[-1])
        loss = self._head(inside)
        slope = np.where((log_d > x[0]) & (log_d <= x[-1]), self._head_slope(inside) / d, 0.0)
        if self.has_law:
            beyond = log_d > x[-1]
            loss = np.where(beyond, loss[...] + self.tail_loss(d) - self.tail_loss(np.exp(x[-1])), loss)
            slope = np.where(beyond, -self.b_exp * self.b_coef * np.power(d, -self.b_exp - 1.0), slope)
        return loss, slope

    def d_effective(self, loss) -> tuple[np.ndarray, np.ndarray]:
        """D_E for each loss and how it was obtained: interpolated on the measured range, extrapolated
        along the joined law below the lowest measured loss, undefined (nan) above the smallest D's
        loss or past the law's plateau."""
        loss = np.atleast_1d(np.asarray(loss, float))
        x, y = self._knots
        d_e = np.full(loss.shape, np.nan)
        status = np.full(loss.shape, UNDEFINED, dtype=object)
        inside = np.isfinite(loss) & (loss <= y[0]) & (loss >= y[-1])
        nx, gx = self._inverse_table
        d_e[inside] = np.exp(np.interp(-loss[inside], nx, gx))
        status[inside] = INTERPOLATED
        below = np.isfinite(loss) & (loss < y[-1])
        if self.has_law and below.any():
            target = loss[below] - y[-1] + self.tail_loss(np.exp(x[-1]))  # on the law's own scale
            with np.errstate(divide="ignore", invalid="ignore"):
                de = np.where(target > self.e, np.power(self.b_coef / (target - self.e), 1.0 / self.b_exp), np.inf)
            ok = np.isfinite(de)
            idx = np.flatnonzero(below)
            d_e[idx[ok]] = de[ok]
            status[idx[ok]] = EXTRAPOLATED
        return d_e, status

    def model_loss(self, d):
        """The smooth model the bootstrap perturbs: the knots below the tail's start, the law from it on."""
        d = np.asarray(d, float)
        if not self.has_law:
            return self.loss(d)
        x, _ = self._knots
        with np.errstate(divide="ignore"):
            log_d = np.log(np.maximum(d, np.exp(x[0])))
        return np.where(d >= self.d_fit_min_chars, self.tail_loss(d), self._head(np.minimum(log_d, x[-1])))

    def d_converged(self, epsilon: float = DEFAULT_EPSILON) -> float:
        """D(N): the smallest D with L_N(D) <= (1 + epsilon) * L_N(inf), from the tail law (nan without one)."""
        if not self.has_law:
            return float("nan")
        return float(np.power(self.b_coef / (epsilon * self.e), 1.0 / self.b_exp))


def power_law_tail_start(d, loss) -> float:
    """The smallest D of the power-law tail: the end of the steepest decline in log D.

    At the smallest D small models learn little beyond unigram statistics and the curve is flat
    there, then falls steeply, then bends into its plateau: E + B D^-b describes only the part after
    the steepest decline (whose first point may still lie on the flat part). For a pure power law
    the steepest decline is the first segment, so only the smallest D is dropped. At least the 3
    largest D are always kept.
    """
    d_m, l_m = monotone_curve(d, loss)
    if len(d_m) < 3:
        return float(d_m[0])
    slopes = -np.diff(l_m) / np.diff(np.log(d_m))
    start = min(int(np.argmax(slopes)) + 1, len(d_m) - 3)
    return float(d_m[start])


def measured_curve(d, loss, n_params: float = np.nan) -> ScratchCurve:
    """The curve through the measured points only (no law: no extrapolation, no D(N))."""
    d_m, l_m = monotone_curve(d, loss)
    if len(d_m) == 0:
        raise ValueError(f"no from-scratch points at N={n_params:g}")
    return ScratchCurve(float(n_params), tuple(map(float, np.log(d_m))), tuple(map(float, l_m)))


def local_slopes(d, loss, se=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The from-scratch curve's local slope d loss / d log D between neighbouring measured D (seed
    means), and its standard error: from the seeds' spread where a D has several runs, else from
    the runs' own evaluation SE (``se``), else unknown (nan). Returns (log D of each segment's
    ends, shape (k, 2); slopes; their SEs)."""
    d, loss = np.asarray(d, float).ravel(), np.asarray(loss, float).ravel()
    se = np.full_like(loss, np.nan) if se is None else np.asarray(se, float).ravel()
    levels, inv = np.unique(d, return_inverse=True)
    count = np.bincount(inv, minlength=len(levels))
    mean = np.bincount(inv, weights=loss, minlength=len(levels)) / count
    var = np.bincount(inv, weights=(loss - mean[inv]) ** 2, minlength=len(levels)) / np.maximum(count - 1, 1)
    eval_var = np.bincount(inv, weights=np.nan_to_num(se, nan=0.0) ** 2, minlength=len(levels)) / count ** 2
    has_eval = np.bincount(inv, weights=np.isfinite(se).astype(float), minlength=len(levels)) == count
    mean_var = np.where(count > 1, var / count, np.where(has_eval, eval_var, np.nan))
    x = np.log(levels)
    ends = np.column_stack([x[:-1], x[1:]])
    slope = np.diff(mean) / np.diff(x)
    return ends, slope, np.sqrt(mean_var[:-1] + mean_var[1:]) / np.diff(x)


def flat_at(d_effective, ends, slope, slope_se, z: float = 2.0) -> np.ndarray:
    """Whether each D_E lies on a segment whose slope is within ``z`` standard errors of zero (the
    analysis plan's flat head, item 4: the loss does not identify D there). Unknown SE: not flat."""
    log_de = np.log(np.asarray(d_effective, float))
    out = np.zeros(log_de.shape, bool)
    if len(slope) == 0:
        return out
    seg = np.clip(np.searchsorted(ends[:, 1], log_de), 0, len(slope) - 1)
    inside = np.isfinite(log_de) & (log_de >= ends[0, 0]) & (log_de <= ends[-1, 1])
    flat = np.abs(slope[seg]) < z * slope_se[seg]  # False where the SE is nan
    return inside & flat


def fit_scratch_curve(d, loss, n_params: float = np.nan, tail: bool = True, start: ScratchCurve | None = None) -> ScratchCurve:
    """The measured curve with its tail law: a log-space Huber fit of E + B D^-b, from a grid of
    starts; E constrained below the best loss.

    With ``tail`` (the default) only points from :func:`power_law_tail_start` on are fitted, and the
    tail is extended backwards while the next smaller D lies on the law within its noise. With
    ``start`` (the full data's curve, as the bootstrap's refits pass), the tail keeps that curve's
    start and the law is refitted from that curve's law alone.
    """
    d, loss = np.asarray(d, float), np.asarray(loss, float)
    if len(np.unique(d)) < 3:
        raise ValueError(f"need at least 3 from-scratch points to fit L(D) at N={n_params:g}, got {len(np.unique(d))}")
    if start is not None and start.has_law:
        law = _fit_tail(d, loss, start.d_fit_min_chars, (start.e, start.b_coef, start.b_exp))
        m = measured_curve(d, loss, n_params)
        return ScratchCurve(m.n_params, m.knots_log_d, m.knots_loss, *law, start.d_fit_min_chars)
    d_min = power_law_tail_start(d, loss) if tail else float(d.min())
    law = _fit_tail(d, loss, d_min)
    if tail:
        d_m, l_m = monotone_curve(d, loss)
        while (d_m < d_min).any():
            prev = d_m[d_m < d_min][-1]
            on = d >= d_min
            rms = float(np.sqrt(np.mean((np.log(loss[on]) - np.log(_law(law, d[on]))) ** 2)))
            miss = abs(float(np.log(l_m[d_m == prev][0]) - np.log(_law(law, prev))))
            if miss > max(3 * rms, 0.05):  # 5% in loss: a point off the law by more is not its tail
                break
            d_min = float(prev)
            law = _fit_tail(d, loss, d_min)
    m = measured_curve(d, loss, n_params)
    return ScratchCurve(m.n_params, m.knots_log_d, m.knots_loss, *law, d_min)


def _law(p, d):
    return p[0] + p[1] * np.power(np.asarray(d, float), -p[2])


def _fit_tail(d_all, loss_all, d_min: float, start=None) -> tuple[float, float, float]:
    keep = d_all >= d_min
    d, loss = d_all[keep], loss_all[keep]
    lmin = loss.min()

    log_d, log_loss = np.log(d), np.log(loss)

    def resid(p):
        e, log_b, b = p
        return np.log(e + np.exp(log_b - b * log_d)) - log_loss

    def jac(p):
        e, log_b, b = p
        t = np.exp(log_b - b * log_d)
        f = e + t
        return np.column_stack([1 / f, t / f, -log_d * t / f])

    if start is not None:
        e0, b_coef0, b0 = start
        starts = [(min(e0, 0.999 * lmin), np.log(b_coef0), b0)]
    else:
        starts = [(e0, np.log(max(loss.max() - e0, 1e-3)) + b0 * np.log(d.min()), b0)
                  for e0 in (0.3 * lmin, 0.7 * lmin, 0.95 * lmin) for b0 in (0.1, 0.3, 0.6)]
    best = None
    for s in starts:
        s = np.clip(s, [E_FLOOR_NATS, -50, 1e-3], [lmin, 80, 3.0])
        r = least_squares(resid, s, jac=jac, loss="huber", f_scale=0.01, bounds=([E_FLOOR_NATS, -50, 1e-3], [lmin, 80, 3.0]))
        if best is None or r.cost < best.cost:
            best = r
    e, log_b, b = best.x
    return float(e), float(np.exp(log_b)), float(b)


@lru_cache(maxsize=256)
def _fit_scratch_curve_cached(d: bytes, loss: bytes, n_params: float) -> ScratchCurve:
    """``fit_scratch_curve`` of one size's full data, once per process: every fit of a runs table (each
    curriculum, method and test) starts from the same curves (a ScratchCurve is frozen)."""
    return fit_scratch_curve(np.frombuffer(d), np.frombuffer(loss), n_params)


def scratch_curves(runs: pd.DataFrame, loss_column: str = "test_loss", starts: dict | None = None) -> dict[float, ScratchCurve]:
    """Every size's from-scratch curve: with its tail law where it has at least 3 distinct D, the
    measured points alone otherwise. ``starts`` (N -> the full data's curve) refits every size's law
    at once from that curve's law and tail start (``refit_laws``: the bootstrap's replicates)."""
    groups = {n: (g.d_train_chars.to_numpy(float), g[loss_column].to_numpy(float))
              for n, g in runs[runs.curriculum == "scratch"].groupby("n_params")}
    return curves_from_arrays(groups, starts)


def _refits(groups: dict, starts: dict | None) -> list:
    """The sizes whose law is refitted from a start curve (``starts``) rather than fitted afresh."""
    return [n for n, (d, _) in groups.items()
            if (starts or {}).get(n) is not None and starts[n].has_law and len(np.unique(d)) >= 3]


def curves_from_arrays(groups: dict, starts: dict | None = None, laws: dict | None = None) -> dict[float, ScratchCurve]:
    """``scratch_curves`` from N -> (D, loss) arrays of each size's from-scratch runs; ``laws``: the
    refitted laws when the caller has them (``batch_refit_laws``)."""
    out = {}
    refit = _refits(groups, starts)
    if laws is None and refit:
        found = refit_laws([groups[n][0] for n in refit], [groups[n][1] for n in refit], [starts[n] for n in refit])
        laws = dict(zip(refit, found))
    for n, (d, loss) in groups.items():
        if n in refit:
            m = measured_curve(d, loss, n)
            out[n] = ScratchCurve(m.n_params, m.knots_log_d, m.knots_loss, *laws[n], starts[n].d_fit_min_chars)
        elif len(np.unique(d)) >= 3:
            out[n] = _fit_scratch_curve_cached(d.tobytes(), loss.tobytes(), float(n))
        else:
            out[n] = measured_curve(d, loss, n)
    return out


def batch_refit_laws(many_groups: list[dict], starts: dict) -> list[dict]:
    """``refit_laws`` for many replicates of the same sizes at once (one vectorised iteration over
    every (replicate, size)): each problem is damped and accepted on its own, so a replicate's laws
    are those it would get alone. Returns, per replicate, N -> law."""
    keys, ds, losses, st = [], [], [], []
    for i, groups in enumerate(many_groups):
        for n in _refits(groups, starts):
            keys.append((i, n))
            ds.append(groups[n][0])
            losses.append(groups[n][1])
            st.append(starts[n])
    out = [{} for _ in many_groups]
    if keys:
        for (i, n), law in zip(keys, refit_laws(ds, losses, st)):
            out[i][n] = law
    return out


def refit_laws(ds: list, losses: list, starts: list, iterations: int = 300, f_scale: float = 0.01,
               rtol: float = 1e-9) -> list:
    """The tail law of several sizes at once, each from its ``start`` curve's law and on that curve's
    tail (D >= its ``d_fit_min_chars``): the same log-space Huber objective as ``fit_scratch_curve``,
    minimised by a damped Gauss-Newton (Levenberg-Marquardt) iteration vectorised over the sizes,
    with the same bounds (E below the best tail loss). A problem is done when an accepted step lowers
    its cost by less than ``rtol`` of it, or its damping has grown past any useful step; the
    iteration stops when every problem is done (at most ``iterations``). Returns (e, b_coef, b_exp)
    per size."""
    tails = [(np.asarray(d, float), np.asarray(l, float)) for d, l in zip(ds, losses)]
    tails = [(d[d >= s.d_fit_min_chars], l[d >= s.d_fit_min_chars]) for (d, l), s in zip(tails, starts)]
    width = max(len(d) for d, _ in tails)
    pad = lambda v, fill: np.array([np.r_[x, np.full(width - len(x), fill)] for x in v])
    log_d = pad([np.log(d) for d, _ in tails], 0.0)
    log_l = pad([np.log(l) for _, l in tails], 0.0)
    mask = pad([np.ones(len(d)) for d, _ in tails], 0.0)
    lmin = np.array([l.min() for _, l in tails])
    lo = np.column_stack([np.full(len(tails), E_FLOOR_NATS), np.full(len(tails), -50.0), np.full(len(tails), 1e-3)])
    hi = np.column_stack([lmin, np.full(len(tails), 80.0), np.full(len(tails), 3.0)])
    p = np.array([[min(s.e, 0.999 * m), np.log(s.b_coef), s.b_exp] for s, m in zip(starts, lmin)])
    p = np.clip(p, lo, hi)

    def parts(p, ix):
        t = np.exp(p[:, 1:2] - p[:, 2:3] * log_d[ix])
        f = p[:, 0:1] + t
        r = (np.log(f) - log_l[ix]) * mask[ix]
        a = np.abs(r)
        cost = np.sum(np.where(a <= f_scale, 0.5 * r**2, f_scale * a - 0.5 * f_scale**2) * mask[ix], axis=1)
        return t, f, r, cost

    lam = np.full(len(tails), 1e-3)
    t, f, r, cost = parts(p, slice(None))
    done = np.zeros(len(tails), bool)
    for _ in range(iterations):
        # only the problems not yet converged are iterated (the rest keep their parameters)
        ix = np.flatnonzero(~done)
        if not len(ix):
            break
        pa, ta, fa, ra, la, m = p[ix], t[ix], f[ix], r[ix], lam[ix], mask[ix]
        jac = np.stack([1 / fa, ta / fa, -log_d[ix] * ta / fa], axis=2) * m[..., None]
        w = np.where(np.abs(ra) <= f_scale, 1.0, f_scale / np.maximum(np.abs(ra), 1e-300)) * m
        g = np.einsum("smi,sm->si", jac * w[..., None], ra)
        # a parameter at a bound whose descent direction leaves the box is held there (active set)
        held = ((pa >= hi[ix] - 1e-12 * np.abs(hi[ix])) & (g < 0)) | ((pa <= lo[ix] + 1e-12 * np.abs(lo[ix])) & (g > 0))
        jac = jac * ~held[:, None, :]
        jw = jac * w[..., None]
        a = np.einsum("smi,smj->sij", jw, jac)
        g = g * ~held
        diag = np.maximum(np.diagonal(a, axis1=1, axis2=2), 1e-12) + held
        a_damped = a + np.eye(3) * (held + la[:, None] * diag)[:, None, :]
        step = -np.linalg.solve(a_damped, g[..., None])[..., 0]
        trial = np.clip(pa + step, lo[ix], hi[ix])
        t2, f2, r2, cost2 = parts(trial, ix)
        better = cost2 < cost[ix]
        done[ix] = (better & (cost[ix] - cost2 <= rtol * np.maximum(cost[ix], 1e-300))) | (la > 1e12)
        p[ix] = np.where(better[:, None], trial, pa)
        t[ix], f[ix], r[ix] = (np.where(better[:, None], x2, x) for x2, x in ((t2, ta), (f2, fa), (r2, ra)))
        cost[ix] = np.where(better, cost2, cost[ix])
        lam[ix] = np.where(better, la / 3, la * 4)
    return [(float(e), float(np.exp(lb)), float(b)) for e, lb, b in p]
