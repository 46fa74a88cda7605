"""The experiments past the paper, measured from the runs table (pure pandas/numpy).

Every fine-tune's effective data D_E is read off the *main* grid's from-scratch curve of the same
size, so an experiment's D_T is comparable with the main grid's at equal D_F:

- ``pretrain_amount``: D_T at fixed N for several pre-training budgets (0.25x, 1x, 4x the rule);
- ``contamination``: D_T with 1% held-aside Python in the text pre-training against without;
- ``pretrain_seed``: D_T from two pre-training seeds at one size (pre-training noise);
- ``study_pretrain_amount`` / ``study_pretrain_seeds``: the same two questions on the second study's
  own runs (its text budgets, fixed across sizes; its three pre-training seeds), read off that
  study's from-scratch curves;
- ``high_data_comparison``: Rohin's alpha puzzle tested directly: text- against mix-pretrained
  fine-tuned loss far into the high-data regime (outside the fitted law by design);
- ``fitted_crossover``: the D_F where text catches up with the mix, from fitted laws and their bootstrap;
- ``finetune_lr``: high-D_F fine-tunes rerun at the from-scratch learning rate, against the main
  grid's fine-tunes (a third of it) and from scratch at the same D: is the ossification a learning-rate effect?
- ``high_data_rate_check``: the second recipe's answer to the same question, its fine-tuning rate
  sweep at the largest D_F beside from scratch on the same data and steps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from transfer_laws.analysis.effective_data import effective_data_table
from transfer_laws.analysis.scratch import scratch_curves
from transfer_laws.analysis.laws import TransferLaw, crossover_at_n
from transfer_laws.runs.checks import paired_difference  # noqa: F401  (used by callers as experiments.paired_difference)

COLUMNS = ["experiment", "curriculum", "size", "n_params", "d_train_chars", "seed", "pretrain_id", "pretrain_tokens",
           "test_loss", "d_effective", "d_effective_status", "d_transferred", "multiplier"]


class ExperimentDataError(ValueError):
    """The runs an experiment needs are not in the table."""


def _scratch(runs: pd.DataFrame, size: str, reference: str) -> pd.DataFrame:
    s = runs[(runs.phase == "target") & (runs.experiment == reference) & (runs.curriculum == "scratch")
             & (runs["size"] == size)]
    if s.empty:
        raise ExperimentDataError(f"no from-scratch runs of size {size} in experiment {reference!r}")
    return s


def transfer_rows(runs: pd.DataFrame, finetunes: pd.DataFrame, reference: str = "main") -> pd.DataFrame:
    """D_E, D_T and multiplier for the given fine-tunes, against the reference scratch curve of each size."""
    parts = []
    for size, g in finetunes.groupby("size", sort=False):
        both = pd.concat([_scratch(runs, size, reference), g])
        parts.append(effective_data_table(both))
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(parts)[COLUMNS].reset_index(drop=True)


def _targets(runs, experiment, curriculum=None, size=None):
    t = runs[(runs.phase == "target") & (runs.experiment == experiment) & (runs.curriculum != "scratch")]
    if curriculum:
        t = t[t.curriculum == curriculum]
    if size:
        t = t[t["size"] == size]
    return t


def _with_reference(runs: pd.DataFrame, experiment: str, reference: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An experiment's fine-tunes, and the reference experiment's seed-0 fine-tunes of the same size
    and curriculum at the same D_F that start from the reference's seed-0 pre-training."""
    exp = _targets(runs, experiment)
    if exp.empty:
        raise ExperimentDataError(f"no fine-tunes of experiment {experiment!r}")
    ref = _targets(runs, reference, exp.curriculum.iloc[0], exp["size"].iloc[0])
    ref = ref[ref.d_train_chars.isin(exp.d_train_chars) & (ref.seed == 0)]
    ref = ref[ref.pretrain_id.isin(runs[(runs.phase == "pretrain") & (runs.experiment == reference)
                                        & (runs.seed == 0)].run_id)]
    return exp, ref


