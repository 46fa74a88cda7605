"""The claims ledger: one row per claim of the paper (PAPER.md section 4), what the committed runs
measure, and a verdict by an explicit rule. Verdicts: reproduced, not reproduced, inconclusive
(testable, but the intervals are too wide), not testable (the runs lack what the test needs)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from transfer_laws.analysis import bootstrap
from transfer_laws.analysis import fits as fits_
from transfer_laws.analysis.compute import (compute_frontier, equal_compute, holm, ossification_map,
                                            ossification_test, sign_test, time_on_frontier)
from transfer_laws.analysis.tuning import at_tuned_rate, one_per_replicate
from transfer_laws.analysis.fitting import LOW_DATA_SHARED_CHARS, _fit_points
from transfer_laws.analysis.heldout import power_law_test


def _versus(v: dict) -> str:
    """How an alternative fared against the power law: its mean error difference (power minus it)
    with the paired interval, and who won."""
    who = {"wins": "power law better", "loses": "alternative better", "ties": "tie"}.get(v["verdict"], v["verdict"])
    return f"{v['mean']:+.2f} [{v['ci95'][0]:+.2f}, {v['ci95'][1]:+.2f}] ({who})"

CLAIMS = {
    1: "D_T follows a power law in D_F and N in the low-data regime.",  # judged by heldout.power_law_test
    2: "beta does not depend on the pre-training distribution.",
    3: "The mix (closer to Python) has higher k and lower alpha than text.",
    4: "beta ~ 2 alpha for text: 100x fine-tuning data ~ 10x parameters.",
    5: "Ignoring pre-training compute, fine-tuning is more compute-efficient than training from scratch in the low-data regime.",
    6: "Ossification: small pre-trained models end up worse than from-scratch models when D_F is large.",
    7: "Fine-tuned models stay near the compute-efficient frontier for most of their training; from-scratch models touch it briefly.",
    8: "At small D_F, pre-training multiplies the effective fine-tuning data a lot (paper: ~1000x for 40M parameters at 3e5 characters).",
}


@dataclass
class Context:
    """What every claim's test reads: the study's runs, every committed run, the evaluation curves,
    the bootstrap's settings, the D_E table, and each curriculum's fit (or its error)."""

    runs: pd.DataFrame
    all_runs: pd.DataFrame
    curves: pd.DataFrame
    n_bootstrap: int
    seed: int
    n_sizes: int = 0
    table0: pd.DataFrame | None = None
    regime_note: str = ""
    fits: dict = field(default_factory=dict)
    ok: dict = field(default_factory=dict)
    windows: dict = field(default_factory=dict)  # run id -> per-window test losses (claim 6)
    d_converged: dict = field(default_factory=dict)  # N -> D(N) in characters, NaN beyond the data
    transfer: pd.DataFrame | None = None  # ``transfer_cells``: does pre-training lower the loss at all?

    def unmeasured(self, curricula) -> str:
        """'' when each curriculum's pre-training lowers the loss beyond noise in at least half of its
        cells (``transfer_measured``), else why a claim about its law's exponents cannot be judged."""
        why = []
        for c in curricula:
            lower, n = transfer_measured(self.transfer, c)
            if law_describes_transfer(self.transfer, c) is False:
                why.append(f"{c} pre-training lowers the loss beyond noise in {lower} of {n} cells")
        return ("; ".join(why) + ": its law describes no measured transfer") if why else ""


def _fit(runs, cur, n_bootstrap, seed):
    try:  # the primary fit (loss space; the headline's draws unless a test asks for fewer)
        return fits_.transfer_fit(runs, cur, n_bootstrap=n_bootstrap, seed=seed)
    except ValueError as exc:
        return str(exc)


def context(runs: pd.DataFrame, all_runs: pd.DataFrame, curves: pd.DataFrame, n_bootstrap: int, seed: int,
            windows: dict | None = None) -> Context:
    table0, fits0 = fits_.points(runs)
    scratch = runs[runs.curriculum == "scratch"]
    beyond = [n for n, c in fits0.items() if c.d_converged() > scratch[scratch.n_params == n].d_train_chars.max()]
    regime_note = (f" (D(N) not located for {len(beyond)} of {len(fits0)} sizes: it lies beyond the largest "
                   f"from-scratch run, so there the low-data regime is D_F ≤ {LOW_DATA_SHARED_CHARS:,.0f} characters, "
                   "the range every size shares, and no cell counts as near convergence)") if beyond else ""
    fits = {c: _fit(runs, c, n_bootstrap, seed) for c in ("text", "mix") if (runs.curriculum == c).any()}
    d_conv = {n: (np.nan if n in beyond else float(c.d_converged())) for n, c in fits0.items()}
    transfer = transfer_cells(runs, all_runs, windows) if windows else None
    return Context(runs, all_runs, curves, n_bootstrap, seed, runs.n_params.nunique(), table0, regime_note, fits,
                   {c: f for c, f in fits.items() if not isinstance(f, str)}, windows or {}, d_conv, transfer)


