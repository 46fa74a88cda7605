"""Ossification and compute efficiency: fine-tuned against from-scratch loss at the same D, and
compute-efficient frontiers from the evaluation curves (pandas/numpy only).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from transfer_laws.analysis.scratch import scratch_curves


def ossification_map(runs: pd.DataFrame, loss_column: str = "test_loss") -> pd.DataFrame:
    """Per (curriculum, N, D_F): mean fine-tuned minus from-scratch loss at the same D (the size's
    ``ScratchCurve``, inside its measured range), with the seed spread of the fine-tuned runs beside it."""
    curves = scratch_curves(runs, loss_column)
    rows = []
    for (cur, n, d), g in runs[runs.curriculum != "scratch"].groupby(["curriculum", "n_params", "d_train_chars"]):
        c = curves.get(n)
        if c is None or c.d_max_chars <= np.exp(c.knots_log_d[0]) or not c.measured(d):
            continue
        l_scratch = float(c.loss(d))
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
                     compute_column: str = "flops_full", by: str | None = None) -> pd.DataFrame:
    """Per run: the fraction of its evaluation points within ``tolerance`` (relative) of the frontier
    of all curricula together at the same compute; with ``by`` (e.g. ``n_params``), the frontier of
    each group separately (claim 7 per size), and the group as a column."""
    p = points.sort_values(compute_column).copy()
    groups = [(None, p)] if by is None else list(p.groupby(by))
    p["overall_frontier"] = np.nan
    for _, g in groups:
        p.loc[g.index, "overall_frontier"] = _frontier_at(g[compute_column], g[loss_column])
    p["on_frontier"] = p[loss_column] <= (1 + tolerance) * p["overall_frontier"]
    keys = ["run_id", "curriculum"] + ([by] if by is not None else [])
    return p.groupby(keys, as_index=False).on_frontier.mean().rename(columns={"on_frontier": "fraction_on_frontier"})


def _best_within(compute: np.ndarray, loss: np.ndarray, budget: float) -> float:
    """The lowest loss a curve reached at compute <= ``budget`` (NaN before its first evaluation)."""
    ok = compute <= budget
    return float(loss[ok].min()) if ok.any() else np.nan


def _compute_to_reach(compute: np.ndarray, loss: np.ndarray, target: float) -> float:
    """The compute at which a curve first reached ``target`` or lower (inf if it never did)."""
    hit = np.nonzero(loss <= target)[0]
    return float(compute[hit[0]]) if len(hit) else np.inf


def equal_compute(runs: pd.DataFrame, curves: pd.DataFrame, include_pretrain: bool = False,
                  compute_column: str = "flops_full", loss_column: str = "val_loss",
                  pretrain_runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Claim 5's measurement, one row per fine-tune: its best validation loss, the compute it spent to
    reach it (``include_pretrain``: plus its pre-training's), and, at that same compute, the lowest
    validation loss the from-scratch runs of the same size on the same D reached (averaged over
    those runs; the same data sample where one exists). Pre-training compute is read from
    ``pretrain_runs`` (default ``runs``); a fine-tune whose pre-training is missing there is left out.

    ``advantage_nats`` = from-scratch minus fine-tuned loss at equal compute (> 0: fine-tuning more
    compute-efficient); ``compute_multiplier`` = the compute from scratch needed to reach the
    fine-tune's best loss over the fine-tune's (inf where no from-scratch run reached it);
    ``scratch_exhausted``: a from-scratch run ended before that compute (its best loss is used)."""
    cols = ["run_id", "curriculum", "n_params", "d_train_chars", "pretrain_id"] + \
        [c for c in ("data_seed", "seed") if c in runs]
    target = runs[runs.phase == "target"] if "phase" in runs else runs
    by_run = {r: (g[compute_column].to_numpy(float), g[loss_column].to_numpy(float))
              for r, g in curves.sort_values(compute_column).groupby("run_id")}
    source = runs if pretrain_runs is None else pretrain_runs
    pre = None if not include_pretrain else (source.set_index("run_id")[compute_column] if compute_column in source
                                             else pd.Series(dtype=float))
    scratch = target[target.curriculum == "scratch"]
    rows = []
    for r in target[target.curriculum != "scratch"][cols].itertuples(index=False):
        if r.run_id not in by_run:
            continue
        sc = scratch[(scratch.n_params == r.n_params) & (scratch.d_train_chars == r.d_train_chars)]
        if "data_seed" in sc and (sc.data_seed == getattr(r, "data_seed", None)).any():
            sc = sc[sc.data_seed == r.data_seed]
        sc = [by_run[s] for s in sc.run_id if s in by_run]
        if not sc:
            continue
        if pre is not None and (not r.pretrain_id or r.pretrain_id not in pre.index):
            continue
        c_ft, l_ft = by_run[r.run_id]
        i = int(np.nanargmin(l_ft))
        spent = c_ft[i] + (float(pre[r.pretrain_id]) if pre is not None else 0.0)
        at = np.array([_best_within(c, l, spent) for c, l in sc])
        need = np.array([_compute_to_reach(c, l, l_ft[i]) for c, l in sc])
        rows.append({**r._asdict(), "compute": spent, "finetuned_loss": l_ft[i],
                     "scratch_loss": float(np.mean(at)) if np.isfinite(at).all() else np.nan,
                     "advantage_nats": float(np.mean(at)) - l_ft[i] if np.isfinite(at).all() else np.nan,
                     "compute_multiplier": float(np.mean(need)) / spent if spent > 0 else np.nan,
                     "scratch_exhausted": bool(any(c[-1] < spent for c, _ in sc)), "n_scratch": len(sc)})
    return pd.DataFrame(rows, columns=[*cols, "compute", "finetuned_loss", "scratch_loss", "advantage_nats",
                                       "compute_multiplier", "scratch_exhausted", "n_scratch"])