def pretrain_amount(runs: pd.DataFrame, experiment: str = "pretrain-amount", reference: str = "main") -> pd.DataFrame:
    """D_T against D_F for each pre-training budget at the experiment's size; the reference
    (1x) fine-tunes are the main grid's at the same size, curriculum, seed and D_F."""
    exp, ref = _with_reference(runs, experiment, reference)
    out = transfer_rows(runs, pd.concat([exp, ref]), reference)
    base = ref.pretrain_tokens.iloc[0] if len(ref) else np.nan
    out["tokens_multiplier"] = out.pretrain_tokens / base
    return out.sort_values(["pretrain_tokens", "d_train_chars"]).reset_index(drop=True)


def study_pretrain_amount(runs: pd.DataFrame, experiment: str, main_tokens: float | None = None) -> pd.DataFrame:
    """The second study's answer to ``pretrain_amount``: its text pre-training budgets (the same at
    every size), fine-tuned from pre-training seed 0 on data sample 1, at the largest size where at
    least two budgets were fine-tuned; D_E from that experiment's own from-scratch curve. ``runs``:
    the runs a fit admits. ``tokens_multiplier`` is each budget over ``main_tokens`` (default: the
    budget the most text fine-tunes start from, every pre-training seed counted)."""
    ft = _targets(runs, experiment, "text")
    base = main_tokens or (ft.pretrain_tokens.value_counts().idxmax() if len(ft) else np.nan)  # every seed's budget
    for col, want in (("pretrain_seed", 0), ("data_seed", 1)):
        if col in ft:
            ft = ft[ft[col].fillna(want) == want]
    if "tokenizer" in ft:
        ft = ft[ft.tokenizer.fillna("main") == "main"]
    budgets = ft.groupby("size").pretrain_tokens.nunique()
    sizes = budgets[budgets >= 2].index
    if not len(sizes):
        raise ExperimentDataError(f"no size of {experiment!r} has text fine-tunes from two pre-training budgets")
    size = max(sizes, key=lambda z: ft[ft["size"] == z].n_params.iloc[0])
    ft = ft[ft["size"] == size]
    out = transfer_rows(runs, ft, experiment)
    out["tokens_multiplier"] = out.pretrain_tokens / base
    return out.sort_values(["pretrain_tokens", "d_train_chars"]).reset_index(drop=True)


def study_pretrain_seeds(runs: pd.DataFrame, experiment: str, curriculum: str = "text") -> pd.DataFrame:
    """The second study's answer to ``pretrain_seed``: D_T from each pre-training seed at the main
    budget (data sample 1), at the largest size with at least two seeds fine-tuned at a common D_F."""
    ft = _targets(runs, experiment, curriculum)
    if "data_seed" in ft:
        ft = ft[ft.data_seed.fillna(1) == 1]
    if "tokenizer" in ft:
        ft = ft[ft.tokenizer.fillna("main") == "main"]
    if ft.empty or "pretrain_seed" not in ft:
        raise ExperimentDataError(f"no {curriculum} fine-tunes of {experiment!r} with a pre-training seed")
    ft = ft[ft.pretrain_tokens == ft.pretrain_tokens.value_counts().idxmax()]
    per = ft.groupby(["size", "d_train_chars"]).pretrain_seed.nunique()
    sizes = per[per >= 2].reset_index()["size"].unique()
    if not len(sizes):
        raise ExperimentDataError(f"no size of {experiment!r} has two pre-training seeds fine-tuned at one D_F")
    size = max(sizes, key=lambda z: ft[ft["size"] == z].n_params.iloc[0])
    out = transfer_rows(runs, ft[ft["size"] == size], experiment)
    out["pretrain_seed"] = out.pretrain_id.map(ft.drop_duplicates("pretrain_id").set_index("pretrain_id").pretrain_seed)
    return out.sort_values(["d_train_chars", "pretrain_seed"]).reset_index(drop=True)


