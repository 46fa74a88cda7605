"""The study's fits are computed once per runs table and shared; a change to the table, the
arguments or the fitting code computes them again."""

import numpy as np
import pandas as pd
import pytest

from test_fitting import world
from transfer_laws.analysis import fits, fitting


def test_cached_fit_equals_a_fresh_fit_and_is_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSFER_LAWS_FIT_CACHE", str(tmp_path))
    runs = world(seed=3)
    a = fits.transfer_fit(runs, "text", n_bootstrap=20)
    fresh = fitting.fit_transfer(runs, "text", n_bootstrap=20, seed=fits.STUDY_SEED, method=fits.PRIMARY_METHOD)
    assert (a.k, a.alpha, a.beta, a.ci95) == (fresh.k, fresh.alpha, fresh.beta, fresh.ci95)
    assert len(list(tmp_path.glob("joint-*.pkl"))) == 1  # one joint fit of the table's curricula
    calls = []
    real = fitting.fit_joint
    monkeypatch.setattr(fitting, "fit_joint", lambda *a, **k: calls.append(1) or real(*a, **k))
    b = fits.transfer_fit(runs, "text", n_bootstrap=20)  # read back, not recomputed
    assert not calls and (b.alpha, b.ci95) == (a.alpha, a.ci95)
    changed = runs.assign(test_loss=runs.test_loss * 1.001)
    fits.transfer_fit(changed, "text", n_bootstrap=20)  # another table: computed
    assert calls == [1]


def test_a_failed_fit_is_cached_as_its_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSFER_LAWS_FIT_CACHE", str(tmp_path))
    runs = world(seed=3)
    one_size = runs[runs.n_params == runs.n_params.min()]
    for _ in range(2):
        with pytest.raises(ValueError, match="over 2 values of N"):
            fits.transfer_fit(one_size, "text", n_bootstrap=5)
    assert isinstance(fits.points(runs), tuple) and isinstance(pd.DataFrame(fits.points(runs)[0]), pd.DataFrame)


def test_recipes_side_by_side_share_one_reference_point(tmp_path, monkeypatch):
    from test_fitting import ALPHA, BETA, K

    monkeypatch.setenv("TRANSFER_LAWS_FIT_CACHE", str(tmp_path))
    a, b = world(seed=3), world(seed=4)
    one_size = b[b.n_params == b.n_params.min()]
    t = fits.recipe_constants({"first": a, "second": b, "broken": one_size}, n_bootstrap=30)
    assert list(t.experiment) == ["first", "second", "broken"]
    ok = t[t.problem == ""]
    assert len(ok) == 2 and "over 2 values of N" in t.set_index("experiment").loc["broken", "problem"]
    assert ok.reference_n_params.nunique() == 1 and ok.reference_d_train_chars.nunique() == 1
    n, d = ok.reference_n_params.iloc[0], ok.reference_d_train_chars.iloc[0]
    truth = np.log10(K * d**ALPHA * n**BETA)
    for r in ok.itertuples():  # the planted law recovered, at the reference point inside the grid
        assert r.alpha == pytest.approx(ALPHA, abs=0.05) and r.beta == pytest.approx(BETA, abs=0.05)
        lo, hi = r.log10_d_transferred_ci
        assert lo <= r.log10_d_transferred <= hi and r.log10_d_transferred == pytest.approx(truth, abs=0.1)
    first = fits.transfer_fit(a, "text", n_bootstrap=30)
    assert ok.iloc[0].alpha == first.alpha and list(ok.iloc[0].alpha_ci) == list(first.ci95["alpha"])


def test_the_shared_reference_lies_inside_every_recipes_sizes(tmp_path, monkeypatch):
    """A second study with only the smaller sizes gets a reference N among its own sizes, not the
    first grid's middle size, which would be an extrapolation for it."""
    monkeypatch.setenv("TRANSFER_LAWS_FIT_CACHE", str(tmp_path))
    a = world(seed=3)
    sizes = np.sort(a.n_params.unique())
    b = world(seed=4)
    b = b[b.n_params.isin(sizes[:3])]
    n_first, _ = fitting.reference_point(fits.joint(a).table)
    n, d = fits.shared_reference({"first": a, "second": b})
    assert n in sizes[:3] and n_first not in sizes[:3] and d in set(a.d_train_chars) & set(b.d_train_chars)