def mix_against_text(cells: pd.DataFrame | None) -> pd.DataFrame:
    """Per (N, D_F) tested for both curricula (``transfer_cells``): mix minus text fine-tuned loss (the
    difference of their differences from scratch), its standard error (the two errors added: an
    overstatement, since the shared from-scratch side cancels), Holm across cells, and which is lower."""
    from scipy.stats import norm

    if cells is None or not len(cells):
        return pd.DataFrame(columns=["n_params", "d_train_chars", "mix_minus_text", "se", "p_holm", "outcome"])
    key = ["n_params", "d_train_chars"]
    m = cells[cells.curriculum == "mix"].merge(cells[cells.curriculum == "text"], on=key, suffixes=("_mix", "_text"))
    out = m[key].copy()
    out["mix_minus_text"] = m.finetuned_minus_scratch_mix - m.finetuned_minus_scratch_text
    out["se"] = np.sqrt(m.se_mix ** 2 + m.se_text ** 2)
    p = 2 * norm.sf(np.abs(out.mix_minus_text) / out.se)
    out["p_holm"] = holm(np.nan_to_num(p, nan=1.0)) if len(out) else []
    out["outcome"] = np.where(out.p_holm < 0.05, np.where(out.mix_minus_text < 0, "mix lower", "text lower"),
                              "no difference")
    return out.reset_index(drop=True)


def text_against_mix(runs: pd.DataFrame, all_runs: pd.DataFrame, windows: dict | None,
                     min_seeds: int = 2) -> pd.DataFrame:
    """Rohin's direct test, cell by cell: per (N, D_F) with at least ``min_seeds`` text and mix
    fine-tunes at the tuned rate (one per replicate), on one device per cell, the text- minus the
    mix-pretrained test loss, with paired per-window errors plus both sides' seed spread
    (``compute.ossification_test`` with the mix as reference; no from-scratch run needed, so it
    reaches the largest D_F); Holm across cells; ``outcome``: 'mix lower', 'text lower' or 'no difference'."""
    from transfer_laws.analysis.study import device_matched

    pool, _, _ = device_matched(runs, all_runs)
    tuned = one_per_replicate(pool, at_tuned_rate(pool))
    cand = pool[pool.curriculum == "text"][["curriculum", "n_params", "d_train_chars"]].drop_duplicates()
    cells = ossification_test(pool, windows, cand, tuned, min_seeds=min_seeds, reference="mix")
    out = cells.rename(columns={"finetuned_minus_scratch": "text_minus_mix", "n_finetuned": "n_text",
                                "n_scratch": "n_mix"}).drop(columns="curriculum")
    out["p_holm"] = holm(out.p.fillna(1.0).to_numpy()) if len(out) else []
    out["outcome"] = np.where(out.p_holm < 0.05, np.where(out.text_minus_mix > 0, "mix lower", "text lower"),
                              "no difference")
    return out.sort_values(["n_params", "d_train_chars"]).reset_index(drop=True)


def transfer_measured(cells: pd.DataFrame | None, curriculum: str) -> tuple[int, int]:
    """(cells where pre-training on ``curriculum`` lowers the loss beyond noise, cells tested), from
    ``transfer_cells``; (0, 0) without them. The ledger judges a claim about a law's exponents only
    where the first is at least half the second (analysis_plan.md, amendment 10)."""
    if cells is None or not len(cells):
        return 0, 0
    g = cells[cells.curriculum == curriculum]
    return int((g.outcome == "lower").sum()), len(g)


def law_describes_transfer(cells: pd.DataFrame | None, curriculum: str) -> bool | None:
    """The rule of amendment 10: whether ``curriculum``'s pre-training lowers the loss beyond noise in
    at least half of its tested cells (``transfer_measured``); None where no cell was tested."""
    lower, n = transfer_measured(cells, curriculum)
    return None if not n else 2 * lower >= n


FORM_NAMES = {"no_d_finetune": "c N^β (no D_F)", "saturating": "a law saturating in D_F"}


