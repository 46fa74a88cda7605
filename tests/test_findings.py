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
    assert findings.tally_sentence(LEDGER) == ("Of the paper's 4 claims, 2 reproduce at this scale (1 of them only in the half these runs "
                                               "can test), 1 does not, "
                                               "0 are inconclusive and 1 cannot be tested with these runs.")


def test_sentences_and_forest_rows_carry_the_fits():
    fit = fitting.fit_transfer(world(), "text", n_bootstrap=20, seed=1)
    s = findings.sentences({"text": fit}, None, None, LEDGER)
    assert findings.sentences({"text": fit}, None, None, LEDGER, tally=False) == s[:-1]
    assert any(f"α = {fit.alpha:.2f}" in x for x in s) and s[-1].startswith("Of the paper's 4 claims, 2 reproduce")
    assert "1 does not, 0 are inconclusive and 1 cannot be tested" in s[-1]
    assert "2 reproduce at this scale (1 of them only in the half these runs can test)" in s[-1]
    paired = {"reference_n_params": 1e5, "reference_d_train_chars": 1e4}
    rows = findings.forest_rows({("text", "direct"): fit}, paired)
    mine = rows[rows.source == "this study"].set_index("quantity")
    assert abs(mine.loc["α (exponent of D_F)", "value"] - ALPHA) < 0.05
    assert abs(mine.loc["β (exponent of N)", "value"] - BETA) < 0.05
    ref = mine.filter(like="log10 D_T", axis=0).iloc[0]
    assert ref.lo <= ref.value <= ref.hi
    assert (rows.source == "paper").sum() == 6  # alpha, beta and D_T at the reference, text and mix
    assert plots.forest(rows).to_dict()
    noise = findings.forest_rows({("text", "direct"): fit}, paired, leave_out=("text",))
    assert (noise.source == "this study").sum() == 0 and (noise.source == "paper").sum() == 6  # the paper's stay


def test_tornado_orders_bars_by_span():
    sens = timelines.sensitivity()
    spec = plots.tornado(sens, timelines.compute_saving(timelines.Assumptions())["compute_saving"]).to_dict()
    order = spec["layer"][0]["encoding"]["y"]["sort"]
    assert order[0] == "d_effective_samples"  # the long-task data dominates (chapter 10)


def test_sweep_horizon_and_fraction_figures_build_from_their_tables():
    """The figures of the learning-rate sweeps, the horizon branches and D_T / D_E against N build
    from the tables the package computes (a cell at an edge is drawn hollow, not dropped)."""
    import numpy as np
    import pandas as pd

    from transfer_laws.analysis import experiments, tuning

    rows = []
    for size, n, best in (("a", 1e4, 2e-3), ("b", 1e5, 8e-3)):  # b's best at the top edge
        for lr in (1e-3, 2e-3, 4e-3, 8e-3):
            rows.append({"experiment": "x", "phase": "target", "curriculum": "scratch", "size": size, "n_params": n,
                         "d_train_chars": 1e4, "lr": lr, "val_loss": 3 + abs(np.log(lr / best))})
    cells = tuning.lr_sweeps(pd.DataFrame(rows))
    spec = plots.lr_sweeps(cells).to_dict()
    values = spec["datasets"][next(iter(spec["datasets"]))]
    assert len(values) == 8 and {v["bracketed"] for v in values if v["best"]} == {True, False}
    br = pd.DataFrame({"phase": "target", "curriculum": "scratch", "experiment": ["h"] * 3 + ["r"],
                       "size": "a", "n_params": 1e4, "d_train_chars": 1e5, "lr": 2e-3, "data_seed": 1, "seed": 0,
                       "schedule": ["wsd"] * 3 + ["cosine"], "horizon_family": ["F"] * 3 + [None],
                       "max_epochs": [25, 50, 100, 50], "steps": 100, "best_step": 90,
                       "val_loss": [3.1, 3.0, 3.05, 3.2], "test_loss": [3.2, 3.1, 3.15, 3.3],
                       "exclusion": ["not_best_branch", "", "not_best_branch", ""]})
    t = experiments.horizon_branches(br, "h", "r")
    assert list(t.family_best) == [False, True, False] and (t.cosine_test_loss == 3.3).all()
    assert plots.horizon_branches(t).to_dict()
    frac = pd.DataFrame({"curriculum": ["text"] * 4, "size": ["a", "a", "b", "b"], "n_params": [1e4, 1e4, 1e5, 1e5],
                         "d_train_chars": [1e3, 1e4] * 2, "fraction_from_transfer": [0.9, 0.5, 0.95, 0.7]})
    assert plots.fraction_against_n(frac).to_dict()["spec"]["encoding"]["x"]["scale"]["domain"] == [1e4, 1e5], \
        "the N axis ends at the data"


