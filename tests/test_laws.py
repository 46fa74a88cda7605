"""The paper's own consistency checks (Hernandez+21 section 6.2) and Rohin's crossover."""

import numpy as np
import pytest

from transfer_laws.analysis import laws


def test_gpt3_sized_model_one_character():
    n = 1.75e11
    assert laws.PAPER_TEXT.d_transferred(1.0, n) == pytest.approx(3.6e8, rel=0.05)
    assert laws.PAPER_MIX.d_transferred(1.0, n) == pytest.approx(3.9e9, rel=0.05)
    assert 300 ** 0.18 == pytest.approx(2.8, abs=0.05) and 300 ** 0.096 == pytest.approx(1.7, abs=0.05)


def test_text_mix_crossover():
    d = laws.crossover_d_finetune(laws.PAPER_TEXT, laws.PAPER_MIX)
    assert d == pytest.approx(2.6e12, rel=0.1)
    # at the crossover both laws transfer the same, for any N
    for n in (1e6, 1e9):
        assert laws.PAPER_TEXT.d_transferred(d, n) == pytest.approx(laws.PAPER_MIX.d_transferred(d, n), rel=1e-9)


def test_fraction_and_multiplier_identities():
    d, n = 3e5, 4e7
    dt = laws.PAPER_TEXT.d_transferred(d, n)
    frac = laws.fraction_from_transfer(d, n, 1.9e4, 0.18, 0.38)
    mult = laws.multiplier(d, n, 1.9e4, 0.18, 0.38)
    assert frac == pytest.approx(dt / (dt + d)) and mult == pytest.approx((dt + d) / d)


def test_rohin_timelines_solution():
    """PAPER.md section 6: N = 1e14, D_E = 1e13, text constants -> D_F ~ 9.1e12."""
    d_f = laws.solve_d_finetune(1e13, 1e14, 1.9e4, 0.18, 0.38)
    assert d_f == pytest.approx(9.1e12, rel=0.02)
    assert d_f + laws.transfer_law(d_f, 1e14, 1.9e4, 0.18, 0.38) == pytest.approx(1e13, rel=1e-9)


def test_kaplan_and_chinchilla_monotone():
    n, d = np.array([1e6, 1e7]), np.array([1e8, 1e9])
    assert np.all(np.diff(laws.kaplan_loss(n, 1e9)) < 0) and np.all(np.diff(laws.kaplan_loss(1e7, d)) < 0)
    assert laws.chinchilla_loss(1e6, 1e9, 1.7, 400, 410, 0.34, 0.28) > 1.7
