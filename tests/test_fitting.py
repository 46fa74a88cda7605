"""Planted-law worlds: from-scratch losses from a known L_N(D); fine-tuned losses from
L_N(D_F + k D_F^alpha N^beta) with noise. The fit recovers (k, alpha, beta) within its intervals."""

import numpy as np
import pandas as pd
import pytest

from transfer_laws.analysis.fitting import fit_transfer, fit_transfer_direct
from transfer_laws.analysis.scratch import fit_scratch_curve

K, ALPHA, BETA = 50.0, 0.3, 0.4
NS = np.array([1e4, 3e4, 1e5, 3e5, 1e6, 3e6])


def scratch_loss(n, d):  # per-N curve: E_N + B D^-0.35 with D(N) growing with N
    e = 1.5 + (1e7 / n) ** 0.15
    return e + 60.0 * (n / 1e4) ** 0.1 * d ** -0.35


def world(seed=0, noise=0.004, seeds=2):
    rng = np.random.default_rng(seed)
    rows = []
    d_scratch = np.logspace(3, 10, 15)
    d_ft = np.logspace(3, 6, 7)
    for n in NS:
        for d in d_scratch:
            rows.append({"curriculum": "scratch", "n_params": n, "d_train_chars": d,
                         "test_loss": scratch_loss(n, d) * np.exp(rng.normal(0, noise))})
        for d in d_ft:
            for _ in range(seeds):
                d_e = d + K * d**ALPHA * n**BETA
                rows.append({"curriculum": "text", "n_params": n, "d_train_chars": d,
                             "test_loss": scratch_loss(n, d_e) * np.exp(rng.normal(0, noise))})
    return pd.DataFrame(rows)


def test_scratch_curve_recovered():
    d = np.logspace(3, 10, 15)
    c = fit_scratch_curve(d, scratch_loss(1e5, d), 1e5)
    assert c.e == pytest.approx(1.5 + 100 ** 0.15, rel=1e-3) and c.b_exp == pytest.approx(0.35, rel=1e-3)


def test_direct_fit_exact_points():
    dF, n = np.meshgrid(np.logspace(2, 5, 5), NS)
    k, a, b = fit_transfer_direct(dF.ravel(), n.ravel(), K * dF.ravel() ** ALPHA * n.ravel() ** BETA)
    assert (k, a, b) == pytest.approx((K, ALPHA, BETA), rel=1e-6)


def test_planted_world_recovered_within_intervals():
    fit = fit_transfer(world(), "text", n_bootstrap=60, seed=1)
    assert fit.n_points >= 20 and fit.share_interpolated > 0.9
    for name, truth in (("alpha", ALPHA), ("beta", BETA)):
        lo, hi = fit.ci95[name]
        assert lo <= truth <= hi, (name, lo, hi)
    # k (D_T at N = 1, D_F = 1) is read far outside the data; its coverage over many worlds is
    # test_coverage's job: here, its point lies inside its own interval
    assert fit.ci95["k"][0] <= fit.k <= fit.ci95["k"][1]


def test_degenerate_inputs():
    with pytest.raises(ValueError, match="one N"):
        fit_transfer_direct([1, 10, 100], [5, 5, 5], [1, 2, 3])
    with pytest.raises(ValueError, match="at least 3"):
        fit_transfer_direct([1, 10], [5, 6], [1, 2])


from transfer_laws.analysis.compute import compute_frontier, ossification_map, time_on_frontier
from transfer_laws.analysis.fitting import fit_transfer_paper, leave_one_d_out, shared_beta_test, transfer_points


def test_paper_method_exact():
    dF, n = np.meshgrid(np.logspace(2, 5, 5), NS)
    dF, n = dF.ravel(), n.ravel()
    r = K * dF ** (ALPHA - 1) * n ** BETA
    assert fit_transfer_paper(dF, n, r / (1 + r)) == pytest.approx((K, ALPHA, BETA), rel=1e-6)


@pytest.mark.parametrize("method", ["paper", "loss"])
def test_three_methods_agree_on_a_planted_world(method):
    fit = fit_transfer(world(), "text", n_bootstrap=30, seed=2, method=method)
    assert fit.alpha == pytest.approx(ALPHA, abs=0.1) and fit.beta == pytest.approx(BETA, abs=0.1)


