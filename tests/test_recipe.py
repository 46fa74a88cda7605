"""The second recipe (issue 17): honest ids, resumable runs, forks, step-0 evaluation, data samples."""

import json

import numpy as np
import pytest

from transfer_laws.train import resume
from transfer_laws import runs
from transfer_laws.data.windows import N_STREAMS, SPAN_TOKENS, StudyData, sample_stream, span_order, spans
from transfer_laws.runs import LEGACY, RunSpec
from transfer_laws.runs.checks import checks
from transfer_laws.train.loop import batch_size, cooldown_start, train

R2 = dict(recipe=2, val_windows=32, test_windows=64, eval_growth=1.1, size="n13k", n_ctx=32, batch_size=8)


@pytest.fixture(scope="module")
def data():
    return StudyData()


def test_every_committed_id_is_its_specs_hash():
    records = runs.load_records()
    assert len(records) >= 400
    for r in records:
        assert RunSpec.from_dict(r["spec"]).run_id == r["run_id"], r["run_id"]


def test_new_fields_are_hashed_only_off_their_legacy_values():
    base = RunSpec.make(phase="target", curriculum="scratch", size="n13k", d_train_chars=1000)
    legacy_blob = {k: v for k, v in base.to_dict().items() if k not in LEGACY}
    assert base.run_id == runs.spec_id(legacy_blob), "a legacy spec hashes as it did before the fields existed"
    ids = {base.run_id}
    for kw in (dict(recipe=2), dict(recipe=2, data_seed=1), dict(recipe=2, test_windows=2048),
               dict(recipe=2, schedule="wsd"), dict(recipe=2, batch_rule="one_pass"), dict(recipe=2, warmup_steps=0)):
        ids.add(RunSpec.make(phase="target", curriculum="scratch", size="n13k", d_train_chars=1000, lr=base.lr, **kw).run_id)
    assert len(ids) == 7
    with pytest.raises(ValueError, match="need recipe = 2"):
        RunSpec.make(phase="target", curriculum="scratch", size="n13k", d_train_chars=1000, data_seed=1)
    with pytest.raises(ValueError, match="unknown schedule"):
        RunSpec.make(phase="target", curriculum="scratch", size="n13k", d_train_chars=1000, recipe=2, lr=1e-3, schedule="x")


def test_batch_rule_keeps_one_step_within_one_pass():
    s = RunSpec.make(phase="target", curriculum="scratch", size="n13k", d_train_chars=1000, recipe=2, lr=1e-3,
                     batch_rule="one_pass", batch_size=32, n_ctx=128)
    assert [batch_size(s, t) for t in (100, 300, 441, 1300, 4400, 10**6)] == [1, 2, 2, 8, 32, 32]
    for t in (300, 441, 1300, 4400):
        assert batch_size(s, t) * 128 <= t


def test_data_samples_are_disjoint_nested_and_spread(data):
    arr = data.array("python", "train")
    start, end, doc = spans(arr)
    assert (end - start <= SPAN_TOKENS).all() and (end > start).all()
    orders = [span_order(doc, k) for k in range(1, N_STREAMS + 1)]
    assert all(np.array_equal(np.sort(o), np.arange(len(doc))) for o in orders), "each stream is every span once"
    n_head = len(doc) // (2 * N_STREAMS)  # half a hand: within every seed's own files
    heads = [set(doc[o[:n_head]]) for o in orders]
    assert all(not (a & b) for i, a in enumerate(heads) for b in heads[i + 1:]), "seeds draw different files"
    assert all(len(set(doc[o[:9]])) >= 8 for o in orders), "a 1e4-character sample spans many files"
    for k in (1, 2, 3):
        small, cum_s = sample_stream(arr, k, 3_000)
        big, _ = sample_stream(arr, k, 100_000)
        assert cum_s[-1] <= 3_000 and (big[: len(small)] == small).all(), "nested within a seed"
    toks, cum = sample_stream(arr, 1, 1_000)
    assert 800 <= cum[-1] <= 1_000 and len(toks) == len(cum)
    whole, cum_w = sample_stream(arr, 2, arr.n_chars)
    assert cum_w[-1] == arr.n_chars, "the whole split is every span"


