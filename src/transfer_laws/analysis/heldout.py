"""Claim 1's test (analysis plan): is D_T a power law in D_F and N, judged by held-out error against
alternatives? Pure numpy/scipy/pandas over the transfer points (``fitting.transfer_points``).

Forms, each fitted in log space to the low-data points with D_T > 0 off the flat head:

- ``power``: D_T = k D_F^alpha N^beta (the paper's);
- ``no_d_finetune``: D_T = c N^beta (the fine-tuning data does not matter);
- ``saturating``: D_T = k D_F^alpha N^beta / (1 + D_F / D_s) (transfer saturates past D_s).

Held-out designs: leave one D_F out (every D_F in turn), and leave the largest size out (fit on the
others, predict it). Each held-out point gets an absolute log error per form; two forms are
compared by the mean of their paired per-point differences, with a 95% interval from resampling
the held-out points (a tie: the interval contains 0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

FORMS = ("power", "no_d_finetune", "saturating")


def fit_form(form: str, d_f, n, d_t) -> np.ndarray:
    """Parameters of one form (log space, least squares); ValueError when it cannot be fitted."""
    x1, x2, y = np.log(np.asarray(d_f, float)), np.log(np.asarray(n, float)), np.log(np.asarray(d_t, float))
    if form == "no_d_finetune":
        if len(y) < 2 or np.ptp(x2) == 0:
            raise ValueError("no_d_finetune needs 2 sizes")
        return np.linalg.lstsq(np.column_stack([np.ones_like(y), x2]), y, rcond=None)[0]
    if len(y) < 4 or np.ptp(x1) == 0 or np.ptp(x2) == 0:
        raise ValueError(f"{form} needs 2 D_F, 2 sizes and 4 points")
    X = np.column_stack([np.ones_like(y), x1, x2])
    p = np.linalg.lstsq(X, y, rcond=None)[0]
    if form == "power":
        return p
    if len(y) < 5 or len(np.unique(x1)) < 3:
        raise ValueError("saturating needs 3 D_F and 5 points")
    resid = lambda q: q[0] + q[1] * x1 + q[2] * x2 - np.log1p(np.exp(x1 - q[3])) - y
    starts = [np.r_[p, ls] for ls in np.quantile(x1, [0.25, 0.75]).tolist() + [x1.max() + 3]]
    best = min((least_squares(resid, s) for s in starts), key=lambda r: r.cost)
    return best.x


def predict_form(form: str, params: np.ndarray, d_f, n) -> np.ndarray:
    x1, x2 = np.log(np.asarray(d_f, float)), np.log(np.asarray(n, float))
    if form == "no_d_finetune":
        return params[0] + params[1] * x2
    out = params[0] + params[1] * x1 + params[2] * x2
    return out - np.log1p(np.exp(x1 - params[3])) if form == "saturating" else out


def heldout_errors(points: pd.DataFrame, design: str) -> pd.DataFrame:
    """Per held-out point: the absolute log error of D_T under each form (nan where a form could not
    be fitted on the training part). ``design``: ``d_finetune`` (leave each D_F out in turn) or
    ``largest_size`` (fit on every size but the largest)."""
    if design == "d_finetune":
        folds = [points.d_train_chars == d for d in sorted(points.d_train_chars.unique())]
    elif design == "largest_size":
        folds = [points.n_params == points.n_params.max()]
    else:
        raise ValueError(f"unknown held-out design {design!r}")
    rows = []
    for test in folds:
        train, held = points[~test], points[test]
        row = {"held_out_d_train_chars": held.d_train_chars.to_numpy(float),
               "n_params": held.n_params.to_numpy(float)}
        for form in FORMS:
            try:
                p = fit_form(form, train.d_train_chars, train.n_params, train.d_transferred)
                row[form] = np.abs(predict_form(form, p, held.d_train_chars, held.n_params)
                                   - np.log(held.d_transferred.to_numpy(float)))
            except (ValueError, np.linalg.LinAlgError):
                row[form] = np.full(len(held), np.nan)
        rows.append(pd.DataFrame(row))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["held_out_d_train_chars", "n_params", *FORMS])


# A difference in held-out |ln D_T error| below this (a factor of 1.000001) is the optimiser's precision,
# not evidence: the saturating form nests the power law (D_s -> infinity), and where it collapses onto
# it the two errors differ by ~1e-9 with an interval that may exclude 0 on one side or the other
# depending on the machine's last digits (analysis_plan.md, amendment 9).
NUMERICAL_TIE = 1e-6


def paired_difference(errors: pd.DataFrame, form: str, other: str, n_resamples: int = 2000, seed: int = 0) -> dict:
    """Mean of (error of ``form`` - error of ``other``) over held-out points, with a 95% interval from
    resampling the points; ``verdict``: wins (interval below 0), loses (above 0) or ties (the interval
    holds 0, or lies within ``NUMERICAL_TIE`` of it)."""
    d = (errors[form] - errors[other]).to_numpy(float)
    d = d[np.isfinite(d)]
    if len(d) < 3:
        return {"mean": float("nan"), "ci95": [float("nan")] * 2, "points": len(d), "verdict": "not testable"}
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), (n_resamples, len(d)))].mean(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    if max(abs(lo), abs(hi)) < NUMERICAL_TIE:  # two forms that coincide up to the optimiser's precision
        verdict = "ties"
    else:
        verdict = "wins" if hi < 0 else "loses" if lo > 0 else "ties"
    return {"mean": float(d.mean()), "ci95": [float(lo), float(hi)], "points": len(d), "verdict": verdict}


def power_law_test(points: pd.DataFrame) -> dict:
    """Claim 1: per held-out design, the power law's median and worst absolute log error and its
    paired comparison with each alternative; ``verdict`` is reproduced where the power law wins or
    ties every alternative in both designs, not reproduced where any alternative beats it, and not
    testable where a design cannot be fitted."""
    out = {}
    verdicts = []
    for design in ("d_finetune", "largest_size"):
        e = heldout_errors(points, design)
        p = e["power"].dropna() if len(e) else pd.Series(dtype=float)
        comp = {alt: paired_difference(e, "power", alt) for alt in FORMS[1:]}
        out[design] = {"median_error": float(p.median()) if len(p) else float("nan"),
                       "worst_error": float(p.max()) if len(p) else float("nan"), "points": len(p),
                       "against": comp}
        verdicts += [c["verdict"] for c in comp.values()]
    if "not testable" in verdicts:
        out["verdict"] = "not testable"
    elif "loses" in verdicts:
        out["verdict"] = "not reproduced"
    else:
        out["verdict"] = "reproduced"
    return out
