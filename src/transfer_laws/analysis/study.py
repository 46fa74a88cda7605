"""What the chapters read: the committed runs as tables, and a sentence saying their scale."""

from __future__ import annotations

import numpy as np
import pandas as pd

import os
from pathlib import Path

from transfer_laws.runs import plan
from transfer_laws import runs
from transfer_laws.analysis import selection

MAIN_GRID = Path(__file__).resolve().parents[3] / "grids" / "main.toml"

# The one experiment the book and `fit` read, and the grid file that plans it: the second study
# (issue 17), read since its third size (n57k) was complete; the first grid ("main") stays readable
# and is set beside it in the reproducing chapter. $TRANSFER_LAWS_STUDY names another for one
# process (e.g. "main" to rebuild the book on the first grid's runs).
STUDY_GRIDS = {"main": MAIN_GRID, "study2": MAIN_GRID.parent / "study2.toml"}
STUDY_EXPERIMENT = os.environ.get("TRANSFER_LAWS_STUDY") or "study2"
if STUDY_EXPERIMENT not in STUDY_GRIDS:
    raise ValueError(f"TRANSFER_LAWS_STUDY={STUDY_EXPERIMENT!r}: known studies are {', '.join(STUDY_GRIDS)}")
STUDY_GRID = STUDY_GRIDS[STUDY_EXPERIMENT]
STUDY_NAMES = {"main": "first grid", "study2": "second study"}


def study_name(experiment: str) -> str:
    """How prose names an experiment: 'second study' for study2, 'first grid' for main, else
    '<id> experiment' ('study' for '', the name ``study_runs`` gives no runs)."""
    return STUDY_NAMES.get(experiment, f"{experiment} experiment" if experiment else "study")
# The study's primary arm: fine-tunes from the main pre-training budget (tokens; None: the grid has
# one budget per size) and runs with the main tokenizer. The other budgets (the pre-training-amount
# axis, ``in_axis``) and the tokenizer ablation are read by their own analyses, never pooled into
# the primary fit: a budget moves D_T, and another tokenizer's losses are in other tokens.
MAIN_PRETRAIN_TOKENS = {"main": None, "study2": 13_107_200}
# From this recipe on, a run that fails its checks (``selection``) is refused by every fit. The
# first grid (recipe 1) predates the checks: its fit reads its runs unchecked, and the
# ``exclusion`` column (and the reproducing chapter) count what the checks would refuse there.
CHECKED_FROM_RECIPE = 2


def size_names(runs: pd.DataFrame) -> dict:
    """N (non-embedding parameters) -> the ladder's name of that size (12768.0 -> 'n13k'), from the
    runs' own ``size`` column; every N the runs carry without a name reads 'N = 12,768'."""
    named = dict(zip(runs.n_params, runs["size"])) if "size" in runs else {}
    return {n: (named[n] if isinstance(named.get(n), str) else f"N = {n:,.0f}") for n in runs.n_params.unique()}


def runs_frame(root=None) -> pd.DataFrame:
    return runs.runs_table(runs.load_records(root))


def curves_frame(root=None) -> pd.DataFrame:
    return runs.curves_table(runs.load_records(root))


def window_losses(root=None) -> dict:
    """Run id -> per-window test losses (nats/token) of the committed runs that store them."""
    return runs.window_losses(runs.load_records(root))


def grid_progress(grid: Path = MAIN_GRID, root=None, data=None) -> pd.DataFrame:
    """Every planned run of a grid file, one row each, with ``done`` (its record exists), read from
    the committed plan (``results/plan.csv``); ``data`` is accepted for older callers and unused."""
    return plan.progress(plan.load_plan(root), runs_frame(root), Path(grid).name)


def complete_sizes(progress: pd.DataFrame, experiment: str = "main") -> list[str]:
    """Sizes all of whose planned runs in ``experiment`` (and the pre-training they use) are done."""
    out = []
    for size, g in progress[progress.experiment == experiment].groupby("size", sort=False):
        need = set(g.pretrain_id.dropna())
        pre_done = progress[progress.run_id.isin(need)].done.all()
        if g.done.all() and pre_done:
            out.append(size)
    return out


