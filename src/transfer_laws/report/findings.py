"""The opening's computed content: the findings in a few sentences, the verdicts at a glance with
links to their evidence, and the rows of the constants' forest plot (pandas/numpy only; the fits
and the ledger are computed by ``analysis`` and passed in).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from transfer_laws.analysis.laws import PAPER_MIX, PAPER_TEXT, TransferLaw
from transfer_laws.report.tables import interval, sig

PAPER = {"text": PAPER_TEXT, "mix": PAPER_MIX}
METHOD_NAMES = {"loss": "loss-space", "direct": "direct log-space", "paper": "paper's logit"}
# marks drawn from fonts every system has (DejaVu, Liberation): no colour emoji needed
MARKS = {"reproduced": "✓", "not reproduced": "✗", "inconclusive": "◐", "not testable": "–"}
COLOURS = {"reproduced": "#1a7f37", "not reproduced": "#cf222e", "inconclusive": "#9a6700", "not testable": "#57606a"}
# where each claim's evidence is shown (chapter file, without extension)
EVIDENCE = {1: "07_transfer_law", 2: "07_transfer_law", 3: "07_transfer_law", 4: "07_transfer_law",
            5: "08_ossification_compute", 6: "08_ossification_compute", 7: "08_ossification_compute",
            8: "06_effective_data"}
SHORT = {1: "D_T is a power law in D_F and N", 2: "β does not depend on the pre-training data",
         3: "closer pre-training: higher k, lower α", 4: "β ≈ 2α for text",
         5: "fine-tuning is more compute-efficient (low data)", 6: "ossification of small models",
         7: "fine-tunes stay on the compute frontier", 8: "large multipliers at small D_F"}


def verdict_word(verdict: str) -> str:
    """The ledger verdict's leading category ('reproduced (low-data half...)' -> 'reproduced')."""
    for word in ("not reproduced", "not testable", "inconclusive", "reproduced"):
        if verdict.startswith(word):
            return word
    return verdict


def verdict_table(ledger: pd.DataFrame, link: bool = True) -> pd.DataFrame:
    """One row per claim: its short name, the verdict with its mark, and a link to the chapter that
    shows the evidence (HTML, for ``tables.show``)."""
    rows = []
    for r in ledger.itertuples():
        word = verdict_word(r.verdict)
        chapter = EVIDENCE.get(r.claim)
        where = f'<a href="{chapter}.html">{chapter.split("_", 1)[1].replace("_", " ")}</a>' if (link and chapter) \
            else (chapter or "")
        mark = (f'<span style="color:{COLOURS[word]};font-weight:bold">{MARKS[word]}</span> {r.verdict}'
                if (link and word in MARKS) else f"{MARKS.get(word, '')} {r.verdict}")
        rows.append({"claim": f"{r.claim}. {SHORT.get(r.claim, r.paper)}", "verdict": mark, "evidence": where})
    return pd.DataFrame(rows)


def verdicts_side_by_side(ledgers: dict) -> pd.DataFrame:
    """One row per claim, one column per ledger (name -> ``claims.ledger``): each verdict's mark and
    category, and ``changed`` where the categories differ (the reproducing chapter's comparison of
    the two recipes' verdicts)."""
    rows = {}
    for name, ledger in ledgers.items():
        for r in ledger.itertuples():
            word = verdict_word(r.verdict)
            row = rows.setdefault(r.claim, {"claim": f"{r.claim}. {SHORT.get(r.claim, r.paper)}"})
            row[name] = f"{MARKS.get(word, '')} {word}".strip()
            row.setdefault("_words", set()).add(word)
    out = pd.DataFrame([{**{k: v for k, v in row.items() if k != "_words"},
                         "changed": "yes" if len(row["_words"]) > 1 else ""} for _, row in sorted(rows.items())])
    return out


def claims_close(ledger: pd.DataFrame) -> str:
    """A chapter's closing, in Markdown: each of its claims with its verdict's mark, what the runs
    measure and the noise it was judged against (rows of ``claims.ledger``)."""
    lines = ["**For the paper's claims** (the ledger's tests, fixed in `analysis_plan.md`):", ""]
    for _, r in ledger.iterrows():
        word = verdict_word(r["verdict"])
        noise = r.get("seed noise", "") or ""
        lines.append(f"- {MARKS.get(word, '')} **{r['claim']}. {SHORT.get(r['claim'], r['paper'])}: {r['verdict']}.** "
                     f"{r['measured here']}" + (f" (judged against {noise})" if noise else ""))
    return "\n".join(lines)


