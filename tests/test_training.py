"""Tiny real runs on the prepared corpora: records, determinism, checkpoints, bad input."""

import json
import math

import pytest
import torch

from transfer_laws import runs
from transfer_laws.data.windows import StudyData
from transfer_laws.runs import RunSpec
from transfer_laws.train.loop import budget_steps, eval_schedule, train

TINY = dict(size="n13k", batch_size=8, n_ctx=32, max_steps=24, min_steps=24, patience=50)


@pytest.fixture(scope="module")
def data():
    return StudyData()


def test_record_is_complete(data, tmp_path):
    spec = RunSpec.make(phase="target", curriculum="scratch", d_train_chars=20_000, **TINY)
    r = train(spec, data, device="cpu", results_root=tmp_path)
    saved = json.loads(runs.record_path(spec.run_id, tmp_path).read_text())
    assert saved["run_id"] == spec.run_id and saved["spec"]["lr"] == spec.lr
    for key in ("val_loss", "test_loss", "test_loss_se", "test_bits_per_char", "stop_reason", "curve", "hardware",
                "versions", "git_commit", "data_hashes", "wall_seconds", "flops_kaplan", "flops_full"):
        assert key in saved, key
    assert saved["data_hashes"] == data.token_hashes
    assert r.steps == 24 and r.stop_reason == "budget"
    assert r.curve[0]["step"] == 10 and all(math.isfinite(p["val_loss"]) for p in r.curve)
    assert r.test_loss < math.log(data.vocab_size), "it learned something"
    windows = runs.window_losses([saved])[spec.run_id]
    assert len(windows) == saved["eval"]["test_windows"]
    assert windows.mean() == pytest.approx(saved["test_loss"], abs=1e-6)
    assert windows.std(ddof=1) / math.sqrt(len(windows)) == pytest.approx(saved["test_loss_se"], rel=1e-4)
    assert not list(tmp_path.rglob("*.tmp"))


def test_same_spec_same_curve(data, tmp_path):
    spec = RunSpec.make(phase="target", curriculum="scratch", d_train_chars=20_000, **TINY)
    a = train(spec, data, device="cpu", results_root=tmp_path / "a")
    b = train(spec, data, device="cpu", results_root=tmp_path / "b")
    assert [p["val_loss"] for p in a.curve] == [p["val_loss"] for p in b.curve]
    assert a.test_loss == b.test_loss
    c = train(RunSpec.make(phase="target", curriculum="scratch", d_train_chars=20_000, seed=1, **TINY), data,
              device="cpu", results_root=tmp_path / "c")
    assert c.test_loss != a.test_loss, "the seed changes init and data order"


def test_pretrain_checkpoint_and_finetune(data, tmp_path):
    pre = RunSpec.make(phase="pretrain", curriculum="mix", train_tokens=8 * 32 * 24, **TINY)
    r = train(pre, data, device="cpu", results_root=tmp_path)
    assert "zero_shot_loss" in r.curve[0]
    assert runs.checkpoint_path(pre.run_id, tmp_path).exists()
    ft = RunSpec.make(phase="target", curriculum="mix", pretrain_id=pre.run_id, d_train_chars=20_000, **TINY)
    r2 = train(ft, data, device="cpu", results_root=tmp_path)
    scratch = train(RunSpec.make(phase="target", curriculum="scratch", d_train_chars=20_000, **TINY), data,
                    device="cpu", results_root=tmp_path)
    assert r2.curve[0]["val_loss"] < scratch.curve[0]["val_loss"], "fine-tune starts from the pre-trained weights"
    from transfer_laws.train import checkpoints
    from transfer_laws.train.model import GPT, GPTConfig

    m = GPT(GPTConfig.from_name("n13k", vocab_size=data.vocab_size, n_ctx=32))
    checkpoints.load_into(m, pre.run_id, tmp_path)
    assert m.wte.weight.dtype == torch.float32
    missing = RunSpec.make(phase="target", curriculum="text", pretrain_id="0" * 16, d_train_chars=20_000, **TINY)
    with pytest.raises(FileNotFoundError, match="missing pre-training run"):
        train(missing, data, device="cpu", results_root=tmp_path)


def test_bad_specs():
    with pytest.raises(ValueError, match="unknown model size"):
        RunSpec.make(phase="target", curriculum="scratch", size="huge", d_train_chars=10)
    with pytest.raises(ValueError, match="needs pretrain_id"):
        RunSpec.make(phase="target", curriculum="text", size="n13k", d_train_chars=10)
    with pytest.raises(ValueError, match="warmup"):
        RunSpec.make(phase="target", curriculum="scratch", size="n13k", d_train_chars=10, warmup_frac=0.2)


def test_data_larger_than_split(data, tmp_path):
    spec = RunSpec.make(phase="target", curriculum="scratch", d_train_chars=10**12, **TINY)
    with pytest.raises(ValueError, match="larger than the python/train split"):
        train(spec, data, device="cpu", results_root=tmp_path)


def test_budget_and_schedule():
    spec = RunSpec.make(phase="target", curriculum="scratch", size="n13k", d_train_chars=1000, max_epochs=10,
                        min_steps=5, max_steps=100, batch_size=2, n_ctx=10)
    assert budget_steps(spec, 100) == 50 and budget_steps(spec, 10_000) == 100 and budget_steps(spec, 1) == 5
    s = eval_schedule(1000)
    assert s[0] == 10 and s[-1] == 1000 and all(b > a for a, b in zip(s, s[1:]))
    assert sum(x <= 100 for x in s) > sum(x > 500 for x in s), "dense early"


def test_run_id_is_content_hash():
    a = RunSpec.make(phase="target", curriculum="scratch", size="n13k", d_train_chars=1000)
    b = RunSpec.make(phase="target", curriculum="scratch", size="n13k", d_train_chars=1000)
    c = RunSpec.make(phase="target", curriculum="scratch", size="n13k", d_train_chars=1001)
    assert a.run_id == b.run_id != c.run_id
    assert RunSpec.from_dict(a.to_dict()) == a


def test_window_stream_gives_a_small_share_its_rows():
    """A 1% source in 32-row batches gets one row about every third batch (rounding each batch gave
    it none: the contamination bug); integral shares keep the same rows every batch."""
    import numpy as np

    from transfer_laws.train.loop import WindowStream

    arrays = [np.arange(10_000), np.arange(10_000), np.arange(10_000) + 50_000]
    s = WindowStream(arrays, [0.495, 0.495, 0.01], batch_size=32, n_ctx=8, seed=0)
    counts = np.array([s.counts(t) for t in range(1000)])
    assert (counts.sum(axis=1) == 32).all()
    assert counts[:, 2].sum() == pytest.approx(0.01 * 32 * 1000, abs=1)
    assert counts[:, 1].sum() == pytest.approx(0.495 * 32 * 1000, abs=1)
    batches = iter(s)
    seen = sum(int((next(batches)[0] >= 50_000).any()) for _ in range(30))
    assert 8 <= seen <= 11  # the third source appears in ~a third of the batches
    half = WindowStream(arrays[:2], [0.5, 0.5], batch_size=32, n_ctx=8, seed=0)
    assert all((half.counts(t) == [16, 16]).all() for t in range(50))
    one = WindowStream(arrays[:1], [1.0], batch_size=32, n_ctx=8, seed=0)
    assert (one.counts(7) == [32]).all()
