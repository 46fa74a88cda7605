"""Claims 5 and 6's measurements on planted curves and windows: equal-compute advantage, sign
test, Holm's correction and the paired ossification test recover what was planted."""

import numpy as np
import pandas as pd
import pytest

from transfer_laws.analysis.compute import equal_compute, holm, ossification_test, sign_test


def _curve(run_id, compute, loss):
    return pd.DataFrame({"run_id": run_id, "flops_full": compute, "val_loss": loss})


def test_equal_compute_reads_the_scratch_frontier_at_the_finetunes_compute():
    runs = pd.DataFrame([
        {"run_id": "ft", "phase": "target", "curriculum": "text", "n_params": 1e4, "d_train_chars": 1e3,
         "pretrain_id": "p", "data_seed": 1, "seed": 0},
        {"run_id": "sc", "phase": "target", "curriculum": "scratch", "n_params": 1e4, "d_train_chars": 1e3,
         "pretrain_id": None, "data_seed": 1, "seed": 0},
        {"run_id": "p", "phase": "pretrain", "curriculum": "text", "n_params": 1e4, "d_train_chars": np.nan,
         "pretrain_id": None, "data_seed": 0, "seed": 0, "flops_full": 1e6}])
    curves = pd.concat([_curve("ft", [0, 10, 20, 40], [5.0, 4.0, 3.5, 3.6]),       # best 3.5 at compute 20
                        _curve("sc", [10, 20, 40, 80, 160], [6.0, 5.0, 4.2, 3.4, 3.3])])
    e = equal_compute(runs, curves).iloc[0]
    assert e.compute == 20 and e.finetuned_loss == 3.5 and e.scratch_loss == 5.0
    assert e.advantage_nats == pytest.approx(1.5) and e.compute_multiplier == pytest.approx(80 / 20)
    assert not e.scratch_exhausted
    w = equal_compute(runs, curves, include_pretrain=True).iloc[0]
    assert w.compute == 1e6 + 20 and w.scratch_loss == 3.3 and w.scratch_exhausted  # scratch stopped at 160
    assert w.advantage_nats == pytest.approx(-0.2)  # from scratch ends lower: behind at equal total compute


def test_sign_test_and_holm():
    t = sign_test([1, 2, 3, 4, 5, 6, 0, np.nan])
    assert (t["positive"], t["n"]) == (6, 6) and t["p"] == pytest.approx(2 / 64)
    assert sign_test([1, -1, 1, -1])["p"] == pytest.approx(1.0)
    assert holm([0.01, 0.04, 0.03]).tolist() == pytest.approx([0.03, 0.06, 0.06])


def test_ossification_test_pairs_windows_and_counts_seed_spread():
    rng = np.random.default_rng(0)
    base = rng.normal(4.0, 0.5, 2048)                        # window difficulty shared by every run
    runs, windows = [], {}
    for side, shift in (("text", 0.05), ("scratch", 0.0)):
        for s in range(3):
            rid = f"{side}{s}"
            windows[rid] = base + shift + rng.normal(0, 0.01) + rng.normal(0, 0.02, 2048)
            runs.append({"run_id": rid, "curriculum": side, "n_params": 1e4, "d_train_chars": 1e6,
                         "test_loss": windows[rid].mean()})
    runs = pd.DataFrame(runs)
    high = pd.DataFrame([{"curriculum": "text", "n_params": 1e4, "d_train_chars": 1e6}])
    r = ossification_test(runs, windows, high, pd.Series(True, index=runs.index)).iloc[0]
    assert r.finetuned_minus_scratch == pytest.approx(0.05, abs=0.03)
    assert r.se > r.se_windows, "the seeds' spread adds to the paired window error"
    assert r.p < 0.05
    # two seeds a side, or untuned runs: no cell
    assert ossification_test(runs, windows, high, pd.Series(True, index=runs.index), min_seeds=4).empty
    assert ossification_test(runs, windows, high, pd.Series(False, index=runs.index)).empty
