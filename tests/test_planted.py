"""A planted world through the whole pipeline: records for every run a grid plans (its horizon
branches grown by the sweep's own extension rule), the runs table, the selection, the primary fit
and the pre-training axis recover the laws the world was given."""

from pathlib import Path

import pytest

from transfer_laws import runs
from transfer_laws.analysis import selection
from transfer_laws.analysis.fitting import fit_joint, pretraining_axis
from transfer_laws.runs import planted

GRID = """
[defaults]
experiment = "planted"
recipe = 2
val_windows = 256
test_windows = 2048
batch_rule = "one_pass"
[[block]]
phase = "pretrain"
curriculum = ["text", "mix"]
size = ["n13k", "n57k", "n336k"]
schedule = "wsd"
warmup_steps = 100
min_steps = 1
max_steps = 1000000
train_tokens = 13107200
seed = [0, 1, 2]
[[block]]
phase = "pretrain"
curriculum = "text"
size = ["n13k", "n57k", "n336k"]
schedule = "wsd"
warmup_steps = 100
min_steps = 1
max_steps = 1000000
train_tokens = 52428800
seed = 0
[[block]]
phase = "target"
curriculum = "scratch"
size = ["n13k", "n57k", "n336k"]
d_train_chars = [1000, 3000, 10000, 30000, 100000, 300000, 1000000, 3000000]
schedule = "wsd"
warmup_steps = 10
max_epochs = [25, 50]
extend_epochs = 2.0
min_steps = 1
max_steps = 60000
lr = 0.001
[[block]]
phase = "target"
curriculum = ["text", "mix"]
size = ["n13k", "n57k", "n336k"]
d_train_chars = [1000, 3000, 10000, 30000, 100000]
warmup_steps = 0
min_steps = 2000
lr = 0.0005
pretrain = { seed = [0, 1, 2], train_tokens = 13107200 }
[[block]]
phase = "target"
curriculum = "text"
size = ["n13k", "n57k", "n336k"]
d_train_chars = [1000, 10000, 100000]
warmup_steps = 0
min_steps = 2000
lr = 0.0005
pretrain = { seed = 0, train_tokens = 52428800 }
"""


@pytest.fixture(scope="module")
def world_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("planted")
    grid = tmp / "grid.toml"
    grid.write_text(GRID)
    # the best horizon falls steeply with D (100 epochs at 1e6, 6 at 1e4): every family brackets it,
    # by a shorter and a longer branch or, at the smallest D, by its shortest branch's own evaluations
    n = planted.plant(grid, tmp / "results", planted.World(checkpoint_sd=0.0, run_sd=0.0, epochs_d_exp=0.6))
    table = runs.runs_table(runs.load_records(tmp / "results"))
    assert (tmp / "results" / "tokenizer_choice.csv").read_bytes() == (planted.REPO_RESULTS / "tokenizer_choice.csv").read_bytes()
    return n, table


def test_planting_refuses_the_repository_results(tmp_path):
    with pytest.raises(ValueError, match="repository's results"):
        planted.plant(tmp_path / "g.toml", planted.REPO_RESULTS)


def test_planted_records_grow_their_horizon_branches_and_pass_the_checks(world_runs):
    n, table = world_runs
    assert n == len(table) > 6 + 3 + 3 * 8 * 2 + 30 + 9  # branches were added past the planned two
    target = table[table.phase == "target"]
    reasons = selection.exclusion_reasons(target)
    # the best branch of each family is bracketed by a shorter and a longer one; siblings are refused
    assert set(reasons[target.curriculum != "scratch"]) == {""}
    scratch = target.curriculum == "scratch"
    kept = target[scratch & (reasons == "")]
    # D = 3e6 wants about 190 epochs, past the 60,000-step cap: capped at every size, the rest kept
    assert len(kept) == 3 * 7 and set(kept.d_train_chars) == {1e3, 3e3, 1e4, 3e4, 1e5, 3e5, 1e6}
    assert set(target[scratch & (reasons == "capped")].d_train_chars) == {3e6}
    assert set(reasons[scratch]) == {"", "not_best_branch", "capped"}
    assert (target.vs_checkpoint_nats.astype(float) < 0).all() == (target.curriculum != "scratch").all() or \
        (target[target.curriculum != "scratch"].vs_checkpoint_nats.astype(float) < 0).all()