def min_complete_sizes() -> int:
    """How many complete sizes the study's experiment needs before the chapters read it: 3 (the
    claims ledger judges nothing about N with fewer), or $TRANSFER_LAWS_MIN_SIZES."""
    return int(os.environ.get("TRANSFER_LAWS_MIN_SIZES", 3))


def fit_rows(table: pd.DataFrame, experiment: str, at_main_budget: bool = True) -> pd.Series:
    """The one selection rule every fit applies to an experiment's runs (``annotate``, ``study_runs``
    and ``fit --runs``): a run passes its checks (``exclusion`` empty, from ``CHECKED_FROM_RECIPE``
    on), uses the main tokenizer (another tokenizer's loss per token is in other units) and, with
    ``at_main_budget`` where ``MAIN_PRETRAIN_TOKENS`` names one, is from scratch or fine-tuned from
    that budget. Columns a table lacks select nothing out (a table without ``pretrain_tokens`` has
    one budget); values may be strings, as read from a CSV."""
    def column(name, default):
        return table[name] if name in table else pd.Series(default, index=table.index, dtype=object)
    recipe = pd.to_numeric(column("recipe", 1), errors="coerce").fillna(1)
    passes = column("exclusion", "").fillna("").astype(str).eq("") | (recipe < CHECKED_FROM_RECIPE)
    keep = passes & column("tokenizer", "main").fillna("main").astype(str).eq("main")
    budget = MAIN_PRETRAIN_TOKENS.get(experiment)
    if at_main_budget and budget is not None and "pretrain_tokens" in table:
        keep &= (table.curriculum == "scratch") | (pd.to_numeric(table.pretrain_tokens, errors="coerce") == budget)
    return keep


def annotate(table: pd.DataFrame, plan_rows: pd.DataFrame, min_sizes: int | None = None) -> pd.DataFrame:
    """The runs table with the columns every reader selects by: ``in_plan`` (``plan.in_plan``),
    ``exclusion`` (the first check the run fails, '' if none: ``selection``), ``in_axis`` (target
    runs of ``STUDY_EXPERIMENT`` in its plan, of its complete sizes only, with the main tokenizer,
    refused runs left out from ``CHECKED_FROM_RECIPE`` on: every pre-training budget) and
    ``in_study`` (the rows the study's fit reads: ``in_axis`` at the main pre-training budget,
    ``MAIN_PRETRAIN_TOKENS``)."""
    out = table.copy()
    out["in_plan"] = plan.in_plan(out, plan_rows)
    out["exclusion"] = selection.exclusion_reasons(out)
    min_sizes = min_complete_sizes() if min_sizes is None else min_sizes
    sizes = complete_sizes(plan.progress(plan_rows, out, STUDY_GRID.name), STUDY_EXPERIMENT)
    out["in_axis"] = ((out.experiment == STUDY_EXPERIMENT) & (out.phase == "target") & out.in_plan
                      & out["size"].isin(sizes) & (len(sizes) >= min_sizes)
                      & fit_rows(out, STUDY_EXPERIMENT, at_main_budget=False))
    out["in_study"] = out.in_axis & fit_rows(out, STUDY_EXPERIMENT)
    return out


def annotated_runs(root=None, min_sizes: int | None = None) -> pd.DataFrame:
    """Every committed run, annotated (``annotate``) against the committed plan."""
    return annotate(runs_frame(root), plan.load_plan(root), min_sizes)


def study_runs(root=None, experiment: str | None = None, min_sizes: int | None = None,
               table: pd.DataFrame | None = None) -> tuple[pd.DataFrame, str]:
    """The target runs a fit reads, and the experiment's name: by default the study's own
    (``in_study``); for another ``experiment`` (the pilot), its planned target runs that pass their
    checks, with the main tokenizer (a loss per token of another tokenizer is in other units) and,
    where ``MAIN_PRETRAIN_TOKENS`` names one, at the main pre-training budget. Empty, with name '',
    when the experiment has no scratch or no fine-tuned runs yet."""
    t = annotated_runs(root, min_sizes) if table is None else table
    if experiment is None or experiment == STUDY_EXPERIMENT:
        experiment, sub = STUDY_EXPERIMENT, t[t.in_study]
    else:  # selected as ``in_study`` selects the study's: one tokenizer, one pre-training budget
        sub = t[(t.experiment == experiment) & (t.phase == "target") & t.in_plan & fit_rows(t, experiment)]
    if (sub.curriculum == "scratch").any() and (sub.curriculum != "scratch").any():
        return sub.reset_index(drop=True), experiment
    return t.iloc[0:0], ""


