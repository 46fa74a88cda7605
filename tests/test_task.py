"""The downstream task (issue 22): its examples, the classification head, and task runs through the
same training loop, run store and sweep as the next-token runs."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from transfer_laws import runs
from transfer_laws.data.task import PackageTask, TaskDataError, task_split_of
from transfer_laws.data.windows import StudyData
from transfer_laws.runs import RunSpec
from transfer_laws.train import checkpoints
from transfer_laws.train.loop import train
from transfer_laws.train.model import GPT, GPTConfig

TINY = dict(size="n13k", batch_size=8, n_ctx=32, max_steps=24, min_steps=24, patience=50, recipe=2)
TASK = dict(task="package", val_windows=44, test_windows=88, lr=3e-3, **TINY)


@pytest.fixture(scope="module")
def data():
    return StudyData()


@pytest.fixture(scope="module")
def task(data):
    return data.task("package", 32)


def test_examples_are_balanced_nested_and_split_by_file(task):
    assert task.n_classes == 11 and "django" in task.classes
    # every file sits wholly in one task split; every class has windows in every split
    files = task.files.assign(task_split=[task_split_of(h) for h in task.files.sha256])
    assert files.groupby("sha256").task_split.nunique().max() == 1
    assert (task.pool_sizes() > 0).all().all()
    a, b = task.train_set(55, data_seed=1), task.train_set(110, data_seed=1)
    assert torch.equal(a.x, b.x[:55]) and torch.equal(a.y, b.y[:55]), "one seed's sets are nested"
    assert (torch.bincount(b.y, minlength=11) == 10).all(), "balanced classes"
    c = task.train_set(110, data_seed=2)
    assert not torch.equal(b.x, c.x), "the data seed draws another sample"
    w = task.windows
    assert (w.chars > 0).all() and task.nominal_chars(1000) == round(1000 * task.chars_per_example)
    test = task.eval_set("test", 88)
    assert len(test.y) == 88 and (torch.bincount(test.y) == 8).all()
    assert torch.equal(test.x, task.eval_set("test", 88).x), "the same test examples for every run"
    # the training pool and the test pool share no window (different files)
    train_keys = set(map(tuple, w[w.task_split == "train"][["split", "start"]].to_numpy()))
    test_keys = set(map(tuple, w[w.task_split == "test"][["split", "start"]].to_numpy()))
    assert not train_keys & test_keys
    with pytest.raises(TaskDataError, match="training pool holds"):
        task.train_set(task.max_train_examples() + 11, data_seed=0)


def test_the_window_is_the_files_tokens(task, data):
    """An example's tokens are the file's own tokens, and never cross a document end."""
    ex = task.train_set(22, data_seed=3)
    assert not (ex.x == 0).any(), "no end-of-text token inside a window"
    row = task.windows.iloc[0]
    t = np.asarray(data.array("python", row.split).tokens[row.start : row.start + 32])
    assert (t != 0).all()


def test_head_starts_uniform_and_loads_a_checkpoint(data, tmp_path):
    cfg = GPTConfig.from_name("n13k", vocab_size=data.vocab_size, n_ctx=32, n_classes=11)
    model = GPT(cfg)
    x = torch.randint(0, data.vocab_size, (4, 32))
    logits, loss = model.classify(x, torch.tensor([0, 3, 5, 10]))
    assert logits.shape == (4, 11) and loss.item() == pytest.approx(math.log(11), abs=1e-6)
    assert cfg.n_params() == GPTConfig.from_name("n13k", vocab_size=data.vocab_size).n_params(), \
        "N counts the trunk, not the head"
    lm = GPT(GPTConfig.from_name("n13k", vocab_size=data.vocab_size, n_ctx=32))
    checkpoints.save(lm, "f" * 16, tmp_path)
    checkpoints.load_into(model, "f" * 16, tmp_path)  # only the head is new
    assert torch.allclose(model.wte.weight, lm.wte.weight, atol=1e-3)
    other = GPT(GPTConfig.from_name("n28k", vocab_size=data.vocab_size, n_ctx=32, n_classes=11))
    with pytest.raises(RuntimeError):
        checkpoints.load_into(other, "f" * 16, tmp_path)


def test_task_specs():
    with pytest.raises(ValueError, match="d_train_examples"):
        RunSpec.make(phase="target", curriculum="scratch", d_train_chars=1000, **TASK)
    with pytest.raises(ValueError, match="unknown task"):
        RunSpec.make(phase="target", curriculum="scratch", d_train_examples=11, **{**TASK, "task": "parsing"})
    with pytest.raises(ValueError, match="task runs"):
        RunSpec.make(phase="target", curriculum="scratch", d_train_chars=1000, d_train_examples=11, **TINY)
    with pytest.raises(ValueError, match="state lr"):
        RunSpec.make(phase="target", curriculum="scratch", d_train_examples=11, **{**TASK, "lr": None})
    s = RunSpec.make(phase="target", curriculum="scratch", d_train_examples=110, **TASK)
    assert s.d_train == 110 and s.run_id != RunSpec.make(**{**s.to_dict(), "d_train_examples": 220}).run_id
    lm = RunSpec.make(phase="target", curriculum="scratch", d_train_chars=1000, size="n13k").to_dict()
    old = {k: v for k, v in lm.items() if k not in ("task", "d_train_examples")}
    assert runs.spec_id(lm) == runs.spec_id(old), "next-token runs keep their ids"


def test_task_runs_train_record_and_resume(data, tmp_path):
    pre = RunSpec.make(phase="pretrain", curriculum="text", train_tokens=8 * 32 * 24, **TINY)
    train(pre, data, device="cpu", results_root=tmp_path)
    scratch = RunSpec.make(phase="target", curriculum="scratch", d_train_examples=110, **TASK)
    ft = RunSpec.make(phase="target", curriculum="text", pretrain_id=pre.run_id, d_train_examples=110, **TASK)
    r = train(scratch, data, device="cpu", results_root=tmp_path)
    saved = json.loads(runs.record_path(scratch.run_id, tmp_path).read_text())
    assert saved["task"] == "package" and saved["d_train_examples"] == 110 and saved["n_classes"] == 11
    assert saved["d_train_chars"] == data.task("package", 32).nominal_chars(110)
    assert saved["d_train_tokens"] == 110 * 32 and 0 <= saved["test_accuracy"] <= 1
    assert len(saved["test_window_losses_nats"]) == 88
    assert r.curve[0]["step"] == 0 and r.curve[0]["val_loss"] == pytest.approx(math.log(11), abs=1e-6)
    assert r.val_loss <= math.log(11) + 1e-9, "best-validation selection includes the uniform start"
    f = train(ft, data, device="cpu", results_root=tmp_path)
    assert f.curve[0]["val_loss"] == pytest.approx(math.log(11), abs=1e-6), "the new head starts uniform"
    assert f.curve[1]["val_loss"] != r.curve[1]["val_loss"], "the fine-tune starts from the checkpoint's trunk"
    # killed after a periodic save and resumed: the same run as uninterrupted
    other = tmp_path / "resumed"
    (other / "checkpoints").mkdir(parents=True)
    for p in (tmp_path / "checkpoints").iterdir():
        (other / "checkpoints" / p.name).write_bytes(p.read_bytes())
    assert train(ft, data, device="cpu", results_root=other, stop_at_step=9) is None
    g = train(ft, data, device="cpu", results_root=other)
    assert g.resumed_at_steps == [9]
    assert g.test_loss == pytest.approx(f.test_loss, abs=1e-6)
    table = runs.runs_table(runs.load_records(tmp_path))
    row = table[table.run_id == scratch.run_id].iloc[0]
    assert row.task == "package" and row.d_train_examples == 110 and row.d_train_chars == saved["d_train_chars"]
    assert table[table.phase == "pretrain"].task.eq("lm").all()


def test_a_task_grid_plans_and_estimates(data, tmp_path):
    from transfer_laws.runs.sweep import GridError, estimate, load_grid

    grid = tmp_path / "g.toml"
    grid.write_text("""[defaults]