def claim_1(ctx: Context) -> tuple:
    """Power law in D_F and N: held-out error against two alternatives (``heldout.power_law_test``).
    The ledger's line says the power law's held-out error and which alternative predicts better; the
    whole test (every paired difference, both designs) is its detail."""
    # 1: power law, judged by held-out error against two alternatives (analysis plan)
    if ctx.ok:
        parts, details, verdicts = [], [], []
        for c in ctx.ok:
            why = ctx.unmeasured([c])
            if why:  # no measured transfer: nothing for a power law to describe
                parts.append(f"{c}: not judged ({why})")
                details.append(f"{c}: not judged ({why})")
                continue
            r = power_law_test(_fit_points(ctx.table0, c))
            verdicts.append(r["verdict"])
            against = [(alt, v) for design in ("d_finetune", "largest_size") for alt, v in r[design]["against"].items()]
            better = sorted({alt for alt, v in against if v["verdict"] == "loses"})
            parts.append(f"{c}: held-out |log D_T| error median {r['d_finetune']['median_error']:.2f}, worst "
                         f"{r['d_finetune']['worst_error']:.2f} (one D_F left out); "
                         + ("predicted better by " + " and ".join(FORM_NAMES.get(a, a) for a in better) if better
                            else "no alternative predicts better"))
            details.append(f"{c}: {r['verdict']} (leave-one-D_F-out |log error| median {r['d_finetune']['median_error']:.2f}, "
                           f"worst {r['d_finetune']['worst_error']:.2f}; against the alternatives, leaving D_F out: "
                           + ", ".join(f"{alt} {_versus(v)}" for alt, v in r["d_finetune"]["against"].items())
                           + "; leaving the largest size out: "
                           + ", ".join(f"{alt} {_versus(v)}" for alt, v in r["largest_size"]["against"].items()) + ")")
        verdict = ("not testable" if not verdicts or "not testable" in verdicts else "not reproduced"
                   if "not reproduced" in verdicts else "reproduced")
        if verdicts and len(verdicts) < len(ctx.ok):
            verdict += f" ({', '.join(c for c in ctx.ok if not ctx.unmeasured([c]))} only)"
        return ("; ".join(parts) + ctx.regime_note, verdict if ctx.n_sizes >= 3 else "not testable (fewer than 3 sizes)",
                "held-out points resampled (paired 95% interval of the error difference)",
                "; ".join(details) + ctx.regime_note)
    else:
        return ("; ".join(f"{c}: {f}" for c, f in ctx.fits.items()) or "no fine-tunes", "not testable")


def claim_2(ctx: Context) -> tuple:
    """beta independent of the pre-training distribution: beta_text - beta_mix and an equivalence margin."""
    # 2: shared beta
    if {"text", "mix"} <= set(ctx.ok) and ctx.unmeasured(("text", "mix")):
        return (ctx.unmeasured(("text", "mix")), "not testable (no measured transfer)")
    if {"text", "mix"} <= set(ctx.ok):
        try:
            sb = fits_.shared_beta(ctx.runs, ("text", "mix"), n_bootstrap=ctx.n_bootstrap, seed=ctx.seed)
            verdict = ("reproduced" if sb.equivalent else
                       "not reproduced" if sb.ci95[0] > 0 or sb.ci95[1] < 0 else "inconclusive")
            return (f"β_text − β_mix = {sb.beta_difference:.2f} [{sb.ci95[0]:.2f}, {sb.ci95[1]:.2f}]; "
                   f"equivalence within ±{sb.margin} {'shown' if sb.equivalent else 'not shown'} "
                   f"(design supports ±{sb.smallest_margin_supported:.2f})",
                verdict if ctx.n_sizes >= 3 else "not testable (fewer than 3 sizes)")
        except ValueError as exc:
            return (str(exc), "not testable")
    else:
        return ("needs fits for both text and mix", "not testable")


def claim_3(ctx: Context) -> tuple:
    """The mix transfers more at a reference (N, D_F) and has the lower alpha, on paired draws."""
    # 3: the mix has higher k and lower alpha: k compared where it is measured (D_T at a reference
    # (N, D_F) inside the grid) and alpha by its difference, both on paired draws
    if {"text", "mix"} <= set(ctx.ok) and ctx.unmeasured(("text", "mix")):
        # no alpha to order; the D_T half read cell by cell: mix minus text fine-tuned loss at equal
        # (N, D_F), each side's difference from scratch with its error (the shared from-scratch side
        # cancels, so adding the two errors overstates the difference's), Holm across cells
        counts = {c: transfer_measured(ctx.transfer, c) for c in ("mix", "text")}
        said = (ctx.unmeasured(("text", "mix")) + "; cells where pre-training lowers the loss beyond noise: "
                + ", ".join(f"{c} {a} of {n}" for c, (a, n) in counts.items()))
        both = mix_against_text(ctx.transfer)
        if both.empty:
            return said, "not testable (no measured transfer)"
        ahead, behind = int((both.outcome == "mix lower").sum()), int((both.outcome == "text lower").sum())
        said += (f"; mix minus text fine-tuned loss at equal (N, D_F): mix lower in {ahead} of {len(both)} cells, "
                 f"text lower in {behind} (median {both.mix_minus_text.median():+.2f} nats, Holm)")
        half = ("reproduced" if 2 * ahead > len(both) and not behind else
                "not reproduced" if 2 * behind > len(both) else "inconclusive")
        return said, f"{half} (higher-D_T half; lower α not testable: no measured transfer)", \
            "paired per-window standard errors plus the seeds' spread, each side against from scratch; Holm"
    if {"text", "mix"} <= set(ctx.ok):
        try:
            pc = fits_.paired(ctx.runs, ("mix", "text"), n_bootstrap=ctx.n_bootstrap, seed=ctx.seed)
            ratio, dal = pc["log_d_transferred_ratio"], pc["alpha_difference"]
            higher = ratio["ci"][0] > 0  # mix transfers more at the reference point
            lower = dal["ci"][1] < 0  # alpha_mix - alpha_text < 0
            reversed_ = ratio["ci"][1] < 0 or dal["ci"][0] > 0
            verdict = "reproduced" if higher and lower else "not reproduced" if reversed_ else "inconclusive"
            return (f"D_T mix / text at N = {pc['reference_n_params']:,.0f}, D_F = {pc['reference_d_train_chars']:,.0f} "
                   f"characters: {np.exp(ratio['point']):.3g}× [{np.exp(ratio['ci'][0]):.3g}, {np.exp(ratio['ci'][1]):.3g}]; "
                   f"α_mix − α_text = {dal['point']:.2f} [{dal['ci'][0]:.2f}, {dal['ci'][1]:.2f}]",
                verdict, f"the hierarchical bootstrap's paired draws ({ratio.get('draws', 0)})")
        except ValueError as exc:
            return (str(exc), "not testable")
    else:
        return ("needs fits for both text and mix", "not testable")


