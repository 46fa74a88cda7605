"""Learning-rate sweeps read from the runs table: per cell, the best rate, whether it is bracketed,
and the optimum of a parabola in log rate through the best rate and its neighbours.

A *cell* is a set of runs that differ only in their learning rate. Its best rate is *bracketed*
when it is neither the lowest nor the highest rate tried; a cell whose best sits at an edge is
flagged, never hidden (issue 17). Pure pandas/numpy: no training stack.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CELL_COLUMNS = ["experiment", "phase", "curriculum", "size", "n_params", "d_train_chars", "data_seed", "pretrain_id",
                "pretrain_tokens", "tokenizer", "schedule", "batch_size_used", "seed"]


def parabola_optimum(log_lr: np.ndarray, loss: np.ndarray) -> float:
    """exp of the vertex of the parabola through the best point and its two neighbours (log rate);
    the best rate itself when the best is at an edge or the three points are not convex."""
    i = int(np.argmin(loss))
    if i == 0 or i == len(loss) - 1:
        return float(np.exp(log_lr[i]))
    x, y = log_lr[i - 1 : i + 2], loss[i - 1 : i + 2]
    # the parabola through three points, solved exactly (no least-squares conditioning warnings)
    a, b, _ = np.linalg.solve(np.column_stack([x**2, x, np.ones(3)]), y)
    if a <= 0:
        return float(np.exp(log_lr[i]))
    return float(np.exp(np.clip(-b / (2 * a), log_lr[i - 1], log_lr[i + 1])))


def lr_sweeps(runs: pd.DataFrame, metric: str = "val_loss", min_rates: int = 3) -> pd.DataFrame:
    """One row per cell with at least ``min_rates`` distinct rates: the rates and losses tried, the
    best rate, ``bracketed``, the parabola's optimum ``lr_opt`` and the loss spread across the rates.
    Pass the runs of the current plan (``in_plan``), so that a superseded run does not join the
    cell of its successor."""
    cols = [c for c in CELL_COLUMNS if c in runs.columns]
    df = runs.copy()
    df[cols] = df[cols].astype(object).where(df[cols].notna(), "-")
    rows = []
    for key, g in df.groupby(cols, sort=True, dropna=False):
        # repeated runs at one rate (seeds, or a cell that does not hold every other field fixed:
        # pass only the current plan's runs) are averaged
        g = g.groupby("lr", as_index=False)[metric].mean().sort_values("lr")
        if len(g) < min_rates:
            continue
        lr, loss = g["lr"].to_numpy(float), g[metric].to_numpy(float)
        i = int(np.argmin(loss))
        rows.append({**dict(zip(cols, key)), "n_rates": len(g), "lrs": lr.tolist(), "losses": loss.tolist(),
                     "best_lr": lr[i], "best_loss": loss[i], "bracketed": 0 < i < len(g) - 1,
                     "lr_opt": parabola_optimum(np.log(lr), loss),
                     "edge_gap": float(min(loss[max(i - 1, 0)], loss[min(i + 1, len(g) - 1)]) - loss[i])
                     if 0 < i < len(g) - 1 else float("nan")})
    out = pd.DataFrame(rows, columns=[*cols, *SWEEP_COLUMNS])  # no cell: the columns, no rows
    return out.replace("-", None) if len(out) else out


SWEEP_COLUMNS = ["n_rates", "lrs", "losses", "best_lr", "best_loss", "bracketed", "lr_opt", "edge_gap"]


def fit_rate_rule(cells: pd.DataFrame, source: str, with_d: bool = False, d_ref: float = 1e4,
                  interaction: bool = False):
    """A ``hparams.RateRule`` fitted by least squares to the log optima (``lr_opt``) of bracketed
    cells: log lr = log lr_ref + a x [+ b y [+ c x y]], x = log(N / n_ref), y = log(D / d_ref), with
    n_ref the smallest N (``interaction``: the N exponent changes with D). Cells whose best rate
    sits at an edge are refused (their optimum is unknown)."""
    from transfer_laws.train.hparams import RateRule

    ok = cells[cells.bracketed.astype(bool)]
    if ok.empty:
        raise ValueError("no bracketed cell to fit a rate rule to (every best rate sits at an edge)")
    if interaction and not with_d:
        raise ValueError("an N x D interaction needs a rule in D (with_d)")
    n = ok.n_params.to_numpy(float)
    n_ref = float(n.min())
    x = np.log(n / n_ref)
    cols = [np.ones(len(ok)), x]
    if with_d:
        y = np.log(ok.d_train_chars.to_numpy(float) / d_ref)
        cols.append(y)
        if interaction:
            cols.append(x * y)
    design = np.column_stack(cols)
    if np.linalg.matrix_rank(design) < design.shape[1]:
        raise ValueError(f"{len(ok)} bracketed cell(s) cannot fix {design.shape[1]} coefficients (need distinct N"
                         + (" and D)" if with_d else ")"))
    coef, *_ = np.linalg.lstsq(design, np.log(ok.lr_opt.to_numpy(float)), rcond=None)
    return RateRule(lr_ref=float(np.exp(coef[0])), n_ref=n_ref, n_exponent=float(coef[1]), source=source,
                    d_ref=d_ref if with_d else 1.0, d_exponent=float(coef[2]) if with_d else 0.0,
                    nd_exponent=float(coef[3]) if interaction else 0.0)

def fit_high_d_exponent(cells: pd.DataFrame, rule) -> float:
    """The exponent of D above a rule's ``d_max`` (``RateRule.d_exponent_high``): least squares through
    the origin of log(optimum / the rule's rate at d_max) on log(D / d_max), over the bracketed cells
    above d_max (``rule_cells`` of the checks, ``hparams.HIGH_DATA_CHECKS``)."""
    if rule.d_max is None:
        raise ValueError("the rule has no d_max: it follows its form at every D")
    ok = cells[cells.bracketed.astype(bool) & (cells.d_train_chars.astype(float) > rule.d_max)]
    if ok.empty:
        raise ValueError(f"no bracketed cell above D = {rule.d_max:g} to fit the rule's high-D exponent to")
    y = np.log(ok.d_train_chars.to_numpy(float) / rule.d_max)
    held = np.array([rule.exact(float(n), rule.d_max) for n in ok.n_params])
    z = np.log(ok.lr_opt.to_numpy(float) / held)
    return float((y @ z) / (y @ y))


CELL_KEY = ["phase", "curriculum", "n_params", "d_train_chars"]


def tuned_rates(runs: pd.DataFrame, rules: dict | None = None) -> pd.DataFrame:
    """Per (phase, curriculum, N, D): the tuned learning rate and its source. A bracketed sweep's best
    rate (the most common best over that key's sweep cells: seeds, data samples and checkpoints form
    separate cells) where one exists; otherwise, for recipe-2 runs, the fitted rule of their kind
    (``hparams.RECIPE2_RULES``, or ``rules``). Keys with neither are absent: not tuned. ``lr_rule``
    is the rule's rate at every recipe-2 key (NaN where its kind has no rule): the study's runs use
    it even where a sweep's best rate, on its grid of x2 steps, differs."""
    from transfer_laws.train.hparams import RECIPE2_RULES, kind_of_run

    rules = RECIPE2_RULES if rules is None else rules
    rows = {}
    cells = lr_sweeps(runs) if {"lr", "val_loss"} <= set(runs.columns) else pd.DataFrame()
    if len(cells):
        for key, g in cells[cells.bracketed.astype(bool)].groupby(CELL_KEY, dropna=False):
            rows[key] = {"lr_tuned": float(g.best_lr.mode().iloc[0]), "tuned_by": f"sweep ({len(g)} cell(s))",
                         "lr_rule": np.nan}
    if "recipe" in runs and "lr" in runs:
        r2 = runs[runs.recipe.fillna(1).astype(int) == 2]
        for key, g in r2.groupby(CELL_KEY, dropna=False):
            kind = kind_of_run(key[0], key[1])
            if kind not in rules:
                continue
            rule = rules[kind]
            lr_rule = rule(float(key[2]), float(key[3]) if rule.uses_d else None)
            rows.setdefault(key, {"lr_tuned": lr_rule, "tuned_by": f"rule ({rule.source})"})["lr_rule"] = lr_rule
    out = pd.DataFrame([{**dict(zip(CELL_KEY, k)), **v} for k, v in rows.items()],
                       columns=[*CELL_KEY, "lr_tuned", "tuned_by", "lr_rule"])
    return out


def at_tuned_rate(runs: pd.DataFrame, rules: dict | None = None) -> pd.Series:
    """True for each run whose learning rate is its key's tuned rate (``tuned_rates``) or, for a
    recipe-2 run, its kind's fitted rule there, to 2 significant digits; False where the key was
    never tuned (the first grid's Kaplan rates)."""
    from transfer_laws.train.hparams import significant

    t = tuned_rates(runs, rules)
    if t.empty or "lr" not in runs:
        return pd.Series(False, index=runs.index)
    m = runs[CELL_KEY].merge(t, on=CELL_KEY, how="left").set_index(runs.index)
    lr = runs.lr.astype(float).map(significant)
    sig = lambda x: significant(x) if np.isfinite(x) else np.nan  # noqa: E731
    return (m.lr_tuned.map(sig) == lr) | (m.lr_rule.astype(float).map(sig) == lr)

REPLICATE_KEY = ["phase", "curriculum", "n_params", "d_train_chars", "pretrain_id", "data_seed", "seed"]


def one_per_replicate(runs: pd.DataFrame, tuned: pd.Series, rules: dict | None = None) -> pd.Series:
    """``tuned`` (a boolean per run, ``at_tuned_rate``) with one run kept per replicate (the same run
    but for its rate: a rate check's sweep shares its seed with the study's run at the rule's rate):
    the one at its kind's rule rate where there is one, else the first. A claim that counts runs as
    seeds reads this, so that a sweep's best and the rule's run of one seed count once."""
    from transfer_laws.train.hparams import significant

    tuned = tuned.reindex(runs.index, fill_value=False).astype(bool)
    key = [c for c in REPLICATE_KEY if c in runs]
    if not tuned.any() or "lr" not in runs:
        return tuned
    t = tuned_rates(runs, rules)
    rule = (runs[CELL_KEY].merge(t, on=CELL_KEY, how="left").set_index(runs.index).lr_rule.astype(float)
            if len(t) else pd.Series(np.nan, index=runs.index))
    at_rule = runs.lr.astype(float).map(significant) == rule.map(lambda x: significant(x) if np.isfinite(x) else np.nan)
    order = runs[tuned].assign(_r=~at_rule[tuned]).sort_values("_r", kind="stable")
    keep = order.drop_duplicates(key, keep="first").index
    return pd.Series(runs.index.isin(keep), index=runs.index)


def rule_cells(runs: pd.DataFrame, kind: str, where: dict, plan_rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """The sweep cells a rate rule of ``kind`` is fitted to (``hparams.RULE_CELLS[kind]``): runs of
    the named experiment(s) and kind, at the named D (None: any) and sizes (``"sizes"``, None or
    absent: any), and where ``"grid"`` names a grid file, only the runs that grid plans
    (``plan_rows``, default the committed plan): a check's own sweep, without the study's run at the
    rule's rate that shares its cell (else each refit would move the rule, and with it that run's
    rate). One row per cell (``lr_sweeps``).
    Fine-tuning and from-scratch cells at a batch other than the largest the one-pass rule gave at
    their (size, D) are left out (the pilot's C2 cell at a smaller batch is a check, not a source)."""
    from transfer_laws.train.hparams import kind_of_run

    experiments = where["experiment"]
    experiments = [experiments] if isinstance(experiments, str) else list(experiments)
    if runs.empty or "experiment" not in runs:
        return pd.DataFrame()
    sub = runs[runs.experiment.isin(experiments)]
    sub = sub[[kind_of_run(p, c) == kind for p, c in zip(sub.phase, sub.curriculum)]]
    if where.get("d_train_chars") is not None:
        sub = sub[sub.d_train_chars.astype(float).isin([float(d) for d in where["d_train_chars"]])]
    if where.get("sizes") is not None:
        sub = sub[sub["size"].isin(where["sizes"])]
    if where.get("grid") is not None:
        if plan_rows is None:
            from transfer_laws.runs.plan import load_plan

            plan_rows = load_plan()
        sub = sub[sub.run_id.isin(set(plan_rows.loc[plan_rows.grid == where["grid"], "run_id"]))]
    cells = lr_sweeps(sub)
    if len(cells) and kind != "pretrain":
        biggest = cells.groupby(["size", "d_train_chars"], dropna=False).batch_size_used.transform("max")
        cells = cells[cells.batch_size_used.astype(float) == biggest.astype(float)]
    return cells.reset_index(drop=True)


def refit_rules(runs: pd.DataFrame, rule_cells_by_kind: dict | None = None,
                rules: dict | None = None) -> tuple[dict, pd.DataFrame]:
    """Every recipe-2 rate rule refitted from its committed sweep cells (``hparams.RULE_CELLS``):
    (kind -> ``RateRule``, in the form of the written rule or the one ``RULE_CELLS`` names
    (``"form"``: "n", "nd" or "nd-interaction"), constants unrounded), and one row per cell: its
    optimum, the refitted rule's rate there, their log ratio (``log_error``), whether the rule's
    rate lies between the best rate's neighbours (``in_bracket``) and the validation loss the
    sweep itself says that rate costs over the cell's best (``cost_nats``: linear in log rate
    between the swept rates; NaN outside them). Edge cells are listed (``bracketed`` False) but do
    not enter a rule."""
    from transfer_laws.train.hparams import RECIPE2_RULES, RULE_CELLS

    rule_cells_by_kind = RULE_CELLS if rule_cells_by_kind is None else rule_cells_by_kind
    rules = RECIPE2_RULES if rules is None else rules
    fitted = {}
    for kind, where in rule_cells_by_kind.items():
        cells = rule_cells(runs, kind, where)
        if cells.empty:
            continue
        written = rules.get(kind)
        form = where.get("form") or ("n" if kind == "pretrain" or (written is not None and not written.uses_d)
                                     else "nd-interaction" if written is not None and written.nd_exponent else "nd")
        d_ref = written.d_ref if written is not None and written.uses_d else 1e4
        fitted[kind] = fit_rate_rule(cells, f"refit of {kind}", with_d=form != "n", d_ref=d_ref,
                                     interaction=form == "nd-interaction")
    return fitted, price_rules(runs, fitted, rule_cells_by_kind)


def price_rules(runs: pd.DataFrame, rules: dict, cells_by_kind: dict) -> pd.DataFrame:
    """What each rule's rate costs on sweep cells (``cells_by_kind``: kind -> ``rule_cells``'s
    ``where``, or a list of them; the cells a rule was fitted to, or the cells that check it,
    ``hparams.RULE_CHECKS``):
    one row per cell with its optimum, the rule's rate, their log ratio (``log_error``), whether the
    rule's rate lies between the best rate's neighbours (``in_bracket``) and the validation loss
    the sweep says that rate costs over its best (``cost_nats``, ``sweep_cost``)."""
    rows = []
    for kind, wheres in cells_by_kind.items():
        if kind not in rules:
            continue
        rule = rules[kind]
        cells = [rule_cells(runs, kind, w) for w in (wheres if isinstance(wheres, list) else [wheres])]
        cells = [c for c in cells if len(c)]
        for c in (pd.concat(cells, ignore_index=True) if cells else pd.DataFrame()).itertuples():
            lr_rule = rule.exact(float(c.n_params), float(c.d_train_chars) if rule.uses_d else None)
            rows.append({"kind": kind, "experiment": c.experiment, "size": c.size, "n_params": c.n_params,
                         "d_train_chars": c.d_train_chars, "n_rates": c.n_rates, "bracketed": bool(c.bracketed),
                         "best_lr": c.best_lr, "lr_opt": c.lr_opt, "lr_rule": lr_rule,
                         "log_error": float(np.log(lr_rule / c.lr_opt)),
                         "in_bracket": _in_bracket(lr_rule, c.lrs, c.losses),
                         "cost_nats": sweep_cost(lr_rule, c.lrs, c.losses)})
    return pd.DataFrame(rows, columns=["kind", "experiment", "size", "n_params", "d_train_chars", "n_rates",
                                       "bracketed", "best_lr", "lr_opt", "lr_rule", "log_error", "in_bracket",
                                       "cost_nats"])

def rules_summary(priced: pd.DataFrame, rules: dict) -> pd.DataFrame:
    """One row per rule: its formula and source, the cells it was priced on (``price_rules``), how
    many were bracketed, the share of those whose optimum brackets the rule's rate, and the median
    and largest validation loss the rule's rate costs over each cell's best (nats per token, or per
    the sweep's unit)."""
    rows = []
    for kind, rule in rules.items():
        g = priced[priced.kind == kind] if len(priced) else priced
        b = g[g.bracketed.astype(bool)] if len(g) else g
        rows.append({"kind": kind, "rule": rule.formula(), "source": rule.source, "provisional": rule.provisional,
                     "cells": len(g), "bracketed": len(b),
                     "in_bracket": float(b.in_bracket.mean()) if len(b) else float("nan"),
                     "cost_median_nats": float(b.cost_nats.median()) if len(b) else float("nan"),
                     "cost_max_nats": float(b.cost_nats.max()) if len(b) else float("nan")})
    return pd.DataFrame(rows)


def sweep_cost(lr: float, lrs, losses) -> float:
    """The loss a sweep says ``lr`` costs over its best rate: linear in log rate between the swept
    rates, NaN outside them."""
    lrs, losses = np.asarray(lrs, float), np.asarray(losses, float)
    if not lrs.min() <= lr <= lrs.max():
        return float("nan")
    return float(np.interp(np.log(lr), np.log(lrs), losses) - losses.min())


def _in_bracket(lr: float, lrs, losses) -> bool:
    """Whether ``lr`` lies strictly between the best rate's two neighbours of a bracketed sweep."""
    lrs, losses = np.asarray(lrs, float), np.asarray(losses, float)
    i = int(np.argmin(losses))
    if i == 0 or i == len(lrs) - 1:
        return False
    return bool(lrs[i - 1] < lr < lrs[i + 1])