def test_checks_flag_unresolved_and_zero_shot():
    curve = [{"step": s, "val_loss": v} for s, v in [(0, 5.0), (1, 4.0), (2, 3.0), (3, 3.5), (4, 3.6)]]
    c = checks(curve, best_step=2, warmup=1)
    assert not c["zero_shot"] and not c["unresolved"] and c["first_min_step"] == 2 and c["overrun"] == 2
    assert checks(curve, best_step=1, warmup=0)["unresolved"]
    assert checks(curve, best_step=4, warmup=0)["unresolved"]
    assert checks(curve, best_step=0, warmup=0)["zero_shot"]
    assert checks(curve, best_step=2, warmup=3)["warmup_past_first_min"]


def _losses(r):
    return np.array([p["val_loss"] for p in r.curve] + [r.test_loss])


def test_killed_and_resumed_run_matches_uninterrupted(data, tmp_path):
    spec = RunSpec.make(phase="target", curriculum="scratch", d_train_chars=30_000, data_seed=2, max_steps=40,
                        min_steps=40, patience=100, lr=2e-3, **R2)
    whole = train(spec, data, device="cpu", results_root=tmp_path / "a")
    assert train(spec, data, device="cpu", results_root=tmp_path / "b", stop_at_step=17) is None
    assert resume.in_progress_path(spec.run_id, tmp_path / "b").exists()
    assert not runs.record_path(spec.run_id, tmp_path / "b").exists(), "no record until the run is done"
    again = train(spec, data, device="cpu", results_root=tmp_path / "b")
    assert again.resumed_at_steps == [17] and again.steps == whole.steps == 40
    assert [p["step"] for p in again.curve] == [p["step"] for p in whole.curve]
    np.testing.assert_allclose(_losses(again), _losses(whole), rtol=0, atol=1e-6)
    assert not resume.in_progress_path(spec.run_id, tmp_path / "b").exists()


def test_wsd_branch_from_a_fork_matches_a_branch_run_alone(data, tmp_path):
    kw = dict(phase="pretrain", curriculum="text", schedule="wsd", warmup_steps=4, max_steps=10**6, min_steps=1, **R2)
    short = RunSpec.make(train_tokens=8 * 32 * 30, **kw)
    long = RunSpec.make(train_tokens=8 * 32 * 50, **kw)
    assert resume.family(short) == resume.family(long)
    alone = train(long, data, device="cpu", results_root=tmp_path / "alone")
    assert alone.forked_from is None
    train(short, data, device="cpu", results_root=tmp_path / "f")  # saves a fork at its cool-down start
    assert cooldown_start(30, 0.2) == 24 and resume.fork_path(resume.family(short), 24, tmp_path / "f").exists()
    forked = train(long, data, device="cpu", results_root=tmp_path / "f")
    assert forked.forked_from.endswith("step_0000024.ckpt") and forked.resumed_at_steps == [24]
    np.testing.assert_allclose(_losses(forked), _losses(alone), rtol=0, atol=1e-6)
    assert forked.checkpoint_test_loss is not None and len(forked.checkpoint_test_window_losses_nats) == 64


