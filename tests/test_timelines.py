import pytest

from transfer_laws import timelines


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
