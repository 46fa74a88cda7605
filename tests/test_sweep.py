"""Grids: parsing, errors, coarse-to-fine order, shards, cost cap, and resume after kill -9."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from transfer_laws import runs
from transfer_laws.data.windows import StudyData
from transfer_laws.runs.spec import RunSpec
from transfer_laws.runs.sweep import GridError, _bitrev_rank, load_grid, run_sweep, shard

GRID = """
[defaults]
batch_size = 8
n_ctx = 32
max_steps = {steps}
min_steps = {steps}
patience = 50
[pretrain_rule]
tokens_per_param = 20
max_text_epochs = 4
[[block]]
phase = "pretrain"
curriculum = "text"
size = "n13k"
[[block]]
phase = "target"
curriculum = ["scratch", "text"]
size = "n13k"
d_train_chars = [3000, 30000]
pretrain = {{ seed = 0 }}
"""


@pytest.fixture(scope="module")
def data():
    return StudyData()


def write(tmp_path, text, name="grid.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_plan_order_and_dependencies(data, tmp_path):
    plan = load_grid(write(tmp_path, GRID.format(steps=20)), data)
    assert len(plan) == 5
    assert plan[0].spec.phase == "pretrain"
    pre_id = plan[0].spec.run_id
    assert all(p.spec.pretrain_id == pre_id for p in plan if p.spec.curriculum == "text" and p.spec.phase == "target")
    from transfer_laws.train.model import GPTConfig

    n_total = GPTConfig.from_name("n13k", vocab_size=data.vocab_size).n_params(non_embedding=False)
    assert plan[0].spec.train_tokens == 20 * n_total  # rule: 20 x N_total, under the 4-epoch text cap


def test_size_first_order_completes_each_size_before_the_next(data, tmp_path):
    """[sweep] order = "size": the smallest size's pre-training and targets all come before the next
    size's pre-training (the same runs, the same ids, as the default coarse-to-fine order)."""
    two = GRID.replace('size = "n13k"', 'size = ["n13k", "n28k"]')
    default = load_grid(write(tmp_path, two.format(steps=20)), data)
    by_size = load_grid(write(tmp_path, two.format(steps=20) + '[sweep]\norder = "size"\n', "s.toml"), data)
    assert sorted(p.spec.run_id for p in default) == sorted(p.spec.run_id for p in by_size)
    assert [p.spec.phase for p in default][:2] == ["pretrain", "pretrain"]
    sizes = [p.spec.size for p in by_size]
    assert sizes == sorted(sizes, key=["n13k", "n28k"].index) and by_size[0].spec.phase == "pretrain"
    assert by_size[len(sizes) // 2].spec.phase == "pretrain" and by_size[len(sizes) // 2].spec.size == "n28k"
    for bad, message in (('order = "random"', "known orders"), ('shuffle = true', "unknown \\[sweep\\] keys")):
        with pytest.raises(GridError, match=message):
            load_grid(write(tmp_path, two.format(steps=20) + f"[sweep]\n{bad}\n", "b.toml"), data)


def test_coarse_to_fine_rank():
    assert _bitrev_rank(5)[0] == 0 and _bitrev_rank(5)[4] == 1  # the ends first
    assert sorted(_bitrev_rank(7)) == list(range(7))


def test_shards_partition_the_plan(data, tmp_path):
    plan = load_grid(write(tmp_path, GRID.format(steps=20)), data)
    parts = [shard(plan, i, 3) for i in (1, 2, 3)]
    ids = [p.spec.run_id for part in parts for p in part]
    assert sorted(ids) == sorted(p.spec.run_id for p in plan)
    assert [p.spec.run_id for p in shard(plan, 2, 3)] == [p.spec.run_id for p in parts[1]]



def test_a_shard_that_draws_no_run_finishes_cleanly(data, tmp_path):
    """A packed GPU pass shards a plan over more processes than some cells have runs: an empty share
    is nothing to do, not a crash."""
    grid = write(tmp_path, GRID.format(steps=20))
    n = len(load_grid(grid, data)) * 4
    empty = next(i for i in range(1, n + 1) if not shard(load_grid(grid, data), i, n))
    logs = []
    assert run_sweep(grid, data, device="cpu", shard_spec=f"{empty}/{n}", root=tmp_path / "r", log=logs.append) == []
    assert "nothing to run" in logs[-1]


@pytest.mark.parametrize("text, message", [
    ("[[block]]\nphase = 'target'\ncurriculum = 'scratch'\nsize = 'n9'\nd_train_chars = 10\n", "unknown model size"),
    ("[[block]]\nphase = 'target'\ncurriculum = 'scratch'\nsize = 'n13k'\nd_train_chars = 1_000_000_000_000\n",
     "larger than the python/train split"),
    ("[[block]]\nphase = 'target'\ncurriculum = 'text'\nsize = 'n13k'\nd_train_chars = 10\n", "missing pre-training run"),
    ("[[block]\nphase=", "malformed TOML"),
    ("[[block]]\nphase = 'target'\nflavour = 1\n", "unknown keys"),
])
def test_bad_grids(data, tmp_path, text, message):
    with pytest.raises((GridError, ValueError), match=message):
        load_grid(write(tmp_path, text), data)


def test_dry_run_and_cap(data, tmp_path, capsys):
    grid = write(tmp_path, GRID.format(steps=20))
    ids = run_sweep(grid, data, device="cpu", dry_run=True, root=tmp_path / "res")
    assert len(ids) == 5 and not (tmp_path / "res" / "runs").exists()
    assert "wall-hours" in capsys.readouterr().out
    with pytest.raises(GridError, match="above the 0-minute cap"):
        run_sweep(grid, data, device="cpu", dry_run=True, max_minutes=0.0001, root=tmp_path / "res")


def test_trainer_kwargs_pass_through(data, tmp_path):
    """Lightning's devices/strategy/num_nodes reach the Trainer (single-device values on CPU)."""
    grid = write(tmp_path, GRID.format(steps=12).replace('curriculum = ["scratch", "text"]', 'curriculum = "scratch"')
                 .replace("[3000, 30000]", "[3000]"))
    lines = []
    done = run_sweep(grid, data, device="cpu", root=tmp_path / "res",
                     trainer_kwargs={"devices": 1, "strategy": "auto", "num_nodes": 1}, log=lines.append)
    assert len(done) == 2  # the pre-training run and the scratch run
    # each run's start and end, then what is left by the dry-run's estimates
    left = [l for l in lines if l.strip().startswith("left:")]
    assert len(left) == 2 and left[-1].strip().startswith("left: 0 run(s), at most 0.00 wall-hours")
    assert any(l.startswith("run ") for l in lines) and any(l.strip().startswith("done ") for l in lines)
    with pytest.raises(Exception, match="(?i)strategy"):
        run_sweep(grid, data, device="cpu", root=tmp_path / "res2",
                  trainer_kwargs={"strategy": "no-such-strategy"}, log=lambda *_: None)


def test_kill_and_resume(data, tmp_path):
    """kill -9 mid-sweep: finished runs are kept, nothing half-written, nothing run twice."""
    grid = write(tmp_path, GRID.format(steps=60))
    res = tmp_path / "res"
    cmd = [sys.executable, "-m", "transfer_laws", "sweep", str(grid), "--device", "cpu", "--results", str(res)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and len(list((res / "runs").glob("*.json"))) < 2:
        time.sleep(0.2)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = {p.name: p.stat().st_mtime_ns for p in (res / "runs").glob("*.json")}
    assert 2 <= len(first) < 5, "killed in the middle"
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    after = {p.name: p.stat().st_mtime_ns for p in (res / "runs").glob("*.json")}
    assert len(after) == 5
    assert all(after[k] == v for k, v in first.items()), "finished runs were not rerun"
    assert not [p for p in res.rglob("*") if p.name.endswith(".tmp")]
    table = pd.read_csv(res / "runs.csv")
    assert len(table) == 5 and table.run_id.is_unique
    assert set(table.columns) >= {"run_id", "phase", "experiment", "curriculum", "pretrain_id", "pretrain_tokens",
                                  "n_params", "n_params_total", "d_train_chars", "seed", "val_loss", "test_loss",
                                  "stop_reason", "hardware"}
    curves = pd.read_csv(res / "curves.csv")
    assert set(curves.run_id) == set(table.run_id)


def test_select_keeps_the_pretraining_its_runs_need(data, tmp_path):
    from transfer_laws.runs.sweep import select

    grid = GRID.format(steps=20) + """
[[block]]
experiment = "extra"
phase = "target"
curriculum = "text"
size = "n13k"
d_train_chars = 10000
pretrain = { seed = 0, experiment = "main" }
"""
    plan = load_grid(write(tmp_path, grid), data)
    extra = select(plan, experiments=["extra"])
    assert [p.spec.phase for p in extra] == ["pretrain", "target"]  # its main pre-training comes along
    assert extra[1].spec.experiment == "extra" and extra[1].spec.pretrain_id == extra[0].spec.run_id
    assert select(plan, sizes=["n28k"]) == []
    with pytest.raises(GridError, match="unknown model size"):
        select(plan, sizes=["n7"])
    # a sweep whose selection matches nothing says so (the dry run used to crash on the empty table)
    with pytest.raises(GridError, match="no run matches --sizes n28k"):
        run_sweep(write(tmp_path, grid), data, dry_run=True, sizes=["n28k"], log=lambda *a: None)


def test_max_steps_by_size(data, tmp_path):
    grid = GRID.format(steps=20).replace("[pretrain_rule]", "[max_steps_by_size]\nn13k = 333\n[pretrain_rule]")
    grid = grid.replace('[[block]]\nphase = "pretrain"', '[[block]]\nmax_steps = 999\nphase = "pretrain"')
    plan = load_grid(write(tmp_path, grid), data)
    assert {p.spec.max_steps for p in plan if p.spec.phase == "target"} == {333}
    assert [p.spec.max_steps for p in plan if p.spec.phase == "pretrain"] == [999]  # a block's own value wins
    with pytest.raises(GridError, match=r"max_steps_by_size.*unknown model size"):
        load_grid(write(tmp_path, grid.replace("n13k = 333", "n9 = 1")), data)


def test_main_grid_meets_the_study_design(data):
    """grids/main.toml: the design issue 5 asks for, and a cost within ~20 wall-hours on 2 cores."""
    from transfer_laws.train.model import GPTConfig
    from transfer_laws.runs.sweep import plan_table, throughput_from_bench

    root = Path(__file__).resolve().parents[1]
    plan = load_grid(root / "grids" / "main.toml", data)
    specs = [p.spec for p in plan]
    main = [s for s in specs if s.experiment == "main" and s.phase == "target"]
    sizes = sorted({s.size for s in main}, key=lambda n: GPTConfig.from_name(n).n_params())
    n = [GPTConfig.from_name(s).n_params() for s in sizes]
    # two decades: 1.28e4 to 1.24e6 is a factor 97 (n3m, the next rung, needs > 45 min a run on 2 cores)
    assert len(sizes) >= 6 and n[0] <= 2e4 and n[-1] >= 1e6 and n[-1] / n[0] >= 95
    whole = data.array("python", "train").n_chars
    for size in sizes:
        scratch = sorted({s.d_train_chars for s in main if s.size == size and s.curriculum == "scratch"})
        assert scratch[0] <= 1e3 and scratch[-1] == whole
        assert max(b / a for a, b in zip(scratch, scratch[1:])) <= 3.5  # half-decade steps
        for cur in ("text", "mix"):
            d_f = sorted({s.d_train_chars for s in main if s.size == size and s.curriculum == cur})
            assert len(d_f) >= 7 and d_f[-1] / d_f[0] >= 1e3
            seeds = {s.d_train_chars for s in main if s.size == size and s.curriculum == cur and s.seed == 1}
            assert seeds == set(d_f[:2])
    assert {s.experiment for s in specs} == {"main", "pretrain-seed", "alpha-puzzle", "pretrain-amount",
                                            "contamination", "finetune-lr"}
    from transfer_laws.train.hparams import FINETUNE_LR, SCRATCH_LR
    lr_runs = [s for s in specs if s.experiment == "finetune-lr"]
    assert lr_runs and all(s.lr == SCRATCH_LR[s.size][0] == pytest.approx(3 * FINETUNE_LR[s.size][0], rel=1e-3)
                           for s in lr_runs)
    mults = sorted(s.train_tokens for s in specs if s.phase == "pretrain" and s.size == "n57k"
                   and s.curriculum == "text" and s.contamination_frac == 0 and s.seed == 0)
    assert len(mults) == 3 and mults[2] / mults[0] == pytest.approx(16, rel=1e-3)  # 0.25x, 1x, 4x
    tps = throughput_from_bench(root / "results" / "bench_cpu.csv", {s.size for s in specs}, data)
    table = plan_table(plan, data, tps, root / "results")
    assert table.minutes.max() <= 45 and table.minutes.sum() / 60 <= 20


GRID2 = """
[defaults]
recipe = 2
batch_size = 8
n_ctx = 32
min_steps = 1
[[block]]
phase = "pretrain"
curriculum = "text"
size = "n13k"
schedule = "wsd"
warmup_steps = 2
train_tokens = [5120, 1280]
seed = [0, 1]
[[block]]
phase = "target"
curriculum = "text"
size = "n13k"
d_train_chars = 3000
data_seed = 1
lr = [0.001, 0.002, 0.004]
extend_lr = 2.0
pretrain = { seed = [0, 1], train_tokens = 5120 }
"""


def _planted_record(spec, val_loss):
    return {"run_id": spec.run_id, "spec": spec.to_dict(), "val_loss": val_loss}


def _write_planted(record, root):
    """A partial record (what the rate-extension planner reads), written past RunRecord's checks."""
    import json

    runs.atomic_write_bytes(runs.record_path(record["run_id"], root), json.dumps(record).encode())


def test_fixed_budgets_forks_and_pretrain_tables_with_lists(data, tmp_path):
    from transfer_laws.train import resume
    from transfer_laws.runs.sweep import fork_steps

    plan = load_grid(write(tmp_path, GRID2), data)
    pre = [p.spec for p in plan if p.spec.phase == "pretrain"]
    assert [(s.seed, s.train_tokens) for s in pre] == [(0, 1280), (0, 5120), (1, 1280), (1, 5120)], \
        "explicit budgets, the shorter first within a family"
    fine = [p.spec for p in plan if p.spec.phase == "target"]
    assert len(fine) == 6 and {s.pretrain_id for s in fine} == {pre[1].run_id, pre[3].run_id}
    forks = fork_steps(plan, data)
    assert forks[resume.family(pre[0])] == {4, 16}, "the cool-down starts of 5 and 20 steps"
    assert resume.family(pre[0]) != resume.family(pre[2]), "another seed is another family"


def test_lr_sweep_grows_until_its_best_is_bracketed(data, tmp_path):
    grid = write(tmp_path, GRID2)
    root = tmp_path / "results"
    fine = [p.spec for p in load_grid(grid, data, root) if p.spec.phase == "target" and p.spec.pretrain_id]
    cell0 = sorted((s for s in fine if s.pretrain_id == fine[0].pretrain_id), key=lambda s: s.lr)
    assert [s.lr for s in cell0] == [0.001, 0.002, 0.004]
    for s, v in zip(cell0, [3.0, 2.9, 2.8]):  # best at the highest rate: not bracketed
        _write_planted(_planted_record(s, v), root)
    grown = [p.spec for p in load_grid(grid, data, root) if p.spec.phase == "target"]
    assert sorted(s.lr for s in grown if s.pretrain_id == cell0[0].pretrain_id) == [0.001, 0.002, 0.004, 0.008]
    assert len(grown) == 7, "the other cell is not finished, so it does not grow"
    new = next(s for s in grown if s.lr == 0.008)
    _write_planted(_planted_record(new, 2.85), root)  # now bracketed at 0.004
    assert len([p for p in load_grid(grid, data, root) if p.spec.phase == "target"]) == 7
    _write_planted(_planted_record(new, 2.7), root)  # best at the edge again: grows once more
    assert max(p.spec.lr for p in load_grid(grid, data, root) if p.spec.phase == "target") == 0.016


GRID_HORIZON = """
[defaults]
recipe = 2
batch_size = 8
n_ctx = 32
min_steps = 1
[[block]]
phase = "target"
curriculum = "scratch"
size = "n13k"
d_train_chars = 3000
data_seed = 1
lr = 0.003
schedule = "wsd"
warmup_steps = 3
max_epochs = [20, 10]
max_steps = 300
extend_epochs = 2.0
"""


def test_horizon_branches_grow_until_a_shorter_branch_is_best(data, tmp_path):
    from transfer_laws.train import resume
    from transfer_laws.runs.sweep import fork_steps

    grid = write(tmp_path, GRID_HORIZON)
    root = tmp_path / "results"
    plan = [p.spec for p in load_grid(grid, data, root)]
    assert [s.max_epochs for s in plan] == [10, 20], "the shorter branch first: it leaves the longer one's fork"
    assert len(fork_steps([p for p in load_grid(grid, data, root)], data)[resume.family(plan[0])]) == 2

    def planted(s, v):
        tokens = data.training_arrays(s)[2]
        return {**_planted_record(s, v), "d_train_tokens": tokens, "batch_size": 8}

    for s, v in zip(plan, [3.0, 2.9]):  # the longest is best: not bracketed
        _write_planted(planted(s, v), root)
    grown = [p.spec for p in load_grid(grid, data, root)]
    assert [s.max_epochs for s in grown] == [10, 20, 40]
    _write_planted(planted(grown[-1], 2.95), root)  # the 20-epoch branch is best: bracketed
    assert len(load_grid(grid, data, root)) == 3
    _write_planted(planted(grown[-1], 2.8), root)  # longest best again, but 80 epochs pass the 300-step cap
    steps80 = 80 * data.training_arrays(grown[0])[2] / (8 * 32)
    assert steps80 > 300 and len(load_grid(grid, data, root)) == 3
    # the shortest best: a branch / 2 below it, down to MIN_BRANCH_STEPS after warm-up
    root2 = tmp_path / "results2"
    for s, v in zip(plan, [2.9, 3.0]):
        _write_planted(planted(s, v), root2)
    assert [p.spec.max_epochs for p in load_grid(grid, data, root2)] == [5, 10, 20]
    bad = write(tmp_path, GRID_HORIZON.replace('schedule = "wsd"\n', ""))
    with pytest.raises(GridError, match="extend_epochs needs horizon branches"):
        load_grid(bad, data, root)


def test_runs_of_a_provisional_rate_rule_are_planned_but_held(data, tmp_path, monkeypatch):
    """A rule fitted to part of its sweeps: the dry run counts its runs, the sweep does not run them."""
    from dataclasses import replace

    from transfer_laws.train import hparams

    rules = dict(hparams.RECIPE2_RULES)
    rules["scratch"] = replace(rules["scratch"], provisional=True)
    monkeypatch.setattr(hparams, "RECIPE2_RULES", rules)
    grid = write(tmp_path, GRID_HORIZON.replace("lr = 0.003\n", "").replace("extend_epochs = 2.0\n", ""))
    root = tmp_path / "results"
    plan = load_grid(grid, data, root)
    assert len(plan) == 2 and all(p.tags.get("held") for p in plan)
    assert run_sweep(grid, data, root=root, dry_run=True, log=lambda *_: None, max_minutes=600)
    lines = []
    assert run_sweep(grid, data, root=root, log=lines.append, max_minutes=600) == []
    assert any(line.startswith("held: 2 run(s)") for line in lines)
    rules["scratch"] = replace(rules["scratch"], provisional=False)
    assert not any(p.tags.get("held") for p in load_grid(grid, data, root))
    # lr_factor: rates as multiples of the rule's (a rule's check), held as the rule's own runs
    check = write(tmp_path, GRID_HORIZON.replace("lr = 0.003\n", "lr_factor = [0.5, 1, 2]\n")
                  .replace("extend_epochs = 2.0\n", "").replace("max_epochs = [20, 10]", "max_epochs = 20"), "c.toml")
    base = RunSpec.make(**{**load_grid(grid, data, root)[0].spec.to_dict(), "lr": None}).lr
    plan = load_grid(check, data, root)
    assert sorted(p.spec.lr for p in plan) == [hparams.significant(base * f) for f in (0.5, 1, 2)]
    assert not any(p.tags.get("held") for p in plan)
    rules["scratch"] = replace(rules["scratch"], provisional=True)
    assert all(p.tags.get("held") for p in load_grid(check, data, root))
    with pytest.raises(GridError, match="lr or lr_factor"):
        load_grid(write(tmp_path, GRID_HORIZON.replace("lr = 0.003\n", "lr = 0.003\nlr_factor = [1, 2]\n"),
                        "bad.toml"), data, root)


def test_study2_grid_meets_the_issues_design():
    """grids/study2.toml: 6 sizes over 2 decades; 7 nested D_F over 3 decades per curriculum; the main
    pre-training budget the same at every size, 3 text budgets; 3 pre-training seeds per (size,
    curriculum) at the main budget (2 at n1.2m, the stated cut); and the ossification claim's cells:
    wherever the high-data fine-tunes have 3 pre-training seeds, 3 from-scratch runs at that D."""
    from collections import defaultdict

    from transfer_laws.train.config import GPTConfig

    plan = [p.spec for p in load_grid(Path(__file__).resolve().parents[1] / "grids" / "study2.toml", None)]
    pre = [s for s in plan if s.phase == "pretrain" and s.tokenizer == "main"]
    sizes = sorted({s.size for s in pre}, key=lambda z: GPTConfig.from_name(z).n_params())
    n = [GPTConfig.from_name(z).n_params() for z in sizes]
    assert len(sizes) == 6 and n[-1] / n[0] >= 90
    main_budget = 13_107_200
    assert {s.train_tokens for s in pre if s.curriculum == "mix"} == {main_budget}
    assert len({s.train_tokens for s in pre if s.curriculum == "text"}) >= 3
    seeds = defaultdict(set)
    for s in pre:
        if s.train_tokens == main_budget:
            seeds[(s.size, s.curriculum)].add(s.seed)
    assert all(len(v) >= (2 if k[0] == "n1.2m" else 3) for k, v in seeds.items()) and len(seeds) == 12
    ids = {s.run_id: s for s in pre}
    ft = [s for s in plan if s.phase == "target" and s.curriculum != "scratch" and s.tokenizer == "main"
          and ids.get(s.pretrain_id) is not None and ids[s.pretrain_id].train_tokens == main_budget]
    for cur in ("text", "mix"):
        d = sorted({s.d_train_chars for s in ft if s.curriculum == cur})
        assert len(d) >= 7 and d[-1] / d[0] >= 1e3, cur
    high = defaultdict(set)
    for s in ft:
        if s.d_train_chars >= 3e6:
            high[(s.size, s.d_train_chars)].add(ids[s.pretrain_id].seed)
    scratch = defaultdict(set)
    for s in plan:
        if s.phase == "target" and s.curriculum == "scratch" and s.tokenizer == "main":
            scratch[(s.size, s.d_train_chars)].add((s.seed, s.data_seed))
    assert high and all(len(scratch[k]) >= 3 for k, v in high.items() if len(v) >= 3), dict(scratch)
    # the held fine-tuning rules' check at D_F = 3e6 (grids/study2-high.toml, hparams.HIGH_DATA_CHECKS):
    # 3 rates from the held one up, one of them the study's own run
    from transfer_laws.train.hparams import HIGH_DATA_CHECKS, kind_of_run

    from transfer_laws.train.hparams import RECIPE2_RULES, significant

    check = [p.spec for p in load_grid(Path(__file__).resolve().parents[1] / "grids" / "study2-high.toml", None)]
    for kind, where in HIGH_DATA_CHECKS.items():
        cell = [s for s in check if s.phase == "target" and kind_of_run(s.phase, s.curriculum) == kind
                and s.size in where["sizes"] and s.d_train_chars in where["d_train_chars"]
                and s.experiment == where["experiment"]]
        rule = RECIPE2_RULES[kind]
        held = rule(GPTConfig.from_name(where["sizes"][0]).n_params(), rule.d_max)
        assert sorted({s.lr for s in cell})[:3] == [significant(f * held) for f in (1, 4, 16)], kind


def test_the_dry_run_reports_the_pace_finished_runs_kept(tmp_path):
    """The estimate is the plain loop's pace; the finished runs' wall times say how far the machine
    is from it, per (phase, size), and what the rest of the plan costs at that pace."""
    import json

    from transfer_laws.runs.sweep import measured_pace, paced_minutes

    table = pd.DataFrame([
        {"run_id": "a", "phase": "pretrain", "size": "n13k", "minutes": 1.0, "done": True},
        {"run_id": "b", "phase": "pretrain", "size": "n13k", "minutes": 2.0, "done": True},
        {"run_id": "c", "phase": "target", "size": "n13k", "minutes": 4.0, "done": True},
        {"run_id": "d", "phase": "pretrain", "size": "n13k", "minutes": 1.0, "done": False},
        {"run_id": "e", "phase": "pretrain", "size": "n57k", "minutes": 1.0, "done": False},
        {"run_id": "f", "phase": "target", "size": "n13k", "minutes": 1.0, "done": False},
        {"run_id": "g", "phase": "eval", "size": "n13k", "minutes": 1.0, "done": False},
    ])
    table.loc[len(table)] = {"run_id": "h", "phase": "target", "size": "n13k", "minutes": 4.0, "done": True}
    for rid, wall in (("a", 180.0), ("b", 360.0), ("c", 120.0), ("h", 6.0)):
        path = runs.record_path(rid, tmp_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        device = {"hardware": {"device": "cuda"}} if rid == "h" else {}  # a GPU pass's run: not this machine's pace
        path.write_text(json.dumps({"run_id": rid, "wall_seconds": wall} | device))
    pace = measured_pace(table, tmp_path).set_index(["phase", "size"])
    assert pace.loc[("pretrain", "n13k")].tolist() == [3.0, 2] and pace.loc[("target", "n13k")].tolist() == [0.5, 1]
    # d: its cell's 3x; e: no cell of its own, its phase's 3x; f: one run is too few for its cell, the
    # phase's median (0.5x); g: a phase never measured, the estimate itself
    assert paced_minutes(table[~table.done], measured_pace(table, tmp_path)) == pytest.approx(3 + 3 + 0.5 + 1)
    # a record with CPU time counts it over its threads, not the wall clock of a paused or shared sweep:
    # c paused for 20 of its 22 minutes, 2 minutes on two threads (240 CPU seconds)
    runs.record_path("c", tmp_path).write_text(json.dumps(
        {"run_id": "c", "wall_seconds": 1320.0, "cpu_seconds": 240.0, "hardware": {"name": "x86_64 CPU x2 threads"}}))
    assert measured_pace(table, tmp_path).set_index(["phase", "size"]).loc[("target", "n13k")].tolist() == [0.5, 1]


def test_size_order_runs_a_sizes_extensions_before_the_next_size(data, tmp_path, monkeypatch):
    """[sweep] order = "size": a rate sweep that grows past its edge is finished before the next
    size starts (the sweep replans between sizes), so an interrupted grid leaves whole sizes."""
    import json

    from transfer_laws.runs import sweep

    two = GRID2.replace('size = "n13k"', 'size = ["n13k", "n28k"]').replace("seed = [0, 1]", "seed = 0") \
        .replace("seed = [0, 1], ", "seed = 0, ") + '[sweep]\norder = "size"\n'
    grid, root = write(tmp_path, two), tmp_path / "results"
    runs.atomic_write_bytes(sweep.throughput_path("cpu", root), json.dumps({"n13k": 1e5, "n28k": 1e5}).encode())
    order = []

    def fake_run(p, data, device, root, trainer_kwargs, log, forks=None):  # best at the highest rate
        order.append((p.spec.size, p.spec.phase, p.spec.lr if p.spec.phase == "target" else None))
        _write_planted(_planted_record(p.spec, 3.0 - (p.spec.lr if p.spec.phase == "target" else 0)), root)
        return [p.spec.run_id]

    monkeypatch.setattr(sweep, "_run_one", fake_run)
    lines = []
    run_sweep(grid, data, device="cpu", root=root, log=lines.append)
    sizes = [size for size, _, _ in order]
    assert sizes == sorted(sizes, key=["n13k", "n28k"].index), order  # every n13k run, extensions included, first
    grown = [lr for size, phase, lr in order if size == "n13k" and phase == "target"]
    assert grown[:3] == [0.001, 0.002, 0.004] and grown[3:] and max(grown) >= 0.008
    assert any(l.startswith("replanning before n28k") for l in lines)