def tokenizer_ablation(runs: pd.DataFrame, experiment: str, pretrain_tokens: float | None = None) -> pd.DataFrame:
    """Text pre-training with the shared tokenizer against the prose-only one (issue 17, item 7), at
    every size where the prose-only arm has text fine-tunes: per tokenizer and D_F, the median
    multiplier D_E / D_F (``effective_data.median_multiplier``), each fine-tune's D_E read off the
    from-scratch curve of *its own* tokenizer (a loss per token of one vocabulary is not comparable
    with another's; D_E / D_F is), and the fine-tuned minus the mean from-scratch loss at the same D
    in that tokenizer's nats per token. ``runs``: the experiment's target runs that pass their checks,
    both tokenizers; ``pretrain_tokens``: the main budget (every budget when None)."""
    from transfer_laws.analysis.effective_data import median_multiplier
    from transfer_laws.analysis.fitting import transfer_points

    t = runs[(runs.experiment == experiment) & (runs.phase == "target")].copy()
    t["tokenizer"] = t["tokenizer"].fillna("main") if "tokenizer" in t else "main"
    ft = t[(t.curriculum == "text")]
    if pretrain_tokens is not None:
        ft = ft[ft.pretrain_tokens == pretrain_tokens]
    sizes = ft[ft.tokenizer != "main"]["size"].unique()
    if not len(sizes):
        raise ExperimentDataError(f"no text fine-tunes with another tokenizer in {experiment!r}")
    rows = []
    for size in sizes:
        for tok in ("main", *sorted(set(ft[ft["size"] == size].tokenizer) - {"main"})):
            sc = t[(t.curriculum == "scratch") & (t["size"] == size) & (t.tokenizer == tok)]
            mine = ft[(ft["size"] == size) & (ft.tokenizer == tok)]
            if sc.empty or mine.empty:
                continue
            table, _ = transfer_points(pd.concat([sc, mine], ignore_index=True))
            for d, g in table.groupby("d_train_chars"):
                m, bound = median_multiplier(g)
                scratch_loss = sc[sc.d_train_chars == d].test_loss
                rows.append({"size": size, "n_params": float(g.n_params.iloc[0]), "tokenizer": tok,
                             "d_train_chars": float(d), "finetunes": len(g), "multiplier": m,
                             "multiplier_is_upper_bound": bound,
                             "finetuned_minus_scratch": (g.test_loss.mean() - scratch_loss.mean()
                                                         if len(scratch_loss) else np.nan)})
    return pd.DataFrame(rows).sort_values(["n_params", "d_train_chars", "tokenizer"]).reset_index(drop=True)


def paired_ratio(table: pd.DataFrame, group: str, reference_value, value_column: str = "d_transferred") -> pd.DataFrame:
    """value / value of the reference group at the same D_F (one row per D_F and non-reference group).

    A ratio of D_T is defined only where both are positive and finite (NaN elsewhere: at D_T <= 0 a
    ratio says nothing). With a ``test_loss`` column the loss difference to the reference at the same
    D_F is given beside it, in nats (below zero: the group reached the lower loss), defined everywhere.
    """
    wide = table.pivot_table(index="d_train_chars", columns=group, values=value_column, aggfunc="mean")
    if reference_value not in wide.columns:
        raise ExperimentDataError(f"no reference rows with {group} = {reference_value!r}")
    wide = wide.where(np.isfinite(wide) & (wide > 0))
    ratio = wide.div(wide[reference_value], axis=0).drop(columns=[reference_value])
    out = ratio.reset_index().melt(id_vars="d_train_chars", var_name=group, value_name=f"{value_column}_ratio")
    if "test_loss" in table:
        loss = table.pivot_table(index="d_train_chars", columns=group, values="test_loss", aggfunc="mean")
        diff = loss.sub(loss[reference_value], axis=0).drop(columns=[reference_value])
        diff = diff.reset_index().melt(id_vars="d_train_chars", var_name=group,
                                       value_name="test_loss_minus_reference_nats")
        out = out.merge(diff, on=["d_train_chars", group], how="outer")
    return out