def claim_4(ctx: Context) -> tuple:
    """beta ~ 2 alpha for text: beta - 2 alpha on paired draws."""
    # 4: beta ~ 2 alpha (text), judged by beta - 2 alpha on paired draws (alpha's uncertainty counts)
    if "text" in ctx.ok and ctx.unmeasured(("text",)):
        return (ctx.unmeasured(("text",)), "not testable (no measured transfer)")
    if "text" in ctx.ok and ctx.ok["text"].draws is not None and len(ctx.ok["text"].draws) >= 10:
        t = ctx.ok["text"]
        r = bootstrap.interval(t.draws[:, 2] - 2 * t.draws[:, 1], t.beta - 2 * t.alpha)
        lo, hi = r["ci"]
        # analysis_plan.md: reproduced when the interval contains 0 and lies within +-0.25; not
        # reproduced when it excludes 0 (an interval inside +-0.25 that excludes 0 is not agreement)
        verdict = ("not reproduced" if lo > 0 or hi < 0 else "reproduced" if -0.25 <= lo and hi <= 0.25
                   else "inconclusive")
        return (f"β − 2α = {t.beta - 2 * t.alpha:.2f} [{lo:.2f}, {hi:.2f}] (β {t.beta:.2f}, α {t.alpha:.2f})",
            verdict if ctx.n_sizes >= 3 else "not testable (fewer than 3 sizes)",
            f"the hierarchical bootstrap's paired draws ({r['draws']})")
    else:
        return ("needs a text fit with bootstrap draws", "not testable")


def _regime(ctx: Context) -> pd.DataFrame:
    """Per fine-tune cell (curriculum, N, D_F): ``low_data`` and ``near_convergence`` (D_F above
    D(N)/10 where D(N) is located) as the D_E table sets them."""
    keys = ["curriculum", "n_params", "d_train_chars"]
    if ctx.table0 is None or not len(ctx.table0):
        return pd.DataFrame(columns=[*keys, "low_data", "near_convergence"])
    t = ctx.table0 if "near_convergence" in ctx.table0 else ctx.table0.assign(near_convergence=~ctx.table0.low_data)
    return t.groupby(keys, as_index=False)[["low_data", "near_convergence"]].first()


def _direction(t: dict) -> str:
    """A sign test's reading: 'holds', 'fails' (significant the other way) or 'inconclusive'."""
    if not t["n"]:
        return "not testable"
    if t["p"] < 0.05:
        return "holds" if t["positive"] > t["n"] / 2 else "fails"
    return "inconclusive"


def _multiplier(m) -> str:
    m = np.asarray(m, float)
    m = m[np.isfinite(m)]
    return f"elsewhere it needed a median {np.median(m):.3g}× the compute" if len(m) else "no finite multiplier"


