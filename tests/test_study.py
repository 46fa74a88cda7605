"""Which runs the chapters read: only complete sizes of the main grid, else the pilot."""

import pandas as pd

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