def verdict_counts(ledger: pd.DataFrame) -> dict:
    words = ledger.verdict.map(verdict_word)
    return {w: int((words == w).sum()) for w in MARKS}


def _ci(fit, name):
    return (fit.ci95 or {}).get(name)


def _cell(transfer: pd.DataFrame | None, cur: str, n: float, d: float):
    if transfer is None or not len(transfer):
        return None
    hit = transfer[(transfer.curriculum == cur) & (transfer.n_params == n) & (transfer.d_train_chars == d)]
    return hit.iloc[0] if len(hit) else None


def weak(transfer: pd.DataFrame | None, cur: str) -> bool:
    """Whether ``cur``'s pre-training lowers the loss beyond noise in fewer than half of its cells
    (the ledger's rule, ``claims.transfer_measured``)."""
    from transfer_laws.analysis.claims import law_describes_transfer

    return law_describes_transfer(transfer, cur) is False


def transfer_sentence(transfer: pd.DataFrame, curricula=("text", "mix")) -> str:
    """Whether pre-training lowers the loss at all (``claims.transfer_cells``), in one sentence over
    ``curricula``; '' without cells."""
    names = {"text": "English text", "mix": "text and other code"}
    parts = []
    for cur in curricula:
        g = transfer[transfer.curriculum == cur] if len(transfer) else transfer
        if not len(g):
            continue
        counts = g.outcome.value_counts()
        lower, higher = int(counts.get("lower", 0)), int(counts.get("higher", 0))
        parts.append(f"in {lower} of {len(g)} cells after {names.get(cur, cur)} (above it in {higher}; median "
                     f"difference {g.finetuned_minus_scratch.median():+.2f} nats)")
    if not parts:
        return ""
    return ("Fine-tuned after pre-training, the Python test loss is below that of training from scratch on the same "
            "data " + " and ".join(parts) + " (the (N, D_F) cells with at least 3 runs a side, Holm-corrected 5%).")


