"""Reproducibility: re-train the two cheapest committed CPU runs from their specs (slow; CI runs it).

Tolerance: 0.02 nats/token on the test loss. On one machine a spec reproduces its curve exactly
(tests/test_training.py); across machines, BLAS kernels may sum in another order, so trajectories
can drift apart by rounding. 0.02 nats is below the standard error of the reported test loss
itself (~0.03 nats over 512 windows), so a failure means a real change (data, code, recipe), not
rounding.
"""

import pytest

from transfer_laws import runs
from transfer_laws.data.windows import StudyData
from transfer_laws.runs import RunSpec
from transfer_laws.train.loop import train

TOLERANCE_NATS = 0.02


@pytest.mark.slow
def test_cheapest_committed_cpu_runs_reproduce(tmp_path):
    records = [r for r in runs.load_records() if r["hardware"]["device"] == "cpu" and r["spec"]["phase"] == "target"]
    assert len(records) >= 2, "needs two committed CPU target runs"
    cheapest = sorted(records, key=lambda r: r["tokens_seen"] * r["n_params_total"])[:2]
    data = StudyData()
    for rec in cheapest:
        spec = RunSpec.from_dict(rec["spec"])
        assert spec.run_id == rec["run_id"]
        if spec.pretrain_id:  # fine-tunes start from the committed checkpoint
            import shutil

            (tmp_path / "checkpoints").mkdir(exist_ok=True)
            shutil.copy(runs.checkpoint_path(spec.pretrain_id), tmp_path / "checkpoints")
        again = train(spec, data, device="cpu", results_root=tmp_path)
        assert abs(again.test_loss - rec["test_loss"]) < TOLERANCE_NATS, (rec["run_id"], again.test_loss, rec["test_loss"])
        assert again.data_hashes == rec["data_hashes"]