def test_a_chapters_closing_lists_its_claims_with_their_verdicts():
    import pandas as pd

    df = pd.DataFrame([{"claim": 5, "paper": "p5", "measured here": "median +0.33 nats", "verdict": "reproduced",
                        "seed noise": "an exact sign test"},
                       {"claim": 6, "paper": "p6", "measured here": "needs 3 seeds", "verdict": "not testable",
                        "seed noise": ""}])
    text = findings.claims_close(df)
    assert "✓ **5." in text and "median +0.33 nats (judged against an exact sign test)" in text
    assert "– **6." in text and "needs 3 seeds" in text and text.count("\n- ") == 2


def test_size_legends_and_panels_run_smallest_first():
    """Sizes are names, so a chart left to itself sorts them as text (n100k before n13k): the
    ossification map's legend and the pre-training panels follow N (or the ladder)."""
    m = pd.DataFrame({"curriculum": "text", "size": ["n100k", "n13k", "n1.2m", "n28k"],
                      "n_params": [100096, 12768, 1237440, 28368], "d_train_chars": 1e6,
                      "finetuned_minus_scratch": 0.1, "seed_sd": 0.01})
    assert plots.ossification(m).to_dict()["layer"][0]["encoding"]["color"]["sort"] == ["n13k", "n28k", "n100k", "n1.2m"]
    curves = pd.DataFrame({"run_id": ["a", "b"], "tokens": [1e6, 1e6], "curriculum": "text", "size": ["n336k", "n57k"],
                           "val_loss": [4.0, 4.5], "zero_shot_loss": [7.0, 7.2]})
    spec = plots.pretrain_curves(curves).to_dict()
    assert spec["facet"]["sort"] == ["n57k", "n336k"] and spec["columns"] == 3

    hd = pd.DataFrame({"run_id": ["a"] * 3 + ["b"] * 3, "step": [0, 10, 100] * 2, "val_loss": [7, 5, 4, 7, 4.5, 3.9],
                       "curriculum": ["text"] * 3 + ["scratch"] * 3, "size": ["n28k"] * 3 + ["n13k"] * 3})
    spec = plots.high_data_curves(hd).to_dict()
    assert spec["facet"]["sort"] == ["n13k", "n28k"] and spec["columns"] == 3


def test_a_curriculum_that_lowers_no_loss_gets_no_law_claims():
    """Where text pre-training lowers the loss beyond noise in fewer than half of its cells, the
    opening quotes the measured difference at the reference point, marks its law as describing no
    measured transfer and compares no β; the ledger's claims 2-4 are not testable for that reason."""
    from transfer_laws.analysis import claims

    fit = fitting.fit_transfer(world(), "text", n_bootstrap=20, seed=1)
    cells = pd.DataFrame({"curriculum": ["text"] * 4 + ["mix"] * 4, "n_params": 1e5,
                          "d_train_chars": [1e3, 1e4, 3e4, 1e5] * 2,
                          "finetuned_minus_scratch": [0.2, -0.01, 0.0, -0.3, -1, -1, -1, -1], "se": 0.03,
                          "n_finetuned": 5, "n_scratch": 3,
                          "outcome": ["higher", "no difference", "no difference", "lower"] + ["lower"] * 4})
    paired = {"reference_n_params": 1e5, "reference_d_train_chars": 1e4,
              "log_d_transferred_ratio": {"point": 1.0}, "log_multiplier_text": {"point": 0.0},
              "log_multiplier_mix": {"point": 2.0}, "smallest_d_train_chars": 1e3}

    class Shared:
        beta_difference, ci95, method, smallest_margin_supported = 0.5, [0.2, 0.8], "loss", 0.3

    s = findings.sentences({"text": fit, "mix": fit}, paired, Shared(), LEDGER, cells)
    assert "does not lower the loss there: fine-tuned minus from scratch -0.010 ± 0.030 nats" in s[0]
    assert "in 1 of 4 cells after English text (above it in 1" in s[1] and "in 4 of 4 cells after text and other code" in s[1]
    assert "a law fitted to text's $D_T$ would describe differences within noise" in s[1]
    assert not any(x.startswith("Pre-trained on text") for x in s)  # no law quoted for text
    assert any(x.startswith("Pre-trained on mix") for x in s)
    assert not any("beta" in x and "text" in x and "mix" in x for x in s[2:])  # no β comparison
    # the reference cell is text's one cell below from scratch: its law is still not quoted (text is weak)
    lucky = cells.assign(outcome=["higher", "lower", "no difference", "no difference"] + ["lower"] * 4)
    s = findings.sentences({"text": fit, "mix": fit}, paired, Shared(), LEDGER, lucky)
    assert "English text lowers it there (fine-tuned minus from scratch -0.010 ± 0.030 nats (5 and 3 runs)), " \
           "one of only 1 of 4 cells" in s[0] and not s[0].startswith("Pre-training on English text is worth")
    # no cell at the reference point (too few runs a side there): the next sentence's count stands in
    s = findings.sentences({"text": fit, "mix": fit}, paired, Shared(), LEDGER, cells[cells.d_train_chars != 1e4])
    assert "English text is given no value: it lowers the loss beyond noise in too few cells" in s[0]
    assert "in 1 of 3 cells after English text" in s[1]
    ctx = claims.Context(None, None, None, 0, 0, transfer=cells)
    assert claims.transfer_measured(cells, "text") == (1, 4) and ctx.unmeasured(["mix"]) == ""
    assert "text pre-training lowers the loss beyond noise in 1 of 4 cells" in ctx.unmeasured(["text", "mix"])
    ctx.ok = {"text": fit, "mix": fit}
    for test in (claims.claim_2, claims.claim_4):
        assert test(ctx)[1] == "not testable (no measured transfer)"
    # claim 3's D_T half, cell by cell: the mix 0.7 to 1.2 nats below the text in every cell
    said, verdict, *_ = claims.claim_3(ctx)
    assert verdict == "reproduced (higher-D_T half; lower α not testable: no measured transfer)", said
    assert "mix lower in 4 of 4 cells, text lower in 0" in said


