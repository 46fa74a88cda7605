import numpy as np
import pandas as pd
import pytest

from transfer_laws.analysis.effective_data import (EXTRAPOLATED, INTERPOLATED, UNDEFINED, effective_data,
                                          effective_data_table, monotone_curve, share_interpolated)


def law(d):  # a known from-scratch curve: L = 2 + (1e6 / D)**0.3
    return 2 + (1e6 / d) ** 0.3


D = np.logspace(4, 8, 9)


def test_recovers_planted_d_effective():
    for d_true in (3e4, 1e6, 5e7):
        d_e, status = effective_data(law(d_true), D, law(D))
        assert status == INTERPOLATED and d_e == pytest.approx(d_true, rel=0.15)


def test_outside_the_grid():
    assert effective_data(law(1e3), D, law(D))[1] == UNDEFINED
    assert effective_data(law(1e9), D, law(D))[1] == UNDEFINED
    d_e, status = effective_data(law(1e9), D, law(D), extrapolate=lambda l: 1e6 / (l - 2) ** (1 / 0.3))
    assert status == EXTRAPOLATED and d_e == pytest.approx(1e9, rel=1e-6)


def test_monotone_and_seed_average():
    d, l = monotone_curve(np.array([1, 10, 10, 100.0]), np.array([3.0, 2.0, 2.2, 2.5]))
    assert list(d) == [1, 10, 100] and list(l) == [3.0, 2.1, 2.1]


def test_table_allows_negative_transfer():
    runs = pd.DataFrame({"curriculum": ["scratch"] * 9 + ["text", "text"], "n_params": 1000,
                         "d_train_chars": list(D) + [1e5, 1e7], "test_loss": list(law(D)) + [law(1e6), law(1e6)]})
    t = effective_data_table(runs)
    assert t.d_transferred.iloc[0] > 0 and t.d_transferred.iloc[1] < 0  # ossified: D_T < 0 is data, not an error
    assert share_interpolated(t) == 1.0
