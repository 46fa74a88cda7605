"""Learning-rate sweeps on planted cells: the optimum of a known parabola is recovered; edges flagged."""

import numpy as np
import pandas as pd
import pytest

from transfer_laws.analysis.tuning import lr_sweeps, parabola_optimum


def _cell(size, lrs, opt, curv=0.3, d=1e4):
    return [{"experiment": "x", "phase": "target", "curriculum": "scratch", "size": size, "d_train_chars": d,
             "lr": lr, "val_loss": 3.0 + curv * (np.log(lr) - np.log(opt)) ** 2} for lr in lrs]


def test_parabola_recovers_a_planted_optimum():
    lrs = np.array([1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2])
    loss = 3 + 0.3 * (np.log(lrs) - np.log(5.1e-3)) ** 2
    assert parabola_optimum(np.log(lrs), loss) == pytest.approx(5.1e-3, rel=1e-6)
    assert parabola_optimum(np.log(lrs), loss[::-1] * 0 + np.arange(5.0)) == pytest.approx(1e-3), "edge: the best rate"


def test_cells_are_split_and_edges_flagged():
    rows = _cell("a", [1e-3, 2e-3, 4e-3, 8e-3], 3e-3) + _cell("b", [1e-3, 2e-3, 4e-3], 2e-2) \
        + _cell("a", [1e-3, 2e-3, 4e-3], 2e-3, d=1e5)
    t = lr_sweeps(pd.DataFrame(rows)).set_index(["size", "d_train_chars"])
    assert len(t) == 3
    assert t.loc[("a", 1e4), "bracketed"] and t.loc[("a", 1e4), "best_lr"] == 4e-3
    assert t.loc[("a", 1e4), "lr_opt"] == pytest.approx(3e-3, rel=1e-6)
    assert not t.loc[("b", 1e4), "bracketed"] and t.loc[("b", 1e4), "best_lr"] == 4e-3
    assert t.loc[("a", 1e5), "bracketed"] and t.loc[("a", 1e5), "best_lr"] == 2e-3
    few = lr_sweeps(pd.DataFrame(_cell("a", [1e-3, 2e-3], 2e-3)))  # no cell has 3 rates: no rows, every column
    assert few.empty and {"bracketed", "best_lr", "size"} <= set(few.columns)


def test_rate_rule_recovers_a_planted_power_law():
    from transfer_laws.analysis.tuning import fit_rate_rule

    rows = []
    for n, size in ((3e4, "a"), (1e5, "b"), (3e5, "c")):
        for d in (1e4, 1e5, 1e6):
            opt = 0.006 * (n / 3e4) ** -0.5 * (d / 1e4) ** 0.2
            rows += [{**r, "n_params": n} for r in _cell(size, list(opt * np.array([0.25, 0.5, 1.2, 2.4, 4.8])), opt, d=d)]
    cells = lr_sweeps(pd.DataFrame(rows))
    rule = fit_rate_rule(cells, "planted", with_d=True)
    assert rule.n_exponent == pytest.approx(-0.5, abs=1e-6) and rule.d_exponent == pytest.approx(0.2, abs=1e-6)
    assert rule(1e5, 1e5) == pytest.approx(0.006 * (1e5 / 3e4) ** -0.5 * 10 ** 0.2, rel=0.01)  # 2 significant digits
    with pytest.raises(ValueError, match="edge"):
        fit_rate_rule(cells.assign(bracketed=False), "planted")


