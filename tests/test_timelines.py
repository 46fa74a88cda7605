import numpy as np
import pytest

from transfer_laws.analysis import timelines


def test_rohin_numbers():
    r = timelines.compute_saving(timelines.Assumptions())
    assert r["d_finetune_samples"] == pytest.approx(9.1e12, rel=0.02)
    assert 1.0 < r["compute_saving"] < 1.2  # "transfer reduces compute, but not by much"


def test_units_matter():
    a = timelines.Assumptions(chars_per_sample=100)
    assert a.k_in_samples() == pytest.approx(1.9e4 * 100 ** (0.18 - 1))
    assert timelines.compute_saving(a)["compute_saving"] < timelines.compute_saving(timelines.Assumptions())["compute_saving"]


def test_crossover_rounding_range():
    c = timelines.alpha_crossover_sensitivity().crossover_chars
    assert c.min() < 1e12 < 1e13 < c.max()


def test_sensitivity_and_grid_shapes():
    s = timelines.sensitivity()
    assert set(s.assumption) >= {"n_params", "chars_per_sample", "constants"}
    g = timelines.slider_grid()
    assert len(g) == 2 * 6 * 5 * 29 and (g.compute_saving > 0).all()


def test_fitted_constants_equal_to_the_papers_give_the_papers_saving():
    from transfer_laws.analysis.fitting import TransferFit
    from transfer_laws.analysis.laws import PAPER_TEXT

    draws = np.array([[np.log(PAPER_TEXT.k), PAPER_TEXT.alpha, PAPER_TEXT.beta]] * 20)
    fit = TransferFit(PAPER_TEXT.k, PAPER_TEXT.alpha, PAPER_TEXT.beta, 10, draws=draws)
    out = timelines.with_fitted_constants({"text": fit}, [1e4, 1e6]).set_index("constants")
    base = timelines.compute_saving(timelines.Assumptions())
    assert out.loc["this book, text", "compute_saving"] == pytest.approx(base["compute_saving"])
    assert out.loc["paper, text", "compute_saving"] == pytest.approx(base["compute_saving"])
    assert out.loc["this book, text", "saving_ci95_low"] == pytest.approx(base["compute_saving"])
    assert out.loc["this book, text", "decades_of_n_extrapolated"] == pytest.approx(8.0)


def test_the_compute_cut_reads_savings_too_close_to_one_to_print():
    assert np.allclose(timelines.compute_cut_percent([1.09, 1.00001, 1.0, 0.5]), [8.2569, 0.001, 0.0, -100.0], atol=1e-4)