def test_scratch_horizon_branch_from_a_fork_matches_a_branch_run_alone(data, tmp_path):
    """From-scratch horizon branches (wsd, explicit warm-up, differing in max_epochs) share their stable
    phase; patience is not counted before a branch's own cool-down."""
    kw = dict(phase="target", curriculum="scratch", d_train_chars=3_000, data_seed=1, lr=3e-3, schedule="wsd",
              warmup_steps=3, max_steps=10**6, min_steps=1, patience=1, **R2)
    short, long = RunSpec.make(max_epochs=10, **kw), RunSpec.make(max_epochs=20, **kw)
    assert resume.family(short) == resume.family(long) is not None
    assert resume.family(RunSpec.make(**{**kw, "warmup_steps": None}, max_epochs=20)) is None, \
        "a warm-up that is a share of the horizon differs between branches"
    alone = train(long, data, device="cpu", results_root=tmp_path / "alone")
    first = train(short, data, device="cpu", results_root=tmp_path / "f", fork_steps=[cooldown_start(alone.max_steps, 0.2)])
    assert alone.max_steps > cooldown_start(alone.max_steps, 0.2) > first.max_steps
    forked = train(long, data, device="cpu", results_root=tmp_path / "f")
    assert forked.forked_from is not None and forked.resumed_at_steps == [cooldown_start(first.max_steps, 0.2)]
    np.testing.assert_allclose(_losses(forked), _losses(alone), rtol=0, atol=1e-6)
    # patience 1 would stop at the first evaluation without improvement; in the stable phase none counts
    stable = [p for p in alone.curve if 0 < p["step"] < cooldown_start(alone.max_steps, 0.2)]
    assert any(b["val_loss"] >= a["val_loss"] for a, b in zip(stable, stable[1:])), "the test needs a noisy stable phase"
    assert alone.steps >= cooldown_start(alone.max_steps, 0.2)


def test_finetune_is_never_worse_than_its_checkpoint(data, tmp_path):
    pre = RunSpec.make(phase="pretrain", curriculum="mix", train_tokens=8 * 32 * 40, max_steps=10**6, min_steps=1, **R2)
    p = train(pre, data, device="cpu", results_root=tmp_path)
    ft = RunSpec.make(phase="target", curriculum="mix", pretrain_id=pre.run_id, d_train_chars=1_000, data_seed=1,
                      lr=0.5, max_steps=30, min_steps=30, patience=5, batch_rule="one_pass", warmup_steps=0, **R2)
    r = train(ft, data, device="cpu", results_root=tmp_path)
    assert r.curve[0]["step"] == 0
    assert r.best_step == 0 and r.checks["zero_shot"], "a rate this high only makes the checkpoint worse"
    assert r.test_loss == pytest.approx(p.checkpoint_test_loss, abs=1e-6)
    saved = json.loads(runs.record_path(ft.run_id, tmp_path).read_text())
    assert saved["batch_size"] * 32 <= saved["d_train_tokens"]


def test_tokenizer_is_a_spec_field_with_its_own_data():
    a = RunSpec.make(phase="target", curriculum="scratch", size="n13k", d_train_chars=1000, recipe=2, lr=1e-3)
    b = RunSpec.make(phase="target", curriculum="scratch", size="n13k", d_train_chars=1000, recipe=2, lr=1e-3, tokenizer="text")
    assert a.run_id != b.run_id
    with pytest.raises(ValueError, match="unknown tokenizer"):
        RunSpec.make(phase="target", curriculum="scratch", size="n13k", d_train_chars=1000, recipe=2, lr=1e-3, tokenizer="x")
    from transfer_laws.data.prepare import frozen_dir, hashes_file
    from transfer_laws.data.tokenizer import tokenizer_file

    assert (frozen_dir() / tokenizer_file("text")).exists() and (frozen_dir() / hashes_file("text")).exists()


def test_every_committed_record_reads_as_a_run_record_and_writes_back_unchanged(tmp_path):
    from transfer_laws.runs import RunRecord

    for r in runs.load_records():
        rec = RunRecord.from_dict(r)
        assert rec.to_dict() == r, r["run_id"]
    with pytest.raises(ValueError, match="unknown fields"):
        RunRecord.from_dict({**r, "lossy": 1})
    with pytest.raises(ValueError, match="missing fields"):
        RunRecord.from_dict({k: v for k, v in r.items() if k != "test_loss"})