def test_transfer_cells_figure_builds_and_says_when_empty():
    cells = pd.DataFrame({"curriculum": ["text", "mix"], "n_params": 1e4, "size": "n13k", "d_train_chars": 1e3,
                          "finetuned_minus_scratch": [0.1, -1.0], "se": 0.03, "n_finetuned": 5, "n_scratch": 3,
                          "p_holm": [0.2, 0.0], "outcome": ["no difference", "lower"]})
    spec = plots.transfer_cells(cells).to_dict()
    assert spec["facet"]["column"]["field"] == "curriculum"
    empty = plots.transfer_cells(cells.iloc[0:0]).to_dict()
    assert "no cell has three runs a side" in str(empty)


def test_experiment_loss_figure_averages_each_variant_and_keeps_every_d_finetune():
    """The pre-training-amount figure plots the fine-tuned loss, defined where D_T is not (<= 0)."""
    t = pd.DataFrame({"tokens_multiplier": [1.0, 1.0, 1.0, 4.0], "d_train_chars": [1e3, 1e3, 1e4, 1e3],
                      "test_loss": [5.0, 5.2, 4.0, 5.5], "d_transferred": [-10.0, -5.0, 3.0, -1.0]})
    values = plots.experiment_loss(t, "tokens_multiplier", "budget").to_dict()["datasets"]
    rows = next(iter(values.values()))
    assert sorted((r["tokens_multiplier"], r["d_train_chars"], round(r["test_loss"], 6)) for r in rows) == [
        (1.0, 1e3, 5.1), (1.0, 1e4, 4.0), (4.0, 1e3, 5.5)]


def test_direct_test_sentence_counts_cells_and_reads_each_sizes_largest_d_finetune():
    cells = pd.DataFrame({"n_params": [1e4, 1e4, 3e4], "d_train_chars": [1e3, 1e6, 1e5],
                          "text_minus_mix": [1.0, 0.002, 0.2], "se": [0.05, 0.008, 0.01],
                          "outcome": ["mix lower", "no difference", "mix lower"]})
    said = findings.direct_test_sentence(cells, {1e4: "n13k", 3e4: "n28k"})
    assert "lower loss beyond noise in 2 of 3 cells" in said and "text-pretrained one in 0" in said
    assert "n13k at 1,000,000 characters: +0.002 ± 0.016 nats (no difference)" in said
    assert "n28k at 100,000 characters: +0.200" in said and "1,000 characters" not in said.split("largest")[1]
    assert findings.direct_test_sentence(cells.iloc[0:0]) == ""
    brief = findings.direct_test_sentence(cells, gaps=False)
    assert brief.endswith("in 2 of 3 cells and the text-pretrained one in 0") and "nats" not in brief


def test_high_data_gap_draws_the_direct_tests_bars_at_their_sizes():
    table = pd.DataFrame({"size": ["n13k", "n13k"], "n_params": [1e4, 1e4], "d_train_chars": [1e3, 1e6],
                          "text": [6.0, 3.6], "mix": [5.0, 3.6], "scratch": [6.1, 3.7],
                          "text_minus_mix_nats": [1.0, 0.002]})
    assert len(plots.high_data_gap(table).to_dict()["layer"]) == 2
    cells = pd.DataFrame({"n_params": [1e4], "d_train_chars": [1e6], "text_minus_mix": [0.002], "se": [0.008]})
    spec = plots.high_data_gap(table, cells).to_dict()
    assert len(spec["layer"]) == 3 and spec["layer"][2]["encoding"]["y2"]["field"] == "hi"


def test_verdicts_side_by_side_mark_what_the_recipe_changed():
    other = LEDGER.assign(verdict=["not reproduced", "not reproduced", "reproduced", "inconclusive"])
    t = findings.verdicts_side_by_side({"first": other, "second": LEDGER}).set_index("claim")
    assert list(t.columns) == ["first", "second", "changed"]
    assert t.loc["1. D_T is a power law in D_F and N", "first"] == "✗ not reproduced"
    assert t.loc["1. D_T is a power law in D_F and N", "second"] == "✓ reproduced"
    assert t.changed.tolist() == ["yes", "", "", "yes"]
