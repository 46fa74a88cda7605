"""Which runs the chapters read: only complete sizes of the main grid, else the pilot."""

import pandas as pd
import pytest

from transfer_laws import study


def _progress(done_a: bool, done_b: bool, pre_b: bool = True) -> pd.DataFrame:
    rows = [
        {"run_id": "pa", "phase": "pretrain", "experiment": "main", "size": "n13k", "pretrain_id": None, "done": True},
        {"run_id": "a1", "phase": "target", "experiment": "main", "size": "n13k", "pretrain_id": "pa", "done": done_a},
        {"run_id": "pb", "phase": "pretrain", "experiment": "main", "size": "n28k", "pretrain_id": None, "done": pre_b},
        {"run_id": "b1", "phase": "target", "experiment": "main", "size": "n28k", "pretrain_id": None, "done": done_b},
        {"run_id": "x1", "phase": "target", "experiment": "other", "size": "n57k", "pretrain_id": "pb", "done": True},
    ]
    return pd.DataFrame(rows)


def test_complete_sizes_need_every_run_and_their_pretraining():
    assert study.complete_sizes(_progress(True, True)) == ["n13k", "n28k"]
    assert study.complete_sizes(_progress(True, False)) == ["n13k"]
    assert study.complete_sizes(_progress(True, True, pre_b=False)) == ["n13k"]
    # a run of another experiment that uses a main pre-training does not make that size incomplete
    assert study.complete_sizes(_progress(True, True), "other") == ["n57k"]


def test_horizon_rule_comparison_pairs_old_and_new_runs(monkeypatch):
    base = {"phase": "target", "experiment": "main", "curriculum": "scratch", "size": "n13k", "n_params": 12768,
            "seed": 0, "epochs": 1.0}
    df = pd.DataFrame([
        {**base, "run_id": "old", "d_train_chars": 3e4, "test_loss": 6.10, "steps": 100, "best_step": 100},
        {**base, "run_id": "new", "d_train_chars": 3e4, "test_loss": 5.90, "steps": 200, "best_step": 150},
        {**base, "run_id": "other", "d_train_chars": 1e5, "test_loss": 5.5, "steps": 300, "best_step": 200},
    ])
    monkeypatch.setattr(study, "runs_frame", lambda root=None: df)
    progress = pd.DataFrame({"run_id": ["new", "other"]})
    assert list(study.superseded(progress).run_id) == ["old"]
    m = study.horizon_rule_comparison(progress)
    assert len(m) == 1 and m.loss_change_nats.iloc[0] == pytest.approx(-0.2)
    assert (m.steps_before.iloc[0], m.steps_now.iloc[0]) == (100, 200)


def test_current_runs_drop_only_what_the_grid_superseded(monkeypatch):
    df = pd.DataFrame([
        {"run_id": "old", "experiment": "main"},     # an earlier rule's run of a planned experiment
        {"run_id": "new", "experiment": "main"},
        {"run_id": "exp", "experiment": "contamination"},
        {"run_id": "pilot1", "experiment": "pilot"},  # not in this grid: kept
    ])
    monkeypatch.setattr(study, "runs_frame", lambda root=None: df)
    progress = pd.DataFrame({"run_id": ["new", "exp"], "experiment": ["main", "contamination"]})
    assert list(study.current_runs(progress=progress).run_id) == ["new", "exp", "pilot1"]
