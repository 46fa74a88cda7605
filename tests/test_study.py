"""Which runs the chapters read: only complete sizes of the main grid, else the pilot."""

import numpy as np
import pandas as pd
import pytest

from transfer_laws.analysis import study


def _progress(done_a: bool, done_b: bool, pre_b: bool = True) -> pd.DataFrame:
    rows = [
        {"run_id": "pa", "phase": "pretrain", "experiment": "main", "size": "n13k", "pretrain_id": None, "done": True},
        {"run_id": "a1", "phase": "target", "experiment": "main", "size": "n13k", "pretrain_id": "pa", "done": done_a},
        {"run_id": "pb", "phase": "pretrain", "experiment": "main", "size": "n28k", "pretrain_id": None, "done": pre_b},
        {"run_id": "b1", "phase": "target", "experiment": "main", "size": "n28k", "pretrain_id": None, "done": done_b},
        {"run_id": "x1", "phase": "target", "experiment": "other", "size": "n57k", "pretrain_id": "pb", "done": True},
    ]
    return pd.DataFrame(rows)


def test_complete_sizes_need_every_run_and_their_pretraining():
    assert study.complete_sizes(_progress(True, True)) == ["n13k", "n28k"]
    assert study.complete_sizes(_progress(True, False)) == ["n13k"]
    assert study.complete_sizes(_progress(True, True, pre_b=False)) == ["n13k"]
    # a run of another experiment that uses a main pre-training does not make that size incomplete
    assert study.complete_sizes(_progress(True, True), "other") == ["n57k"]


def test_horizon_rule_comparison_pairs_old_and_new_runs(monkeypatch):
    base = {"phase": "target", "experiment": "main", "curriculum": "scratch", "size": "n13k", "n_params": 12768,
            "seed": 0, "epochs": 1.0}
    df = pd.DataFrame([
        {**base, "run_id": "old", "d_train_chars": 3e4, "test_loss": 6.10, "steps": 100, "best_step": 100},
        {**base, "run_id": "new", "d_train_chars": 3e4, "test_loss": 5.90, "steps": 200, "best_step": 150},
        {**base, "run_id": "other", "d_train_chars": 1e5, "test_loss": 5.5, "steps": 300, "best_step": 200},
    ])
    monkeypatch.setattr(study, "runs_frame", lambda root=None: df)
    progress = pd.DataFrame({"run_id": ["new", "other"]})
    assert list(study.superseded(progress).run_id) == ["old"]
    m = study.horizon_rule_comparison(progress)
    assert len(m) == 1 and m.loss_change_nats.iloc[0] == pytest.approx(-0.2)
    assert (m.steps_before.iloc[0], m.steps_now.iloc[0]) == (100, 200)


def test_current_runs_drop_only_what_the_grid_superseded(monkeypatch):
    df = pd.DataFrame([
        {"run_id": "old", "experiment": "main"},     # an earlier rule's run of a planned experiment
        {"run_id": "new", "experiment": "main"},
        {"run_id": "exp", "experiment": "contamination"},
        {"run_id": "pilot1", "experiment": "pilot"},  # not in this grid: kept
    ])
    monkeypatch.setattr(study, "runs_frame", lambda root=None: df)
    progress = pd.DataFrame({"run_id": ["new", "exp"], "experiment": ["main", "contamination"]})
    assert list(study.current_runs(progress=progress).run_id) == ["new", "exp", "pilot1"]