def test_shared_beta_detects_equal_and_different_betas():
    w = world(seed=3)
    mix = w[w.curriculum == "text"].copy()
    mix["curriculum"] = "mix"
    same = shared_beta_test(pd.concat([w, mix]), n_bootstrap=40, margin=0.15)
    assert abs(same.beta_difference) < 1e-9 and same.preferred == "shared" and same.equivalent
    # a world where the mix has beta 0.1 instead of 0.4
    rows = []
    for n in NS:
        for d in np.logspace(3, 6, 7):
            d_e = d + K * 30 * d ** ALPHA * n ** 0.1
            rows.append({"curriculum": "mix", "n_params": n, "d_train_chars": d, "test_loss": scratch_loss(n, d_e)})
    diff = shared_beta_test(pd.concat([w, pd.DataFrame(rows)]), n_bootstrap=40, margin=0.1)
    assert diff.ci95[0] > 0.1 and not diff.equivalent and diff.preferred == "separate"


def test_leave_one_out_predicts_a_planted_law():
    oos = leave_one_d_out(world(seed=4), "text")
    assert len(oos) >= 4
    interior = oos.iloc[1:-1]  # the end points are extrapolations of the remaining fit
    assert (interior.log_error_d_transferred < 0.25).all() and (oos.log_error_loss < 0.02).all()


def test_leave_largest_size_out_predicts_a_planted_law_and_misses_a_broken_one():
    """Out of sample in N: fitted without the largest size, the planted law predicts its fine-tuned
    losses to within the noise; a largest size whose fine-tunes gain nothing is missed by far."""
    from transfer_laws.analysis.fitting import leave_largest_size_out

    w = world(seed=4)
    oos = leave_largest_size_out(w, "text")
    assert oos["n_params"] == NS.max() and len(oos["points"]) >= 1
    assert oos["worst_abs_loss_error"] < 0.05 and oos["mean_abs_loss_error_ci95"][0] <= oos["mean_abs_loss_error"]
    assert oos["mean_abs_loss_error"] <= oos["mean_abs_loss_error_ci95"][1]
    broken = w.copy()
    top = (broken.curriculum == "text") & (broken.n_params == NS.max())
    broken.loc[top, "test_loss"] = scratch_loss(NS.max(), broken.loc[top, "d_train_chars"])  # no transfer at all
    bad = leave_largest_size_out(broken, "text")
    assert bad["mean_abs_loss_error_ci95"][0] > 5 * oos["mean_abs_loss_error"]
    with pytest.raises(ValueError):
        leave_largest_size_out(w[w.n_params <= NS[0]], "text")


def test_transfer_share_regime_recovers_a_planted_law():
    """The plan's sensitivity regime (D_T / D_E >= 1/2) refits the planted law on the points where
    transfer dominates, and uses fewer points as the threshold rises."""
    from transfer_laws.analysis.fitting import fit_by_transfer_share

    w = world(seed=2)
    half = fit_by_transfer_share(w, "text")
    assert half["alpha"] == pytest.approx(ALPHA, abs=0.05) and half["beta"] == pytest.approx(BETA, abs=0.05)
    assert fit_by_transfer_share(w, "text", min_share=0.9)["points"] < half["points"]


def test_ossification_map_flags_harmful_pretraining():
    w = world(noise=0.0)
    bad = w[w.curriculum == "text"].copy()
    bad["test_loss"] = scratch_loss(bad.n_params, bad.d_train_chars) + 0.05  # worse than scratch
    m = ossification_map(pd.concat([w[w.curriculum == "scratch"], bad]))
    assert m.ossified.all() and (m.finetuned_minus_scratch > 0.02).all()


def test_frontier_and_time_on_it():
    runs = pd.DataFrame({"run_id": ["a", "b"], "curriculum": ["scratch", "text"], "phase": "target",
                         "pretrain_id": [None, "p"]})
    curves = pd.DataFrame({"run_id": ["a"] * 3 + ["b"] * 3, "flops_full": [1, 2, 4, 1, 2, 4],
                           "val_loss": [5.0, 4.0, 3.0, 4.0, 3.5, 3.4]})
    pts = compute_frontier(curves, runs)
    t = time_on_frontier(pts).set_index("run_id").fraction_on_frontier
    assert t["b"] == pytest.approx(2 / 3) and t["a"] == pytest.approx(1 / 3)
    runs2 = pd.concat([runs, pd.DataFrame({"run_id": ["p"], "curriculum": ["text"], "phase": ["pretrain"],
                                           "pretrain_id": [None], "flops_full": [10.0]})])
    pts2 = compute_frontier(curves, runs2.assign(flops_full=runs2.get("flops_full", 0.0)), include_pretrain=True)
    assert pts2[pts2.run_id == "b"].flops_full.min() == 11