recipe = 2
n_ctx = 32
batch_size = 8
[[block]]
phase = "pretrain"
curriculum = "text"
size = "n13k"
train_tokens = 6144
[[block]]
phase = "target"
task = "package"
curriculum = ["scratch", "text"]
size = "n13k"
d_train_examples = [44, 440, 4400]
lr = 0.003
val_windows = 44
test_windows = 88
""")
    plan = load_grid(grid, data, root=tmp_path)
    targets = [p.spec for p in plan if p.spec.phase == "target"]
    assert len(targets) == 6 and {s.d_train_examples for s in targets} == {44, 440, 4400}
    assert [s.d_train_examples for s in targets[:2]] in ([44, 44], [4400, 4400]), "coarse-to-fine: the ends first"
    e = estimate(targets[0], data, {"n13k": 1e5})
    assert e["steps"] > 0 and e["seconds"] > 0
    grid.write_text(grid.read_text().replace("4400]", f"{10 ** 6}]"))
    with pytest.raises(GridError, match="training pool holds"):
        load_grid(grid, data, root=tmp_path)


def test_separation_and_exchange_rate_on_a_planted_table():
    """The analysis of the task's runs: a planted 0.2-nat curriculum gap is separated from 0.01-nat
    seed noise, a 0.005-nat one is not; alpha/beta comes with its interval from the law's draws."""
    from transfer_laws.analysis import downstream
    from transfer_laws.analysis.fitting import TransferFit

    rng = np.random.default_rng(0)
    rows = []
    for size, n in (("n28k", 28368), ("n100k", 100096)):
        for d in (110, 1100):
            for cur, gap in (("scratch", 0.0), ("text", -0.005), ("mix", -0.2)):
                for seed in range(3):
                    rows.append({"curriculum": cur, "size": size, "n_params": n, "d_train_examples": d,
                                 "d_train_chars": 300 * d, "test_loss": 2.0 - 0.1 * np.log10(d) + gap
                                 + rng.normal(0, 0.01), "test_accuracy": 0.5, "test_loss_se": 0.02})
    runs = pd.DataFrame(rows)
    assert downstream.chars_per_example(runs) == 300
    assert downstream.seed_noise(runs) == pytest.approx(0.01, rel=0.4)
    sep = downstream.separation(runs).set_index(["compared", "at", "d_train_examples"])
    assert sep.loc[("mix - scratch", "n28k", 110), "separated"]
    assert not sep.loc[("text - scratch", "n28k", 110), "separated"]
    draws = np.column_stack([np.zeros(200), rng.normal(0.2, 0.01, 200), rng.normal(0.4, 0.02, 200)])
    fit = TransferFit(1.0, 0.2, 0.4, 10, {"beta": [0.36, 0.44]}, draws=draws)
    r = downstream.exchange_rate(fit)
    assert r["point"] == pytest.approx(0.5) and r["ci95"][0] < 0.5 < r["ci95"][1] and r["beta_excludes_zero"]