def test_annotate_marks_plan_study_and_refusals(monkeypatch):
    """One rule for every reader: in_plan (planned, or of an unplanned experiment), exclusion (the
    first failed check) and in_study (the study's complete sizes; refusals left out from recipe 2)."""
    monkeypatch.setattr(study, "STUDY_GRID", study.Path("g.toml"))
    monkeypatch.setattr(study, "STUDY_EXPERIMENT", "main")  # the planted grid's experiment, whatever the book reads
    plan_rows = pd.DataFrame({
        "grid": "g.toml", "experiment": "main", "run_id": ["p", "s1", "f1", "f2", "q", "s2"],
        "phase": ["pretrain", "target", "target", "target", "pretrain", "target"],
        "size": ["n13k"] * 4 + ["n28k"] * 2, "pretrain_id": [None, None, "p", "p", None, None]})
    base = {"experiment": "main", "phase": "target", "recipe": 2, "zero_shot": False, "unresolved": False,
            "vs_checkpoint_nats": None, "vs_checkpoint_se": None, "size": "n13k"}
    table = pd.DataFrame([
        {**base, "run_id": "p", "phase": "pretrain", "curriculum": "text"},
        {**base, "run_id": "s1", "curriculum": "scratch"},
        {**base, "run_id": "f1", "curriculum": "text"},
        {**base, "run_id": "f2", "curriculum": "text", "unresolved": True},
        {**base, "run_id": "old", "curriculum": "text"},                        # superseded
        {**base, "run_id": "x", "curriculum": "text", "experiment": "one-off"},  # no grid plans it
        {**base, "run_id": "s2", "curriculum": "scratch", "size": "n28k"},      # n28k lacks its pre-training q
    ])
    out = study.annotate(table, plan_rows, min_sizes=1).set_index("run_id")
    assert list(out.in_plan) == [True, True, True, True, False, True, True]
    assert out.exclusion["f2"] == "unresolved" and out.exclusion["f1"] == ""
    assert set(out.index[out.in_study]) == {"s1", "f1"}
    assert not study.annotate(table, plan_rows, min_sizes=2).in_study.any()  # one complete size only
    first = study.annotate(table.assign(recipe=1), plan_rows, min_sizes=1).set_index("run_id")
    assert first.in_study["f2"] and first.exclusion["f2"] == "unresolved"  # first grid: counted, not refused
    # the primary arm: the main pre-training budget and tokenizer; every budget is in in_axis
    monkeypatch.setitem(study.MAIN_PRETRAIN_TOKENS, "main", 100)
    arms = table.assign(pretrain_tokens=[None, None, 100, 100, 100, 100, None], tokenizer="main")
    arms = pd.concat([arms, pd.DataFrame([{**base, "run_id": "f3", "curriculum": "text", "pretrain_tokens": 400},
                                          {**base, "run_id": "t1", "curriculum": "text", "pretrain_tokens": 100,
                                           "tokenizer": "text"}])], ignore_index=True)
    plan_arms = pd.concat([plan_rows, pd.DataFrame({"grid": "g.toml", "experiment": "main", "run_id": ["f3", "t1"],
                                                    "phase": "target", "size": "n13k", "pretrain_id": "p"})])
    out = study.annotate(arms, plan_arms, min_sizes=1).set_index("run_id")
    assert set(out.index[out.in_study]) == {"s1", "f1"} and set(out.index[out.in_axis]) == {"s1", "f1", "f3"}


def test_committed_plan_is_what_the_grid_files_plan():
    """results/plan.csv (what the chapters and `fit` select by) is the planner's output for the grids
    whose plan does not grow with results (the first study's grid here; `results table` rewrites all)."""
    from transfer_laws.runs import plan

    committed = plan.load_plan()
    grid = plan.GRIDS_DIR / "main.toml"
    now = plan.plan_table(grids=[grid])
    assert list(committed[committed.grid == grid.name].run_id) == list(now.run_id)


def test_first_grid_fits_carry_the_pretrain_seed_pairs_checkpoint_noise():
    """The first grid has one pre-training per size: its fits take the checkpoint level from the
    committed pre-training-seed pair (n57k text), borrowed for the mix; a table that is not the
    committed runs (a planted world) gets none."""
    from test_fitting import world

    t = study.annotated_runs()
    runs, experiment = study.study_runs(table=t)
    if experiment != "main":
        return
    noise = study.external_checkpoint_noise(runs)
    assert noise is not None and set(noise.curriculum) == {"text", "mix"}
    assert (noise.sd_log_d_transferred > 0).any() and noise.d_train_chars.nunique() >= 3
    w = world(seed=3).assign(run_id=lambda d: [f"w{i}" for i in range(len(d))], experiment="main")
    assert study.external_checkpoint_noise(w) is None
    assert not study.has_checkpoint_replicates(runs)
    spread = study.checkpoint_spread(runs)  # chapter 9's yardstick is the level the fits carry
    assert list(spread.sd_log_d_transferred) == list(noise.sd_log_d_transferred)
    assert np.allclose(spread.factor, np.exp(noise.sd_log_d_transferred.astype(float)))
    # the chapter's sentence on where the checkpoint level comes from follows the table
    assert "borrowed" in study.checkpoint_level_note(runs) and "n57k, text" in study.checkpoint_level_note(runs)


def test_checkpoint_level_note_follows_the_table():
    """A planted table: one checkpoint per cell and not the committed runs -> held fixed; three per
    cell -> measured, counting the checkpoints and cells."""
    from test_fitting import world

    w = world(seed=3).assign(run_id=lambda d: [f"w{i}" for i in range(len(d))], experiment="main")
    fixed = w.assign(pretrain_id=[None if c == "scratch" else "p0" for c in w.curriculum])
    assert "held fixed" in study.checkpoint_level_note(fixed)
    three = w.assign(pretrain_id=[None if c == "scratch" else f"p{i % 3}" for i, c in enumerate(w.curriculum)])
    n_sizes = three.n_params.nunique()
    assert study.checkpoint_level_note(three).startswith(f"measured on these runs: {3 * n_sizes} pre-training "
                                                          f"checkpoints over the {n_sizes} (size, curriculum, pre-training budget) cells")


