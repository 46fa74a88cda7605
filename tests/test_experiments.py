"""The past-the-paper analyses recover planted effective data and laws."""

import numpy as np
import pandas as pd
import pytest

from transfer_laws.analysis import experiments, laws
from transfer_laws.analysis.fitting import TransferFit

D_GRID = [1e3, 3e3, 1e4, 3e4, 1e5, 3e5, 1e6, 3e6, 1e7]


def scratch_loss(d):
    return 2.0 + 40.0 * np.asarray(d, float) ** -0.3


def row(**kw):
    base = {"phase": "target", "experiment": "main", "curriculum": "scratch", "size": "n57k", "n_params": 56640,
            "seed": 0, "pretrain_id": None, "pretrain_tokens": np.nan, "run_id": None}
    base.update(kw)
    base["run_id"] = base["run_id"] or f"r{abs(hash(tuple(sorted(map(str, kw.items()))))) % 10**12}"
    return base


def table():
    rows = [row(d_train_chars=d, test_loss=scratch_loss(d)) for d in D_GRID]
    rows += [row(phase="pretrain", curriculum="text", run_id="p1", pretrain_tokens=np.nan, d_train_chars=np.nan,
                 test_loss=np.nan),
             row(phase="pretrain", curriculum="text", run_id="p4", experiment="pretrain-amount", d_train_chars=np.nan,
                 test_loss=np.nan),
             row(phase="pretrain", curriculum="text", run_id="pc", experiment="contamination", d_train_chars=np.nan,
                 test_loss=np.nan)]
    # planted D_E on grid nodes: 1x gives D_E = 10 D_F, 4x gives 30 D_F, contamination 100 D_F
    for d_f in (1e3, 1e4):
        rows.append(row(curriculum="text", pretrain_id="p1", pretrain_tokens=1e6, d_train_chars=d_f,
                        test_loss=scratch_loss(10 * d_f)))
        rows.append(row(curriculum="text", pretrain_id="p4", pretrain_tokens=4e6, d_train_chars=d_f,
                        experiment="pretrain-amount", test_loss=scratch_loss(30 * d_f)))
        rows.append(row(curriculum="text", pretrain_id="pc", pretrain_tokens=1e6, d_train_chars=d_f,
                        experiment="contamination", test_loss=scratch_loss(100 * d_f)))
    return pd.DataFrame(rows)


def test_pretrain_amount_recovers_planted_transfer():
    out = experiments.pretrain_amount(table())
    assert sorted(out.tokens_multiplier.unique()) == [1.0, 4.0]
    one = out[out.tokens_multiplier == 1].set_index("d_train_chars").d_transferred
    four = out[out.tokens_multiplier == 4].set_index("d_train_chars").d_transferred
    assert one.to_numpy() == pytest.approx([9e3, 9e4], rel=1e-6)
    assert four.to_numpy() == pytest.approx([29e3, 29e4], rel=1e-6)
    ratio = experiments.paired_ratio(out, "tokens_multiplier", 1.0)
    assert ratio.d_transferred_ratio.to_numpy() == pytest.approx([29 / 9, 29 / 9], rel=1e-6)


def test_contamination_pairs_clean_and_contaminated():
    out = experiments.contamination(table())
    assert set(out.pretraining) == {"text", "text + 1% Python"}
    ratio = experiments.paired_ratio(out, "pretraining", "text")
    assert ratio.d_transferred_ratio.to_numpy() == pytest.approx([99 / 9, 99 / 9], rel=1e-6)


def test_missing_experiment_is_a_clear_error():
    t = table()
    with pytest.raises(experiments.ExperimentDataError, match="no fine-tunes of experiment 'pretrain-seed'"):
        experiments.pretrain_seed(t)
    with pytest.raises(experiments.ExperimentDataError, match="no from-scratch runs of size n57k"):
        experiments.pretrain_amount(t[t.curriculum != "scratch"])