def write_tables(root=None, data=None) -> tuple[Path, Path, Path]:
    """Regenerate ``results/plan.csv`` (every grid's plan), ``results/runs.csv`` (the records,
    annotated) and ``results/curves.csv``."""
    plan_file = plan.write_plan(data, root)
    records = runs.load_records(root)
    d = runs.results_dir(root)
    runs_csv = annotate(runs.runs_table(records), plan.load_plan(root))
    runs.atomic_write_bytes(d / "runs.csv", runs_csv.to_csv(index=False).encode())
    runs.atomic_write_bytes(d / "curves.csv", runs.curves_table(records).to_csv(index=False).encode())
    return plan_file, d / "runs.csv", d / "curves.csv"


def pretrain_runs(experiment: str, root=None, targets: pd.DataFrame | None = None) -> pd.DataFrame:
    """Pre-training runs of an experiment; with ``targets``, only those the targets fine-tune from."""
    df = runs_frame(root)
    pre = df[(df.phase == "pretrain") & (df.experiment == experiment)]
    if targets is not None:
        pre = pre[pre.run_id.isin(targets.pretrain_id)]
    return pre.reset_index(drop=True)


def checkpoint_spread(runs: pd.DataFrame, root=None) -> pd.DataFrame:
    """The checkpoint level the fits of these runs carry, per (curriculum, D_F): the between-checkpoint
    sd of log D_T with each run's own noise taken out (``bootstrap.checkpoint_noise``), from the runs'
    own pre-training seeds where they have several, else the committed pair
    (``external_checkpoint_noise``); empty where neither exists. Column ``factor`` = exp(sd)."""
    from transfer_laws.analysis import bootstrap
    from transfer_laws.analysis.fitting import transfer_points

    if has_checkpoint_replicates(runs):
        table, curves = transfer_points(runs)
        noise = bootstrap.checkpoint_noise(table, curves, bootstrap.scratch_noise_by_size(runs))
    else:
        noise = external_checkpoint_noise(runs, root)
        if noise is None:
            noise = bootstrap.checkpoint_noise(pd.DataFrame())
    return noise.assign(factor=np.exp(noise.sd_log_d_transferred.astype(float)))


def recipe_note(runs: pd.DataFrame, experiment: str, root=None) -> str:
    """A sentence for the opening where the runs a build reads predate the checks (recipe 1): how
    many of them the checks would refuse, by reason, and how far the checked study has come. Empty
    where every run read is checked (the study's own recipe)."""
    recipe = pd.to_numeric(runs.recipe, errors="coerce").fillna(1) if "recipe" in runs else pd.Series(1, index=runs.index)
    old = runs[recipe < CHECKED_FROM_RECIPE]
    if old.empty:
        return ""
    refused = old.exclusion.fillna("") if "exclusion" in old else pd.Series("", index=old.index)
    ft = old.curriculum != "scratch"
    why = ", ".join(f"{n} {r}" for r, n in refused[refused != ""].value_counts().items()) or "none"
    done = complete_sizes(grid_progress(STUDY_GRIDS["study2"], root), "study2")
    return (f"These are the first grid's runs (recipe 1), read unchecked: the checks the second study "
            f"applies would refuse {int((refused[ft] != '').sum())} of its {int(ft.sum())} fine-tunes and "
            f"{int((refused[~ft] != '').sum())} of its {int((~ft).sum())} from-scratch runs ({why}), and its "
            f"learning rates were not tuned. The second study (recipe 2, experiment `study2`) re-runs the grid "
            f"with checked, tuned runs; {len(done)} of its 6 sizes {'is' if len(done) == 1 else 'are'} complete, "
            f"and the book reads it once {min_complete_sizes()} are.")