def test_scale_note_states_the_runs_sizes_and_hardware():
    rows = pd.DataFrame({"n_params": [12768, 12768, 57344], "d_train_chars": [1e3, 3e6, 1e3],
                         "hardware": ["cpu x2", "cpu x2", "gpu"]})
    assert study.scale_note(rows) == ("3 runs; N from 12,768 to 57,344 non-embedding parameters; "
                                      "D from 1,000 to 3,000,000 characters; hardware: cpu x2 (2), gpu (1)")
    one = study.scale_note(rows.iloc[:1])
    assert "N = 12,768 non-embedding" in one and "D = 1,000 characters" in one
    assert study.scale_note(rows.iloc[0:0]) == "no runs"


def test_pretrain_budget_note_tells_a_growing_rule_from_fixed_budgets():
    sizes = {"n13k": 12768, "n28k": 28672, "n57k": 57344}
    growing = pd.DataFrame([{"run_id": f"g{s}{c}", "curriculum": c, "size": s, "n_params": n, "seed": 0,
                             "tokens_seen": 20.0 * n} for s, n in sizes.items() for c in ("text", "mix")])
    note = study.pretrain_budget_note(growing)
    assert note.startswith("Mix and text: one budget per size, growing with the model as N^1.00 (N non-embedding), "
                           "from 255k tokens at n13k to 1.15M at n57k")
    fixed = pd.DataFrame([{"run_id": f"f{s}{c}{b}{seed}", "curriculum": c, "size": s, "n_params": n, "seed": seed,
                           "tokens_seen": b}
                          for s, n in sizes.items() for c, budgets in (("text", (3.2768e6, 1.31072e7)), ("mix", (1.31072e7,)))
                          for b in budgets for seed in ((0, 1, 2) if b == 1.31072e7 else (0,))])
    assert study.pretrain_budget_note(fixed) == ("Mix: 13.1M tokens at every size, 3 seeds. Text: 3.28M tokens at every "
                                                 "size; 13.1M tokens at every size, 3 seeds (sizes n13k, n28k, n57k)")
    assert "at n13k, n28k;" in study.pretrain_budget_note(fixed[~((fixed["size"] == "n57k") & (fixed.tokens_seen < 5e6))])


def test_recipe_note_counts_what_the_checks_would_refuse_and_is_silent_for_checked_runs():
    t = pd.DataFrame({"curriculum": ["scratch", "scratch", "text", "text", "mix"], "recipe": [1, 1, 1, 1, None],
                      "exclusion": ["", "unresolved", "unresolved", "", "capped"]})
    note = study.recipe_note(t, "main")
    assert "refuse 2 of its 3 fine-tunes and 1 of its 2 from-scratch runs (2 unresolved, 1 capped)" in note
    assert study.recipe_note(t.assign(recipe=2), "study2") == ""


def test_hardware_pairs_match_twins_and_pair_their_windows():
    """A twin (same spec, another experiment) on other hardware pairs with its reference, not with a
    branch of another horizon; the paired SE comes from the shared windows and is far below the
    per-run SE when the two runs' window losses move together."""
    rng = np.random.default_rng(0)
    base = rng.normal(3.0, 0.5, 2048)
    w = {"gpu50": base, "cpu50": base + 0.01 + rng.normal(0, 0.01, 2048), "gpu25": base + 0.2}
    row = dict(curriculum="scratch", size="n28k", d_train_chars=3e6, seed=1, lr=0.0058, pretrain_id=None,
               data_seed=1, tokenizer="main", test_loss_se=0.011)
    df = pd.DataFrame([
        row | dict(run_id="gpu50", experiment="study2", max_epochs=50, hardware="H200", test_loss=w["gpu50"].mean()),
        row | dict(run_id="gpu25", experiment="study2", max_epochs=25, hardware="H200", test_loss=w["gpu25"].mean()),
        row | dict(run_id="cpu50", experiment="hw-check2", max_epochs=50, hardware="CPU", test_loss=w["cpu50"].mean()),
        row | dict(run_id="same", experiment="hw-check", max_epochs=50, hardware="CPU", test_loss=3.0)])
    pairs = study.hardware_pairs(df, windows=w)
    assert len(pairs) == 1 and pairs.max_epochs.iloc[0] == 50
    assert pairs.difference.iloc[0] == pytest.approx(0.01, abs=0.002)
    assert pairs.difference_se.iloc[0] == pytest.approx(0.01 / np.sqrt(2048), rel=0.1)
    assert study.hardware_pairs(df.iloc[:2]).empty