def contamination(runs: pd.DataFrame, experiment: str = "contamination", reference: str = "main") -> pd.DataFrame:
    """Fine-tunes from the contaminated pre-training beside the clean (main-grid) ones at equal D_F."""
    exp, ref = _with_reference(runs, experiment, reference)
    out = transfer_rows(runs, pd.concat([exp, ref]), reference)
    out["pretraining"] = np.where(out.experiment == experiment, "text + 1% Python", "text")
    return out.sort_values(["d_train_chars", "pretraining"]).reset_index(drop=True)


def pretrain_seed(runs: pd.DataFrame, experiment: str = "pretrain-seed", reference: str = "main") -> pd.DataFrame:
    """D_T from a second pre-training seed beside the main grid's first, at equal D_F."""
    exp, ref = _with_reference(runs, experiment, reference)
    out = transfer_rows(runs, pd.concat([exp, ref]), reference)
    seeds = runs.set_index("run_id").seed
    out["pretrain_seed"] = out.pretrain_id.map(seeds)
    return out.sort_values(["d_train_chars", "pretrain_seed"]).reset_index(drop=True)


def high_data_comparison(runs: pd.DataFrame, sizes=None, experiments=("main", "alpha-puzzle"),
                         window_losses: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """Text- against mix-pretrained fine-tuned test loss at every D_F, per size (mean over seeds), with
    the from-scratch loss at the same D where it exists, and which pre-training reached the lower loss.

    With ``window_losses`` (run id -> per-window test losses, ``runs.window_losses``), the column
    ``text_minus_mix_se_nats`` holds the standard error of the gap paired over test windows, where
    every text and mix run of the point stores its windows (NaN elsewhere)."""
    t = runs[(runs.phase == "target") & runs.experiment.isin(experiments)]
    if sizes is not None:
        t = t[t["size"].isin(sizes)]
    wide = (t[t.curriculum != "scratch"].groupby(["size", "n_params", "d_train_chars", "curriculum"]).test_loss.mean()
            .unstack("curriculum").reset_index())
    for c in ("text", "mix"):
        if c not in wide:
            wide[c] = np.nan
    wide = wide.dropna(subset=["text", "mix"])
    curves = scratch_curves(t)  # the from-scratch loss at D, inside each size's measured range
    wide["scratch"] = [float(curves[n].loss(d)) if n in curves and curves[n].measured(d) else np.nan
                       for n, d in zip(wide.n_params, wide.d_train_chars)]
    # passes over the fine-tuning set: below ~1 the fine-tune is limited by its step budget, not by D_F
    epochs = (t[t.curriculum.isin(["text", "mix"])].groupby(["size", "d_train_chars"]).epochs.mean()
              .rename("finetune_epochs").reset_index())
    wide = wide.merge(epochs, on=["size", "d_train_chars"], how="left")
    wide["text_minus_mix_nats"] = wide["text"] - wide["mix"]
    wide["text_minus_mix_se_nats"] = np.nan
    if window_losses:
        for i, r in wide.iterrows():
            point = t[(t["size"] == r["size"]) & (t.d_train_chars == r.d_train_chars)]
            ids = {c: list(point[point.curriculum == c].run_id) for c in ("text", "mix")}
            if all(rid in window_losses for c in ids for rid in ids[c]):
                _, se = paired_difference([window_losses[x] for x in ids["text"]], [window_losses[x] for x in ids["mix"]])
                wide.loc[i, "text_minus_mix_se_nats"] = se
    wide["lower_loss"] = np.where(wide["text"] < wide["mix"], "text", "mix")
    return wide[["size", "n_params", "d_train_chars", "finetune_epochs", "scratch", "text", "mix",
                 "text_minus_mix_nats", "text_minus_mix_se_nats", "lower_loss"]].sort_values(
        ["n_params", "d_train_chars"]).reset_index(drop=True)


def finetune_lr(runs: pd.DataFrame, experiment: str = "finetune-lr", reference: str = "main") -> pd.DataFrame:
    """Per (size, curriculum, D_F) of the experiment: the fine-tuned test loss at the experiment's
    learning rate and at the reference grid's (seed 0, from the same pre-training), the reference
    from-scratch loss at the same D (mean over seeds), and the differences in nats; below zero in
    ``*_minus_scratch_nats`` the fine-tune beat training from scratch."""
    exp = _targets(runs, experiment)
    if exp.empty:
        raise ExperimentDataError(f"no fine-tunes of experiment {experiment!r}")
    ref = _targets(runs, reference)
    ref = ref[ref.seed == 0]
    rows = []
    for _, e in exp.sort_values(["n_params", "curriculum", "d_train_chars"]).iterrows():
        r = ref[(ref["size"] == e["size"]) & (ref.curriculum == e.curriculum) & (ref.d_train_chars == e.d_train_chars)
                & (ref.pretrain_id == e.pretrain_id)]
        s = _scratch(runs, e["size"], reference)
        if r.empty or not (s.d_train_chars.min() <= e.d_train_chars <= s.d_train_chars.max()):
            raise ExperimentDataError(f"no {reference!r} fine-tune or from-scratch curve of size {e['size']} at "
                                      f"D = {e.d_train_chars:g} to compare run {e.run_id} with")
        r = r.iloc[0]
        scratch = float(scratch_curves(s)[e.n_params].loss(e.d_train_chars))
        rows.append({"size": e["size"], "n_params": e.n_params, "curriculum": e.curriculum,
                     "d_train_chars": e.d_train_chars, "lr_reference": r.lr, "lr_experiment": e.lr,
                     "loss_reference_lr_nats": r.test_loss, "loss_experiment_lr_nats": e.test_loss,
                     "scratch_loss_nats": scratch, "gain_from_experiment_lr_nats": r.test_loss - e.test_loss,
                     "reference_minus_scratch_nats": r.test_loss - scratch,
                     "experiment_minus_scratch_nats": e.test_loss - scratch,
                     "test_loss_se": float(np.hypot(r.test_loss_se, e.test_loss_se))
                     if "test_loss_se" in exp else np.nan})
    return pd.DataFrame(rows)


def fitted_crossover(text_fit, mix_fit, n_params) -> pd.DataFrame:
    """Where the text law catches up with the mix law, per N: point estimate and the 95% range over
    paired bootstrap draws (``TransferFit.draws`` rows are (log k, alpha, beta))."""
    point = crossover_at_n(TransferLaw(text_fit.k, text_fit.alpha, text_fit.beta),
                           TransferLaw(mix_fit.k, mix_fit.alpha, mix_fit.beta), n_params)
    rows = []
    m = min(len(text_fit.draws), len(mix_fit.draws)) if text_fit.draws is not None and mix_fit.draws is not None else 0
    for i, n in enumerate(np.atleast_1d(n_params)):
        lo = hi = np.nan
        share_finite = np.nan
        if m >= 10:
            xs = np.array([crossover_at_n(TransferLaw(np.exp(a[0]), a[1], a[2]), TransferLaw(np.exp(b[0]), b[1], b[2]), n)
                           for a, b in zip(text_fit.draws[:m], mix_fit.draws[:m])], dtype=float)
            lo, hi = np.percentile(xs, [2.5, 97.5])
            share_finite = float(np.isfinite(xs).mean())
        rows.append({"n_params": float(n), "crossover_chars": float(np.atleast_1d(point)[i]),
                     "ci95_low": float(lo), "ci95_high": float(hi), "text_alpha_above_mix": text_fit.alpha > mix_fit.alpha,
                     "share_of_draws_finite": share_finite})
    return pd.DataFrame(rows)


def pretrain_elasticity(amount: pd.DataFrame) -> float:
    """d log D_T / d log (pre-training tokens) at fixed N: least squares within each D_F (fixed
    effects), over the rows with a positive, finite D_T. NaN with fewer than two budgets."""
    t = amount[np.isfinite(amount.d_transferred) & (amount.d_transferred > 0)]
    t = t.assign(x=np.log(t.pretrain_tokens), y=np.log(t.d_transferred))
    t = t[t.groupby("d_train_chars").x.transform("nunique") > 1]
    if t.x.nunique() < 2:
        return float("nan")
    x = t.x - t.groupby("d_train_chars").x.transform("mean")
    y = t.y - t.groupby("d_train_chars").y.transform("mean")
    return float((x * y).sum() / (x * x).sum())


def pretrain_elasticity_by_d(amount: pd.DataFrame) -> pd.DataFrame:
    """The elasticity of D_T in pre-training tokens at each D_F separately (least-squares slope of
    log D_T on log tokens over the budgets with a positive, finite D_T; NaN with fewer than two)."""
    rows = []
    for d, g in amount.groupby("d_train_chars"):
        g = g[np.isfinite(g.d_transferred) & (g.d_transferred > 0)]
        g = g.groupby("pretrain_tokens", as_index=False).d_transferred.mean()
        slope = (float(np.polyfit(np.log(g.pretrain_tokens), np.log(g.d_transferred), 1)[0])
                 if len(g) >= 2 else np.nan)
        rows.append({"d_train_chars": d, "budgets": len(g), "elasticity": slope})
    return pd.DataFrame(rows)



def schedule_comparison(runs: pd.DataFrame, experiment: str, metric: str = "val_loss") -> pd.DataFrame:
    """Pre-trainings of one experiment at equal (size, curriculum, tokens) under both schedules:
    per schedule the mean over seeds and the seed spread (max - min), and the warm-up-stable-decay
    minus cosine difference beside the larger of the two spreads (issue 17: a cool-down branch must
    match a cosine run of the same length within seed noise)."""
    pre = runs[(runs.experiment == experiment) & (runs.phase == "pretrain")]
    rows = []
    for (size, cur, tokens), g in pre.groupby(["size", "curriculum", "tokens_seen"], sort=False):
        by = g.groupby("schedule")[metric]
        if not {"wsd", "cosine"} <= set(by.groups):
            continue
        stats = by.agg(["mean", "min", "max", "count"])
        spread = float((stats["max"] - stats["min"]).max())
        diff = float(stats.loc["wsd", "mean"] - stats.loc["cosine", "mean"])
        rows.append({"size": size, "n_params": int(g.n_params.iloc[0]), "curriculum": cur, "tokens": int(tokens),
                     "wsd": float(stats.loc["wsd", "mean"]), "cosine": float(stats.loc["cosine", "mean"]),
                     "seeds": int(stats["count"].min()), "wsd_minus_cosine": diff, "seed_spread": spread,
                     "within_seed_noise": bool(stats["count"].min() >= 2 and abs(diff) <= spread)})
    return pd.DataFrame(rows, columns=["size", "n_params", "curriculum", "tokens", "wsd", "cosine", "seeds",
                                       "wsd_minus_cosine", "seed_spread", "within_seed_noise"])


def seed_noise(runs: pd.DataFrame, experiment: str, loss_column: str = "test_loss") -> pd.DataFrame:
    """Fine-tunes of one experiment repeated over data samples and over pre-training seeds, per
    (curriculum, size, D_F, rate): the standard deviation of the loss over data seeds (at the
    first pre-training seed), the mean difference between pre-training seeds (at the first data
    seed), and the evaluation's own standard error beside them (issue 17: which noise dominates)."""
    ft = runs[(runs.experiment == experiment) & (runs.phase == "target") & (runs.curriculum != "scratch")]
    rows = []
    for (cur, size, d, lr), g in ft.groupby(["curriculum", "size", "d_train_chars", "lr"], sort=False):
        pre_seeds = sorted(g.pretrain_seed.dropna().unique())
        data_seeds = sorted(g.data_seed.dropna().unique())
        if len(pre_seeds) < 2 and len(data_seeds) < 2:
            continue
        base = g[g.pretrain_seed == pre_seeds[0]]
        by_data = base.groupby("data_seed")[loss_column].mean()
        first_data = g[g.data_seed == data_seeds[0]].groupby("pretrain_seed")[loss_column].mean()
        rows.append({"curriculum": cur, "size": size, "n_params": int(g.n_params.iloc[0]), "d_train_chars": d, "lr": lr,
                     "data_seeds": len(by_data), "data_seed_sd": float(by_data.std(ddof=1)) if len(by_data) > 1 else np.nan,
                     "pretrain_seeds": len(first_data),
                     "pretrain_seed_difference": float(first_data.iloc[-1] - first_data.iloc[0]) if len(first_data) > 1 else np.nan,
                     "eval_se": float(g.test_loss_se.median())})
    return pd.DataFrame(rows, columns=["curriculum", "size", "n_params", "d_train_chars", "lr", "data_seeds", "data_seed_sd",
                                       "pretrain_seeds", "pretrain_seed_difference", "eval_se"])


def resolution_summary(runs: pd.DataFrame, experiment: str) -> pd.DataFrame:
    """Fine-tunes of one experiment per (curriculum, size, D_F): how many, how many are unresolved
    or zero-shot, the median best step, and the fine-tune minus its own checkpoint on the same test
    windows (median, and the largest paired standard error): the pilot's question whether the new
    evaluation resolves small D_F (issue 17)."""
    ft = runs[(runs.experiment == experiment) & (runs.phase == "target") & (runs.curriculum != "scratch")]
    rows = []
    for (cur, size, d), g in ft.groupby(["curriculum", "size", "d_train_chars"], sort=False):
        rows.append({"curriculum": cur, "size": size, "n_params": int(g.n_params.iloc[0]), "d_train_chars": d,
                     "runs": len(g), "unresolved": int(g.unresolved.fillna(False).astype(bool).sum()),
                     "zero_shot": int(g.zero_shot.fillna(False).astype(bool).sum()),
                     "median_best_step": float(g.best_step.median()),
                     "vs_checkpoint_median": float(g.vs_checkpoint_nats.astype(float).median()),
                     "vs_checkpoint_se_max": float(g.vs_checkpoint_se.astype(float).max())})
    cols = ["curriculum", "size", "n_params", "d_train_chars", "runs", "unresolved", "zero_shot", "median_best_step",
            "vs_checkpoint_median", "vs_checkpoint_se_max"]
    return pd.DataFrame(rows, columns=cols).sort_values(["curriculum", "n_params", "d_train_chars"]).reset_index(drop=True)


def horizon_check(runs: pd.DataFrame, experiment: str = "pilot2-horizon", reference: str = "pilot2-lr") -> pd.DataFrame:
    """From-scratch runs of ``experiment`` (a longer horizon: more epochs) beside the run of
    ``reference`` with the same size, D, rate, data sample and seed (the shorter horizon): epochs,
    steps, best step, how the run stopped, whether the selection refuses it, and the test loss
    (issue 17: does a longer horizon let a from-scratch run early-stop?)."""
    keys = ["size", "n_params", "d_train_chars", "lr", "data_seed", "seed"]
    sc = runs[(runs.phase == "target") & (runs.curriculum == "scratch")]
    if "schedule" in sc:  # the horizon branches (wsd) are horizon_branches'
        sc = sc[sc.schedule.fillna("cosine") != "wsd"]
    long_ = sc[sc.experiment == experiment]
    short = sc[sc.experiment == reference]
    rows = []
    for r in long_.itertuples():
        ref = short
        for k in keys:
            ref = ref[ref[k] == getattr(r, k)]
        for label, row in (("longer", r), ("shorter", next(ref.itertuples(), None))):
            if row is None:
                continue
            rows.append({**{k: getattr(r, k) for k in keys}, "horizon": label, "epochs": row.epochs, "steps": row.steps,
                         "best_step": row.best_step, "stop_reason": row.stop_reason,
                         "refused": getattr(row, "exclusion", "") or "", "test_loss": row.test_loss})
    cols = [*keys, "horizon", "epochs", "steps", "best_step", "stop_reason", "refused", "test_loss"]
    return pd.DataFrame(rows, columns=cols)


def horizon_branches(runs: pd.DataFrame, experiment: str = "pilot2-horizon", reference: str = "pilot2-lr") -> pd.DataFrame:
    """From-scratch horizon branches of ``experiment`` (wsd runs that differ only in their epoch cap),
    one row per branch: its epochs, best step, validation and test loss, whether it is its family's
    best (``selection``: the others are refused as not_best_branch, a longest-best family as capped,
    a shortest-best one as unresolved), and the test loss of the cosine run of ``reference`` at the
    same size, D, rate, data sample and seed (the horizon the rate sweeps used) for comparison."""
    keys = ["size", "n_params", "d_train_chars", "lr", "data_seed", "seed"]
    cols = [*keys, "max_epochs", "steps", "best_step", "val_loss", "test_loss", "refused", "family_best",
            "cosine_test_loss"]
    if "horizon_family" not in runs:
        return pd.DataFrame(columns=cols)
    sc = runs[(runs.phase == "target") & (runs.curriculum == "scratch")]
    br = sc[(sc.experiment == experiment) & sc.horizon_family.notna()]
    cos = sc[(sc.experiment == reference) & (sc.schedule.fillna("cosine") == "cosine")]
    ref = cos.groupby(keys, as_index=False).test_loss.mean().rename(columns={"test_loss": "cosine_test_loss"})
    out = br.assign(refused=br.get("exclusion", pd.Series("", index=br.index)).fillna(""))
    out = out.assign(family_best=~out.refused.eq("not_best_branch"))
    out = out.merge(ref, on=keys, how="left")
    return out[cols].sort_values(["n_params", "d_train_chars", "max_epochs"]).reset_index(drop=True)


def high_data_rate_check(runs: pd.DataFrame, plan_rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """The fine-tuning rate checks above the rules' fitted range (``hparams.HIGH_DATA_CHECKS``), one
    row per (curriculum, rate): validation loss (nats/token; repeated runs at a rate averaged), the
    rate as a multiple of the one the rule held at its ``d_max`` before the check (``times_held``),
    ``best`` (the check's lowest), the rule's rate now (``rule_lr``), and the from-scratch runs of the
    check's experiment in the same (size, D) cell and of the same length (``scratch_val_loss``, their
    mean, and ``scratch_runs``): the loss a fine-tune at each rate must beat; ``diverged`` when every
    run at the rate diverged (``checks.diverged``). Pass the current plan's
    runs (``in_plan``)."""
    from dataclasses import replace

    from transfer_laws.analysis.tuning import rule_cells
    from transfer_laws.train.hparams import HIGH_DATA_CHECKS, RECIPE2_RULES

    rows = []
    for kind, where in HIGH_DATA_CHECKS.items():
        for c in rule_cells(runs, kind, where, plan_rows).itertuples():
            rule = RECIPE2_RULES[kind]
            held = replace(rule, d_exponent_high=0.0)(c.n_params, c.d_train_chars)
            experiments = [where["experiment"]] if isinstance(where["experiment"], str) else list(where["experiment"])
            cell = runs[runs.experiment.isin(experiments) & (runs.phase == "target")
                        & (runs["size"] == c.size) & (runs.d_train_chars == c.d_train_chars)]
            fine = cell[(cell.curriculum == c.curriculum) & cell.lr.isin(c.lrs)]
            sc = cell[(cell.curriculum == "scratch")
                      & np.isclose(cell.steps.astype(float), fine.steps.astype(float).max(), rtol=0.02)]
            for lr, loss in zip(c.lrs, c.losses):
                rows.append({"curriculum": c.curriculum, "size": c.size, "n_params": c.n_params,
                             "d_train_chars": c.d_train_chars, "lr": lr, "val_loss": loss, "times_held": lr / held,
                             "best": bool(lr == c.best_lr), "bracketed": bool(c.bracketed), "held_lr": held,
                             "rule_lr": rule(c.n_params, c.d_train_chars),
                             "steps": float(fine.loc[fine.lr == lr, "steps"].max()),
                             "diverged": bool(fine.loc[fine.lr == lr].get(
                                 "diverged", pd.Series(False, index=fine.index)).fillna(False).astype(bool).all()),
                             "scratch_val_loss": float(sc.val_loss.mean()) if len(sc) else np.nan,
                             "scratch_runs": len(sc)})
    return pd.DataFrame(rows)