def claim_5(ctx: Context) -> tuple:
    """Compute efficiency: fine-tuned against from-scratch loss at equal fine-tuning compute, in the
    low-data regime (fine-tuning ahead) and near convergence (less ahead), with and without the
    pre-training compute (``compute.equal_compute``; sign tests across cells)."""
    keys = ["curriculum", "n_params", "d_train_chars"]
    per_run = {inc: equal_compute(ctx.runs, ctx.curves, include_pretrain=inc, pretrain_runs=ctx.all_runs)
               for inc in (False, True)}
    if per_run[False].empty:
        return ("needs fine-tunes with a from-scratch run of the same size on the same D, with curves", "not testable")
    regime = _regime(ctx)
    cells = {inc: df.groupby(keys, as_index=False)[["advantage_nats", "compute_multiplier"]].median()
             .merge(regime, on=keys, how="inner") for inc, df in per_run.items()}
    c = cells[False]
    low, near = c[c.low_data.astype(bool)], c[c.near_convergence.astype(bool)]
    first = sign_test(low.advantage_nats)
    # second half: per (curriculum, N) with both regimes, the advantage near convergence minus in the
    # low-data regime (negative: less efficient near convergence)
    pairs = [(g[g.near_convergence.astype(bool)].advantage_nats.median()
              - g[g.low_data.astype(bool)].advantage_nats.median())
             for _, g in c.groupby(["curriculum", "n_params"])
             if g.low_data.astype(bool).any() and g.near_convergence.astype(bool).any()]
    second = sign_test(-np.asarray(pairs, float))
    with_pre = cells[True]
    wp = sign_test(with_pre[with_pre.low_data.astype(bool)].advantage_nats)
    h1, h2 = _direction(first), _direction(second)
    med = lambda x: f"{np.nanmedian(x):+.3f}" if len(x) else "n/a"
    measured = (f"low-data cells: fine-tuned ahead at equal fine-tuning compute in {first['positive']} of "
                f"{first['n']} (median {med(low.advantage_nats)} nats, p = {first['p']:.2g}; from scratch never "
                f"reached the fine-tuned loss in {np.isinf(low.compute_multiplier).mean():.0%} of them, "
                f"{_multiplier(low.compute_multiplier)}); near convergence: "
                + (f"median advantage {med(near.advantage_nats)} nats over {len(near)} cell(s), smaller than in the "
                   f"low-data regime at {second['positive']} of {second['n']} (curriculum, N)" if len(near) else
                   "no cell above D(N)/10 at a size whose D(N) is located")
                + "; counting the pre-training compute, "
                + (f"fine-tuned ahead in {wp['positive']} of {wp['n']} low-data cells (from-scratch runs had stopped "
                   f"before that compute in {per_run[True].scratch_exhausted.mean():.0%} of the fine-tunes)"
                   if len(per_run[True]) else "not measured (no pre-training compute recorded)") + ctx.regime_note)
    # the first half decides unless it holds; then the second half qualifies it
    first_half = {"not testable": "not testable", "fails": "not reproduced", "inconclusive": "inconclusive"}
    second_half = {"holds": "reproduced", "fails": "not reproduced (near convergence fine-tuning stays as far ahead)",
                   "not testable": "reproduced (low-data half; near convergence not testable)",
                   "inconclusive": "inconclusive (near convergence)"}
    verdict = first_half.get(h1) or second_half[h2]
    return (measured, verdict, "cells as replicates (two-sided sign tests at 5%); validation loss on the curves")


# Refusals that only say a run ended on its horizon still improving. Claim 6 admits such runs at
# equal training: both sides of a cell trained for the same number of steps (analysis_plan.md,
# amendment 6: at the grid's high-data cells no small model converges within an affordable horizon).
HORIZON_REFUSALS = ("unresolved", "capped")
EQUAL_STEPS_RTOL = 0.02


def equal_training_pool(runs: pd.DataFrame, all_runs: pd.DataFrame) -> tuple[pd.DataFrame, set]:
    """The study's runs plus the runs of its experiments, sizes, tokenizer and pre-training budgets
    that were refused only for ending on their horizon (``HORIZON_REFUSALS``), where the two sides of
    their (N, D) cell trained for the same number of steps (their longest runs within
    ``EQUAL_STEPS_RTOL``); and the ids of those admitted runs."""
    from transfer_laws.analysis.selection import exclusion_reasons

    a, r = all_runs, runs
    need = {"unresolved", "vs_checkpoint_nats", "vs_checkpoint_se", "steps", "experiment", "n_params", "phase"}
    if a is None or a.empty or not need <= set(a.columns) or r.empty:
        return r, set()
    a = a[~a.run_id.isin(r.run_id) & (a.phase == "target") & a.experiment.isin(r.experiment.unique())
          & a.n_params.isin(r.n_params.unique())]
    if "tokenizer" in a:
        a = a[a.tokenizer.fillna("main") == "main"]
    if "pretrain_tokens" in a and "pretrain_tokens" in r:
        budgets = set(r.loc[r.curriculum != "scratch", "pretrain_tokens"].dropna())
        a = a[(a.curriculum == "scratch") | a.pretrain_tokens.isin(budgets)]
    a = a[exclusion_reasons(a).isin(HORIZON_REFUSALS)]
    pool = pd.concat([r, a], ignore_index=True)
    keep = []
    for (n, d), g in a.groupby(["n_params", "d_train_chars"]):
        cell = pool[(pool.n_params == n) & (pool.d_train_chars == d)]
        sc = cell[cell.curriculum == "scratch"].steps.astype(float)
        for cur, ft in cell[cell.curriculum != "scratch"].groupby("curriculum"):
            if len(sc) and np.isclose(ft.steps.astype(float).max(), sc.max(), rtol=EQUAL_STEPS_RTOL):
                keep += list(g[g.curriculum.isin([cur, "scratch"])].run_id)
    admitted = set(keep)
    pool = pd.concat([r, a[a.run_id.isin(admitted)]], ignore_index=True)
    return pool, admitted