def test_device_matched_swaps_in_cpu_twins_and_drops_mixed_cells():
    row = dict(curriculum="scratch", size="n28k", n_params=28368, d_train_chars=3e6, lr=0.0058, pretrain_id=None,
               data_seed=1, tokenizer="main", max_epochs=50, experiment="study2")
    pool = pd.DataFrame([row | dict(run_id="s0", seed=0, device="cpu"), row | dict(run_id="s1", seed=1, device="cuda"),
                         row | dict(run_id="s2", seed=2, device="cuda"),
                         row | dict(run_id="f0", seed=0, device="cpu", curriculum="mix", pretrain_id="p0")])
    twin1 = row | dict(run_id="t1", seed=1, device="cpu", experiment="hw-check2")
    twin2 = row | dict(run_id="t2", seed=2, device="cpu", experiment="hw-check2")
    other = row | dict(run_id="t9", seed=1, device="cpu", experiment="hw-check2", max_epochs=25)  # another horizon
    out, n, mixed = study.device_matched(pool, pd.DataFrame([twin1, twin2, other]))
    assert n == 2 and not mixed and set(out.run_id) == {"s0", "t1", "t2", "f0"}
    out, n, mixed = study.device_matched(pool, pd.DataFrame([twin1, other]))
    assert n == 1 and mixed == [(28368, 3e6)] and out.empty


def test_scratch_result_note_follows_sizes_and_recipe():
    one = pd.DataFrame({"size": "n13k", "n_params": 12768, "d_train_chars": [1e3, 1e5], "test_loss": [6.7, 4.1],
                        "stop_reason": "budget", "horizon_family": ["f1", "f2"], "hardware": "cpu"})
    note = study.scratch_result_note(one, 0, 1)
    assert "of n13k falls from 6.70 to 4.10" in note and "smallest" not in note
    assert "best of its horizon branches" in note and "largest D read: n13k 100,000" in note
    first = pd.concat([one, one.assign(size="n28k", n_params=28368, test_loss=[6.6, 3.9])]).drop(columns="horizon_family")
    note = study.scratch_result_note(first, 1, 2)
    assert "largest model (n28k) falls from 6.60 to 3.90" in note and "smallest's (n13k) from 6.70" in note
    assert "4 of 4 runs ended on their step budget" in note and "1 of 2 sizes" in note


def test_effective_data_note_says_undefined_instead_of_nan():
    t = pd.DataFrame({"curriculum": ["text", "mix", "text", "mix"], "d_train_chars": [1e3, 1e3, 1e6, 1e6],
                      "fraction_from_transfer": [np.nan, 0.98, -0.13, -0.12], "multiplier": [np.nan, 49.3, 0.9, 0.9],
                      "d_effective_status": ["undefined", "interpolated", "interpolated", "interpolated"]})
    runs = pd.DataFrame({"size": ["n13k"], "n_params": [12768], "d_train_chars": [1e3], "hardware": ["cpu"]})
    note = study.effective_data_note(t, runs)
    assert "nan" not in note and "for text, D_E is undefined at this grid" in note
    assert "for mix, pre-training supplies a median 98% of the effective data (a multiplier D_E / D_F of 49.3×)" in note
    assert "fraction is -13% (text) and -12% (mix)" in note


def test_ossification_note_names_few_cells_and_ranges_many():
    cells = pd.DataFrame({"curriculum": ["text", "text", "mix", "mix"], "size": ["n13k", "n28k", "n13k", "n28k"],
                          "n_params": [12768, 28368, 12768, 28368], "d_train_chars": [1e3, 3e6, 3e6, 1e5],
                          "ossified": [True, True, True, False]})
    runs = pd.DataFrame({"size": ["n13k"], "n_params": [12768], "d_train_chars": [1e3], "hardware": ["cpu"]})
    note = study.ossification_note(cells, runs)
    assert note.startswith("In 3 of 4 (pre-training, size, D_F) cells")
    assert ": mix, n13k at D_F = 3,000,000; text, n13k at D_F = 1,000, n28k at D_F = 3,000,000;" in note
    many = pd.concat([cells.assign(ossified=True)] * 3)
    many = pd.concat([cells.assign(ossified=True)] * 3)
    many.loc[(many.curriculum == "mix") & (many["size"] == "n28k"), "ossified"] = False
    note = study.ossification_note(many, runs)
    assert ("after mix, 3 of 6 (D_F = 3,000,000 characters; n13k); "
            "after text, 6 of 6 (D_F from 1,000 to 3,000,000 characters; every size)") in note, note