def test_rate_rule_recovers_a_planted_interaction_and_prices_a_rate():
    """An N exponent that changes with D (the text fine-tunes: steep in N at D_F = 1e3, flat at 1e5)
    is recovered by the log-bilinear rule; ``sweep_cost`` reads a rate's cost off the sweep."""
    from transfer_laws.analysis.tuning import fit_rate_rule, sweep_cost

    def opt(n, d):
        x, y = np.log(n / 1e4), np.log(d / 1e4)
        return 0.001 * np.exp(-0.7 * x - 0.4 * y + 0.12 * x * y)

    rows = []
    for n, size in ((1e4, "a"), (5e4, "b"), (3e5, "c")):
        for d in (1e3, 1e4, 1e5):
            o = opt(n, d)
            rows += [{**r, "n_params": n} for r in _cell(size, list(o * np.array([0.25, 0.5, 1.2, 2.4, 4.8])), o, d=d)]
    cells = lr_sweeps(pd.DataFrame(rows))
    rule = fit_rate_rule(cells, "planted", with_d=True, interaction=True)
    assert (rule.n_exponent, rule.d_exponent, rule.nd_exponent) == pytest.approx((-0.7, -0.4, 0.12), abs=1e-6)
    assert rule.exact(2e5, 3e4) == pytest.approx(opt(2e5, 3e4), rel=1e-9) and rule.uses_d
    plain = fit_rate_rule(cells, "planted", with_d=True)
    assert abs(np.log(plain.exact(3e5, 1e3) / opt(3e5, 1e3))) > 0.2, "without the interaction the corner is missed"
    with pytest.raises(ValueError, match="interaction"):
        fit_rate_rule(cells, "planted", interaction=True)
    lrs, losses = [1e-3, 2e-3, 4e-3], [3.1, 3.0, 3.2]
    assert sweep_cost(2e-3, lrs, losses) == 0 and sweep_cost(4e-3, lrs, losses) == pytest.approx(0.2)
    assert sweep_cost(np.sqrt(2) * 1e-3, lrs, losses) == pytest.approx(0.05) and np.isnan(sweep_cost(1e-2, lrs, losses))


def test_recipe2_rules_are_the_fits_of_their_committed_sweeps():
    """hparams.RECIPE2_RULES's constants are what tuning.fit_rate_rule gives on the committed sweep
    cells each names (hparams.RULE_CELLS), rounded as written; a kind without a rule has no default."""
    from transfer_laws.train import hparams
    from transfer_laws import runs
    from transfer_laws.analysis.tuning import refit_rules

    table = runs.runs_table(runs.load_records())
    refits, cells = refit_rules(table)
    assert set(refits) == set(hparams.RECIPE2_RULES) and set(cells.kind) == set(refits)
    for kind, rule in hparams.RECIPE2_RULES.items():
        refit = refits[kind]
        assert hparams.significant(refit.lr_ref) == rule.lr_ref and refit.n_ref == rule.n_ref, kind
        assert refit.n_exponent == pytest.approx(rule.n_exponent, abs=0.005), kind
        assert refit.d_exponent == pytest.approx(rule.d_exponent, abs=0.005), kind
        assert refit.nd_exponent == pytest.approx(rule.nd_exponent, abs=0.005), kind
        if rule.d_max is not None:  # a rule is held at the largest D it was fitted to, not elsewhere
            assert rule.d_max == cells[(cells.kind == kind) & cells.bracketed].d_train_chars.max(), kind
    assert hparams.learning_rate("n28k", "pretrain", "text", recipe=2) == 0.0073
    assert hparams.kind_of_run("target", "mix") == "finetune-mix" != hparams.kind_of_run("target", "text")
    for kind, (phase, curriculum) in {"scratch": ("target", "scratch"), "finetune-text": ("target", "text"),
                                      "finetune-mix": ("target", "mix")}.items():
        if kind not in hparams.RECIPE2_RULES:
            with pytest.raises(ValueError, match="no fitted"):
                hparams.learning_rate("n28k", phase, curriculum, recipe=2, d_chars=1e4)
        else:  # at its reference size and D the rule's rate is its lr_ref
            rule = hparams.RECIPE2_RULES[kind]
            size = next(s for s, c in hparams.LADDER.items() if c.n_params() == rule.n_ref)
            assert hparams.learning_rate(size, phase, curriculum, recipe=2, d_chars=rule.d_ref) == rule.lr_ref


def test_a_rule_is_held_above_its_d_max():
    from transfer_laws.train.hparams import RateRule

    rule = RateRule(lr_ref=1e-3, n_ref=1e4, n_exponent=-0.5, d_ref=1e4, d_exponent=-0.5, nd_exponent=0.1,
                    source="planted", d_max=1e5)
    free = RateRule(**{**rule.__dict__, "d_max": None})
    assert rule(4e4, 1e5) == free(4e4, 1e5) and rule(4e4, 3e6) == rule(4e4, 1e5) != free(4e4, 3e6)
    assert rule(4e4, 1e3) == free(4e4, 1e3) and "D held at 1e5" in rule.formula()
    assert "held" not in free.formula()
    # above d_max, a power of D / d_max from the rate there, fitted to the checks' optima
    from transfer_laws.analysis.tuning import fit_high_d_exponent

    high = RateRule(**{**rule.__dict__, "d_exponent_high": 0.4})
    assert high.exact(4e4, 3e6) == pytest.approx(rule.exact(4e4, 1e5) * 30**0.4) and high(4e4, 1e5) == rule(4e4, 1e5)
    assert "(D/1e5)^0.40" in high.formula()
    cells = pd.DataFrame({"n_params": [1e4, 4e4, 4e4], "d_train_chars": [3e6, 1e6, 1e4], "bracketed": [True, True, True],
                          "lr_opt": [high.exact(1e4, 3e6), high.exact(4e4, 1e6), 1.0]})
    assert fit_high_d_exponent(cells, rule) == pytest.approx(0.4)
    with pytest.raises(ValueError, match="no bracketed cell above"):
        fit_high_d_exponent(cells.assign(bracketed=False), rule)