def test_alpha_at_one_size():
    from transfer_laws.analysis.fitting import alpha_at_fixed_n

    a = alpha_at_fixed_n(world(seed=8, noise=0.002), "text")
    assert len(a) == len(NS) and (abs(a.alpha - ALPHA) < 0.1).all()


def test_all_effective_data_undefined():
    w = world()
    bad = w.copy()
    bad.loc[bad.curriculum == "text", "test_loss"] = 99.0  # worse than every from-scratch run
    with pytest.raises(ValueError, match="at least 3 points"):
        fit_transfer(bad, "text", n_bootstrap=5)


def test_scratch_curve_fits_the_power_law_tail_past_a_flat_start():
    """Small models barely learn at the smallest D: a flat start then a power-law tail. The fit
    keeps only the tail, so E, b and D(N) are those of the tail; fitting every point cannot."""
    d = np.logspace(3, 8, 11)
    e, b_coef, b_exp = 3.6, 2e4, 0.9
    loss = np.minimum(e + b_coef * d ** -b_exp, 6.7 - 0.05 * np.log10(d / 1e3))  # flat, then the tail
    c = fit_scratch_curve(d, loss, 1e4)
    assert c.d_fit_min_chars > d[0]
    assert c.e == pytest.approx(e, rel=2e-3) and c.b_exp == pytest.approx(b_exp, rel=2e-2)
    every = fit_scratch_curve(d, loss, 1e4, tail=False)
    assert abs(every.b_exp - b_exp) > 0.1  # the old whole-curve fit misses the exponent


def test_scratch_curve_follows_the_measured_points_below_its_tail():
    d = np.logspace(3, 8, 11)
    loss = np.minimum(3.6 + 2e4 * d ** -0.9, 6.7 - 0.05 * np.log10(d / 1e3))
    c = fit_scratch_curve(d, loss, 1e4)
    below = d < c.d_fit_min_chars
    assert c.loss(d) == pytest.approx(loss, abs=1e-9)  # through every measured point
    assert c.model_loss(d[below]) == pytest.approx(loss[below], abs=1e-9)  # the model: the points below the tail,
    assert c.model_loss(d[~below]) == pytest.approx(c.tail_loss(d[~below]))  # the law from the tail on
    beyond = np.array([1e9, 1e10])  # past the data: the law, joined to the last point
    assert c.loss(beyond) - loss[-1] == pytest.approx(c.tail_loss(beyond) - c.tail_loss(d[-1]))
    assert c.loss(1.0) == pytest.approx(loss[0])  # flat below the smallest D
    grid = np.logspace(2, 9, 200)
    assert np.all(np.diff(c.loss(grid)) <= 1e-12)  # monotone across the join


def test_vectorised_refit_matches_the_reference_fit():
    """The bootstrap's batched refit of the tail law reaches the same optimum as least_squares."""
    from transfer_laws.analysis.scratch import refit_laws

    rng = np.random.default_rng(3)
    d = np.logspace(3, 10, 15)
    ds, losses, starts, refs = [], [], [], []
    for n in NS:
        loss = scratch_loss(n, d) * np.exp(rng.normal(0, 0.01, len(d)))
        start = fit_scratch_curve(d, scratch_loss(n, d), n)  # the noiseless curve: a start off the optimum
        ref = fit_scratch_curve(d, loss, n, start=start)
        ds.append(d), losses.append(loss), starts.append(start), refs.append((ref.e, ref.b_coef, ref.b_exp))
    for got, ref in zip(refit_laws(ds, losses, starts), refs):
        assert got[0] == pytest.approx(ref[0], rel=1e-3) and got[2] == pytest.approx(ref[2], rel=1e-3)


