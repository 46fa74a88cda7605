"""Effective data transferred on a downstream task (issue 22): the task's runs go through the
study's own selection, D_E, fits and bootstrap (``study``, ``fits``); this module adds only what the
task asks besides: its runs, the check that its metric separates sizes and curricula by more than
seed noise, and the answer to Asya's question (does a modest increase in N make up for a small task
dataset?). Pure pandas/numpy.

The task's loss is the labels' cross-entropy in nats per example, its data are counted in examples
and in characters (``data.task``: the fits read characters, examples x the mean characters of a
training window; D_T in examples is D_T in characters over that constant).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from transfer_laws.analysis import study

# the experiment the chapter reads: the task's pilot until the task's own grid ("downstream-package") runs
DOWNSTREAM_EXPERIMENT = "downstream-package-pilot"
TASK = "package"


def task_runs(experiment: str = DOWNSTREAM_EXPERIMENT, root=None, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The task's target runs a fit reads: planned, passing their checks (``study.study_runs``), and
    where a run was repeated at several learning rates (a rate sweep), only the rate with the lowest
    validation loss (``tuned``)."""
    runs, _ = study.study_runs(root, experiment, table=table)
    return tuned(runs[runs.task == TASK]) if len(runs) else runs


SAME_RUN_BUT_RATE = ["curriculum", "size", "d_train_examples", "seed", "data_seed", "pretrain_id"]


def tuned(runs: pd.DataFrame) -> pd.DataFrame:
    """One run per set of runs that differ only in their learning rate: the one with the lowest
    validation loss (the rate is chosen on validation, the loss reported on test)."""
    keys = runs[SAME_RUN_BUT_RATE].apply(lambda col: col.map(lambda v: "-" if pd.isna(v) else str(v))).agg("|".join, axis=1)
    best = runs.assign(_key=keys).sort_values("val_loss").drop_duplicates("_key")
    return best.drop(columns="_key").sort_index().reset_index(drop=True)


def chars_per_example(runs: pd.DataFrame) -> float:
    """The constant that turns the fits' characters back into examples (``data.task.nominal_chars``)."""
    r = runs[runs.d_train_examples.notna()]
    return float((r.d_train_chars / r.d_train_examples).median())