def test_the_rules_high_d_exponents_are_the_fits_of_their_committed_checks():
    """A fine-tuning rule's exponent above d_max is what tuning.fit_high_d_exponent gives on the
    committed check cells of the current plan (hparams.HIGH_DATA_CHECKS); while it awaits them
    (high_provisional) the rule is held there (exponent 0)."""
    from transfer_laws import runs
    from transfer_laws.analysis.tuning import fit_high_d_exponent, rule_cells
    from transfer_laws.runs import plan
    from transfer_laws.train import hparams

    table = runs.runs_table(runs.load_records())
    table = table[plan.in_plan(table, plan.load_plan())]
    for kind, where in hparams.HIGH_DATA_CHECKS.items():
        rule = hparams.RECIPE2_RULES[kind]
        assert rule.d_max is not None and max(where["d_train_chars"]) > rule.d_max, kind
        if rule.high_provisional:
            assert rule.d_exponent_high == 0, kind
            continue
        cells = rule_cells(table, kind, where)
        held = hparams.RateRule(**{**rule.__dict__, "d_exponent_high": 0.0})
        assert fit_high_d_exponent(cells, held) == pytest.approx(rule.d_exponent_high, abs=0.005), kind


def test_a_rule_awaiting_its_high_d_exponent_holds_only_the_runs_above_d_max(monkeypatch):
    from transfer_laws.train import hparams

    rule = hparams.RateRule(lr_ref=1e-3, n_ref=1e4, n_exponent=-0.5, d_ref=1e4, d_exponent=-0.5, source="planted",
                            d_max=1e5, high_provisional=True)
    monkeypatch.setitem(hparams.RECIPE2_RULES, "finetune-text", rule)
    kw = {"phase": "target", "curriculum": "text", "recipe": 2}
    assert "above D = 1e5" in hparams.provisional_rule({**kw, "d_train_chars": 3e6})
    assert hparams.provisional_rule({**kw, "d_train_chars": 1e5}) is None
    assert hparams.provisional_rule({**kw, "d_train_chars": 3e6, "lr": 1e-3}) is None  # a stated rate
    monkeypatch.setitem(hparams.RECIPE2_RULES, "finetune-text", hparams.RateRule(**{**rule.__dict__, "high_provisional": False}))
    assert hparams.provisional_rule({**kw, "d_train_chars": 3e6}) is None