def test_vectorised_refit_converges_from_a_start_far_off():
    """Starts well off the optimum (exponent x0.5-1.5, E lowered up to 20%) and 3% noise: the batched
    refit iterates until each problem has converged (a fixed 40 iterations left the exponent up to
    0.6% off here) and lands on least_squares's optimum."""
    import dataclasses

    from transfer_laws.analysis.scratch import refit_laws

    rng = np.random.default_rng(5)
    d = np.logspace(3, 10, 15)
    for _ in range(8):
        ds, losses, starts, refs = [], [], [], []
        for n in NS:
            loss = scratch_loss(n, d) * np.exp(rng.normal(0, 0.03, len(d)))
            start = fit_scratch_curve(d, scratch_loss(n, d), n)
            start = dataclasses.replace(start, b_exp=start.b_exp * rng.uniform(0.5, 1.5),
                                        e=start.e * rng.uniform(0.8, 1.0))
            ref = fit_scratch_curve(d, loss, n, start=start)
            ds.append(d), losses.append(loss), starts.append(start), refs.append((ref.e, ref.b_coef, ref.b_exp))
        for got, ref in zip(refit_laws(ds, losses, starts), refs):
            assert got[0] == pytest.approx(ref[0], rel=1e-3) and got[2] == pytest.approx(ref[2], rel=1e-3)


def test_flat_head_is_flagged_and_left_out():
    """A D_E read on a segment whose slope is within two standard errors of zero is flagged flat and
    never fitted; on the falling part of the curve nothing is flagged."""
    from transfer_laws.analysis.fitting import transfer_points
    from transfer_laws.analysis.scratch import flat_at, local_slopes

    d = np.array([1e3, 1e3, 3e3, 3e3, 1e4, 1e4, 1e5, 1e5])
    loss = np.array([6.0, 6.04, 6.01, 5.97, 5.5, 5.52, 4.5, 4.52])  # flat from 1e3 to 3e3, then falling
    ends, slope, se = local_slopes(d, loss)
    assert flat_at([2e3, 5e3, 3e4], ends, slope, se).tolist() == [True, False, False]
    w = world(seed=2).assign(test_loss_se=0.004)
    table, _ = transfer_points(w)
    assert not table.flat.any()  # a power law has no flat head


def test_time_on_frontier_per_size():
    """Each size's frontier is its own: a small model is not judged against a large one's curve."""
    from transfer_laws.analysis.compute import time_on_frontier

    pts = pd.DataFrame({"run_id": ["a", "a", "b", "b", "c", "c"], "curriculum": ["text", "text", "scratch", "scratch",
                                                                              "text", "text"],
                        "n_params": [1, 1, 1, 1, 2, 2], "flops_full": [1.0, 2.0, 1.0, 2.0, 1.0, 2.0],
                        "val_loss": [5.0, 4.0, 6.0, 5.0, 3.0, 2.0]})
    pooled = time_on_frontier(pts).set_index("run_id").fraction_on_frontier
    per = time_on_frontier(pts, by="n_params").set_index("run_id").fraction_on_frontier
    assert pooled["a"] == 0.0 and per["a"] == 1.0 and per["b"] == 0.0 and per["c"] == 1.0


# ---- the fast bootstrap (issue 19): the same numbers as the plain computations ----

def test_pchip_is_scipys():
    from scipy.interpolate import PchipInterpolator

    from transfer_laws.analysis.scratch import Pchip

    rng = np.random.default_rng(0)
    for trial in range(300):
        x = np.unique(rng.uniform(0, 20, rng.integers(2, 9)))
        if len(x) < 2:
            continue
        y = rng.normal(size=len(x)) if trial % 2 else np.minimum.accumulate(rng.uniform(2, 7, len(x)))
        z = np.r_[rng.uniform(x[0], x[-1], 40), x]
        ref = PchipInterpolator(x, y)
        assert np.array_equal(Pchip(x, y)(z), ref(z)) and np.allclose(Pchip(x, y).slope(z), ref.derivative()(z),
                                                                        rtol=1e-13, atol=1e-13)