def _largest_d(finetunes: pd.DataFrame) -> pd.DataFrame:
    """Each (curriculum, N)'s largest D_F among these fine-tunes: the cells claim 6 is about."""
    return finetunes.groupby(["curriculum", "n_params"]).d_train_chars.max().reset_index()


def largest_d_runs(runs: pd.DataFrame, all_runs: pd.DataFrame) -> pd.DataFrame:
    """The runs claim 6 reads from, before its rate and seed checks: per size, the fine-tunes at
    each curriculum's largest D_F and the from-scratch runs at those D (``equal_training_pool``), with
    ``admitted`` (True where a run enters only at equal training). For the chapter's figure."""
    pool, admitted = equal_training_pool(runs, all_runs)
    ft = pool[pool.curriculum != "scratch"]
    if ft.empty:
        return pool.iloc[0:0].assign(admitted=False)
    top = _largest_d(ft)
    keep = ft.merge(top, on=["curriculum", "n_params", "d_train_chars"]).run_id
    sc = pool[(pool.curriculum == "scratch")
              & pd.MultiIndex.from_frame(pool[["n_params", "d_train_chars"]]).isin(
                  pd.MultiIndex.from_frame(top[["n_params", "d_train_chars"]]))]
    out = pool[pool.run_id.isin(set(keep) | set(sc.run_id))]
    return out.assign(admitted=out.run_id.isin(admitted)).reset_index(drop=True)


def transfer_cells(runs: pd.DataFrame, all_runs: pd.DataFrame, windows: dict | None, min_seeds: int = 3) -> pd.DataFrame:
    """Does pre-training lower the loss at all? Per (curriculum, N, D_F) with at least ``min_seeds``
    runs a side at the tuned rate (one per replicate), on one device per cell: fine-tuned minus
    from-scratch test loss at the same D_F, with paired per-window errors plus the seeds' spread, as
    claim 6 measures it (``compute.ossification_test``), and no curve in between (D_T > 0 exactly when
    the fine-tuned loss is below the from-scratch loss at the same D_F). ``p_holm``: Holm across each
    curriculum's cells; ``outcome``: 'lower' or 'higher' where that is below 0.05, else 'no difference'.
    ``windows=None``: unpaired, from each run's own standard error (``compute.ossification_test``)."""
    from transfer_laws.analysis.study import device_matched

    pool, _, _ = device_matched(runs, all_runs)
    tuned = one_per_replicate(pool, at_tuned_rate(pool))
    cand = pool[pool.curriculum != "scratch"][["curriculum", "n_params", "d_train_chars"]].drop_duplicates()
    cells = ossification_test(pool, windows, cand, tuned, min_seeds=min_seeds)
    cells["p_holm"] = np.nan
    for _, g in cells.groupby("curriculum"):
        cells.loc[g.index, "p_holm"] = holm(g.p.fillna(1.0).to_numpy())
    diff = cells.finetuned_minus_scratch
    cells["outcome"] = np.where(cells.p_holm < 0.05, np.where(diff < 0, "lower", "higher"), "no difference")
    return cells.sort_values(["curriculum", "n_params", "d_train_chars"]).reset_index(drop=True)