def test_another_experiments_runs_keep_one_tokenizer_and_the_main_budget():
    """study_runs(experiment=X) for an experiment other than the book's selects as ``in_study`` does:
    a from-scratch run of the text-only tokenizer (its loss is per token of another vocabulary) and a
    fine-tune from a pre-training budget other than the main one never enter a fit (on study2 they had
    made every n28k from-scratch segment 'flat')."""
    base = dict(experiment="other-study", phase="target", in_plan=True, exclusion="", recipe=2, in_study=False)
    t = pd.DataFrame([
        base | dict(run_id="a", curriculum="scratch", tokenizer="main", pretrain_tokens=np.nan),
        base | dict(run_id="b", curriculum="scratch", tokenizer="text", pretrain_tokens=np.nan),
        base | dict(run_id="c", curriculum="text", tokenizer=None, pretrain_tokens=13_107_200),
        base | dict(run_id="d", curriculum="text", tokenizer="main", pretrain_tokens=3_276_800),
        base | dict(run_id="e", curriculum="text", tokenizer="text", pretrain_tokens=13_107_200),
    ])
    study.MAIN_PRETRAIN_TOKENS["other-study"] = 13_107_200
    try:
        runs, name = study.study_runs(experiment="other-study", table=t)
    finally:
        del study.MAIN_PRETRAIN_TOKENS["other-study"]
    assert name == "other-study" and sorted(runs.run_id) == ["a", "c"]
    runs, _ = study.study_runs(experiment="other-study", table=t)  # no main budget named: every budget
    assert sorted(runs.run_id) == ["a", "c", "d"]


def test_fit_cli_and_study_runs_select_the_same_rows_from_a_csv(tmp_path):
    """One rule (``study.fit_rows``) for every reader: the rows `fit --runs` reads from a written
    runs table are those ``study_runs`` selects from the frame, refused runs of a checked recipe
    (but not of recipe 1) included, with strings and blanks as a CSV gives them back."""
    from transfer_laws import cli

    base = dict(experiment="other-study", phase="target", in_plan=True, exclusion="", recipe=2, in_study=False,
                n_params=1e4, d_train_chars=1e4, test_loss=4.0)
    t = pd.DataFrame([
        base | dict(run_id="a", curriculum="scratch", tokenizer="main", pretrain_tokens=np.nan),
        base | dict(run_id="b", curriculum="scratch", tokenizer="text", pretrain_tokens=np.nan),
        base | dict(run_id="c", curriculum="text", tokenizer=None, pretrain_tokens=13_107_200),
        base | dict(run_id="d", curriculum="text", tokenizer="main", pretrain_tokens=3_276_800),
        base | dict(run_id="f", curriculum="text", tokenizer="main", pretrain_tokens=13_107_200,
                    exclusion="unresolved"),
        base | dict(run_id="g", curriculum="text", tokenizer="main", pretrain_tokens=13_107_200,
                    exclusion="unresolved", recipe=1),
    ])
    path = tmp_path / "runs.csv"
    t.to_csv(path, index=False)
    study.MAIN_PRETRAIN_TOKENS["other-study"] = 13_107_200
    try:
        frame, _ = study.study_runs(experiment="other-study", table=t)
        read = cli.load_runs_table(str(path), experiment="other-study")
        every_budget = cli.load_runs_table(str(path), experiment="other-study", select="in_axis")
    finally:
        del study.MAIN_PRETRAIN_TOKENS["other-study"]
    assert sorted(frame.run_id) == sorted(read.run_id) == ["a", "c", "g"]
    assert sorted(every_budget.run_id) == ["a", "c", "d", "g"]
    assert study.fit_rows(t.drop(columns=["pretrain_tokens", "tokenizer"]), "other-study").tolist() == \
        [True, True, True, True, False, True]


def test_size_names_name_every_n_once():
    runs = pd.DataFrame({"n_params": [12768.0, 12768.0, 28368.0, 5.0], "size": ["n13k", "n13k", "n28k", None]})
    assert study.size_names(runs) == {12768.0: "n13k", 28368.0: "n28k", 5.0: "N = 5"}
    assert study.size_names(runs.drop(columns="size")) == {12768.0: "N = 12,768", 28368.0: "N = 28,368", 5.0: "N = 5"}


def test_prose_names_a_study_by_its_name_not_its_id():
    assert [study.study_name(e) for e in ("study2", "main", "pilot2", "")] == [
        "second study", "first grid", "pilot2 experiment", "study"]