def test_curve_bank_and_batched_refits_match_the_curves():
    from transfer_laws.analysis.fitting import PointsLayout
    from transfer_laws.analysis.scratch import CurveBank, batch_refit_laws, measured_curve, scratch_curves

    runs = world(seed=4)
    curves = scratch_curves(runs)
    sizes = sorted(curves)
    bank_curves = [curves[n] for n in sizes] + [measured_curve([1e4], [5.0], 1.0)]
    rng = np.random.default_rng(1)
    d = np.exp(rng.uniform(np.log(100), np.log(1e12), 3000))
    which = rng.integers(0, len(bank_curves), len(d))
    loss, slope = CurveBank(bank_curves, which).loss_and_slope(d)
    for k, c in enumerate(bank_curves):
        ref_loss, ref_slope = c.loss_and_slope(d[which == k])
        assert np.allclose(loss[which == k], ref_loss, rtol=1e-12, atol=0)
        assert np.allclose(slope[which == k], ref_slope, rtol=1e-9, atol=1e-300)
    # the from-scratch laws of many replicates refitted at once: each as if refitted alone
    layout = PointsLayout(runs)
    losses = [runs.test_loss.to_numpy() * np.exp(rng.normal(0, 0.01, len(runs))) for _ in range(5)]
    batched = batch_refit_laws([layout.groups(y) for y in losses], curves)
    for y, laws in zip(losses, batched):
        alone = layout.curves(y, starts=curves)
        assert all(np.allclose((alone[n].e, alone[n].b_coef, alone[n].b_exp), laws[n], rtol=1e-10) for n in laws)


def test_joint_fit_pairs_curricula_and_conventions():
    """One bootstrap for several curricula and N conventions: a curriculum alone gives the same law and
    draws as ``fit_transfer``; the relabelled-N fit the same as a bootstrap of the relabelled table."""
    from transfer_laws.analysis.fitting import fit_joint

    runs = world(seed=5)
    mix = runs[runs.curriculum == "text"].assign(curriculum="mix", test_loss=lambda t: t.test_loss * 0.995)
    both = pd.concat([runs, mix], ignore_index=True).assign(n_params_total=lambda t: 2 * t.n_params)
    alone = fit_transfer(both, "text", n_bootstrap=25, seed=3, method="loss")
    joint = fit_joint(both, ("text",), n_bootstrap=25, seed=3, method="loss", n_conventions={"total": "n_params_total"})
    assert np.array_equal(joint.fit("text").draws, alone.draws)
    relabelled = fit_transfer(both.assign(n_params=both.n_params_total), "text", n_bootstrap=25, seed=3, method="loss")
    assert np.allclose(joint.fit("text@total").draws, relabelled.draws, rtol=1e-8)
    assert joint.fit("text@total").beta == pytest.approx(relabelled.beta, rel=1e-9)
    pair = fit_joint(both, n_bootstrap=25, seed=3, method="loss")
    assert pair.curricula == ("mix", "text")
    diff, draws = pair.paired("mix", "text", lambda a, b: a[2] - b[2])
    assert diff == pytest.approx(pair.laws["mix"][2] - pair.laws["text"][2])
    assert len(draws) == len(pair.fit("mix").draws)


def test_huber_lm_reaches_scipys_optimum():
    from scipy.optimize import least_squares

    from transfer_laws.analysis.fitting import huber_lm

    rng = np.random.default_rng(2)
    x = np.linspace(0, 4, 60)
    y = 2.0 * np.exp(-0.7 * x) + 0.5 + rng.normal(0, 0.01, len(x))
    y[::13] += 0.3  # outliers, in Huber's linear part
    resid = lambda p: p[0] * np.exp(-p[1] * x) + p[2] - y
    jac = lambda p: np.column_stack([np.exp(-p[1] * x), -p[0] * x * np.exp(-p[1] * x), np.ones_like(x)])
    lo, hi = np.array([0, 0, 0]), np.array([10, 5, 0.52])  # the offset's bound binds
    ref = least_squares(resid, [1, 1, 0.1], jac=jac, loss="huber", f_scale=0.02, bounds=(lo, hi))
    p, nfev = huber_lm(lambda p: (resid(p), jac(p)), np.array([1.0, 1.0, 0.1]), lo, hi, 0.02)
    assert p == pytest.approx(ref.x, rel=1e-4) and nfev < 60