def pretrain_budget_note(pre: pd.DataFrame) -> str:
    """How these pre-training runs were budgeted, read from the runs themselves, one clause per
    curriculum: fixed budgets the same at every size (with the seeds at each), or one budget per size
    that grows with N (its slope in log N, non-embedding, and its range)."""
    if pre.empty:
        return "no pre-training runs"
    pre = pre.drop_duplicates("run_id")
    clauses = []
    for cur, g in pre.groupby("curriculum", sort=True):
        sizes = list(dict.fromkeys(g.sort_values("n_params")["size"]))
        per_size = g.groupby("size").tokens_seen.nunique()
        budgets = sorted(g.tokens_seen.unique())
        if len(budgets) > 1 and (per_size == 1).all():
            by = g.drop_duplicates("size").sort_values("n_params")
            slope = (float(np.polyfit(np.log(by.n_params), np.log(by.tokens_seen), 1)[0]) if len(by) > 1
                     else float("nan"))
            clauses.append((cur, f"one budget per size, growing with the model as N^{slope:.2f} (N non-embedding), "
                                 f"from {_tokens(by.tokens_seen.iloc[0])} tokens at {by['size'].iloc[0]} to "
                                 f"{_tokens(by.tokens_seen.iloc[-1])} at {by['size'].iloc[-1]}"))
            continue
        parts = []
        for b in budgets:
            at = g[g.tokens_seen == b]
            where = "every size" if set(at["size"]) == set(sizes) else ", ".join(
                dict.fromkeys(at.sort_values("n_params")["size"]))
            seeds = at.groupby("size").seed.nunique()
            seed_txt = (f", {seeds.max()} seeds" if seeds.min() == seeds.max() else
                        f", {seeds.min()}–{seeds.max()} seeds") if seeds.max() > 1 else ""
            parts.append(f"{_tokens(b)} tokens at {where}{seed_txt}")
        clauses.append((cur, "; ".join(parts)))
    # curricula budgeted alike share one clause ("mix and text: ...")
    alike: dict[str, list[str]] = {}
    for cur, rest in clauses:
        alike.setdefault(rest, []).append(cur)
    return ". ".join(f"{' and '.join(curs).capitalize()}: {rest}" for rest, curs in alike.items()) + f" (sizes {', '.join(dict.fromkeys(pre.sort_values('n_params')['size']))})"


def _tokens(t: float) -> str:
    """13107200 -> '13.1M'."""
    return f"{t / 1e6:.3g}M" if t >= 1e6 else f"{t / 1e3:.3g}k"


def superseded(progress: pd.DataFrame, root=None, experiment: str = "main") -> pd.DataFrame:
    """Committed runs of an experiment that its current grid no longer plans (an earlier rule)."""
    df = runs_frame(root)
    return df[(df.experiment == experiment) & ~df.run_id.isin(progress.run_id)].reset_index(drop=True)