def test_high_data_comparison_names_the_lower_loss():
    t = pd.DataFrame([row(curriculum="text", d_train_chars=1e7, test_loss=3.0, pretrain_id="a", epochs=0.5),
                      row(curriculum="mix", d_train_chars=1e7, test_loss=3.1, pretrain_id="b", epochs=0.5),
                      row(curriculum="text", d_train_chars=1e3, test_loss=6.0, pretrain_id="a", epochs=40.0),
                      row(curriculum="mix", d_train_chars=1e3, test_loss=5.0, pretrain_id="b", epochs=40.0)])
    out = experiments.high_data_comparison(t)
    assert list(out.lower_loss) == ["mix", "text"]
    assert out.text_minus_mix_nats.to_numpy() == pytest.approx([1.0, -0.1])
    assert out.finetune_epochs.to_numpy() == pytest.approx([40.0, 0.5])


def test_paired_difference_removes_the_shared_window_noise():
    rng = np.random.default_rng(0)
    hard = rng.gamma(2.0, 1.5, size=512)  # windows differ a lot in difficulty; both runs share it
    text, mix = hard + 0.05 + rng.normal(0, 0.02, 512), hard + rng.normal(0, 0.02, 512)
    gap, se = experiments.paired_difference([text], [mix])
    assert gap == pytest.approx(0.05, abs=3 * se)
    assert se == pytest.approx(np.sqrt(2) * 0.02 / np.sqrt(512), rel=0.15)
    unpaired = np.hypot(text.std(), mix.std()) / np.sqrt(512)
    assert se < unpaired / 20
    # seeds on one side are averaged window by window first
    gap2, _ = experiments.paired_difference([text, text + 0.1], [mix])
    assert gap2 == pytest.approx(gap + 0.05)
    with pytest.raises(ValueError, match="different numbers of test windows"):
        experiments.paired_difference([text], [mix[:100]])
    with pytest.raises(ValueError, match="at least one run on each side"):
        experiments.paired_difference([], [mix])


def test_high_data_comparison_pairs_windows_where_every_run_stores_them():
    rng = np.random.default_rng(1)
    hard = rng.gamma(2.0, 1.5, size=256)
    t = pd.DataFrame([row(curriculum="text", d_train_chars=1e7, test_loss=3.0, pretrain_id="a", epochs=0.5, run_id="t7"),
                      row(curriculum="mix", d_train_chars=1e7, test_loss=3.1, pretrain_id="b", epochs=0.5, run_id="m7"),
                      row(curriculum="text", d_train_chars=1e3, test_loss=6.0, pretrain_id="a", epochs=40.0, run_id="t3"),
                      row(curriculum="mix", d_train_chars=1e3, test_loss=5.0, pretrain_id="b", epochs=40.0, run_id="m3")])
    windows = {"t7": hard + rng.normal(0, 0.05, 256), "m7": hard + rng.normal(0, 0.05, 256), "t3": hard}
    out = experiments.high_data_comparison(t, window_losses=windows).set_index("d_train_chars")
    assert np.isnan(out.loc[1e3, "text_minus_mix_se_nats"]), "m3 stores no windows"
    assert out.loc[1e7, "text_minus_mix_se_nats"] == pytest.approx(np.sqrt(2) * 0.05 / 16, rel=0.2)
    assert np.isnan(experiments.high_data_comparison(t).text_minus_mix_se_nats).all()


def test_fitted_crossover_matches_the_closed_form():
    t, m = laws.PAPER_TEXT, laws.PAPER_MIX
    fit = lambda law: TransferFit(law.k, law.alpha, law.beta, 10,
                                  draws=np.tile([np.log(law.k), law.alpha, law.beta], (20, 1)))
    out = experiments.fitted_crossover(fit(t), fit(m), [1e5, 1e9])
    assert out.crossover_chars.to_numpy() == pytest.approx([laws.crossover_d_finetune(t, m)] * 2, rel=1e-9)
    assert out.ci95_low.to_numpy() == pytest.approx(out.crossover_chars.to_numpy(), rel=1e-9)
    # different betas: the crossover moves with N as (N^(b_m - b_t))^(1/(a_t - a_m))
    t2 = laws.TransferLaw(t.k, t.alpha, t.beta + 0.05)
    x = laws.crossover_at_n(t2, m, np.array([1e5, 1e6]))
    assert x[1] / x[0] == pytest.approx(10 ** (-0.05 / (t.alpha - m.alpha)), rel=1e-9)