def sentences(fits: dict, paired: dict | None, shared, ledger: pd.DataFrame,
              transfer: pd.DataFrame | None = None, tally: bool = True) -> list[str]:
    """The findings in five or six sentences, every number computed: ``fits`` curriculum -> the
    primary TransferFit; ``paired`` (``fitting.paired_curricula``, mix against text) or None;
    ``shared`` (the shared-beta test) or None; ``ledger`` the claims ledger; ``transfer``
    (``claims.transfer_cells``) or None: whether each curriculum lowers the loss at all. Where text
    pre-training does not lower the loss beyond noise at the reference point, no law value is
    quoted for it there: the measured difference is. The last sentence counts the ledger's
    verdicts (``tally_sentence``), unless ``tally`` is False."""
    out = []
    text, mix = fits.get("text"), fits.get("mix")
    if paired:
        n_ref, d_ref = paired["reference_n_params"], paired["reference_d_train_chars"]
        cell = _cell(transfer, "text", n_ref, d_ref)
    if (paired and text is not None and mix is not None
            and ((cell is not None and cell.outcome != "lower") or weak(transfer, "text"))):
        # text's law is not quoted where text does not lower the loss there, nor where it rarely does
        at = mix.log10_d_transferred(n_ref, d_ref)
        dt_mix = interval(10 ** at["point"], [10 ** v for v in at["ci"]] if "ci" in at else None)
        g = transfer[transfer.curriculum == "text"]
        rarely = f"{int((g.outcome == 'lower').sum())} of {len(g)} cells"
        if cell is None:  # the next sentence counts text's cells
            text_part = "is given no value: it lowers the loss beyond noise in too few cells (next finding)"
        else:
            diff = (f"fine-tuned minus from scratch {cell.finetuned_minus_scratch:+.3f} ± {cell.se:.3f} nats "
                    f"({int(cell.n_finetuned)} and {int(cell.n_scratch)} runs)")
            text_part = ("does not lower the loss there: " + diff if cell.outcome != "lower" else
                         f"lowers it there ({diff}), one of only {rarely} where it does beyond noise")
        out.append(f"For a model of {n_ref:,.0f} non-embedding parameters fine-tuned on {d_ref:,.0f} characters of "
                   f"Python, pre-training on text and other code is worth {dt_mix} characters of Python (its fitted "
                   f"law), while pre-training on English text {text_part}.")
    elif paired and text is not None:
        n_ref, d_ref = paired["reference_n_params"], paired["reference_d_train_chars"]
        dt = TransferLaw(text.k, text.alpha, text.beta).d_transferred(d_ref, n_ref)
        r = paired["log_d_transferred_ratio"]
        ratio = interval(np.exp(r["point"]), np.exp(r["ci"]) if "ci" in r else None)
        out.append(f"Pre-training on English text is worth about {sig(dt, 2)} characters of Python to a model of "
                   f"{n_ref:,.0f} non-embedding parameters fine-tuned on {d_ref:,.0f} characters; pre-training on "
                   f"text and other code is worth {ratio} times as much (paired bootstrap draws of the "
                   f"{METHOD_NAMES.get(paired.get('method', 'direct'))} fits).")
    unmeasured = [c for c in ("text", "mix") if fits.get(c) is not None and weak(transfer, c)]
    if transfer is not None and len(transfer):
        said = transfer_sentence(transfer)
        out.append(said[:-1] + (f"; a law fitted to {' and '.join(unmeasured)}'s $D_T$ would describe differences within "
                                "noise, so none is quoted (chapter {doc}`07_transfer_law` shows the fit)."
                                if unmeasured else "."))
    for cur, f in (("text", text), ("mix", mix)):
        if f is None or cur in unmeasured:
            continue
        p = PAPER[cur]
        out.append(f"Pre-trained on {cur} (loss-space fit, the primary), $D_T$ grows as $D_F^{{\\alpha}}$ with "
                   f"α = {interval(f.alpha, _ci(f, 'alpha'))} (paper {p.alpha}) and as $N^{{\\beta}}$ with "
                   f"β = {interval(f.beta, _ci(f, 'beta'))} (paper {p.beta}).")
    if shared is not None and not unmeasured:
        differ = shared.ci95[0] > 0 or shared.ci95[1] < 0
        out.append(f"$\\beta_\\text{{text}} - \\beta_\\text{{mix}}$ = {interval(shared.beta_difference, shared.ci95)} by the "
                   f"{METHOD_NAMES.get(shared.method)} fits: "
                   + ("the two β differ here, where the paper found one β for both." if differ else
                      "no difference is detected, within the narrowest margin this design can establish, "
                      f"±{shared.smallest_margin_supported:.2f}."))
    if paired:
        t, m = paired["log_multiplier_text"], paired["log_multiplier_mix"]
        def fmt(x, cur):
            at_most = "at most " if paired.get(f"multiplier_is_upper_bound_{cur}") else ""
            return at_most + interval(np.exp(x["point"]), np.exp(x["ci"]) if "ci" in x else None)
        out.append(f"At the smallest fine-tuning set ({paired['smallest_d_train_chars']:,.0f} characters) pre-training "
                   f"multiplies the effective data by {fmt(t, 'text')} (text) and {fmt(m, 'mix')} (text and code; "
                   "medians over seeds and sizes, a fine-tune worse than training from scratch counted at its bound); "
                   "the paper reports about 1,000× for a 40M-parameter model at 300,000 characters.")
    if tally:
        out.append(tally_sentence(ledger))
    return out


def tally_sentence(ledger: pd.DataFrame) -> str:
    """The ledger's verdicts counted in one sentence (the opening and the discussion)."""
    c = verdict_counts(ledger)
    one = lambda n, singular, plural: f"{n} {singular if n == 1 else plural}"
    in_part = int((ledger.verdict.map(verdict_word).eq("reproduced") & ledger.verdict.str.contains("not testable")).sum())
    part = f" ({in_part} of them only in the half these runs can test)" if in_part else ""
    return (f"Of the paper's {len(ledger)} claims, {one(c['reproduced'], 'reproduces', 'reproduce')} at this scale{part}, "
            f"{one(c['not reproduced'], 'does not', 'do not')}, {one(c['inconclusive'], 'is', 'are')} inconclusive "
            f"and {one(c['not testable'], 'cannot', 'cannot')} be tested with these runs.")