def test_tuned_rates_from_a_bracketed_sweep_and_from_a_rule():
    from transfer_laws.analysis.tuning import at_tuned_rate, tuned_rates
    from transfer_laws.train.hparams import RateRule

    rows = [{**r, "n_params": 1e4, "recipe": 2, "seed": 0} for r in _cell("a", [1e-3, 2e-3, 4e-3, 8e-3], 3e-3)]
    # two more seeds at the sweep's best rate (tuned), one at an edge rate (not), and an edge-only cell
    rows += [{**rows[2], "seed": s} for s in (1, 2)] + [{**rows[0], "seed": 1}]
    rows += [{**r, "n_params": 1e4, "recipe": 2, "seed": 0} for r in _cell("a", [1e-3, 2e-3, 4e-3], 2e-2, d=1e5)]
    df = pd.DataFrame(rows)
    t = tuned_rates(df, rules={}).set_index("d_train_chars")
    assert t.loc[1e4, "lr_tuned"] == 4e-3 and t.loc[1e4, "tuned_by"].startswith("sweep")
    assert 1e5 not in t.index, "an edge-only cell is not tuned (without a rule)"
    tuned = at_tuned_rate(df, rules={})
    assert tuned.sum() == 3 and set(df[tuned].seed) == {0, 1, 2}
    # a fitted rule tunes a key without a bracketed sweep
    rule = {"scratch": RateRule(lr_ref=4e-3, n_ref=1e4, n_exponent=-0.5, source="planted")}
    t2 = tuned_rates(df, rules=rule).set_index("d_train_chars")
    assert t2.loc[1e5, "lr_tuned"] == 4e-3 and t2.loc[1e5, "tuned_by"] == "rule (planted)"
    assert at_tuned_rate(df, rules=rule).sum() == 4
    # the study's runs at the rule's rate are tuned where a sweep's best (on its x2 grid) differs
    study = pd.DataFrame([{**rows[0], "lr": 5e-3, "seed": s, "experiment": "y"} for s in (0, 1)])
    rule5 = {"scratch": RateRule(lr_ref=5e-3, n_ref=1e4, n_exponent=-0.5, source="planted")}
    both = pd.concat([df, study], ignore_index=True)
    assert at_tuned_rate(both, rules=rule5).iloc[-2:].all() and not at_tuned_rate(both, rules={}).iloc[-2:].any()
    assert tuned_rates(both, rules=rule5).set_index("d_train_chars").loc[1e4, "lr_rule"] == 5e-3


def test_rules_command_prints_each_rule_and_its_cost(tmp_path, capsys):
    """`transfer_laws rules` prices the written rules on their committed cells; a results folder
    without records is a one-line error, status 2."""
    from transfer_laws.cli import main
    from transfer_laws.train import hparams

    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    for kind, rule in hparams.RECIPE2_RULES.items():
        assert f"{kind}: lr_ref={rule.lr_ref:.6g}" in out and rule.formula() in out
    assert main(["rules", "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no run records") and "\n" not in err


def test_one_run_per_replicate_prefers_the_rule_rate():
    """A rate check's sweep at seed 0 (best 4e-3) beside the study's runs at the rule's 5e-3 for seeds
    0-2: both rates count as tuned, but seed 0 counts once, at the rule's rate."""
    from transfer_laws.analysis.tuning import at_tuned_rate, one_per_replicate
    from transfer_laws.train.hparams import RateRule

    rows = [{**r, "n_params": 1e4, "recipe": 2, "seed": 0} for r in _cell("a", [1e-3, 2e-3, 4e-3, 8e-3], 3e-3)]
    rows += [{**rows[0], "lr": 5e-3, "seed": s} for s in (0, 1, 2)]
    df = pd.DataFrame(rows)
    rule = {"scratch": RateRule(lr_ref=5e-3, n_ref=1e4, n_exponent=-0.5, source="planted")}
    tuned = at_tuned_rate(df, rules=rule)
    assert tuned.sum() == 4
    one = one_per_replicate(df, tuned, rules=rule)
    assert one.sum() == 3 and set(df[one].lr) == {5e-3} and sorted(df[one].seed) == [0, 1, 2]
    # without a rule, the sweep's best stands for seed 0
    assert set(df[one_per_replicate(df, at_tuned_rate(df, rules={}), rules={})].lr) == {4e-3}


def test_a_checks_cells_are_its_own_grids_runs():
    """The study's run at the rule's rate shares the check's cell; with "grid" the cell holds only
    the runs that grid plans, so that run does not move the optimum the rule is refitted to."""
    from transfer_laws.analysis.tuning import rule_cells

    rows = [{**r, "n_params": 1e4, "recipe": 2, "seed": 0, "batch_size_used": 32, "run_id": f"c{i}"}
            for i, r in enumerate(_cell("a", [1e-3, 4e-3, 1.6e-2], 4e-3))]
    rows.append({**rows[0], "lr": 2.5e-3, "val_loss": 2.0, "run_id": "study"})  # the rule's run, better still
    df = pd.DataFrame(rows)
    plan_rows = pd.DataFrame({"grid": ["check.toml"] * 3 + ["study.toml"], "run_id": ["c0", "c1", "c2", "study"]})
    where = {"experiment": "x", "d_train_chars": None}
    assert rule_cells(df, "scratch", where).iloc[0].n_rates == 4
    own = rule_cells(df, "scratch", {**where, "grid": "check.toml"}, plan_rows).iloc[0]
    assert own.n_rates == 3 and own.best_lr == 4e-3