def sign_test(x) -> dict:
    """Two-sided exact binomial test of the signs of ``x`` (zeros and NaN dropped): how many are
    positive, of how many, and the p-value."""
    from scipy.stats import binomtest

    x = np.asarray(x, float)
    x = x[np.isfinite(x) & (x != 0)]
    if not len(x):
        return {"positive": 0, "n": 0, "p": np.nan}
    k = int((x > 0).sum())
    return {"positive": k, "n": len(x), "p": float(binomtest(k, len(x)).pvalue)}


def holm(p) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error), in the input's order."""
    p = np.asarray(p, float)
    order = np.argsort(p)
    adj = np.empty_like(p)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        adj[i] = running
    return adj


def ossification_test(runs: pd.DataFrame, windows: dict, high_data: pd.DataFrame, tuned: pd.Series,
                      min_seeds: int = 3, reference: str = "scratch") -> pd.DataFrame:
    """Claim 6's measurement, per (curriculum, N, D_F) of the high-data regime (``high_data``: rows
    with curriculum, n_params, d_train_chars): fine-tuned minus from-scratch test loss at the tuned
    rate (``tuned``, a boolean per run), with at least ``min_seeds`` runs on each side that store
    their per-window test losses. The standard error adds the paired per-window error of the
    seed-averaged sides to the spread of each side's seeds (``checks.paired_difference``); ``p``
    is two-sided (normal). ``windows=None`` (a runs table without per-window losses, as `fit` reads
    from a CSV): each run's own ``test_loss_se`` unpaired (0 without the column) in place of the
    paired error, which it overstates, since both sides are scored on the same windows. ``reference``:
    the curriculum on the other side (another pre-training compares two fine-tunes directly; the
    columns keep their names)."""
    from scipy.stats import norm

    from transfer_laws.runs.checks import paired_difference

    tuned = tuned.reindex(runs.index, fill_value=False).astype(bool)
    ok = runs[tuned & (runs.run_id.isin(list(windows)) if windows is not None else tuned)]
    rows = []
    for (cur, n, d), _ in high_data.groupby(["curriculum", "n_params", "d_train_chars"]):
        ft = ok[(ok.curriculum == cur) & (ok.n_params == n) & (ok.d_train_chars == d)]
        sc = ok[(ok.curriculum == reference) & (ok.n_params == n) & (ok.d_train_chars == d)]
        if len(ft) < min_seeds or len(sc) < min_seeds:
            continue
        if windows is not None:
            diff, se_w = paired_difference([windows[r] for r in ft.run_id], [windows[r] for r in sc.run_id])
        else:
            diff = float(ft.test_loss.mean() - sc.test_loss.mean())
            own = lambda g: (np.nanmean(g.test_loss_se.astype(float) ** 2) / len(g)  # noqa: E731
                             if "test_loss_se" in g and g.test_loss_se.notna().any() else 0.0)
            se_w = float(np.sqrt(own(ft) + own(sc)))
        se = float(np.sqrt(se_w**2 + ft.test_loss.var(ddof=1) / len(ft) + sc.test_loss.var(ddof=1) / len(sc)))
        rows.append({"curriculum": cur, "n_params": n, "d_train_chars": d, "finetuned_minus_scratch": diff,
                     "se": se, "se_windows": se_w, "n_finetuned": len(ft), "n_scratch": len(sc),
                     "p": float(2 * norm.sf(abs(diff) / se)) if se > 0 else np.nan})
    return pd.DataFrame(rows, columns=["curriculum", "n_params", "d_train_chars", "finetuned_minus_scratch", "se",
                                       "se_windows", "n_finetuned", "n_scratch", "p"])
