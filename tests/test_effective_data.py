import numpy as np
import pandas as pd
import pytest

from transfer_laws.analysis.effective_data import (EXTRAPOLATED, INTERPOLATED, UNDEFINED, effective_data,
                                                   effective_data_table, share_interpolated)
from transfer_laws.analysis.scratch import fit_scratch_curve, measured_curve, monotone_curve


def law(d):  # a known from-scratch curve: L = 2 + (1e6 / D)**0.3
    return 2 + (1e6 / d) ** 0.3


D = np.logspace(4, 8, 9)


def test_recovers_planted_d_effective():
    for d_true in (3e4, 1e6, 5e7):
        d_e, status = effective_data(law(d_true), measured_curve(D, law(D)))
        assert status == INTERPOLATED and d_e == pytest.approx(d_true, rel=0.15)


def test_outside_the_grid():
    curve = measured_curve(D, law(D))
    assert effective_data(law(1e3), curve)[1] == UNDEFINED
    assert effective_data(law(1e9), curve)[1] == UNDEFINED  # no law: nothing to extrapolate along
    d_e, status = effective_data(law(1e9), fit_scratch_curve(D, law(D), 1e3))
    assert status == EXTRAPOLATED and d_e == pytest.approx(1e9, rel=1e-3)


def test_d_effective_is_the_exact_inverse_of_the_curve():
    """One curve: the loss the curve gives at D maps back to D (inside the data and along the law),
    and D_E is monotone in the loss, so the loss-space fit, D_E and the plots cannot disagree."""
    rng = np.random.default_rng(0)
    loss = law(D) * np.exp(rng.normal(0, 0.01, len(D)))
    c = fit_scratch_curve(D, loss, 1e3)
    d = np.logspace(4.05, 9.5, 60)  # across the head, the tail and past the data
    l_at = c.loss(d)
    keep = np.r_[True, np.diff(l_at) < 0]  # points past a flat stretch map to its left end
    d_back, status = c.d_effective(l_at[keep])
    assert np.all(status != UNDEFINED)
    assert d_back == pytest.approx(d[keep], rel=1e-3)
    assert np.all(np.diff(c.d_effective(np.linspace(l_at[0], l_at[-1], 50))[0]) >= 0)


def test_monotone_and_seed_average():
    d, l = monotone_curve(np.array([1, 10, 10, 100.0]), np.array([3.0, 2.0, 2.2, 2.5]))
    assert list(d) == [1, 10, 100] and list(l) == [3.0, 2.1, 2.1]


def test_table_allows_negative_transfer():
    runs = pd.DataFrame({"curriculum": ["scratch"] * 9 + ["text", "text"], "n_params": 1000,
                         "d_train_chars": list(D) + [1e5, 1e7], "test_loss": list(law(D)) + [law(1e6), law(1e6)]})
    t = effective_data_table(runs)
    assert t.d_transferred.iloc[0] > 0 and t.d_transferred.iloc[1] < 0  # ossified: D_T < 0 is data, not an error
    assert share_interpolated(t) == 1.0


def test_curve_slope_is_the_derivative_of_its_loss():
    """The loss-space fit's Jacobian uses ``loss_and_slope``: it must be d loss / d D of ``loss``."""
    rng = np.random.default_rng(1)
    c = fit_scratch_curve(D, law(D) * np.exp(rng.normal(0, 0.01, len(D))), 1e3)
    d = np.logspace(3.5, 9.5, 40)
    loss, slope = c.loss_and_slope(d)
    assert loss == pytest.approx(c.loss(d))
    h = 1e-5
    numeric = (c.loss(d * (1 + h)) - c.loss(d * (1 - h))) / (2 * h * d)
    inner = np.abs(np.log(d) - np.log(D)[:, None]).min(axis=0) > 1e-3  # away from the knots' kinks
    assert slope[inner] == pytest.approx(numeric[inner], rel=1e-3, abs=1e-12)


def test_median_multiplier_counts_finetunes_worse_than_scratch_at_their_bound():
    """A fine-tune worse than the smallest from-scratch run has no D_E but D_E < D_min: the median
    counts it there (an upper bound), instead of dropping it and reporting the survivors' median."""
    from transfer_laws.analysis.effective_data import median_multiplier
    from transfer_laws.analysis.fitting import transfer_points

    curve = measured_curve(D, law(D))
    worse = law(D[0]) + 0.5  # above the curve's start
    assert curve.d_effective_upper([worse, law(1e6)]).tolist()[0] == pytest.approx(D[0])
    assert np.isnan(curve.d_effective_upper([law(1e6)])[0])
    # 3 of 5 fine-tunes at D_F = D_min are worse than scratch, 2 have multipliers 1.5 and 2
    rows = pd.DataFrame({"d_train_chars": D[0], "multiplier": [np.nan, np.nan, np.nan, 1.5, 2.0],
                         "d_effective_upper": [D[0], D[0], D[0], np.nan, np.nan]})
    m, bound = median_multiplier(rows)
    assert m == pytest.approx(1.0) and bound  # not 1.75, the survivors' median
    m, bound = median_multiplier(rows.iloc[2:])  # one censored, sorting below the median: exact
    assert m == pytest.approx(1.5) and not bound
    # through the D_E table: the column is set exactly where the fine-tune is worse than the curve's start
    runs = pd.DataFrame({"curriculum": ["scratch"] * len(D) + ["text", "text"], "n_params": 1e4,
                         "d_train_chars": list(D) + [D[0], D[0]], "test_loss": list(law(D)) + [worse, law(3 * D[0])]})
    table, _ = transfer_points(runs)
    assert table.d_effective_upper.notna().tolist() == [True, False]
