"""The hierarchical bootstrap behind every interval of the transfer fits (analysis plan, item 9).

One replicate of a runs table resamples, within each (curriculum, size):

1. **pre-training checkpoints** (parametric, pooled): each checkpoint's effect on D_T is replaced by
   a fresh log-normal multiplier, exp(z * sd), z ~ N(0, 1) per checkpoint, shared by all its
   fine-tunes. ``sd`` is the between-checkpoint spread of log D_T at the same (curriculum, size,
   D_F), pooled across sizes per (curriculum, D_F) and interpolated in log D_F (``checkpoint_noise``).
   With three checkpoints a cell has too few distinct resamples, and with one (the first grid) none:
   a parametric level works for both. The multiplier moves the fine-tune's loss along its size's
   from-scratch curve (D_T <= 0 points, which have no multiplier, keep their loss);
2. **data samples, then runs** within each (checkpoint, D_F) cell, with replacement; a cell with one
   run keeps it and gets a log-residual drawn from the within-cell deviations of the same
   curriculum at the nearest D_F that has replicates; where no cell has any, Gaussian noise at its
   size's from-scratch run-level spread (``scratch_noise_sd``: a fine-tune is evaluated on the same
   test windows as a from-scratch run; residuals around the law would also carry the curve's own
   noise, which the from-scratch level already draws), and failing that a residual around the law;

and within each size's **from-scratch runs**: the runs at each D resampled where there are several,
otherwise Gaussian noise at the size's run-level spread (``scratch_noise_sd``, read without a model of
the curve).
Each estimated spread (the checkpoints' per curriculum, the run-level one per size) is drawn once per
replicate with its own sampling uncertainty (``spread_factor``), and each source of noise is drawn by
one level only (analysis plan, amendment 5: the coverage worlds found the primary α interval ~3x too
wide when residuals carried a model's misfit, the checkpoints' shifts and the curve's own noise).
The caller then refits the from-scratch curves, D(N), the low-data regime, every D_E and the law.

Pure numpy/pandas: the design (the index arrays of every level) is built once per table
(``Design``), and each replicate is a handful of vectorised draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from transfer_laws.analysis.scratch import ScratchCurve


def arm(runs: pd.DataFrame) -> pd.Series:
    """Each run's arm of the design: its pre-training budget and tokenizer (empty where the table has
    neither column). Checkpoints are exchangeable replicates only within an arm."""
    parts = [runs[c].astype(str) for c in ("pretrain_tokens", "tokenizer") if c in runs]
    if not parts:
        return pd.Series("", index=runs.index)
    out = parts[0]
    for p in parts[1:]:
        out = out + "|" + p
    return out


def checkpoint_noise(table: pd.DataFrame, curves: dict | None = None, run_sd: dict | None = None) -> pd.DataFrame:
    """The between-checkpoint spread of log D_T, from an effective-data table (``transfer_points``)
    with a ``pretrain_id`` column: per (curriculum, D_F), pooled over every (size, arm) that has at
    least 2 checkpoints there (``arm``: budget and tokenizer): the variance of the checkpoints' mean
    log D_T less the run-level part, weighted by checkpoints - 1. Columns: curriculum, d_train_chars,
    sd_log_d_transferred, cells, checkpoints.

    The run-level part comes from a checkpoint's replicate runs at that D_F where it has several;
    for a single run it is the run's loss noise carried into log D_T along its size's curve
    (``run_noise_log_d_transferred``), where ``curves`` (N -> ScratchCurve) and ``run_sd`` (N -> sd of
    log loss) are given, else zero. Without it a single run's scatter counts as checkpoint spread: at
    large D_F, where D_T is a small part of D_E, a loss noise of 0.006 moves log D_T by ~1."""
    cols = ["curriculum", "d_train_chars", "sd_log_d_transferred", "cells", "checkpoints"]
    if "pretrain_id" not in table or table.empty:
        return pd.DataFrame(columns=cols)
    t = table[(table.d_transferred > 0) & np.isfinite(table.d_transferred) & table.pretrain_id.notna()]
    v = run_noise_log_d_transferred(t, curves, run_sd) if curves is not None and run_sd else np.zeros(len(t))
    t = t.assign(y=np.log(t.d_transferred), _arm=arm(t), _v=v)
    rows = []
    for (cur, n, _, d), g in t.groupby(["curriculum", "n_params", "_arm", "d_train_chars"]):
        per = g.groupby("pretrain_id").agg(mean=("y", "mean"), var=("y", "var"), count=("y", "count"), v=("_v", "mean"))
        if len(per) < 2:
            continue
        run_var = np.where(per["count"] > 1, per["var"].fillna(0), per["v"])
        within = float((run_var / per["count"]).mean())
        rows.append({"curriculum": cur, "d_train_chars": d, "var": max(float(per["mean"].var(ddof=1)) - within, 0.0),
                     "weight": len(per) - 1})
    if not rows:
        return pd.DataFrame(columns=cols)
    r = pd.DataFrame(rows)
    out = r.groupby(["curriculum", "d_train_chars"]).apply(
        lambda g: pd.Series({"sd_log_d_transferred": float(np.sqrt(np.average(g["var"], weights=g.weight))),
                             "cells": len(g), "checkpoints": int(g.weight.sum() + len(g))}), include_groups=False)
    return out.reset_index()[cols]


def run_noise_log_d_transferred(table: pd.DataFrame, curves: dict, run_sd: dict) -> np.ndarray:
    """The variance of each fine-tune's log D_T that its own loss noise causes (delta method along its
    size's from-scratch curve): (sd * L / (|dL/dD| * D_T))^2 at D = D_E, with sd the size's run-level
    sd of log loss; zero where the size has no curve or no sd, or the curve is flat there."""
    out = np.zeros(len(table))
    n = table.n_params.to_numpy(float)
    d_e = table.d_effective.to_numpy(float)
    d_t = table.d_transferred.to_numpy(float)
    for size in np.unique(n):
        if size not in curves or size not in run_sd:
            continue
        i = np.flatnonzero(n == size)
        loss, slope = curves[size].loss_and_slope(d_e[i])
        with np.errstate(divide="ignore", invalid="ignore"):
            v = (run_sd[size] * loss / (np.abs(slope) * d_t[i])) ** 2
        out[i] = np.where(np.isfinite(v), v, 0.0)
    return out


def checkpoint_sd(noise: pd.DataFrame, curriculum: str, d_train_chars) -> np.ndarray:
    """The pooled checkpoint sd of log D_T at each D_F (interpolated in log D_F, flat beyond the
    measured D_F; zero where the curriculum has no estimate)."""
    d = np.asarray(d_train_chars, float)
    g = noise[noise.curriculum == curriculum].sort_values("d_train_chars") if len(noise) else noise
    if len(g) == 0:
        return np.zeros_like(d)
    return np.interp(np.log(d), np.log(g.d_train_chars.to_numpy(float)), g.sd_log_d_transferred.to_numpy(float))


@dataclass
class Design:
    """The levels of one runs table, as index arrays (built once, reused by every replicate)."""

    log_loss: np.ndarray
    scratch_cells: list  # per from-scratch (N, D): row indices
    ft_cells: list  # per (curriculum, N, checkpoint, D_F): list of data-sample groups (row index arrays)
    ft_cell_key: list  # (curriculum, N, checkpoint, D_F) per cell
    checkpoints: dict  # (curriculum, N) -> list of checkpoint labels


def design(runs: pd.DataFrame, loss_column: str = "test_loss") -> Design:
    runs = runs.reset_index(drop=True)
    ckpt = runs["pretrain_id"].fillna("") if "pretrain_id" in runs else pd.Series("", index=runs.index)
    sample = runs["data_seed"].fillna(-1) if "data_seed" in runs else pd.Series(-1, index=runs.index)
    sc = runs.curriculum == "scratch"
    scratch_cells = [g.index.to_numpy() for _, g in runs[sc].groupby(["n_params", "d_train_chars"])]
    ft = runs[~sc].assign(_ckpt=ckpt[~sc], _sample=sample[~sc])
    ft_cells, keys, checkpoints = [], [], {}
    for key, g in ft.groupby(["curriculum", "n_params", "_ckpt", "d_train_chars"]):
        ft_cells.append([s.index.to_numpy() for _, s in g.groupby("_sample")])
        keys.append(key)
        checkpoints.setdefault(key[:2], [])
        if key[2] not in checkpoints[key[:2]]:
            checkpoints[key[:2]].append(key[2])
    return Design(np.log(runs[loss_column].to_numpy(float)), scratch_cells, ft_cells, keys, checkpoints)


def _within_deviations(dz: Design, runs: pd.DataFrame) -> dict:
    """curriculum -> (log D_F of cells with replicates, list of their centred, rescaled deviations)."""
    out: dict = {}
    for key, groups in zip(dz.ft_cell_key, dz.ft_cells):
        idx = np.concatenate(groups)
        if len(idx) < 2:
            continue
        y = dz.log_loss[idx]
        dev = (y - y.mean()) * np.sqrt(len(y) / (len(y) - 1))
        out.setdefault(key[0], {}).setdefault(key[3], []).append(dev)
    return {c: (np.log(np.array(sorted(v))), [np.concatenate(v[d]) for d in sorted(v)]) for c, v in out.items()}


def _within_checkpoint(resid: np.ndarray, checkpoint: np.ndarray) -> np.ndarray:
    """Residuals around the law with each checkpoint's mean taken out (rescaled by sqrt(m / (m - 1))
    for its m points; checkpoints with one point are dropped): the run-level scatter alone. The
    checkpoint level draws the checkpoints' shared shift itself, so residuals that kept it would
    count that noise twice, once shared along D_F and once independently per point."""
    out = []
    for c in np.unique(checkpoint):
        r = resid[checkpoint == c]
        if len(r) >= 2:
            out.append((r - r.mean()) * np.sqrt(len(r) / (len(r) - 1)))
    return np.concatenate(out) if out else np.array([])


def scratch_noise_sd(d_chars, log_loss, with_df: bool = False):
    """The run-level noise (sd of log loss) of one size's from-scratch runs, read without a model of
    the curve: within-D deviations where the D with several runs give at least 4 degrees of freedom,
    else difference-based pseudo-residuals of the per-D means in log D: each window of 4 consecutive
    points projected on the unit vector orthogonal to every quadratic through them (Hall, Kay and
    Titterington 1990 for uneven spacing), so that a locally quadratic curve, its bend into the plateau
    included, contributes nothing and each pseudo-residual has the noise's variance. Residuals around a
    smooth model would count its misfit as noise (they did: 2-4x the planted noise on the coverage
    worlds; straight-line differences still read 1.3x). A sharp kink (a flat start that ends within
    one step of D) still adds to it, so the spread errs wide there. nan with fewer than 5 distinct D.
    ``with_df``: (sd, its degrees of freedom)."""
    d = np.asarray(d_chars, float)
    y = np.asarray(log_loss, float)
    t = pd.DataFrame({"x": np.log(d), "y": y}).groupby("x").y.agg(["mean", "var", "count"])
    reps = t[t["count"] > 1]
    if reps["count"].sum() - len(reps) >= 4:  # enough within-D degrees of freedom
        sd = float(np.sqrt(np.average(reps["var"], weights=reps["count"] - 1)))
        return (sd, int(reps["count"].sum() - len(reps))) if with_df else sd
    if len(t) < 5:
        return (float("nan"), 0) if with_df else float("nan")
    x, m = t.index.to_numpy(float), t["mean"].to_numpy(float)
    e = []
    for i in range(len(x) - 3):
        xs = x[i:i + 4]
        w = np.linalg.svd(np.vander(xs - xs.mean(), 3).T)[2][-1]  # unit norm, orthogonal to 1, x, x^2
        e.append(w @ m[i:i + 4])
    sd = float(np.sqrt(np.mean(np.square(e))))
    return (sd, len(e)) if with_df else sd


def scratch_noise_by_size(runs: pd.DataFrame, loss_column: str = "test_loss", with_df: bool = False) -> dict:
    """N -> the run-level sd of log loss of its from-scratch runs (``scratch_noise_sd``), where defined
    (``with_df``: N -> (sd, degrees of freedom))."""
    sc = runs[runs.curriculum == "scratch"]
    out = {}
    for n, g in sc.groupby("n_params"):
        sd, df = scratch_noise_sd(g.d_train_chars, np.log(g[loss_column].to_numpy(float)), with_df=True)
        if np.isfinite(sd):
            out[float(n)] = (sd, df) if with_df else sd
    return out


MIN_SPREAD_DF = 4  # below this many degrees of freedom a spread is used as estimated (see spread_factor)


def spread_factor(rng: np.random.Generator, df) -> float:
    """A replicate's multiplier on an estimated spread: sqrt(df / chi2(df)), the spread's own
    sampling uncertainty (a variance estimated on df degrees of freedom), so that an interval does not
    treat an estimate from a dozen checkpoints as known; 1 below ``MIN_SPREAD_DF`` degrees of freedom
    (the first grid's one borrowed seed pair: 1/chi2(1) has no mean)."""
    if not np.isfinite(df) or df < MIN_SPREAD_DF:
        return 1.0
    return float(np.sqrt(df / rng.chisquare(df)))


class Resampler:
    """Draws replicates of one runs table around its point fit.

    ``curves``: the full data's from-scratch curves (N -> ScratchCurve); ``table``: its effective-data
    table (``transfer_points``), which gives each fine-tune's D_T; ``predict``: (curriculum, rows) ->
    the fitted law's log loss for those fine-tunes (the fallback residuals); ``noise``: the pooled
    checkpoint spread (``checkpoint_noise``)."""

    def __init__(self, runs: pd.DataFrame, curves: dict[float, ScratchCurve], table: pd.DataFrame,
                 noise: pd.DataFrame, predict=None, loss_column: str = "test_loss"):
        self.runs = runs.reset_index(drop=True)
        self.loss_column = loss_column
        self.curves = curves
        self.dz = design(self.runs, loss_column)
        self.within = _within_deviations(self.dz, self.runs)
        # D_T of every fine-tune (nan where undefined), aligned with the runs' rows
        ft = self.runs.curriculum != "scratch"
        d_t = np.full(len(self.runs), np.nan)
        if len(table):
            d_t[np.flatnonzero(ft)] = table.d_transferred.to_numpy(float)
        self.d_transferred = d_t
        self.d_f = self.runs.d_train_chars.to_numpy(float)
        self.n = self.runs.n_params.to_numpy(float)
        # each checkpoint's estimated effect on log D_T at each of its D_F (0 with a single checkpoint)
        self.ckpt_effect = np.zeros(len(self.runs))
        self.ckpt_sd = np.zeros(len(self.runs))
        self.ckpt_index = np.full(len(self.runs), -1)
        labels = {}
        for key, groups in zip(self.dz.ft_cell_key, self.dz.ft_cells):
            cur, n, ck, d = key
            idx = np.concatenate(groups)
            labels.setdefault((cur, n, ck), len(labels))
            self.ckpt_index[idx] = labels[(cur, n, ck)]
            self.ckpt_sd[idx] = checkpoint_sd(noise, cur, [d])[0]
        self.n_checkpoints = len(labels)
        y = np.log(np.where(self.d_transferred > 0, self.d_transferred, np.nan))
        # a checkpoint's effect is its deviation from the checkpoints of the same arm (pre-training
        # budget and tokenizer): a budget is a fixed effect (the pre-training axis), not noise
        cell = pd.DataFrame({"y": y, "cur": self.runs.curriculum, "n": self.n, "arm": arm(self.runs),
                             "d": self.d_f, "ck": self.ckpt_index})
        cell = cell[ft.to_numpy() & np.isfinite(y)]
        if len(cell):
            keys = ["cur", "n", "arm", "d", "ck"]
            ck_mean = cell.groupby(keys).y.transform("mean")
            cell_means = cell.assign(m=ck_mean).groupby(keys).m.first()
            grand = cell_means.groupby(level=[0, 1, 2, 3]).mean()
            eff = cell_means - grand.reindex(cell_means.droplevel(4).index).to_numpy()
            self.ckpt_effect[cell.index.to_numpy()] = eff.reindex(pd.MultiIndex.from_frame(cell[keys])).to_numpy()
        # from-scratch single runs: the run-level noise of each size's curve, estimated without a model
        sd_df = scratch_noise_by_size(self.runs, loss_column, with_df=True)
        self.scratch_sd = {n: v[0] for n, v in sd_df.items()}
        self.scratch_df = {n: v[1] for n, v in sd_df.items()}
        # the checkpoint spread's degrees of freedom per curriculum (checkpoints less cells, the median
        # over D_F: the D_F estimates share their checkpoints)
        self.ckpt_df = ({} if noise is None or not len(noise) else
                        (noise.checkpoints - noise.cells).groupby(noise.curriculum).median().to_dict())
        self.ckpt_cur = self.runs.curriculum.to_numpy()
        # last fallback (no cell of a curriculum has replicates, its size no from-scratch noise): around
        # the fitted law, each checkpoint's mean taken out
        self.law_resid = {}
        if predict is not None:
            for cur in self.runs.curriculum[ft].unique():
                if cur not in self.within:
                    rows = np.flatnonzero((self.runs.curriculum == cur).to_numpy())
                    r = self.dz.log_loss[rows] - predict(cur, self.runs.iloc[rows])
                    ok = np.isfinite(r)
                    r, ck = r[ok], self.ckpt_index[rows][ok]
                    if self.ckpt_sd[rows].any():
                        r = _within_checkpoint(r, ck)
                    if len(r) >= 2:
                        self.law_resid[cur] = r - r.mean()

    def levels(self) -> dict:
        """Which levels this table's replicates resample, in words (for the book and ``fit --json``)."""
        return {"checkpoints": self.n_checkpoints,
                "checkpoint_level": "parametric, pooled" if self.ckpt_sd.any() else "absent (no checkpoint replicates)",
                "within_cell_level": sorted(self.within) or "none",
                "run_noise_fallback": "the size's from-scratch run-level sd" if self.scratch_sd else "none",
                "law_residual_fallback": sorted(self.law_resid)}

    def sample(self, rng: np.random.Generator) -> pd.DataFrame:
        """A replicate of the runs table (``sample_log_loss`` in its loss column)."""
        return self.runs.assign(**{self.loss_column: np.exp(self.sample_log_loss(rng))})

    def sample_log_loss(self, rng: np.random.Generator) -> np.ndarray:
        """A replicate's log losses, aligned with the table's rows."""
        y = self.dz.log_loss.copy()
        out = y.copy()
        # each estimated spread drawn with its own sampling uncertainty, once per replicate
        scratch_f = {n: spread_factor(rng, df) for n, df in self.scratch_df.items()}
        ckpt_f = {c: spread_factor(rng, df) for c, df in self.ckpt_df.items()}
        for groups in self.dz.ft_cells:  # data samples, then runs within each
            if len(groups) == 1 and len(groups[0]) == 1:
                continue
            chosen = [groups[i] for i in rng.integers(0, len(groups), len(groups))]
            src = np.concatenate([g[rng.integers(0, len(g), len(g))] for g in chosen])
            dst = np.concatenate(groups)
            out[dst] = y[src[: len(dst)]] if len(src) >= len(dst) else np.resize(y[src], len(dst))
        for groups, key in zip(self.dz.ft_cells, self.dz.ft_cell_key):
            if len(groups) == 1 and len(groups[0]) == 1:
                i = groups[0][0]
                cur, d = key[0], key[3]
                if cur in self.within:
                    logs, devs = self.within[cur]
                    pool = devs[int(np.argmin(np.abs(logs - np.log(d))))]
                    out[i] += pool[rng.integers(len(pool))]
                elif key[1] in self.scratch_sd:
                    out[i] += rng.normal(0.0, self.scratch_sd[key[1]] * scratch_f[key[1]])
                elif cur in self.law_resid:
                    out[i] += self.law_resid[cur][rng.integers(len(self.law_resid[cur]))]
        # the checkpoint level: a fresh multiplier on D_T per checkpoint, moving the loss along the curve
        if self.n_checkpoints and self.ckpt_sd.any():
            z = rng.standard_normal(self.n_checkpoints)
            has = (self.ckpt_index >= 0) & (self.d_transferred > 0) & np.isfinite(self.d_transferred)
            f = np.ones(len(self.runs))
            for c, v in ckpt_f.items():
                f[self.ckpt_cur == c] = v
            shift = np.where(has, -self.ckpt_effect + z[np.maximum(self.ckpt_index, 0)] * self.ckpt_sd * f, 0.0)
            for n in np.unique(self.n[has]):
                if n not in self.curves:
                    continue
                idx = np.flatnonzero(has & (self.n == n))
                c = self.curves[n]
                before = np.log(c.loss(self.d_f[idx] + self.d_transferred[idx]))
                after = np.log(c.loss(self.d_f[idx] + self.d_transferred[idx] * np.exp(shift[idx])))
                out[idx] += after - before
        for cell in self.dz.scratch_cells:
            if len(cell) > 1:
                out[cell] = y[cell[rng.integers(0, len(cell), len(cell))]]
            else:
                n = self.n[cell[0]]
                if n in self.scratch_sd:
                    out[cell] += rng.normal(0.0, self.scratch_sd[n] * scratch_f[n])
        return out


def interval(draws: np.ndarray, point: float, level: float = 0.95, bounds: tuple | None = None) -> dict:
    """The interval the analysis plan prescribes (item 10): the percentile interval, or the basic
    (reflected) one where the bias (median of the draws minus the point) exceeds a quarter of the
    percentile interval's half-width; with the bias, the Monte-Carlo error of each end (from the
    order statistics within one binomial standard error of each end's rank) and the kind used.
    When the point lies outside the central range of its own draws (a strongly biased estimator
    under resampling), both intervals exclude it: the interval is then widened to the point and
    its kind says so, so that no interval the book prints excludes its own estimate. ``bounds``:
    the box the fit's optimiser works in; where more than the tail's share of the draws sits on a
    bound, that end is censored by the box (the unbounded interval would reach further), and the
    kind says which end."""
    x = np.sort(np.asarray(draws, float)[np.isfinite(draws)])
    b = len(x)
    if b < 10:
        return {}
    a = (1 - level) / 2
    lo, hi = np.quantile(x, [a, 1 - a])
    bias = float(np.median(x) - point)
    kind = "percentile"
    if abs(bias) > 0.25 * (hi - lo) / 2:
        lo, hi, kind = 2 * point - hi, 2 * point - lo, "basic"
    if not lo <= point <= hi:  # the point outside its draws' central range: no reflection holds it
        lo, hi, kind = min(lo, point), max(hi, point), kind + ", widened to the point"
    if bounds is not None:
        tol = 1e-6 * max(1.0, abs(bounds[0]), abs(bounds[1]))
        for end, share in (("lower", (x <= bounds[0] + tol).mean()), ("upper", (x >= bounds[1] - tol).mean())):
            if share > a:
                kind += f", {end} end censored at the fit's bound ({bounds[0 if end == 'lower' else 1]:g})"
    err = []
    for p in (a, 1 - a):
        s = np.sqrt(p * (1 - p) / b)
        q = np.quantile(x, [max(p - s, 0), min(p + s, 1)])
        err.append(float((q[1] - q[0]) / 2))
    return {"ci": [float(lo), float(hi)], "bias": bias, "mc_error": err, "kind": kind, "draws": b}
