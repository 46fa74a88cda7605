"""The study's fits are computed once per runs table and shared; a change to the table, the
arguments or the fitting code computes them again."""

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