def test_a_rate_sweep_enters_the_task_fits_once_at_its_best_rate():
    from transfer_laws.analysis import downstream

    base = {"curriculum": "text", "size": "n28k", "d_train_examples": 1100, "seed": 0, "data_seed": 0,
            "pretrain_id": "abc"}
    runs = pd.DataFrame([{**base, "lr": lr, "val_loss": v, "test_loss": v + 0.1}
                         for lr, v in ((3e-4, 1.40), (1e-3, 1.31), (3e-3, 1.45))]
                        + [{**base, "pretrain_id": None, "lr": 1e-3, "val_loss": 1.5, "test_loss": 1.6}])
    t = downstream.tuned(runs)
    assert len(t) == 2 and set(t[t.pretrain_id == "abc"].lr) == {1e-3}


def test_fit_prints_the_tasks_law_from_the_committed_pilot():
    """`fit --experiment downstream-package-pilot` reads the task's committed runs (each rate sweep once,
    at its best rate, as the chapter) and prints the law with intervals."""
    import subprocess
    import sys

    from transfer_laws import runs as runs_mod

    csv = runs_mod.results_dir() / "runs.csv"
    r = subprocess.run([sys.executable, "-m", "transfer_laws", "fit", str(csv), "--experiment",
                        "downstream-package-pilot", "--bootstrap", "20", "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    table = pd.read_csv(csv)
    task = table[(table.experiment == "downstream-package-pilot") & (table.phase == "target") & table.in_plan]
    assert 0 < out["n_runs"] < len(task), "the sweeps' other rates are left out"
    for cur in ("text", "mix"):
        assert set(out[cur]["ci95"]) >= {"alpha", "beta"} and out[cur]["n_points"] > 0


def test_the_tasks_summary_sentence_counts_and_says_why_a_law_is_missing():
    from transfer_laws.analysis import downstream

    rows = []
    for size, n in (("n28k", 28368), ("n100k", 100096)):
        for cur, gap in (("scratch", 0.0), ("text", -0.3)):
            for seed in range(2):
                rows.append({"curriculum": cur, "size": size, "n_params": n, "d_train_examples": 110,
                             "test_loss": 2.0 + gap + 0.01 * seed, "test_accuracy": 0.5, "test_loss_se": 0.02})

    class NoLaw:
        def fit(self, cur):
            raise ValueError("too few sizes")

    s = downstream.summary(pd.DataFrame(rows), NoLaw())
    assert "(2 of 2 curriculum comparisons" in s and "model size does not" in s
    assert "the fine-tune ends below from scratch after text in 2 of 2 cells" in s
    assert "could not be fitted (too few sizes)" in s
    brief = downstream.summary(pd.DataFrame(rows), NoLaw(), brief=True)
    assert brief == ("the fine-tune ends below training from scratch after text in 2 of 2 cells, a larger model "
                     "lowers the task's loss beyond seed noise in 0 of 2 size comparisons"), brief

    class Law:  # β's interval above 0 after text only
        def fit(self, cur):
            from types import SimpleNamespace
            return SimpleNamespace(alpha=0.3, beta=0.5, draws=None,
                                   ci95={"beta": [0.1, 0.9] if cur == "text" else [-0.2, 0.9]})

    brief = downstream.summary(pd.DataFrame(rows), Law(), brief=True)
    assert brief.endswith("; after text pre-training the task's β excludes 0; after mix pre-training the task's β "
                          "does not exclude 0 (a larger model is not shown to add transferred examples)"), brief
    # a curriculum that ends above from scratch is counted as separated but not as helping
    worse = pd.DataFrame(rows).assign(test_loss=lambda d: np.where(d.curriculum == "text", d.test_loss + 0.6, d.test_loss))
    assert downstream.pretraining_helps(worse) == {"text": (0, 2), "mix": (0, 0)}
