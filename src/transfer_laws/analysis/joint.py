"""Joint from-scratch laws L(N, D) over many runs, fitted as published replications do (numpy/scipy).

Chinchilla (Hoffmann et al. 2022): L = E + A / N^alpha + B / D^beta.
Kaplan (Kaplan et al. 2020, eq. 1.5): L = [(N_c / N)^(alpha_N / alpha_D) + D_c / D]^alpha_D.

Both are fitted to log L with a Huber loss (delta 1e-3) in the log-sum-exp parametrisation, by
L-BFGS from the best starts of a broad grid (for Chinchilla the grid of Hoffmann et al. as
Besiroglu et al. 2024 replicated it: 4,500 starts). The grid is scored at once, vectorised over
starts and runs, so that thousands of points and starts stay fast; bootstrap intervals resample
runs and refit from the point estimate. D is whatever the table holds: the Chinchilla form
describes single-epoch training on D tokens, while this project's from-scratch runs train many
epochs on D unique characters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp, softmax

from transfer_laws.analysis import bootstrap

DELTA = 1e-3  # Huber delta on log-loss residuals (Hoffmann et al.; Besiroglu et al.)
NAMES = {"chinchilla": ("E", "A", "B", "alpha", "beta"), "kaplan": ("N_c", "D_c", "alpha_N", "alpha_D")}


def _huber(r, delta=DELTA):
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r**2, delta * (a - 0.5 * delta))


def _psi(r, delta=DELTA):
    return np.clip(r, -delta, delta)


# ---- the two forms in log space: p holds the raw parameters, rows of starts are vectorised ----

def _chinchilla_pred(p, ln, ld):
    """log L for raw parameters p = (a, b, e, alpha, beta) (A = e^a, B = e^b, E = e^e); p may be (S, 5)."""
    p = np.atleast_2d(p)
    z = np.stack([p[:, [0]] - p[:, [3]] * ln, p[:, [1]] - p[:, [4]] * ld, np.broadcast_to(p[:, [2]], (len(p), len(ln)))])
    return logsumexp(z, axis=0)  # (S, n)


def _chinchilla_obj(p, ln, ld, y):
    a, b, e, al, be = p
    z = np.stack([a - al * ln, b - be * ld, np.full_like(ln, e)])
    pred = logsumexp(z, axis=0)
    r = pred - y
    w = softmax(z, axis=0) * _psi(r)
    grad = np.array([w[0].sum(), w[1].sum(), w[2].sum(), -(w[0] * ln).sum(), -(w[1] * ld).sum()])
    return float(_huber(r).sum()), grad


def _kaplan_pred(p, ln, ld):
    """log L for raw parameters p = (log N_c, log D_c, alpha_N, alpha_D); p may be (S, 4)."""
    p = np.atleast_2d(p)
    ratio = p[:, [2]] / p[:, [3]]
    z = np.stack([ratio * (p[:, [0]] - ln), np.broadcast_to(p[:, [1]] - ld, (len(p), len(ld)))])
    return p[:, [3]] * logsumexp(z, axis=0)


def _kaplan_obj(p, ln, ld, y):
    lnc, ldc, an, ad = p
    ratio = an / ad
    z = np.stack([ratio * (lnc - ln), ldc - ld])
    s = logsumexp(z, axis=0)
    r = ad * s - y
    psi = _psi(r)
    w = softmax(z, axis=0)
    # d pred: d/d lnc = ad * w0 * ratio; d/d ldc = ad * w1; d/d an = ad * w0 * (lnc - ln) / ad;
    # d/d ad = s + ad * w0 * (-an / ad^2) (lnc - ln)
    grad = np.array([(psi * ad * w[0] * ratio).sum(), (psi * ad * w[1]).sum(), (psi * w[0] * (lnc - ln)).sum(),
                     (psi * (s - w[0] * ratio * (lnc - ln))).sum()])
    return float(_huber(r).sum()), grad


def start_grid(form: str) -> np.ndarray:
    """The grid of starts: Chinchilla as Hoffmann et al. / Besiroglu et al. (alpha, beta in
    0..2 by 0.5; e in -1..1 by 0.5; a, b in 0..25 by 5: 4,500 starts); Kaplan over log N_c,
    log D_c in 5..40 and the exponents in 0.02..0.6."""
    if form == "chinchilla":
        a = b = np.arange(0, 30, 5.0)
        e = np.arange(-1, 1.5, 0.5)
        ex = np.arange(0, 2.5, 0.5)
        g = np.array(np.meshgrid(a, b, e, ex, ex, indexing="ij")).reshape(5, -1).T
        return g
    if form == "kaplan":
        lc = np.arange(5, 45, 5.0)
        ex = np.array([0.02, 0.05, 0.1, 0.2, 0.4, 0.6])
        return np.array(np.meshgrid(lc, lc, ex, ex, indexing="ij")).reshape(4, -1).T
    raise ValueError(f"unknown law {form!r} (expected chinchilla or kaplan)")


_FORMS = {"chinchilla": (_chinchilla_pred, _chinchilla_obj), "kaplan": (_kaplan_pred, _kaplan_obj)}


def _named(form: str, raw: np.ndarray) -> dict:
    if form == "chinchilla":
        a, b, e, al, be = raw
        return {"E": float(np.exp(e)), "A": float(np.exp(a)), "B": float(np.exp(b)), "alpha": float(al), "beta": float(be)}
    lnc, ldc, an, ad = raw
    return {"N_c": float(np.exp(lnc)), "D_c": float(np.exp(ldc)), "alpha_N": float(an), "alpha_D": float(ad)}


@dataclass(frozen=True)
class LawFit:
    form: str
    params: dict
    huber_loss: float
    n_points: int
    ci95: dict = field(default_factory=dict)
    diagnostics: dict = field(default_factory=dict, compare=False)
    raw: np.ndarray = field(default=None, repr=False, compare=False)

    def loss(self, n_params, d):
        pred, _ = _FORMS[self.form]
        return np.exp(pred(self.raw, np.log(np.asarray(n_params, float)), np.log(np.asarray(d, float)))[0])


# The N exponent of a joint law is read as identified only inside (0, MAX_IDENTIFIED_N_EXPONENT]:
# the published values are 0.076 (Kaplan et al.'s alpha_N) and 0.34 (Hoffmann et al.'s alpha); an
# exponent of 0 or below, or of several units (a size term that vanishes within the ladder), says that
# the runs do not pin it down, only how much the size term moves the loss across them.
MAX_IDENTIFIED_N_EXPONENT = 2.0
N_EXPONENT = {"kaplan": "alpha_N", "chinchilla": "alpha"}


def size_effect(fit: LawFit, n_params, d) -> dict:
    """How much a joint law's size term moves the loss across the measured sizes: the fitted loss
    at the smallest N minus that at the largest, at the geometric middle of ``d`` (nats; positive
    when the larger model is better), and whether the N exponent is identified
    (``MAX_IDENTIFIED_N_EXPONENT``)."""
    n = np.asarray(n_params, float)
    d_mid = float(np.exp(np.mean(np.log(np.asarray(d, float)))))
    at_ends = fit.loss([n.min(), n.max()], [d_mid, d_mid])
    gap = float(at_ends[0] - at_ends[1])
    exponent = fit.params[N_EXPONENT[fit.form]]
    return {"loss_gap_nats": gap, "d_reference": d_mid, "n_exponent": exponent,
            "identified": bool(0 < exponent <= MAX_IDENTIFIED_N_EXPONENT),
            "decades_of_n": float(np.log10(n.max() / n.min()))}


def _refine(form, starts, ln, ld, y):
    _, obj = _FORMS[form]
    best = None
    for s in starts:
        # the Huber loss at delta 1e-3 is tiny in absolute terms: tolerances far below scipy's defaults
        r = minimize(obj, s, args=(ln, ld, y), jac=True, method="L-BFGS-B",
                     options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 5000})
        if best is None or r.fun < best.fun:
            best = r
    return best


def _refit(form, start, ln, ld, y):
    """A bootstrap replicate's refit from the point estimate: the same Huber objective (scipy's
    'huber' rho is twice it, with the same minimiser), by trust-region least squares, which
    converges in a few iterations from a nearby start where L-BFGS needs hundreds."""
    from scipy.optimize import least_squares

    pred, _ = _FORMS[form]
    r = least_squares(lambda p: pred(p, ln, ld)[0] - y, start, loss="huber", f_scale=DELTA, method="trf",
                      x_scale="jac")
    return r.x


def fit_law(n_params, d, loss, form: str = "chinchilla", n_bootstrap: int = 0, seed: int = 0,
            refine: int = 8) -> LawFit:
    """Fit ``form`` to (N, D, L): score every start of ``start_grid`` at once, refine the best
    ``refine`` with L-BFGS (analytic gradients), keep the lowest Huber loss. With ``n_bootstrap``,
    resample the runs and refit from the point estimate; intervals by ``bootstrap.interval``."""
    n, dd, l = (np.asarray(v, float) for v in (n_params, d, loss))
    if form not in _FORMS:
        raise ValueError(f"unknown law {form!r} (expected chinchilla or kaplan)")
    ok = np.isfinite(n) & np.isfinite(dd) & np.isfinite(l) & (n > 0) & (dd > 0) & (l > 0)
    if ok.sum() < len(NAMES[form]) + 1:
        raise ValueError(f"a {form} fit needs at least {len(NAMES[form]) + 1} runs with positive N, D and loss, "
                         f"got {int(ok.sum())}")
    ln, ld, y = np.log(n[ok]), np.log(dd[ok]), np.log(l[ok])
    if np.ptp(ln) == 0 or np.ptp(ld) == 0:
        raise ValueError(f"a {form} fit needs more than one N and more than one D")
    pred, _ = _FORMS[form]
    grid = start_grid(form)
    scores = np.concatenate([_huber(pred(chunk, ln, ld) - y).sum(axis=1)
                             for chunk in np.array_split(grid, max(1, len(grid) * len(y) // 2_000_000 + 1))])
    best = _refine(form, grid[np.argsort(scores)[:refine]], ln, ld, y)
    point = best.x
    named = _named(form, point)
    out = {"form": form, "params": named, "huber_loss": float(best.fun), "n_points": int(ok.sum()), "raw": point}
    if n_bootstrap:
        rng = np.random.default_rng(seed)
        draws = []
        for _ in range(n_bootstrap):
            i = rng.integers(0, len(y), len(y))
            if np.ptp(ln[i]) == 0 or np.ptp(ld[i]) == 0:
                continue
            draws.append(list(_named(form, _refit(form, point, ln[i], ld[i], y[i])).values()))
        draws = np.array(draws)
        ci, diag = {}, {"bias": {}, "mc_error": {}, "interval_kind": {}, "draws": len(draws)}
        for j, name in enumerate(NAMES[form]):
            # scale parameters: intervals in log space, unless the fit sits on the boundary at 0
            logged = name in ("E", "A", "B", "N_c", "D_c") and named[name] > 0 and (draws[:, j] > 0).all()
            x = np.log(draws[:, j]) if logged else draws[:, j]
            p0 = np.log(named[name]) if logged else named[name]
            iv = bootstrap.interval(x, p0)
            if iv:
                ci[name] = [float(np.exp(v)) if logged else float(v) for v in iv["ci"]]
                diag["bias"][name], diag["mc_error"][name], diag["interval_kind"][name] = \
                    iv["bias"], iv["mc_error"], iv["kind"]
        out["ci95"], out["diagnostics"] = ci, diag
    return LawFit(**out)
