"""The claims ledger: one row per claim of the paper (PAPER.md section 4), what the committed runs
measure, and a verdict by an explicit rule. Verdicts: reproduced, not reproduced, inconclusive
(testable, but the intervals are too wide), not testable (the runs lack what the test needs)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from transfer_laws.analysis.experiments import ExperimentDataError, finetune_lr
from transfer_laws.analysis import bootstrap
from transfer_laws.analysis import fits as fits_
from transfer_laws.analysis.compute import compute_frontier, ossification_map, time_on_frontier
from transfer_laws.analysis.fitting import _fit_points
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


def _fit(runs, cur, n_bootstrap, seed):
    try:
        return fits_.transfer_fit(runs, cur, n_bootstrap=n_bootstrap, seed=seed)
    except ValueError as exc:
        return str(exc)


def context(runs: pd.DataFrame, all_runs: pd.DataFrame, curves: pd.DataFrame, n_bootstrap: int, seed: int) -> Context:
    table0, fits0 = fits_.points(runs)
    scratch = runs[runs.curriculum == "scratch"]
    beyond = [n for n, c in fits0.items() if c.d_converged() > scratch[scratch.n_params == n].d_train_chars.max()]
    regime_note = (f" (low-data regime not located for {len(beyond)} of {len(fits0)} sizes: D(N) lies beyond the "
                   "largest from-scratch run, so every D_F counts as low-data)") if beyond else ""
    fits = {c: _fit(runs, c, n_bootstrap, seed) for c in ("text", "mix") if (runs.curriculum == c).any()}
    return Context(runs, all_runs, curves, n_bootstrap, seed, runs.n_params.nunique(), table0, regime_note, fits,
                   {c: f for c, f in fits.items() if not isinstance(f, str)})


def claim_1(ctx: Context) -> tuple:
    """Power law in D_F and N: held-out error against two alternatives (``heldout.power_law_test``)."""
    # 1: power law, judged by held-out error against two alternatives (analysis plan)
    if ctx.ok:
        parts, verdicts = [], []
        for c in ctx.ok:
            r = power_law_test(_fit_points(ctx.table0, c))
            verdicts.append(r["verdict"])
            parts.append(f"{c}: {r['verdict']} (leave-one-D_F-out |log error| median {r['d_finetune']['median_error']:.2f}, "
                         f"worst {r['d_finetune']['worst_error']:.2f}; against the alternatives, leaving D_F out: "
                         + ", ".join(f"{alt} {_versus(v)}" for alt, v in r["d_finetune"]["against"].items())
                         + "; leaving the largest size out: "
                         + ", ".join(f"{alt} {_versus(v)}" for alt, v in r["largest_size"]["against"].items()) + ")")
        verdict = ("not testable" if "not testable" in verdicts else "not reproduced" if "not reproduced" in verdicts
                   else "reproduced")
        return ("; ".join(parts) + ctx.regime_note, verdict if ctx.n_sizes >= 3 else "not testable (fewer than 3 sizes)",
            "held-out points resampled (paired 95% interval of the error difference)")
    else:
        return ("; ".join(f"{c}: {f}" for c, f in ctx.fits.items()) or "no fine-tunes", "not testable")


def claim_2(ctx: Context) -> tuple:
    """beta independent of the pre-training distribution: beta_text - beta_mix and an equivalence margin."""
    # 2: shared beta
    if {"text", "mix"} <= set(ctx.ok):
        try:
            sb = fits_.shared_beta(ctx.runs, ("text", "mix"), n_bootstrap=ctx.n_bootstrap, seed=ctx.seed)
            verdict = ("reproduced" if sb.equivalent else
                       "not reproduced" if sb.ci95[0] > 0 or sb.ci95[1] < 0 else "inconclusive")
            return (f"beta_text - beta_mix = {sb.beta_difference:.2f} [{sb.ci95[0]:.2f}, {sb.ci95[1]:.2f}]; "
                   f"equivalence within +-{sb.margin} {'shown' if sb.equivalent else 'not shown'} "
                   f"(design supports +-{sb.smallest_margin_supported:.2f})",
                verdict if ctx.n_sizes >= 3 else "not testable (fewer than 3 sizes)")
        except ValueError as exc:
            return (str(exc), "not testable")
    else:
        return ("needs fits for both text and mix", "not testable")


def claim_3(ctx: Context) -> tuple:
    """The mix transfers more at a reference (N, D_F) and has the lower alpha, on paired draws."""
    # 3: the mix has higher k and lower alpha: k compared where it is measured (D_T at a reference
    # (N, D_F) inside the grid) and alpha by its difference, both on paired draws
    if {"text", "mix"} <= set(ctx.ok):
        try:
            pc = fits_.paired(ctx.runs, ("mix", "text"), n_bootstrap=ctx.n_bootstrap, seed=ctx.seed)
            ratio, dal = pc["log_d_transferred_ratio"], pc["alpha_difference"]
            higher = ratio["ci"][0] > 0  # mix transfers more at the reference point
            lower = dal["ci"][1] < 0  # alpha_mix - alpha_text < 0
            reversed_ = ratio["ci"][1] < 0 or dal["ci"][0] > 0
            verdict = "reproduced" if higher and lower else "not reproduced" if reversed_ else "inconclusive"
            return (f"D_T mix / text at N = {pc['reference_n_params']:,.0f}, D_F = {pc['reference_d_train_chars']:,.0f} "
                   f"characters: {np.exp(ratio['point']):.3g}x [{np.exp(ratio['ci'][0]):.3g}, {np.exp(ratio['ci'][1]):.3g}]; "
                   f"alpha_mix - alpha_text = {dal['point']:.2f} [{dal['ci'][0]:.2f}, {dal['ci'][1]:.2f}]",
                verdict, f"the hierarchical bootstrap's paired draws ({ratio.get('draws', 0)})")
        except ValueError as exc:
            return (str(exc), "not testable")
    else:
        return ("needs fits for both text and mix", "not testable")


def claim_4(ctx: Context) -> tuple:
    """beta ~ 2 alpha for text: beta - 2 alpha on paired draws."""
    # 4: beta ~ 2 alpha (text), judged by beta - 2 alpha on paired draws (alpha's uncertainty counts)
    if "text" in ctx.ok and ctx.ok["text"].draws is not None and len(ctx.ok["text"].draws) >= 10:
        t = ctx.ok["text"]
        r = bootstrap.interval(t.draws[:, 2] - 2 * t.draws[:, 1], t.beta - 2 * t.alpha)
        lo, hi = r["ci"]
        verdict = "reproduced" if -0.25 <= lo and hi <= 0.25 else "not reproduced" if lo > 0 or hi < 0 else "inconclusive"
        return (f"beta - 2 alpha = {t.beta - 2 * t.alpha:.2f} [{lo:.2f}, {hi:.2f}] (beta {t.beta:.2f}, alpha {t.alpha:.2f})",
            verdict if ctx.n_sizes >= 3 else "not testable (fewer than 3 sizes)",
            f"the hierarchical bootstrap's paired draws ({r['draws']})")
    else:
        return ("needs a text fit with bootstrap draws", "not testable")


def claim_5(ctx: Context) -> tuple:
    """Fine-tuning more efficient than from scratch in the low-data regime."""
    # 5: effective data at equal fine-tuning data (the plan's test, loss at equal compute in both
    # halves of the range, is still to be built)
    if len(ctx.table0):
        low = ctx.table0[ctx.table0.low_data]
        mult = low.multiplier.median() if len(low) else np.nan
        return (f"low-data fine-tunes: median D_E/D_F = {mult:.2f} at equal fine-tuning data" + ctx.regime_note,
            "reproduced" if mult > 1 else "not reproduced" if mult < 1 else "not testable")
    else:
        return ("no fine-tunes", "not testable")


def claim_6(ctx: Context) -> tuple:
    """Ossification at the largest D_F of the smallest size, checked at the from-scratch learning rate."""
    # 6: ossification at the largest D_F of the smallest size (the worse curriculum), checked against
    # the finetune-lr experiment (the same fine-tune at the from-scratch learning rate) where it exists
    m = ossification_map(ctx.runs)
    if len(m):
        small = m[m.n_params == m.n_params.min()]
        small = small[small.d_train_chars == small.d_train_chars.max()]
        worst = small.loc[small.finetuned_minus_scratch.idxmax()]
        noise = worst.seed_sd if np.isfinite(worst.seed_sd) else np.nan
        margin = 2 * noise if np.isfinite(noise) else 0.02
        measured = (f"smallest size, largest D_F ({worst.d_train_chars:,.0f} chars): fine-tuned minus scratch = "
                    f"{worst.finetuned_minus_scratch:+.3f} nats ({worst.curriculum}); cells ossified: "
                    f"{int(m.ossified.sum())}/{len(m)}")
        verdict = "reproduced" if worst.finetuned_minus_scratch > margin else "not reproduced"
        try:
            if "experiment" not in ctx.all_runs:
                raise ExperimentDataError("the runs table has no experiment column")
            lr = finetune_lr(ctx.all_runs)
            cell = lr[(lr.n_params == worst.n_params) & (lr.curriculum == worst.curriculum)
                      & (lr.d_train_chars == worst.d_train_chars)]
        except ExperimentDataError:
            cell = pd.DataFrame()
        if len(cell):
            at_scratch_lr = float(cell.experiment_minus_scratch_nats.iloc[0])
            measured += f"; at the from-scratch learning rate {at_scratch_lr:+.3f} nats"
            if verdict == "reproduced":
                verdict = ("reproduced (also at the from-scratch learning rate)" if at_scratch_lr > margin else
                           "not reproduced (a learning-rate effect: gone at the from-scratch rate)")
        return (measured, verdict,
            f"seed sd {noise:.4f} nats" if np.isfinite(noise) else "one seed (margin 0.02 nats)")
    else:
        return ("no fine-tunes within the from-scratch range", "not testable")


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
        detail = ", ".join(f"N={n:,.0f}: {r['fine-tuned']:.2f} vs {r['scratch']:.2f}" for n, r in wide.iterrows())
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
            fmt = lambda r: (f"{np.exp(r['point']):.3g}x [{np.exp(r['ci'][0]):.3g}, {np.exp(r['ci'][1]):.3g}]"
                             if "ci" in r else f"{np.exp(r['point']):.3g}x")
            t = pc["log_multiplier_text"]
            verdict = ("not testable" if "ci" not in t else "reproduced (smaller than the paper's)" if t["ci"][0] > np.log(10)
                       else "not reproduced at this scale" if t["ci"][1] < np.log(10) else "inconclusive")
            return (f"median D_E/D_F at D_F = {pc['smallest_d_train_chars']:,.0f} characters: text {fmt(t)}, "
                   f"mix {fmt(pc['log_multiplier_mix'])} ({smallest.d_effective_status.eq('interpolated').mean():.0%} "
                   "interpolated); 'a lot' read as more than 10x", verdict,
                f"the hierarchical bootstrap's draws ({t.get('draws', 0)})")
        except ValueError as exc:
            return (str(exc), "not testable")
    else:
        return ("needs fine-tunes of both curricula", "not testable")


TESTS = {1: claim_1, 2: claim_2, 3: claim_3, 4: claim_4, 5: claim_5, 6: claim_6, 7: claim_7, 8: claim_8}


def ledger(runs: pd.DataFrame, all_runs: pd.DataFrame, curves: pd.DataFrame, n_bootstrap: int = fits_.STUDY_BOOTSTRAP,
           seed: int = fits_.STUDY_SEED) -> pd.DataFrame:
    """One row per claim: what the runs measure, the verdict of that claim's own test
    (``TESTS``), and the noise it was judged against."""
    ctx = context(runs, all_runs, curves, n_bootstrap, seed)
    rows = []
    for i, test in TESTS.items():
        measured, verdict, *noise = test(ctx)
        rows.append({"claim": i, "paper": CLAIMS[i], "measured here": measured, "verdict": verdict,
                     "seed noise": noise[0] if noise else ""})
    return pd.DataFrame(rows)
