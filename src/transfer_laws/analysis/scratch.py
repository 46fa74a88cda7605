"""The from-scratch curve of each model size, L_N(D) = E + B * D**(-b) above its flat start, the
convergence point D(N), and the joint law L(N, D) over all sizes (Kaplan's or the Chinchilla form).
Pure numpy/scipy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from transfer_laws.analysis.effective_data import monotone_curve

DEFAULT_EPSILON = 0.05  # D(N): within 5% of the infinite-data loss ("a few percent", PAPER.md)


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


def scratch_curves(runs: pd.DataFrame, loss_column: str = "test_loss") -> dict[float, ScratchCurve]:
    """Per-N from-scratch fits (sizes with at least 3 distinct D)."""
    return {n: fit_scratch_curve(g.d_train_chars, g[loss_column], n)
            for n, g in runs[runs.curriculum == "scratch"].groupby("n_params") if g.d_train_chars.nunique() >= 3}