def cells(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (curriculum, size, task data): the mean test loss (nats/example) and accuracy over
    its runs, their count, and the spread between them (sd; seeds of initialisation from scratch,
    of pre-training for fine-tunes)."""
    g = runs.groupby(["curriculum", "size", "n_params", "d_train_examples"])
    out = g.agg(loss=("test_loss", "mean"), loss_sd=("test_loss", "std"), accuracy=("test_accuracy", "mean"),
                runs=("test_loss", "size"), loss_se_eval=("test_loss_se", "mean")).reset_index()
    return out.sort_values(["n_params", "d_train_examples", "curriculum"]).reset_index(drop=True)


def seed_noise(runs: pd.DataFrame) -> float:
    """The pooled spread (sd, nats/example) of the loss between runs that differ only in their seed
    (initialisation or pre-training checkpoint), over every cell that has several."""
    c = cells(runs)
    rep = c[c.runs > 1]
    if rep.empty:
        return float("nan")
    return float(np.sqrt(np.average(rep.loss_sd ** 2, weights=rep.runs - 1)))


def separation(runs: pd.DataFrame) -> pd.DataFrame:
    """Whether the metric tells curricula and sizes apart: every pairwise difference of cell means
    (two curricula at one size and task-data size; two sizes at one curriculum and task-data size),
    in nats/example, against the seed noise of a difference of two cell means (the pooled seed sd x
    sqrt(1/n_a + 1/n_b)). ``separated``: |difference| > 2 x that noise."""
    c = cells(runs)
    sd = seed_noise(runs)
    rows = []
    for (size, d), g in c.groupby(["size", "d_train_examples"]):
        for a, b in (("text", "scratch"), ("mix", "scratch"), ("mix", "text")):
            if {a, b} <= set(g.curriculum):
                ra, rb = g[g.curriculum == a].iloc[0], g[g.curriculum == b].iloc[0]
                rows.append({"compared": f"{a} - {b}", "at": size, "d_train_examples": d,
                             "difference_nats": ra.loss - rb.loss, "noise_nats": sd * np.sqrt(1 / ra.runs + 1 / rb.runs)})
    for (cur, d), g in c.groupby(["curriculum", "d_train_examples"]):
        g = g.sort_values("n_params")
        for (_, ra), (_, rb) in zip(g.iloc[1:].iterrows(), g.iloc[:-1].iterrows()):
            rows.append({"compared": f"{ra['size']} - {rb['size']}", "at": cur, "d_train_examples": d,
                         "difference_nats": ra.loss - rb.loss, "noise_nats": sd * np.sqrt(1 / ra.runs + 1 / rb.runs)})
    out = pd.DataFrame(rows, columns=["compared", "at", "d_train_examples", "difference_nats", "noise_nats"])
    out["separated"] = out.difference_nats.abs() > 2 * out.noise_nats
    return out


def exchange_rate(fit) -> dict:
    """alpha / beta of a transfer law, with its interval from the law's bootstrap draws (log k, alpha,
    beta): how many decades of N buy, in D_T, what one decade of fine-tuning data buys. Below 1, a
    smaller increase in N than in data gives the same gain (Asya's "modest increases in model size")."""
    point = fit.alpha / fit.beta if fit.beta else float("nan")
    d = fit.draws if fit.draws is not None else np.zeros((0, 3))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = d[:, 1] / d[:, 2] if len(d) else np.zeros(0)
    r = r[np.isfinite(r)]
    ci = [float(np.quantile(r, 0.025)), float(np.quantile(r, 0.975))] if len(r) >= 10 and (d[:, 2] > 0).all() \
        else None  # beta's draws reach 0 or below: the ratio has no finite interval
    return {"point": point, "ci95": ci, "beta_excludes_zero": bool(fit.ci95.get("beta") and fit.ci95["beta"][0] > 0)}


def asya_verdicts(joint) -> dict:
    """Per curriculum, the answer to Asya's question from the task's joint fit (``fits.joint``): does
    a larger model add transferred task examples (beta's interval above 0), and at what exchange
    rate against task data (alpha / beta; below 1, a smaller increase in N than in data gives the
    same gain: "modest increases in model size compensate for small datasets")."""
    from transfer_laws.report.tables import interval

    out = {}
    for cur in ("text", "mix"):
        try:
            f = joint.fit(cur)
        except ValueError as exc:
            out[cur] = f"after {cur} pre-training the law could not be fitted ({exc})"
            continue
        r = exchange_rate(f)
        beta = interval(f.beta, f.ci95.get("beta"))
        censored = [end for end in ("lower", "upper") if f"{end} end censored" in
                    ((getattr(f, "diagnostics", None) or {}).get("interval_kind", {}).get("beta", ""))]
        if censored:  # the interval runs into the optimiser's box: the data bound β less than it shows
            beta += f" ({' and '.join(censored)} end{'s' if len(censored) > 1 else ''} at the fit's bounds)"
        if not r["beta_excludes_zero"]:
            out[cur] = (f"after {cur} pre-training the task's β = {beta} does not exclude 0: a larger model is "
                        f"not shown to add transferred examples")
            continue
        modest = r["ci95"] is not None and r["ci95"][1] < 1
        out[cur] = (f"after {cur} pre-training β = {beta} > 0 and α/β = {interval(r['point'], r['ci95'])}: a 10x "
                    f"larger task set is worth a {10 ** r['point']:.1f}x larger model in transferred examples"
                    + (" (less than 10x: modest increases in N do compensate)" if modest else ""))
    return out


def pretraining_helps(runs: pd.DataFrame) -> dict:
    """Per pre-training curriculum: (in how many (size, task-data) cells its fine-tunes end below
    training from scratch by more than twice the seed noise, how many cells compare them), from
    ``separation``."""
    sep = separation(runs)
    out = {}
    for cur in ("text", "mix"):
        g = sep[sep.compared == f"{cur} - scratch"]
        out[cur] = (int((g.separated & (g.difference_nats < 0)).sum()), len(g))
    return out


def summary(runs: pd.DataFrame, joint, brief: bool = False) -> str:
    """The task's finding in one sentence: whether pre-training and model size move its loss by
    more than seed noise (``separation``, ``pretraining_helps``), and Asya's verdicts
    (``asya_verdicts``); ``brief`` (the book's opening): the counts and, per curriculum, only
    whether the task's β excludes 0, without intervals."""
    sep = separation(runs)
    by_curriculum = sep[sep["at"].isin(runs["size"].unique())]
    by_size = sep[~sep["at"].isin(runs["size"].unique())]
    larger = int((by_size.separated & (by_size.difference_nats < 0)).sum())
    helps = pretraining_helps(runs)
    per = ", ".join(f"after {cur} in {a} of {n}" for cur, (a, n) in helps.items() if n)
    if brief:
        excludes = {}
        for cur in ("text", "mix"):
            try:
                excludes[cur] = exchange_rate(joint.fit(cur))["beta_excludes_zero"]
            except ValueError:
                continue
        said = {True: "excludes 0", False: "does not exclude 0 (a larger model is not shown to add transferred examples)"}
        if len(set(excludes.values())) == 1:
            betas = f"after {' or '.join(excludes)} pre-training the task's β {said[next(iter(excludes.values()))]}"
        else:
            betas = "; ".join(f"after {cur} pre-training the task's β {said[x]}" for cur, x in excludes.items())
        return (f"the fine-tune ends below training from scratch {per} cells, a larger model lowers the task's loss "
                f"beyond seed noise in {larger} of {len(by_size)} size comparisons"
                + (f"; {betas}" if betas else ""))
    return (f"pre-training separates from training from scratch ({int(by_curriculum.separated.sum())} of "
            f"{len(by_curriculum)} curriculum comparisons exceed twice the seed noise; the fine-tune ends below "
            f"from scratch {per} cells), model size "
            f"{'does not' if larger == 0 else 'does'} ({int(by_size.separated.sum())} of {len(by_size)} size "
            f"comparisons, {larger} of them in favour of the larger model); "
            + "; ".join(asya_verdicts(joint).values()))
