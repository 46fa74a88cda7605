"""Learning-rate sweeps on planted cells: the optimum of a known parabola is recovered; edges flagged."""

import numpy as np
import pandas as pd
import pytest

from transfer_laws.tuning import lr_sweeps, parabola_optimum


def _cell(size, lrs, opt, curv=0.3, d=1e4):
    return [{"experiment": "x", "phase": "target", "curriculum": "scratch", "size": size, "d_train_chars": d,
             "lr": lr, "val_loss": 3.0 + curv * (np.log(lr) - np.log(opt)) ** 2} for lr in lrs]


def test_parabola_recovers_a_planted_optimum():
    lrs = np.array([1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2])
    loss = 3 + 0.3 * (np.log(lrs) - np.log(5.1e-3)) ** 2
    assert parabola_optimum(np.log(lrs), loss) == pytest.approx(5.1e-3, rel=1e-6)
    assert parabola_optimum(np.log(lrs), loss[::-1] * 0 + np.arange(5.0)) == pytest.approx(1e-3), "edge: the best rate"


def test_cells_are_split_and_edges_flagged():
    rows = _cell("a", [1e-3, 2e-3, 4e-3, 8e-3], 3e-3) + _cell("b", [1e-3, 2e-3, 4e-3], 2e-2) \
        + _cell("a", [1e-3, 2e-3, 4e-3], 2e-3, d=1e5)
    t = lr_sweeps(pd.DataFrame(rows)).set_index(["size", "d_train_chars"])
    assert len(t) == 3
    assert t.loc[("a", 1e4), "bracketed"] and t.loc[("a", 1e4), "best_lr"] == 4e-3
    assert t.loc[("a", 1e4), "lr_opt"] == pytest.approx(3e-3, rel=1e-6)
    assert not t.loc[("b", 1e4), "bracketed"] and t.loc[("b", 1e4), "best_lr"] == 4e-3
    assert t.loc[("a", 1e5), "bracketed"] and t.loc[("a", 1e5), "best_lr"] == 2e-3