def test_pretrain_elasticity_recovers_a_planted_power():
    rows = []
    for tokens in (1e6, 4e6, 16e6):
        for d_f, k in ((1e3, 1.0), (1e4, 3.0)):
            rows.append({"pretrain_tokens": tokens, "d_train_chars": d_f, "d_transferred": k * tokens ** 0.4})
    assert experiments.pretrain_elasticity(pd.DataFrame(rows)) == pytest.approx(0.4)
    assert np.isnan(experiments.pretrain_elasticity(pd.DataFrame(rows[:2])))


def test_finetune_lr_pairs_each_rerun_with_its_reference_and_scratch():
    rows = [row(d_train_chars=d, test_loss=scratch_loss(d), lr=3e-3) for d in D_GRID]
    rows.append(row(phase="pretrain", curriculum="text", run_id="p1", d_train_chars=np.nan, test_loss=np.nan))
    for d_f, ref_loss, exp_loss in ((1e6, scratch_loss(1e6) + 0.2, scratch_loss(1e6) - 0.05),
                                    (3e6, scratch_loss(3e6) + 0.1, scratch_loss(3e6) + 0.08)):
        rows.append(row(curriculum="text", pretrain_id="p1", d_train_chars=d_f, test_loss=ref_loss, lr=1e-3))
        rows.append(row(curriculum="text", pretrain_id="p1", d_train_chars=d_f, test_loss=exp_loss, lr=3e-3,
                        experiment="finetune-lr"))
    rows.append(row(curriculum="text", pretrain_id="p1", d_train_chars=1e6, test_loss=9.0, lr=1e-3, seed=1))
    out = experiments.finetune_lr(pd.DataFrame(rows)).set_index("d_train_chars")
    assert out.reference_minus_scratch_nats.to_numpy() == pytest.approx([0.2, 0.1])
    assert out.experiment_minus_scratch_nats.to_numpy() == pytest.approx([-0.05, 0.08])
    assert out.gain_from_experiment_lr_nats.to_numpy() == pytest.approx([0.25, 0.02])
    assert (out.lr_experiment == 3e-3).all() and (out.lr_reference == 1e-3).all()
    with pytest.raises(experiments.ExperimentDataError, match="finetune-lr"):
        experiments.finetune_lr(pd.DataFrame(rows[:len(D_GRID) + 1]))


def test_paired_ratio_is_undefined_where_transfer_is_not_positive_and_gives_the_loss_difference():
    t = pd.DataFrame({"d_train_chars": [1e3, 1e3, 1e4, 1e4], "arm": ["ref", "x", "ref", "x"],
                      "d_transferred": [100.0, 300.0, -50.0, 20.0], "test_loss": [5.0, 4.8, 4.0, 3.9]})
    out = experiments.paired_ratio(t, "arm", "ref").set_index("d_train_chars")
    assert out.loc[1e3, "d_transferred_ratio"] == pytest.approx(3.0)
    assert np.isnan(out.loc[1e4, "d_transferred_ratio"])  # the reference transferred nothing: no ratio
    assert out.test_loss_minus_reference_nats.to_numpy() == pytest.approx([-0.2, -0.1])