def test_noise_free_world_gives_back_its_laws(world_runs):
    _, table = world_runs
    target = table[(table.phase == "target") & (selection.exclusion_reasons(table) == "")]
    main = target[(target.curriculum == "scratch") | (target.pretrain_tokens.astype(float) == 13107200)]
    world = planted.World()
    joint = fit_joint(main, ("text", "mix"), n_bootstrap=0, method="loss")
    for c in ("text", "mix"):
        k, alpha, beta = world.laws[c]
        f = joint.fit(c)
        assert f.alpha == pytest.approx(alpha, abs=0.02) and f.beta == pytest.approx(beta, abs=0.03), c
    g = pretraining_axis(target, "text", n_bootstrap=0)
    assert g["gamma"] == pytest.approx(world.gamma, abs=0.03) and g["gamma_method"] == "loss"
    assert g["gamma_direct"] is not None  # the cross-check, beside it
    # beta at fixed pre-training tokens is the world's; along the paper's path (P = 20 x N_total) it
    # gains gamma x d log N_total / d log N (below 1: embeddings are most of a small model)
    assert g["beta_fixed_p"] == pytest.approx(world.laws["text"][2], abs=0.03)
    assert 0.3 < g["path_exponent"] < 1 and g["beta_path"] == pytest.approx(
        g["beta_fixed_p"] + g["gamma"] * g["path_exponent"])
    assert pretraining_axis(target, "mix", n_bootstrap=0)["gamma"] is None


def test_the_bootstrap_keeps_the_pretraining_budget_as_a_fixed_effect(tmp_path):
    """With checkpoint noise, the budgets' checkpoints are not exchangeable with the main budget's:
    the bootstrap's draws of gamma centre on the point (they centred on 0 when a 4-pass checkpoint's
    effect was resampled as noise among the main budget's seeds) and the interval holds the truth."""
    (tmp_path / "grid.toml").write_text(GRID)
    world = planted.World(run_sd=0.0, epochs_d_exp=0.6)
    planted.plant(tmp_path / "grid.toml", tmp_path / "results", world)
    table = runs.runs_table(runs.load_records(tmp_path / "results"))
    target = table[(table.phase == "target") & (selection.exclusion_reasons(table) == "")]
    g = pretraining_axis(target, "text", n_bootstrap=100)
    assert abs(g["bias"]) < 0.05 and g["ci95"][0] < world.gamma < g["ci95"][1], g


def test_the_study_bar_measures_a_planted_grid_and_fails_where_it_falls_short(world_runs):
    """``acceptance.study_bar`` on the planted grid: every low-data fine-tune enters, 3 seeds per
    cell, one main budget at every size, from scratch converged to 1e6 with 3e6 capped; and each
    requirement reads False once the runs fall short of it."""
    from transfer_laws.analysis import acceptance
    from transfer_laws.analysis.fitting import transfer_points
    from transfer_laws.analysis.scratch import INTERPOLATED

    _, table = world_runs
    a = table.assign(in_plan=True, exclusion=selection.exclusion_reasons(table))
    sizes = ["n13k", "n57k", "n336k"]
    main = a[(a.phase == "target") & (a.exclusion == "")
             & ((a.curriculum == "scratch") | (a.pretrain_tokens.astype(float) == 13107200))]
    pts = transfer_points(main)[0]
    bar = acceptance.study_bar(a, "planted", sizes, 13107200, sweep_experiments=(), points=pts).set_index("check")
    met = bar.met.to_dict()
    entering = bar.loc["entering"]
    assert entering.measured == "90 of 90 (100%)" and entering.met  # 2 curricula x 3 sizes x 5 D_F x 3 seeds
    conv = bar.loc["converged"]
    assert conv.measured.startswith("n13k: 1e6 of 3e6 (1 D above") and conv.met
    assert bar.loc["seeds"].measured == "3 to 3 over 6 (size, curriculum) cells"
    assert bar.loc["budget"].measured == "13,107,200 tokens at 3 sizes"
    assert met["bracketed"] is None and met["hours"] is None  # no sweep here; hours are reported, not judged
    assert "with the machine to itself" in bar.loc["hours"].measured
    assert all(met[k] for k in ("entering", "converged", "seeds", "budget"))
    assert met["interpolated"] == ((pts.d_effective_status == INTERPOLATED).mean() >= 0.8)

    # short of the bar: 10 fine-tunes refused, a seed missing, a D_E read above the converged range
    ft = a.index[(a.phase == "target") & (a.curriculum == "text") & (a.pretrain_tokens.astype(float) == 13107200)]
    short = a.drop(a.index[(a.phase == "pretrain") & (a.curriculum == "mix") & (a["size"] == "n57k") & (a.seed == 2)])
    short.loc[ft[:10], "exclusion"] = "unresolved"
    bad = pts.copy()
    i = bad.index[bad.n_params == bad.n_params.min()][0]
    bad.loc[i, ["d_effective", "d_effective_status"]] = [2e6, INTERPOLATED]
    worse = acceptance.study_bar(short, "planted", sizes, 13107200, sweep_experiments=(), points=bad).set_index("check")
    assert worse.loc["entering"].measured == "80 of 90 (89%); refused: 10 unresolved"
    assert not worse.loc["entering"].met
    assert not worse.loc["seeds"].met and "mix n57k (2)" in worse.loc["seeds"].measured
    assert not worse.loc["converged"].met
    # no complete size: nothing about the runs is judged yet
    empty = acceptance.study_bar(a, "planted", [], 13107200, sweep_experiments=()).set_index("check")
    assert empty.met[["entering", "interpolated", "converged", "seeds"]].isna().all()