def test_device_systematic_undoes_a_planted_device_offset():
    """GPU-trained from-scratch runs that read 0.02 nats worse than their CPU twins would: moving
    them by the twins' offset (CPU minus GPU, -0.02) gives back the law of the world without the
    offset, exactly; a table without GPU runs has nothing to move."""
    from transfer_laws.analysis.fitting import _fit_method, device_systematic, transfer_points

    clean = world(seed=3, noise=0.002, seeds=1)
    table, curves = transfer_points(clean)
    truth = _fit_method("loss", table, curves, "text", "test_loss")
    big = (clean.curriculum == "scratch") & (clean.n_params >= 3e5)
    shifted = clean.assign(device=np.where(big, "cuda", "cpu"),
                           test_loss=clean.test_loss + np.where(big, 0.02, 0.0))
    r = device_systematic(shifted, "text", [-0.02, 0.0])
    assert r["moved_runs"] == int(big.sum())
    undone = r["points"]["-0.0200"]
    assert (undone["k"], undone["alpha"], undone["beta"]) == pytest.approx(truth, rel=1e-4)
    assert r["spread"]["beta"] > 1e-3  # the offset moves beta: the larger sizes' curves shift
    assert device_systematic(clean, "text", [-0.02])["spread"] == {}


def test_device_systematic_note_says_what_moves():
    from transfer_laws.analysis import study

    clean = world(seed=3, noise=0.002, seeds=1).assign(device="cpu")
    assert study.device_systematic_note(clean, pd.DataFrame({"experiment_reference": [], "difference": []}),
                                        "planted", curricula=("text",)).startswith("No from-scratch run")
    big = (clean.curriculum == "scratch") & (clean.n_params >= 3e5)
    gpu = clean.assign(device=np.where(big, "cuda", "cpu"))
    pairs = pd.DataFrame({"experiment_reference": ["planted"] * 3, "difference": [-0.02, -0.01, 0.0]})
    said = study.device_systematic_note(gpu, pairs, "planted", curricula=("text",))
    assert f"Moving the {int(big.sum())} GPU-trained" in said and "-0.020, -0.010, +0.000 nats" in said
    assert "text α by" in said
    assert "not known" in study.device_systematic_note(gpu, pairs.assign(experiment_reference="other"), "planted",
                                                       curricula=("text",))


def test_shared_beta_interval_holds_its_point():
    """The shared-beta difference's interval is the plan's (``bootstrap.interval``): draws far from the
    point (a degenerate fit: study2 on two sizes printed -1.3 [2.6, 2.9]) widen it to the point."""
    from types import SimpleNamespace

    from transfer_laws.analysis import fitting

    w = world(seed=3)
    j = fitting.fit_joint(pd.concat([w, w[w.curriculum == "text"].assign(curriculum="mix")]), n_bootstrap=12, seed=1)
    stub = SimpleNamespace(table=j.table, method=j.method, paired=lambda a, b, fn: (-1.3, np.linspace(2.6, 2.9, 200)))
    r = fitting.shared_beta_from(stub, "text", "mix")
    assert r.ci95[0] <= -1.3 <= r.ci95[1]


def test_a_tail_without_a_plateau_ends_on_the_floor_and_locates_no_d_n():
    """A pure power law over the measured range (the study's small models up to 1e6 characters):
    the tail fit's floor E_N goes to its bound and D(N) lands far beyond the data, which the
    from-scratch chapter reports as 'not located' rather than as a number; with a plateau, E_N is
    recovered."""
    from transfer_laws.analysis.scratch import fit_scratch_curve

    d = np.logspace(4, 6, 7)
    pure = fit_scratch_curve(d, 16.0 * d ** -0.11)
    assert not pure.has_plateau and pure.d_converged() > 1e30
    flat = fit_scratch_curve(np.logspace(3, 8, 11), 2.0 + 40.0 * np.logspace(3, 8, 11) ** -0.4)
    assert flat.has_plateau and flat.e == pytest.approx(2.0, rel=0.02) and flat.d_converged() < 1e8


def test_in_regime_is_the_loss_space_fits_rows():
    """One rule names the fine-tunes a law is fitted on: the loss-space fit's point count is
    ``in_regime``'s, the direct fit's the subset with D_T > 0."""
    from transfer_laws.analysis import fitting

    runs = world(seed=2)
    table, _ = fitting.transfer_points(runs)
    mask = fitting.in_regime(table, "text")
    assert mask.sum() == (table.low_data & ~table.flat & (table.curriculum == "text")).sum() > 0
    assert len(fitting._fit_points(table, "text")) == (mask & (table.d_transferred > 0).to_numpy()).sum()
    assert fitting.in_regime(table).sum() >= mask.sum()