def test_pretrain_elasticity_per_d_recovers_planted_slopes():
    rows = []
    for d, slope in ((1e3, -0.5), (1e5, 0.8)):
        for tokens in (1e6, 4e6, 1.6e7):
            rows.append({"d_train_chars": d, "pretrain_tokens": tokens, "d_transferred": 100 * tokens ** slope})
    rows.append({"d_train_chars": 1e5, "pretrain_tokens": 1e6, "d_transferred": -5.0})  # ignored: no log
    out = experiments.pretrain_elasticity_by_d(pd.DataFrame(rows)).set_index("d_train_chars")
    assert out.elasticity.to_numpy() == pytest.approx([-0.5, 0.8], rel=1e-6)


def test_schedule_comparison_reads_the_difference_against_seed_spread():
    base = {"experiment": "p", "phase": "pretrain", "curriculum": "text", "size": "n28k", "n_params": 28368,
            "tokens_seen": 100}
    rows = [{**base, "schedule": s, "seed": k, "val_loss": v}
            for s, k, v in (("wsd", 0, 3.50), ("wsd", 1, 3.54), ("cosine", 0, 3.52), ("cosine", 1, 3.53))]
    rows += [{**base, "size": "n100k", "n_params": 100096, "schedule": s, "seed": k, "val_loss": v}
             for s, k, v in (("wsd", 0, 3.30), ("wsd", 1, 3.31), ("cosine", 0, 3.40), ("cosine", 1, 3.41))]
    rows += [{**base, "tokens_seen": 50, "schedule": "wsd", "seed": 0, "val_loss": 3.9}]  # no cosine twin
    out = experiments.schedule_comparison(pd.DataFrame(rows), "p").set_index("size")
    assert len(out) == 2
    assert out.loc["n28k", "wsd_minus_cosine"] == pytest.approx(-0.005) and out.loc["n28k", "within_seed_noise"]
    assert out.loc["n100k", "wsd_minus_cosine"] == pytest.approx(-0.1) and not out.loc["n100k", "within_seed_noise"]


def test_seed_noise_separates_data_and_pretraining_seeds():
    base = {"experiment": "p", "phase": "target", "curriculum": "text", "size": "n28k", "n_params": 28368,
            "d_train_chars": 1e3, "lr": 4e-4, "test_loss_se": 0.01}
    rows = [{**base, "pretrain_seed": 0, "data_seed": k, "test_loss": v} for k, v in ((1, 5.0), (2, 5.2), (3, 5.4))]
    rows += [{**base, "pretrain_seed": 1, "data_seed": 1, "test_loss": 5.5}]
    rows += [{**base, "d_train_chars": 1e4, "pretrain_seed": 0, "data_seed": 1, "test_loss": 4.0}]  # one run: no noise read
    out = experiments.seed_noise(pd.DataFrame(rows), "p")
    assert len(out) == 1
    r = out.iloc[0]
    assert r.data_seed_sd == pytest.approx(0.2) and r.data_seeds == 3
    assert r.pretrain_seed_difference == pytest.approx(0.5) and r.pretrain_seeds == 2 and r.eval_se == 0.01


def test_resolution_summary_counts_checks_per_cell():
    base = {"experiment": "p", "phase": "target", "curriculum": "text", "size": "n28k", "n_params": 28368,
            "d_train_chars": 1e3}
    rows = [{**base, "best_step": b, "unresolved": u, "zero_shot": z, "vs_checkpoint_nats": v, "vs_checkpoint_se": 0.01}
            for b, u, z, v in ((10, False, False, -1.2), (30, True, False, -1.0), (0, False, True, 0.0))]
    rows += [{**base, "curriculum": "scratch", "best_step": 5, "unresolved": False, "zero_shot": False,
              "vs_checkpoint_nats": None, "vs_checkpoint_se": None}]
    out = experiments.resolution_summary(pd.DataFrame(rows), "p")
    assert len(out) == 1
    r = out.iloc[0]
    assert (r.runs, r.unresolved, r.zero_shot, r.median_best_step) == (3, 1, 1, 10)
    assert r.vs_checkpoint_median == pytest.approx(-1.0) and r.vs_checkpoint_se_max == 0.01