def current_runs(root=None, grid: Path = MAIN_GRID, progress: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every committed run except those an earlier rule superseded (``in_plan``; kept in results/
    for the comparison in the reproducing chapter). With ``progress`` (a grid's planned ids and
    experiments), only that grid's experiments are judged."""
    df = runs_frame(root)
    if progress is None:
        return df[plan.in_plan(df, plan.load_plan(root))].reset_index(drop=True)
    stale = df.experiment.isin(set(progress.experiment)) & ~df.run_id.isin(progress.run_id)
    return df[~stale].reset_index(drop=True)


def effective_data_note(table: pd.DataFrame, runs: pd.DataFrame) -> str:
    """Chapter 6's result: at the smallest and largest D_F of the fitted points (``table``), the
    median share of effective data from transfer and multiplier per curriculum; a median without a
    defined D_E (a fine-tuned loss above every from-scratch run's at this grid) says so instead."""
    from transfer_laws.analysis.effective_data import median_multiplier, share_interpolated

    d_small, d_large = table.d_train_chars.min(), table.d_train_chars.max()
    curricula = [c for c in ("text", "mix") if (table.curriculum == c).any()]

    def at(c, d, col):
        return table[(table.curriculum == c) & (table.d_train_chars == d)][col].median()

    def small(c):
        rows = table[(table.curriculum == c) & (table.d_train_chars == d_small)]
        m, bound = median_multiplier(rows)
        if not np.isfinite(m):
            return f"for {c}, D_E is undefined at this grid (the fine-tuned loss lies above every from-scratch run's)"
        worse = int(rows.d_effective_upper.notna().sum()) if "d_effective_upper" in rows else 0
        hurt = (f"; {worse} of {len(rows)} fine-tunes end worse than training from scratch on the same data, "
                "counted at D_E < the smallest from-scratch D") if worse else ""
        if bound or m <= 1:
            return f"for {c}, the median multiplier D_E / D_F is {'at most ' if bound else ''}{m:.3g}×: no gain from pre-training{hurt}"
        return (f"for {c}, pre-training supplies a median {1 - 1 / m:.0%} of the effective data (a multiplier "
                f"D_E / D_F of {m:.3g}×{hurt})")

    def large(c):
        f = at(c, d_large, "fraction_from_transfer")
        return f"{f:.0%} ({c})" if np.isfinite(f) else f"undefined ({c})"

    return (f"At the smallest fine-tuning set ({d_small:,.0f} characters): "
            + "; ".join(small(c) for c in curricula)
            + f". At the largest ({d_large:,.0f} characters) that fraction is "
            + " and ".join(large(c) for c in curricula)
            + f" (negative: pre-training hurt). {share_interpolated(table):.0%} of the {len(table)} fine-tunes have an "
              f"interpolated D_E ({scale_note(runs)}).")


def ossification_note(cells: pd.DataFrame, runs: pd.DataFrame) -> str:
    """Chapter 8's result from ``compute.ossification_map`` (with a ``size`` column): how many
    (pre-training, size, D_F) cells end with the mean fine-tuned loss above from scratch, and where,
    named cell by cell when there are few (per curriculum, the sizes and D_F), else by their range."""
    worse = cells[cells.ossified]
    where = ""
    if len(worse) and len(worse) <= 8:
        where = ": " + "; ".join(
            f"{cur}, " + ", ".join(f"{z} at D_F = " + ", ".join(f"{d:,.0f}" for d in gz.d_train_chars)
                                   for z, gz in g.groupby("size", sort=False))
            for cur, g in worse.sort_values(["curriculum", "n_params", "d_train_chars"]).groupby("curriculum", sort=False))
    elif len(worse):
        def span(cur, g):
            lo, hi = g.d_train_chars.min(), g.d_train_chars.max()
            sizes = list(dict.fromkeys(g.sort_values("n_params")["size"]))
            at = "every size" if len(sizes) == cells[cells.curriculum == cur]["size"].nunique() else ", ".join(sizes)
            d = f"D_F = {lo:,.0f}" if lo == hi else f"D_F from {lo:,.0f} to {hi:,.0f}"
            return f"after {cur}, {len(g)} of {int((cells.curriculum == cur).sum())} ({d} characters; {at})"
        where = ": " + "; ".join(span(cur, g) for cur, g in worse.groupby("curriculum", sort=True))
    return (f"In {len(worse)} of {len(cells)} (pre-training, size, D_F) cells the mean fine-tuned test loss ends above "
            f"a from-scratch model's at the same amount of Python{where}; whether that is beyond seed noise, at the "
            f"tuned rate, is claim 6's test in the discussion's ledger ({scale_note(runs)}).")


def scratch_result_note(scratch: pd.DataFrame, n_located: int, n_sizes: int) -> str:
    """Chapter 4's result, for the from-scratch runs a fit reads: how far the loss falls over the data,
    at the largest and smallest size (one clause when there is one size), where D(N) is located, and
    how the runs ended, by the recipe: a first-grid run on its step budget against early stopping;
    a recipe-2 point as the best of its horizon branches, with the largest D read at each size."""
    if scratch.empty:
        return "no from-scratch runs"

    def fall(n):
        c = scratch[scratch.n_params == n].sort_values("d_train_chars")
        return c["size"].iloc[0], f"from {c.test_loss.iloc[0]:.2f} to {c.test_loss.min():.2f}"

    big, small = fall(scratch.n_params.max()), fall(scratch.n_params.min())
    span = f"From {scratch.d_train_chars.min():,.0f} to {scratch.d_train_chars.max():,.0f} characters of Python"
    losses = (f"the from-scratch test loss of {big[0]} falls {big[1]} nats/token" if big == small else
              f"the from-scratch test loss of the largest model ({big[0]}) falls {big[1]} nats/token, and the "
              f"smallest's ({small[0]}) {small[1]}")
    if "horizon_family" in scratch and scratch.horizon_family.notna().all():
        top = scratch.groupby("size", sort=False).d_train_chars.max()
        ended = ("each point is the best of its horizon branches (cool-downs of one warm-up-stable-decay run at "
                 "several epoch counts), bracketed by a shorter and a longer one; a D whose family was still "
                 "improving at its longest branch is marked and not read (largest D read: "
                 + ", ".join(f"{z} {d:,.0f}" for z, d in top.items()) + ")")
    else:
        ended = (f"{int((scratch.stop_reason == 'budget').sum())} of {len(scratch)} runs ended on their step budget "
                 "rather than by early stopping")
    return (f"{span}, {losses}. The data size at which a size stops improving, D(N), lies inside the data for "
            f"{n_located} of {n_sizes} sizes; {ended} ({scale_note(scratch)}).")


def scale_note(df: pd.DataFrame) -> str:
    """One sentence: how many runs, which sizes, which data sizes, which hardware."""
    if df.empty:
        return "no runs"
    hw = ", ".join(f"{h} ({n})" for h, n in df.groupby("hardware").size().items())
    return (f"{len(df)} runs; N {_span(df.n_params)} non-embedding parameters; "
            f"D {_span(df.d_train_chars)} characters; hardware: {hw}")


def _span(values: pd.Series) -> str:
    """'from 1,000 to 3,000,000', or '= 12,768' where every value is the same."""
    lo, hi = values.min(), values.max()
    return f"= {lo:,.0f}" if lo == hi else f"from {lo:,.0f} to {hi:,.0f}"


MATCH_KEYS = ["curriculum", "size", "d_train_chars", "seed", "lr", "pretrain_id", "data_seed", "max_epochs",
              "tokenizer"]
# (twin experiment, the experiment it repeats): grids/hw_check.toml (pilot runs of the first GPU pass)
# and grids/hw_check2.toml (study2 runs of the study's GPU pass, on the 2,048 paired test windows)
HARDWARE_CHECKS = (("hw-check", "pilot"), ("hw-check2", "study2"))


def hardware_pairs(df: pd.DataFrame, checks=HARDWARE_CHECKS, windows: dict | None = None) -> pd.DataFrame:
    """Runs trained twice, identical but for the experiment name, on different hardware: test losses
    side by side, with the standard error of each test loss (the evaluation's own noise) and, where
    both records store per-window test losses (``windows``: ``runs.window_losses``), the paired
    standard error of their difference over the same windows."""
    from transfer_laws.runs.checks import paired_difference

    keys = [k for k in MATCH_KEYS if k in df.columns]
    out = []
    for check, reference in checks:
        a, b = df[df.experiment == check], df[df.experiment == reference]
        m = a.merge(b, on=keys, suffixes=("_check", "_reference"))
        out.append(m[m.hardware_check != m.hardware_reference])
    m = pd.concat(out, ignore_index=True) if out else pd.DataFrame()
    if not len(m):
        return pd.DataFrame(columns=MATCH_KEYS + ["experiment_reference", "hardware_check", "test_loss_check",
                                                  "hardware_reference", "test_loss_reference", "difference",
                                                  "test_loss_se_check", "difference_se"])
    m["difference"] = m.test_loss_check - m.test_loss_reference
    windows = windows or {}
    m["difference_se"] = [paired_difference([windows[x]], [windows[y]])[1] if x in windows and y in windows
                          else float("nan") for x, y in zip(m.run_id_check, m.run_id_reference)]
    return m[keys + ["experiment_reference", "hardware_check", "test_loss_check", "hardware_reference",
                     "test_loss_reference", "difference", "test_loss_se_check", "difference_se"]]


def device_systematic_note(runs: pd.DataFrame, pairs: pd.DataFrame, experiment: str,
                           curricula=("text", "mix")) -> str:
    """One sentence: how far the device offset moves the primary law (``fitting.device_systematic``):
    the GPU-trained from-scratch runs the fits read (``runs``: ``study_runs``), moved by the mean and
    the extremes of the experiment's own CPU-minus-GPU twins (``pairs``: ``hardware_pairs``)."""
    from transfer_laws.analysis import fitting
    from transfer_laws.analysis.fits import PRIMARY_METHOD

    device = runs["device"].fillna(REFERENCE_DEVICE) if "device" in runs else pd.Series(REFERENCE_DEVICE, index=runs.index)
    n_gpu = int(((runs.curriculum == "scratch") & (device != REFERENCE_DEVICE)).sum())
    if not n_gpu:
        return (f"No from-scratch run in the {study_name(experiment)}'s fits trained on the GPU: the device "
                "offset moves none of its constants.")
    own = pairs[pairs.experiment_reference == experiment].difference.astype(float)
    if not len(own):
        return (f"{n_gpu} of the from-scratch runs in the {study_name(experiment)}'s fits trained on the GPU, "
                "and no CPU twin measures their offset: the device's systematic error is not known.")
    offsets = sorted({float(own.mean()), float(own.min()), float(own.max())})
    parts = []
    for c in curricula:
        r = fitting.device_systematic(runs, c, offsets, method=PRIMARY_METHOD)
        if r["spread"]:
            parts.append(f"{c} α by {r['spread']['alpha']:.2g} and β by {r['spread']['beta']:.2g}")
    moved = "; ".join(parts) if parts else "nothing that could be refitted"
    return (f"Moving the {n_gpu} GPU-trained from-scratch runs in the {study_name(experiment)}'s fits by the "
            f"mean and the extremes of its {len(own)} CPU-minus-GPU twins "
            f"({', '.join(f'{o:+.3f}' for o in offsets)} nats) moves the primary fit's {moved}: the device's "
            "systematic error, beside the statistical intervals of the transfer-law chapter.")


REFERENCE_DEVICE = "cpu"  # the study's recipe: float32 on this project's CPU (GPU runs train in bf16)


def device_matched(pool: pd.DataFrame, all_runs: pd.DataFrame, checks=HARDWARE_CHECKS,
                   cell=("n_params", "d_train_chars")) -> tuple[pd.DataFrame, int, list]:
    """A pool whose every ``cell`` trained on one device, for comparisons finer than the device
    offset (claim 6: bf16 on the GPU ended a 7,653-step n28k run 0.016 nats worse than float32 here,
    paired SE 0.003; grids/hw_check2.toml). Each run trained off the reference device whose hardware
    twin (the same spec under the check experiment, ``HARDWARE_CHECKS``) ran on it is replaced by that
    twin; cells that still mix devices are dropped. Returns (pool, runs replaced, cells dropped)."""
    if "device" not in pool or pool.empty:
        return pool, 0, []
    keys = [k for k in MATCH_KEYS if k in pool.columns and k in all_runs.columns]
    check_of = dict((ref, chk) for chk, ref in checks)
    twins = all_runs[all_runs.experiment.isin(check_of.values()) & (all_runs.device == REFERENCE_DEVICE)]
    rows, replaced = [], 0
    for _, r in pool.iterrows():
        if r.device != REFERENCE_DEVICE and r.experiment in check_of:
            t = twins[twins.experiment == check_of[r.experiment]]
            for k in keys:
                t = t[(t[k] == r[k]) | (t[k].isna() & pd.isna(r[k]))]
            if len(t):
                rows.append(t.iloc[0])
                replaced += 1
                continue
        rows.append(r)
    out = pd.DataFrame(rows).reset_index(drop=True)
    mixed = [c for c, g in out.groupby(list(cell)) if g.device.nunique() > 1]
    if mixed:
        drop = pd.Series(False, index=out.index)
        for c in mixed:
            drop |= np.logical_and.reduce([out[k] == v for k, v in zip(cell, c)])
        out = out[~drop].reset_index(drop=True)
    return out, replaced, mixed


def seed_spread(table: pd.DataFrame, column: str = "d_transferred") -> pd.DataFrame:
    """Relative spread of a quantity over seeds at each (curriculum, size, D_F)."""
    g = table.groupby(["curriculum", "size", "d_train_chars"])[column]
    out = g.agg(["mean", "min", "max", "count"]).reset_index()
    out = out[out["count"] > 1]
    out["relative_spread"] = (out["max"] - out["min"]) / out["mean"].abs()
    return out


def horizon_rule_comparison(progress: pd.DataFrame, root=None, experiment: str = "main") -> pd.DataFrame:
    """From-scratch runs done under an earlier horizon rule beside the current plan's run of the same
    size, D and seed: test loss, steps and best step under each (the cost of a too-short horizon)."""
    df = runs_frame(root)
    old = superseded(progress, root, experiment)
    old = old[(old.phase == "target") & (old.curriculum == "scratch")]
    new = df[df.run_id.isin(progress.run_id) & (df.phase == "target") & (df.curriculum == "scratch")]
    keys = ["size", "n_params", "d_train_chars", "seed"]
    cols = keys + ["test_loss", "steps", "best_step", "epochs"]
    m = old[cols].merge(new[cols], on=keys, suffixes=("_before", "_now"))
    m["loss_change_nats"] = m.test_loss_now - m.test_loss_before
    return m.sort_values(["n_params", "d_train_chars", "seed"]).reset_index(drop=True)


def has_checkpoint_replicates(runs: pd.DataFrame) -> bool:
    """Whether some (curriculum, N) of these fine-tunes has several pre-training checkpoints."""
    ft = runs[(runs.curriculum != "scratch") & runs.pretrain_id.notna()] if "pretrain_id" in runs else runs.iloc[0:0]
    return bool(len(ft)) and bool((ft.groupby(["curriculum", "n_params"]).pretrain_id.nunique() > 1).any())


def checkpoint_level_note(runs: pd.DataFrame, root=None) -> str:
    """Where the bootstrap's checkpoint level comes from for these fine-tunes, in a phrase: the table's
    own pre-training seeds (how many checkpoints over how many (size, curriculum) cells), the
    committed pre-training-seed pair (``external_checkpoint_noise``), or nowhere (held fixed)."""
    ft = runs[(runs.curriculum != "scratch") & runs.pretrain_id.notna()] if "pretrain_id" in runs else runs.iloc[0:0]
    if has_checkpoint_replicates(runs):
        from transfer_laws.analysis.bootstrap import arm

        per = ft.assign(_arm=arm(ft)).groupby(["curriculum", "n_params", "_arm"]).pretrain_id.nunique()
        several = per[per > 1]
        return (f"measured on these runs: {int(several.sum())} pre-training checkpoints over the {len(several)} "
                f"(size, curriculum, pre-training budget) cells that have several, pooled across sizes")
    noise = external_checkpoint_noise(runs, root)
    if noise is None:
        return "not estimable here (one checkpoint per size and curriculum, no committed pair): held fixed"
    committed = runs_frame(root)
    pair = committed[(committed.experiment == "pretrain-seed") & (committed.phase == "target")]
    where = ", ".join(f"{z}, {c}" for z, c in pair[["size", "curriculum"]].drop_duplicates().itertuples(index=False))
    return (f"borrowed: with one checkpoint per size and curriculum here, the spread is the one measured between "
            f"two pre-training seeds in the committed pretrain-seed runs ({where}), per D_F, applied to every "
            f"curriculum")


def external_checkpoint_noise(runs: pd.DataFrame, root=None, experiment: str = "pretrain-seed",
                              reference: str = "main") -> pd.DataFrame | None:
    """The checkpoint level for a table without checkpoint replicates (the first grid: one pre-training
    per size and curriculum): the spread of log D_T between the two pre-training seeds of the
    committed ``experiment`` (the first grid's n57k text pair), per D_F (``bootstrap.checkpoint_noise``),
    and the same spread assumed for every curriculum that has no estimate of its own (the pair is text
    only). None where the table has its own replicates, is not a subset of the committed runs of
    ``reference``, or nothing is committed to estimate it from."""
    from transfer_laws.analysis import bootstrap, experiments

    if has_checkpoint_replicates(runs) or "run_id" not in runs:
        return None
    committed = runs_frame(root)
    if not set(runs.run_id) <= set(committed.run_id) or not (runs.experiment == reference).all():
        return None  # not the committed runs of the reference experiment (a planted world, another table)
    try:
        pair = experiments.pretrain_seed(committed, experiment, reference)
    except (ValueError, experiments.ExperimentDataError):
        return None
    # the pair's own run noise comes out of its spread, read along the reference's from-scratch curves
    from transfer_laws.analysis.fitting import transfer_points

    ref = committed[(committed.experiment == reference) & (committed.curriculum == "scratch") & (committed.phase == "target")]
    noise = bootstrap.checkpoint_noise(pair, transfer_points(ref)[1], bootstrap.scratch_noise_by_size(ref))
    if noise.empty:
        return None
    have = set(noise.curriculum)
    borrowed = [noise[noise.curriculum == sorted(have)[0]].assign(curriculum=c)
                for c in sorted(set(runs.curriculum) - {"scratch"} - have)]
    return pd.concat([noise, *borrowed], ignore_index=True)
