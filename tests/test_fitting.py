"""Planted-law worlds: from-scratch losses from a known L_N(D); fine-tuned losses from
L_N(D_F + k D_F^alpha N^beta) with noise. The fit recovers (k, alpha, beta) within its intervals."""

import numpy as np
import pandas as pd
import pytest

from transfer_laws.fitting import fit_scratch_curve, fit_transfer, fit_transfer_direct

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
    assert fit.ci95["k"][0] <= K <= fit.ci95["k"][1]


def test_degenerate_inputs():
    with pytest.raises(ValueError, match="one N"):
        fit_transfer_direct([1, 10, 100], [5, 5, 5], [1, 2, 3])
    with pytest.raises(ValueError, match="at least 3"):
        fit_transfer_direct([1, 10], [5, 6], [1, 2])