def test_horizon_check_pairs_a_longer_horizon_with_its_shorter_twin():
    import pandas as pd

    from transfer_laws.analysis.experiments import horizon_check

    base = {"phase": "target", "curriculum": "scratch", "size": "n28k", "n_params": 28368, "d_train_chars": 1e6,
            "lr": 0.008, "data_seed": 1, "seed": 0, "stop_reason": "budget", "exclusion": "capped"}
    runs = pd.DataFrame([
        {**base, "experiment": "pilot2-horizon", "epochs": 400.0, "steps": 40699, "best_step": 39918, "test_loss": 3.37},
        {**base, "experiment": "pilot2-lr", "epochs": 50.0, "steps": 5088, "best_step": 4904, "test_loss": 3.44},
        {**base, "experiment": "pilot2-lr", "lr": 0.004, "epochs": 50.0, "steps": 5088, "best_step": 5088,
         "test_loss": 3.45}])  # another rate: not the twin
    t = horizon_check(runs)
    assert list(t.horizon) == ["longer", "shorter"] and list(t.steps) == [40699, 5088]
    assert list(t.refused) == ["capped", "capped"]
    assert horizon_check(runs[runs.experiment == "pilot2-lr"]).empty


def test_the_high_data_rate_check_reads_its_own_grid_beside_scratch_at_equal_steps():
    """The check's rates as multiples of the rule's held rate, its best rate, a diverged run flagged,
    and the from-scratch loss of the same cell at the same steps only (not a longer branch)."""
    from dataclasses import replace

    from transfer_laws.report import plots
    from transfer_laws.train.hparams import HIGH_DATA_CHECKS, RECIPE2_RULES

    where = HIGH_DATA_CHECKS["finetune-text"]
    n, d = 12768.0, float(where["d_train_chars"][0])
    held = replace(RECIPE2_RULES["finetune-text"], d_exponent_high=0.0)(n, d)
    base = {"experiment": where["experiment"], "phase": "target", "size": where["sizes"][0], "n_params": n,
            "d_train_chars": d, "seed": 0, "batch_size_used": 32, "pretrain_id": "p0"}
    rows = [{**base, "curriculum": "text", "lr": held * m, "val_loss": 3.3 + 0.05 * np.log(m / 16) ** 2,
             "steps": 15306, "run_id": f"t{i}"} for i, m in enumerate([1, 4, 16, 64])]
    rows.append({**base, "curriculum": "text", "lr": held * 256, "val_loss": 5.2, "steps": 6, "run_id": "t4",
                 "diverged": True})
    rows += [{**base, "curriculum": "scratch", "pretrain_id": None, "lr": 0.008, "val_loss": v, "steps": s,
              "run_id": f"s{i}"} for i, (v, s) in enumerate([(3.25, 15306), (3.23, 15306), (3.20, 30612)])]
    runs = pd.DataFrame(rows)
    plan_rows = pd.DataFrame({"grid": where["grid"], "run_id": [f"t{i}" for i in range(5)]})
    t = experiments.high_data_rate_check(runs, plan_rows)
    assert list(t.times_held.round(6)) == [1, 4, 16, 64, 256]
    assert t.loc[t.best, "times_held"].tolist() == [16] and t.diverged.tolist() == [False] * 4 + [True]
    assert t.scratch_runs.iloc[0] == 2 and t.scratch_val_loss.iloc[0] == pytest.approx(3.24)
    assert (t.rule_lr == RECIPE2_RULES["finetune-text"](n, d)).all()
    spec = plots.rate_check(t).to_dict()
    drawn = spec["datasets"][spec["layer"][0]["data"]["name"]]
    assert len(drawn) == 4 and max(r["val_loss"] for r in drawn) < 5  # the diverged run is off the chart