def claim_6(ctx: Context) -> tuple:
    """Ossification: per (curriculum, N), at its largest D_F where that has at least 3 runs a side at
    the tuned rate (the grid's high-data cells, D_F = 3e6 at the three smallest sizes), fine-tuned minus
    from-scratch test loss with paired per-window errors plus the seeds' spread
    (``compute.ossification_test``); Holm across sizes. Runs that ended on their horizon still
    improving are admitted at equal training (``equal_training_pool``), and the line says so."""
    from transfer_laws.analysis.study import device_matched

    pool, admitted = equal_training_pool(ctx.runs, ctx.all_runs)
    pool, n_twins, mixed = device_matched(pool, ctx.all_runs)  # one device per (N, D) cell
    tuned = one_per_replicate(pool, at_tuned_rate(pool))
    ft = pool[pool.curriculum != "scratch"]
    cand = ft[["curriculum", "n_params", "d_train_chars"]].drop_duplicates()
    cells = ossification_test(pool, ctx.windows, cand, tuned)
    if len(cells):  # the claim is about large D_F: each (curriculum, N) at its largest D_F only
        cells = cells.merge(_largest_d(ft), on=["curriculum", "n_params", "d_train_chars"])
    if cells.empty:
        # what the untuned, single-seed runs show, as context for 'not testable'
        m = ossification_map(ctx.runs)
        context_note = ""
        if len(m):
            small = m[m.n_params == m.n_params.min()]
            worst = small.loc[small.d_train_chars.idxmax()]
            context_note = (f"; without those checks (untuned rates, {int(worst.n_seeds)} seed(s)), the smallest size "
                            f"at D_F = {worst.d_train_chars:,.0f}: fine-tuned minus scratch {worst.finetuned_minus_scratch:+.3f}"
                            f" nats ({worst.curriculum})")
        return (f"no size has 3 runs per side at its largest D_F at the tuned rate, with per-window test losses "
                f"({int(tuned.sum())} run(s) at a tuned rate){context_note}",
                "not testable", "paired per-window errors plus seed spread (none qualify)")
    top = cells.loc[cells.groupby(["curriculum", "n_params"]).d_train_chars.idxmax()].copy()
    top["p_holm"] = holm(top.p.to_numpy())
    top["ossified"] = (top.finetuned_minus_scratch > 0) & (top.p_holm < 0.05)
    top["ahead"] = (top.finetuned_minus_scratch < 0) & (top.p_holm < 0.05)
    smallest = top[top.n_params == top.n_params.min()]
    d_conv = ctx.d_converged

    def where(r) -> str:
        dc = d_conv.get(r.n_params, np.nan)
        regime = f"D_F/D(N) = {r.d_train_chars / dc:.2g}" if np.isfinite(dc) else "D(N) not located"
        cell = pool[(pool.n_params == r.n_params) & (pool.d_train_chars == r.d_train_chars)
                    & pool.curriculum.isin([r.curriculum, "scratch"])]
        cell = cell[tuned.loc[cell.index].astype(bool)]
        steps = cell.steps.astype(float).max() if "steps" in cell else np.nan
        equal = (f", at equal training ({steps:,.0f} steps a side, {int(cell.run_id.isin(admitted).sum())} "
                 "run(s) still improving at the end)") if cell.run_id.isin(admitted).any() else ""
        return f"{regime}{equal}"

    name = _size_names(ctx.runs)
    detail = "; ".join(f"{r.curriculum} {name(r.n_params)} D_F={r.d_train_chars:,.0f}: {r.finetuned_minus_scratch:+.3f} "
                       f"± {r.se:.3f} nats (Holm p = {r.p_holm:.2g}; {where(r)})" for r in top.itertuples())
    verdict = ("reproduced" if smallest.ossified.any() else
               "not reproduced" if smallest.ahead.all() else "inconclusive")
    if verdict != "inconclusive" and smallest.d_train_chars.isin(pool[pool.run_id.isin(admitted)].d_train_chars).any():
        verdict += " (at equal training)"
    devices = (f"; one device per cell ({n_twins} GPU run(s) replaced by their CPU twins" if n_twins else "") + \
        (f"{'; ' if not n_twins else ', '}{len(mixed)} mixed cell(s) left out" if mixed else "") + (")" if n_twins else "")
    return (f"fine-tuned minus from-scratch test loss at the tuned rate, at each size's largest D_F (3 runs a side): "
            f"{detail}{devices}", verdict,
            "paired per-window standard errors plus the seeds' spread (>= 3 per side), Holm across sizes")


def _size_names(runs: pd.DataFrame):
    """n_params -> the ladder's name of that size (n13k), or N=12,768 where the runs carry none."""
    from transfer_laws.analysis.study import size_names

    names = size_names(runs)

    def name(n) -> str:
        return names.get(n, f"N = {n:,.0f}")
    return name


def claim_7(ctx: Context) -> tuple:
    """Fine-tunes near their size's compute frontier for most of training, from scratch briefly."""
    # 7: time near the compute frontier, per size
    pts = compute_frontier(ctx.curves[ctx.curves.run_id.isin(ctx.runs.run_id)], ctx.all_runs)
    on = time_on_frontier(pts)
    if len(on) and (on.curriculum == "scratch").any() and (on.curriculum != "scratch").any():
        # each size's own frontier (its fine-tunes and from-scratch runs together)
        sized = pts.merge(ctx.all_runs[["run_id", "n_params"]], on="run_id", how="left")
        per = time_on_frontier(sized, by="n_params")
        per["kind"] = np.where(per.curriculum == "scratch", "scratch", "fine-tuned")
        wide = per.groupby(["n_params", "kind"]).fraction_on_frontier.mean().unstack("kind").dropna()
        holds = (wide["fine-tuned"] > 0.5) & (wide["scratch"] < wide["fine-tuned"])
        name = _size_names(ctx.runs)
        detail = ", ".join(f"{name(n)}: {r['fine-tuned']:.2f} vs {r['scratch']:.2f}" for n, r in wide.iterrows())
        verdict7 = ("reproduced" if len(wide) and holds.all() else "not reproduced" if len(wide) and not holds.any()
                    else "inconclusive" if len(wide) else "not testable")
        return (f"per size, mean fraction of evaluation points within 1% of that size's frontier, fine-tunes vs "
               f"from scratch: {detail}; the rule (fine-tunes above 0.5 and above from scratch) holds at "
               f"{int(holds.sum())} of {len(wide)} sizes", verdict7, "descriptive fractions of each run's evaluations")
    else:
        return ("needs curves of both kinds", "not testable")