def direct_test_sentence(cells: pd.DataFrame, size_names: dict | None = None, gaps: bool = True) -> str:
    """Rohin's α puzzle asked of the models (``claims.text_against_mix``), in one sentence: in how
    many cells either pre-training reaches the lower loss beyond noise, and (``gaps``) the gap at
    each size's largest D_F tested; '' without cells."""
    if cells is None or not len(cells):
        return ""
    counts = cells.outcome.value_counts()
    if not gaps:
        return (f"Rohin's α puzzle asked of the models: fine-tuned side by side on the same Python, the "
                f"mix-pretrained model reaches the lower loss beyond noise in {int(counts.get('mix lower', 0))} of "
                f"{len(cells)} cells and the text-pretrained one in {int(counts.get('text lower', 0))}")
    names = size_names or {}
    counts = cells.outcome.value_counts()
    top = cells.loc[cells.groupby("n_params").d_train_chars.idxmax()]
    gaps = "; ".join(f"{names.get(r.n_params, f'N = {r.n_params:,.0f}')} at {r.d_train_chars:,.0f} characters: "
                     f"{r.text_minus_mix:+.3f} ± {1.96 * r.se:.3f} nats ({r.outcome})" for r in top.itertuples())
    return (f"Rohin's α puzzle asked of the models: fine-tuned side by side on the same Python, the mix-pretrained "
            f"model reaches the lower loss beyond noise in {int(counts.get('mix lower', 0))} of {len(cells)} cells and "
            f"the text-pretrained one in {int(counts.get('text lower', 0))}; at each size's largest D_F tested, text "
            f"minus mix is {gaps}")


def forest_rows(fits_by_method: dict, paired: dict | None = None, leave_out=()) -> pd.DataFrame:
    """Rows for ``plots.forest``: alpha and beta per (curriculum, method) with intervals, the paper's
    Table 1 beside them, and log10 D_T at the paired reference point from each fit (k alone is D_T at
    N = D_F = 1, decades outside the data). ``fits_by_method``: (curriculum, method) -> TransferFit;
    ``leave_out``: curricula whose fits are not drawn (a law of noise, ``weak``), the paper's kept."""
    rows = []
    ref = (paired["reference_n_params"], paired["reference_d_train_chars"]) if paired else None
    for (cur, method), f in fits_by_method.items():
        if cur in leave_out:
            continue
        for q in ("alpha", "beta"):
            ci = _ci(f, q) or [np.nan, np.nan]
            rows.append({"quantity": q_label(q), "estimate": f"{cur}, {method}", "source": "this study",
                         "value": getattr(f, q), "lo": ci[0], "hi": ci[1]})
        if ref is not None:
            n, d = ref
            at = f.log10_d_transferred(n, d)
            lo, hi = at.get("ci", [np.nan, np.nan])
            rows.append({"quantity": f"log10 D_T at N = {n:,.0f}, D_F = {d:,.0f}", "estimate": f"{cur}, {method}",
                         "source": "this study", "value": at["point"], "lo": lo, "hi": hi})
    for cur, p in PAPER.items():
        for q in ("alpha", "beta"):
            rows.append({"quantity": q_label(q), "estimate": f"{cur}, paper Table 1", "source": "paper",
                         "value": getattr(p, q), "lo": np.nan, "hi": np.nan})
        if ref is not None:
            rows.append({"quantity": f"log10 D_T at N = {ref[0]:,.0f}, D_F = {ref[1]:,.0f}",
                         "estimate": f"{cur}, paper Table 1", "source": "paper",
                         "value": float(np.log10(p.d_transferred(ref[1], ref[0]))), "lo": np.nan, "hi": np.nan})
    return pd.DataFrame(rows)


def q_label(q: str) -> str:
    return {"alpha": "α (exponent of D_F)", "beta": "β (exponent of N)"}.get(q, q)
