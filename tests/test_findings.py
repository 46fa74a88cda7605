"""The opening's computed content: verdict marks and links, counts, sentences and forest rows from
a planted world's fits, and the report's new charts build."""

import pandas as pd

from test_fitting import ALPHA, BETA, world
from transfer_laws.analysis import fitting, timelines
from transfer_laws.report import findings, plots

LEDGER = pd.DataFrame({"claim": [1, 2, 5, 6], "paper": ["a", "b", "c", "d"],
                       "verdict": ["reproduced", "not reproduced", "reproduced (low-data half; near convergence not testable)",
                                   "not testable"]})


def test_verdicts_are_marked_counted_and_linked():
    assert findings.verdict_word("reproduced (low-data half; x)") == "reproduced"
    assert findings.verdict_word("not reproduced at this scale") == "not reproduced"
    t = findings.verdict_table(LEDGER)
    assert "✓" in t.verdict[0] and "✗" in t.verdict[1] and "–" in t.verdict[3]
    assert 'href="07_transfer_law.html"' in t.evidence[0] and 'href="08_ossification_compute.html"' in t.evidence[2]
    assert findings.verdict_counts(LEDGER) == {"reproduced": 2, "not reproduced": 1, "inconclusive": 0, "not testable": 1}


def test_sentences_and_forest_rows_carry_the_fits():
    fit = fitting.fit_transfer(world(), "text", n_bootstrap=20, seed=1)
    s = findings.sentences({"text": fit}, None, None, LEDGER)
    assert any(f"α = {fit.alpha:.2f}" in x for x in s) and s[-1].startswith("Of the paper's 4 claims, 2 reproduce")
    paired = {"reference_n_params": 1e5, "reference_d_train_chars": 1e4}
    rows = findings.forest_rows({("text", "direct"): fit}, paired)
    mine = rows[rows.source == "this study"].set_index("quantity")
    assert abs(mine.loc["α (exponent of D_F)", "value"] - ALPHA) < 0.05
    assert abs(mine.loc["β (exponent of N)", "value"] - BETA) < 0.05
    ref = mine.filter(like="log10 D_T", axis=0).iloc[0]
    assert ref.lo <= ref.value <= ref.hi
    assert (rows.source == "paper").sum() == 6  # alpha, beta and D_T at the reference, text and mix
    assert plots.forest(rows).to_dict()


def test_tornado_orders_bars_by_span():
    sens = timelines.sensitivity()
    spec = plots.tornado(sens, timelines.compute_saving(timelines.Assumptions())["compute_saving"]).to_dict()
    order = spec["layer"][0]["encoding"]["y"]["sort"]
    assert order[0] == "d_effective_samples"  # the long-task data dominates (chapter 10)