def claim_8(ctx: Context) -> tuple:
    """The multiplier D_E / D_F at the smallest D_F, with its interval."""
    # 8: multiplier at the smallest D_F with its interval (judged on text, the paper's Figure 1 case)
    table = ctx.table0
    if len(table) and {"text", "mix"} <= set(ctx.ok):
        try:
            pc = fits_.paired(ctx.runs, ("mix", "text"), n_bootstrap=ctx.n_bootstrap, seed=ctx.seed)
            smallest = table[table.d_train_chars == table.d_train_chars.min()]
            fmt = lambda r, c: (("at most " if pc.get(f"multiplier_is_upper_bound_{c}") else "")
                                + (f"{np.exp(r['point']):.3g}× [{np.exp(r['ci'][0]):.3g}, {np.exp(r['ci'][1]):.3g}]"
                                   if "ci" in r else f"{np.exp(r['point']):.3g}×"))
            t = pc["log_multiplier_text"]
            worse = {c: int(smallest[smallest.curriculum == c].d_effective_upper.notna().sum())
                     if "d_effective_upper" in smallest else 0 for c in ("text", "mix")}
            hurt = ", ".join(f"{c} {w} of {int((smallest.curriculum == c).sum())}" for c, w in worse.items() if w)
            verdict = ("not testable" if "ci" not in t else "reproduced (smaller than the paper's)" if t["ci"][0] > np.log(10)
                       else "not reproduced at this scale" if t["ci"][1] < np.log(10) else "inconclusive")
            if verdict.startswith("reproduced") and pc.get("multiplier_is_upper_bound_text"):
                verdict = "inconclusive"  # an upper bound cannot show 'more than 10x
            m = pc["log_multiplier_mix"]
            if verdict != "not testable" and "ci" in m:  # the verdict is text's; say where the mix stands
                mix_side = ("above" if m["ci"][0] > np.log(10) else "below" if m["ci"][1] < np.log(10) else "near")
                verdict += f" (judged on text, the paper's case; the mix's is {mix_side} 10×)"
            return (f"median D_E/D_F at D_F = {pc['smallest_d_train_chars']:,.0f} characters: text {fmt(t, 'text')}, "
                   f"mix {fmt(pc['log_multiplier_mix'], 'mix')} ({smallest.d_effective_status.eq('interpolated').mean():.0%} "
                   "interpolated" + (f"; worse than from scratch on the same data, counted at the bound D_E < D_min: "
                                     f"{hurt}" if hurt else "") + "); 'a lot' read as more than 10x", verdict,
                f"the hierarchical bootstrap's draws ({t.get('draws', 0)})")
        except ValueError as exc:
            return (str(exc), "not testable")
    else:
        return ("needs fine-tunes of both curricula", "not testable")


TESTS = {1: claim_1, 2: claim_2, 3: claim_3, 4: claim_4, 5: claim_5, 6: claim_6, 7: claim_7, 8: claim_8}


def ledger(runs: pd.DataFrame, all_runs: pd.DataFrame, curves: pd.DataFrame, n_bootstrap: int | None = None,
           seed: int = fits_.STUDY_SEED, windows: dict | None = None, only=None) -> pd.DataFrame:
    """One row per claim: what the runs measure, the verdict of that claim's own test
    (``TESTS``), the noise it was judged against, and the test in full (``detail``: where a claim's
    line is a summary). ``windows``: run id -> per-window test losses
    (``study.window_losses``), which claim 6's paired errors read. ``only``: these claims' rows (a
    chapter's closing), from the same tests and the same shared fits as the whole ledger."""
    ctx = context(runs, all_runs, curves, n_bootstrap, seed, windows)
    rows = []
    for i, test in TESTS.items():
        if only is not None and i not in only:
            continue
        measured, verdict, *rest = test(ctx)
        rows.append({"claim": i, "paper": CLAIMS[i], "measured here": measured, "verdict": verdict,
                     "seed noise": rest[0] if rest else "", "detail": rest[1] if len(rest) > 1 else measured})
    return pd.DataFrame(rows)
