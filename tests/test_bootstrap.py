"""The hierarchical bootstrap's noise levels (``analysis.bootstrap``) recover the noise planted in
them, and count each source once (analysis plan, amendment 5)."""

import numpy as np
import pandas as pd
import pytest

from transfer_laws.analysis import bootstrap
from transfer_laws.analysis.fitting import transfer_points


def curved(d):
    """A from-scratch-like curve in log space: a bend from a slow start into a power-law fall and a
    plateau (not a quadratic in log D anywhere)."""
    return np.log(2.2 * ((3e5 / d) ** 0.5 + 0.4) ** 0.22 * 1.6)


def test_scratch_noise_is_read_without_a_model_and_recovers_the_planted_spread():
    d = np.logspace(3, 9, 13)
    assert bootstrap.scratch_noise_sd(d, 0.3 - 0.05 * np.log(d) + 0.002 * np.log(d) ** 2) == pytest.approx(0, abs=1e-12)
    rng = np.random.default_rng(0)
    est = [bootstrap.scratch_noise_sd(d, curved(d) + rng.normal(0, 0.006, d.size)) for _ in range(300)]
    assert np.sqrt(np.mean(np.square(est))) == pytest.approx(0.006, rel=0.1)  # the bend barely counts
    # replicates at some D, with enough degrees of freedom, are read directly
    dd = np.repeat(d[:5], 3)
    sd, df = bootstrap.scratch_noise_sd(dd, curved(dd) + rng.normal(0, 0.02, dd.size), with_df=True)
    assert df == 10 and sd == pytest.approx(0.02, rel=0.5)
    assert np.isnan(bootstrap.scratch_noise_sd(d[:4], curved(d[:4])))


def world(checkpoint_sd: float, seed: int = 0, noise: float = 0.006) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for n in (1e4, 1e5, 1e6):
        for d in np.logspace(3, 9, 13):
            rows.append({"curriculum": "scratch", "n_params": n, "d_train_chars": d, "pretrain_id": None,
                         "test_loss": np.exp(curved(d * (n / 1e5) ** 0.3) + rng.normal(0, noise))})
        for p in range(3):
            m = np.exp(rng.normal(0, checkpoint_sd))
            for d in np.logspace(3, 6, 7):
                d_e = d + 30 * d ** 0.35 * n ** 0.35 * m
                rows.append({"curriculum": "text", "n_params": n, "d_train_chars": d, "pretrain_id": f"{n:g}-{p}",
                             "test_loss": np.exp(curved(d_e * (n / 1e5) ** 0.3) + rng.normal(0, noise))})
    return pd.DataFrame(rows)


def test_checkpoint_spread_takes_out_each_single_runs_own_noise():
    """With no checkpoint spread at all, a single run's loss noise read as log D_T looks like a large
    spread at large D_F (D_T a small part of D_E); carried along the curve and taken out, it is gone."""
    raw, corrected = [], []
    for seed in range(6):
        w = world(0.0, seed)
        table, curves = transfer_points(w)
        raw.append(bootstrap.checkpoint_noise(table).set_index("d_train_chars").sd_log_d_transferred)
        corrected.append(bootstrap.checkpoint_noise(table, curves, bootstrap.scratch_noise_by_size(w))
                         .set_index("d_train_chars").sd_log_d_transferred)
    raw, corrected = pd.concat(raw, axis=1).mean(axis=1), pd.concat(corrected, axis=1).mean(axis=1)
    assert raw.iloc[-1] > 0.3  # the naive spread at D_F = 1e6
    assert (corrected < raw).all() and corrected.iloc[-1] < 0.5 * raw.iloc[-1]
    # a real spread survives the correction
    w = world(0.3, seed=1)
    table, curves = transfer_points(w)
    sd = bootstrap.checkpoint_noise(table, curves, bootstrap.scratch_noise_by_size(w)).sd_log_d_transferred
    assert 0.1 < sd.median() < 0.6


def test_spread_factor_draws_an_estimated_spreads_own_uncertainty():
    rng = np.random.default_rng(0)
    assert bootstrap.spread_factor(rng, 3) == 1.0 and bootstrap.spread_factor(rng, float("nan")) == 1.0
    f = np.array([bootstrap.spread_factor(rng, 12) for _ in range(20000)])
    assert np.mean(f ** 2) == pytest.approx(12 / 10, rel=0.03)  # E[df / chi2_df] = df / (df - 2)


def test_fine_tunes_without_replicates_get_their_sizes_run_noise_not_the_laws_residuals():
    w = world(0.3, seed=2)
    table, curves = transfer_points(w)
    res = bootstrap.Resampler(w, curves, table, bootstrap.checkpoint_noise(table, curves, bootstrap.scratch_noise_by_size(w)),
                              predict=lambda cur, rows: np.zeros(len(rows)))
    assert res.levels()["run_noise_fallback"] == "the size's from-scratch run-level sd"
    assert all(0.002 < v < 0.012 for v in res.scratch_sd.values())
    draws = np.array([res.sample_log_loss(np.random.default_rng(s)) for s in range(200)])
    ft = (w.curriculum == "text").to_numpy() & (w.d_train_chars == 1e3).to_numpy()
    assert np.isfinite(draws).all() and draws[:, ft].std(axis=0).mean() > 0


def test_an_interval_end_on_the_fits_bound_says_it_is_censored():
    """Draws piled on the optimiser's box (a fit to noise) give an interval end that is the box,
    not the data's: the kind names that end; draws well inside the box name none."""
    from transfer_laws.analysis import bootstrap

    rng = np.random.default_rng(0)
    piled = np.r_[rng.normal(1.5, 0.8, 900).clip(-2.0, 3.0), np.full(100, 3.0)]
    r = bootstrap.interval(piled, 1.5, bounds=(-2.0, 3.0))
    assert r["ci"][1] == 3.0 and "upper end censored at the fit's bound (3)" in r["kind"]
    assert "lower end" not in r["kind"]
    inside = bootstrap.interval(rng.normal(0.2, 0.05, 1000), 0.2, bounds=(-2.0, 3.0))
    assert "censored" not in inside["kind"]