def study_table():
    """A second-study layout: one experiment, text budgets 0.25x/1x/4x (seed 0), three seeds at 1x."""
    rows = []
    for size, n in (("n13k", 12768), ("n28k", 28368)):
        rows += [row(experiment="study2", size=size, n_params=n, d_train_chars=d, test_loss=scratch_loss(d),
                     data_seed=1) for d in D_GRID]
        for d_f in (1e3, 1e4):
            for budget, mult in ((3.3e6, 3), (13.1e6, 10), (52.4e6, 30)):
                rows.append(row(experiment="study2", size=size, n_params=n, curriculum="text", d_train_chars=d_f,
                                pretrain_id=f"{size}-{budget}", pretrain_tokens=budget, pretrain_seed=0, data_seed=1,
                                test_loss=scratch_loss(mult * d_f)))
            for seed, mult in ((1, 12), (2, 8)):
                rows.append(row(experiment="study2", size=size, n_params=n, curriculum="text", d_train_chars=d_f,
                                pretrain_id=f"{size}-s{seed}", pretrain_tokens=13.1e6, pretrain_seed=seed,
                                data_seed=1, test_loss=scratch_loss(mult * d_f)))
    return pd.DataFrame(rows)


def test_study_pretrain_amount_and_seeds_read_the_study_itself():
    t = study_table()
    amount = experiments.study_pretrain_amount(t, "study2")
    assert set(amount["size"]) == {"n28k"}  # the largest size with several budgets
    assert sorted(amount.tokens_multiplier.round(3).unique()) == pytest.approx([3.3 / 13.1, 1.0, 4.0], rel=1e-3)
    four = amount[amount.pretrain_tokens == 52.4e6].set_index("d_train_chars").d_transferred
    assert four.to_numpy() == pytest.approx([29e3, 29e4], rel=1e-6)
    seeds = experiments.study_pretrain_seeds(t, "study2")
    assert set(seeds["size"]) == {"n28k"} and sorted(seeds.pretrain_seed.unique()) == [0, 1, 2]
    d_t = seeds[seeds.d_train_chars == 1e3].set_index("pretrain_seed").d_transferred
    assert d_t.to_numpy() == pytest.approx([9e3, 11e3, 7e3], rel=1e-3)  # 12 and 8 D_F lie between curve nodes
    with pytest.raises(experiments.ExperimentDataError, match="two pre-training budgets"):
        experiments.study_pretrain_amount(t[t.pretrain_tokens.fillna(13.1e6) == 13.1e6], "study2")


def test_tokenizer_ablation_reads_each_arm_off_its_own_scratch_curve():
    """Two tokenizers whose losses per token differ by a constant factor: each arm's D_E comes from
    its own from-scratch curve, so a fine-tune worth 3x its data is read as 3x in both arms."""
    import numpy as np
    import pandas as pd

    from transfer_laws.analysis import experiments

    d = np.array([1e3, 3e3, 1e4, 3e4, 1e5, 3e5])
    law = lambda x: 2 + (1e6 / x) ** 0.3  # noqa: E731
    rows = []
    for tok, scale in (("main", 1.0), ("text", 1.4)):
        for seed in (0, 1):
            rows += [dict(curriculum="scratch", d_train_chars=x, test_loss=scale * law(x), tokenizer=tok, seed=seed)
                     for x in d]
        rows += [dict(curriculum="text", d_train_chars=x, test_loss=scale * law(3 * x), tokenizer=tok, seed=0,
                      pretrain_tokens=100) for x in (1e3, 1e4)]
    runs = pd.DataFrame(rows).assign(experiment="s", phase="target", size="n28k", n_params=28368.0)
    out = experiments.tokenizer_ablation(runs, "s", 100)
    assert set(out.tokenizer) == {"main", "text"} and len(out) == 4
    assert np.allclose(out.multiplier, 3.0, rtol=0.05)
    with pytest.raises(experiments.ExperimentDataError):
        experiments.tokenizer_ablation(runs[runs.tokenizer == "main"], "s", 100)
    assert plots_build(out)


def plots_build(out):
    from transfer_laws.report import plots

    return plots.tokenizer_ablation(out).to_dict() and plots.tokenizer_ablation(None).to_dict()
