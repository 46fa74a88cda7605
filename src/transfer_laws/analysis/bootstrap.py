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
   curriculum at the nearest D_F that has replicates (or, where no cell has any, from the
   residuals around the fitted law);

and within each size's **from-scratch runs**: the runs at each D resampled where there are several,
otherwise a log-residual around the curve's smooth model (``ScratchCurve.model_loss``) on its tail.
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


def checkpoint_noise(table: pd.DataFrame) -> pd.DataFrame:
    """The between-checkpoint spread of log D_T, from an effective-data table (``transfer_points``)
    with a ``pretrain_id`` column: per (curriculum, D_F), pooled over every (size, arm) that has at
    least 2 checkpoints there (``arm``: budget and tokenizer) (variance of the checkpoints' mean log D_T, less the within-checkpoint part,
    weighted by checkpoints - 1). Columns: curriculum, d_train_chars, sd_log_d_transferred, cells,
    checkpoints."""
    cols = ["curriculum", "d_train_chars", "sd_log_d_transferred", "cells", "checkpoints"]
    if "pretrain_id" not in table or table.empty:
        return pd.DataFrame(columns=cols)
    t = table[(table.d_transferred > 0) & np.isfinite(table.d_transferred) & table.pretrain_id.notna()]
    t = t.assign(y=np.log(t.d_transferred), _arm=arm(t))
    rows = []
    for (cur, n, _, d), g in t.groupby(["curriculum", "n_params", "_arm", "d_train_chars"]):
        per = g.groupby("pretrain_id").y.agg(["mean", "var", "count"])
        if len(per) < 2:
            continue
        within = float((per["var"].fillna(0) / per["count"]).mean())
        rows.append({"curriculum": cur, "d_train_chars": d, "var": max(float(per["mean"].var(ddof=1)) - within, 0.0),
                     "weight": len(per) - 1})
    if not rows:
        return pd.DataFrame(columns=cols)
    r = pd.DataFrame(rows)
    out = r.groupby(["curriculum", "d_train_chars"]).apply(
        lambda g: pd.Series({"sd_log_d_transferred": float(np.sqrt(np.average(g["var"], weights=g.weight))),
                             "cells": len(g), "checkpoints": int(g.weight.sum() + len(g))}), include_groups=False)
    return out.reset_index()[cols]


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
        # fallback residuals (no cell of a curriculum has replicates): around the fitted law
        self.law_resid = {}
        if predict is not None:
            for cur in self.runs.curriculum[ft].unique():
                if cur not in self.within:
                    rows = np.flatnonzero((self.runs.curriculum == cur).to_numpy())
                    r = self.dz.log_loss[rows] - predict(cur, self.runs.iloc[rows])
                    r = r[np.isfinite(r)]
                    if len(r) >= 2:
                        self.law_resid[cur] = r - r.mean()
        # from-scratch single-run residuals around each size's curve, on its tail
        self.scratch_resid = {}
        for n, c in curves.items():
            rows = np.flatnonzero(((self.runs.curriculum == "scratch") & (self.runs.n_params == n)).to_numpy())
            if not c.has_law or len(rows) == 0:
                continue
            tail = self.d_f[rows] >= c.d_fit_min_chars
            r = (self.dz.log_loss[rows] - np.log(c.model_loss(self.d_f[rows])))[tail]
            if len(r) > 3:
                self.scratch_resid[n] = (r - r.mean()) * np.sqrt(len(r) / (len(r) - 3))

    def levels(self) -> dict:
        """Which levels this table's replicates resample, in words (for the book and ``fit --json``)."""
        return {"checkpoints": self.n_checkpoints,
                "checkpoint_level": "parametric, pooled" if self.ckpt_sd.any() else "absent (no checkpoint replicates)",
                "within_cell_level": sorted(self.within) or "none",
                "law_residual_fallback": sorted(self.law_resid)}

    def sample(self, rng: np.random.Generator) -> pd.DataFrame:
        """A replicate of the runs table (``sample_log_loss`` in its loss column)."""
        return self.runs.assign(**{self.loss_column: np.exp(self.sample_log_loss(rng))})

    def sample_log_loss(self, rng: np.random.Generator) -> np.ndarray:
        """A replicate's log losses, aligned with the table's rows."""
        y = self.dz.log_loss.copy()
        out = y.copy()
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
                elif cur in self.law_resid:
                    out[i] += self.law_resid[cur][rng.integers(len(self.law_resid[cur]))]
        # the checkpoint level: a fresh multiplier on D_T per checkpoint, moving the loss along the curve
        if self.n_checkpoints and self.ckpt_sd.any():
            z = rng.standard_normal(self.n_checkpoints)
            has = (self.ckpt_index >= 0) & (self.d_transferred > 0) & np.isfinite(self.d_transferred)
            shift = np.where(has, -self.ckpt_effect + z[np.maximum(self.ckpt_index, 0)] * self.ckpt_sd, 0.0)
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
                if n in self.scratch_resid:
                    out[cell] += self.scratch_resid[n][rng.integers(len(self.scratch_resid[n]))]
        return out


def interval(draws: np.ndarray, point: float, level: float = 0.95) -> dict:
    """The interval the analysis plan prescribes (item 10): the percentile interval, or the basic
    (reflected) one where the bias (median of the draws minus the point) exceeds a quarter of the
    percentile interval's half-width; with the bias, the Monte-Carlo error of each end (from the
    order statistics within one binomial standard error of each end's rank) and the kind used.
    When the point lies outside the central range of its own draws (a strongly biased estimator
    under resampling), both intervals exclude it: the interval is then widened to the point and
    its kind says so, so that no interval the book prints excludes its own estimate."""
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
    err = []
    for p in (a, 1 - a):
        s = np.sqrt(p * (1 - p) / b)
        q = np.quantile(x, [max(p - s, 0), min(p + s, 1)])
        err.append(float((q[1] - q[0]) / 2))
    return {"ci": [float(lo), float(hi)], "bias": bias, "mc_error": err, "kind": kind, "draws": b}
