"""Every grid's current plan as one committed table, ``results/plan.csv``: the planned run ids and
their specs, so that reading which runs belong to a plan needs neither the corpora nor torch.

A run is *in plan* when a grid file in ``grids/`` plans it, or when no grid plans its experiment at
all (a one-off run); a committed run of a planned experiment that no grid plans any more was
superseded by a later rule (it stays in ``results/`` for the reproducing chapter's comparison).
``results table`` rewrites the plan with the run tables; a test checks that the committed plan is
the one the grid files give.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from transfer_laws import runs

GRIDS_DIR = Path(__file__).resolve().parents[3] / "grids"
PLAN_COLUMNS = ["grid", "experiment", "run_id", "phase", "curriculum", "size", "d_train_chars", "d_train_examples",
                "train_tokens", "seed", "data_seed", "lr", "pretrain_id", "max_steps", "minutes_upper_bound"]
BENCH = "bench_cpu.csv"  # the committed CPU benchmark the cost estimates are read from


def grid_files(grids_dir: Path = GRIDS_DIR) -> list[Path]:
    return sorted([*grids_dir.glob("*.toml"), *grids_dir.glob("*.jsonl")])


def plan_table(data=None, root: Path | None = None, grids: list[Path] | None = None) -> pd.DataFrame:
    """One row per planned run of every grid (the planner reads ``root`` for sweeps that extend
    their rates), with its horizon and upper-bound cost on the committed CPU benchmark (every run to
    its full horizon). Needs the corpora: a pre-training id depends on the text split's token count."""
    from transfer_laws.runs.sweep import estimate, load_grid, throughput_from_bench

    if data is None:
        from transfer_laws.data.windows import StudyData

        data = StudyData()
    rows = []
    planned = [(grid, p.spec) for grid in (grid_files() if grids is None else grids) for p in load_grid(grid, data, root=root)]
    bench = runs.results_dir(root) / BENCH
    tps = throughput_from_bench(bench, {s.size for _, s in planned}, data) if planned and bench.exists() else {}
    for grid, s in planned:
        e = estimate(s, data, tps)
        rows.append({"grid": grid.name, "experiment": s.experiment, "run_id": s.run_id, "phase": s.phase,
                     "curriculum": s.curriculum, "size": s.size, "d_train_chars": s.d_train_chars,
                     "d_train_examples": s.d_train_examples, "train_tokens": s.train_tokens, "seed": s.seed, "data_seed": s.data_seed, "lr": s.lr, "pretrain_id": s.pretrain_id,
                     "max_steps": e["steps"], "minutes_upper_bound": e["seconds"] / 60})
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


def plan_path(root: Path | None = None) -> Path:
    return runs.results_dir(root) / "plan.csv"


def write_plan(data=None, root: Path | None = None) -> Path:
    path = plan_path(root)
    runs.atomic_write_bytes(path, plan_table(data, root).to_csv(index=False).encode())
    return path


def load_plan(root: Path | None = None) -> pd.DataFrame:
    path = plan_path(root)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no plan table; `python -m transfer_laws results table` writes it")
    return pd.read_csv(path, dtype={"run_id": str, "pretrain_id": str})


def in_plan(table: pd.DataFrame, plan: pd.DataFrame) -> pd.Series:
    """Per row of a runs table: planned by a grid, or of an experiment that no grid plans."""
    planned = set(plan.run_id)
    return table.run_id.isin(planned) | ~table.experiment.isin(set(plan.experiment))


def progress(plan: pd.DataFrame, table: pd.DataFrame, grid: str | None = None) -> pd.DataFrame:
    """The plan's rows (of one grid file, or all) with ``done``: the run has a committed record."""
    p = plan if grid is None else plan[plan.grid == grid]
    return p.assign(done=p.run_id.isin(set(table.run_id))).reset_index(drop=True)
