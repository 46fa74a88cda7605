"""Subcommands: fit, sweep, results, bench."""

from __future__ import annotations

import json
from pathlib import Path


def _trainer_kwargs(args) -> dict:
    kw = {}
    for name in ("devices", "strategy", "num_nodes"):
        v = getattr(args, name, None)
        if v is not None:
            kw[name] = int(v) if name in ("devices", "num_nodes") and str(v).isdigit() else v
    return kw


def _csv(value):
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _sweep(args) -> int:
    from transfer_laws.datasets import StudyData
    from transfer_laws.sweep import run_sweep

    data = StudyData()
    run_sweep(Path(args.grid), data, device=args.device, shard_spec=args.shard, max_runs=args.max_runs,
              dry_run=args.dry_run, max_minutes=args.max_minutes, trainer_kwargs=_trainer_kwargs(args),
              root=args.results, sizes=_csv(args.sizes), experiments=_csv(args.experiments))
    if not args.dry_run:
        from transfer_laws.runs import write_tables

        write_tables(args.results)
    return 0


def _results(args) -> int:
    from transfer_laws.runs import write_tables

    a, b = write_tables(args.results)
    print(f"wrote {a} and {b}")
    return 0


def _bench(args) -> int:
    from transfer_laws.bench import run_bench
    from transfer_laws.datasets import StudyData

    df = run_bench(StudyData(), sizes=tuple(args.sizes.split(",")), steps=args.steps, device=args.device)
    print(df.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(args.out, index=False)
    return 0


def register(sub) -> None:
    from transfer_laws import fit_cli

    fit_cli.register(sub)
    s = sub.add_parser("sweep", help="run every missing run of a grid (resumable)")
    s.add_argument("grid", help="grid TOML file")
    s.add_argument("--shard", default=None, help="i/n: this machine's deterministic share of the grid")
    s.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    s.add_argument("--max-runs", type=int, default=None, help="stop after this many finished runs")
    s.add_argument("--dry-run", action="store_true", help="print the plan and estimated cost; train nothing")
    s.add_argument("--sizes", default=None, help="comma-separated model sizes: run only these (and their pre-training)")
    s.add_argument("--experiments", default=None, help="comma-separated experiment names: run only these")
    s.add_argument("--max-minutes", type=float, default=45.0, help="refuse runs estimated above this (minutes)")
    s.add_argument("--results", type=Path, default=None, help="results folder (default: the repository's results/)")
    s.add_argument("--devices", default=None, help="passed to Lightning's Trainer (multi-GPU data parallel)")
    s.add_argument("--strategy", default=None, help="passed to Lightning's Trainer, e.g. ddp")
    s.add_argument("--num-nodes", dest="num_nodes", default=None, help="passed to Lightning's Trainer")
    s.set_defaults(func=_sweep)

    r = sub.add_parser("results", help="tables of finished runs")
    rsub = r.add_subparsers(dest="results_cmd", required=True)
    t = rsub.add_parser("table", help="regenerate results/runs.csv and results/curves.csv")
    t.add_argument("--results", type=Path, default=None)
    r.set_defaults(func=_results)

    b = sub.add_parser("bench", help="plain PyTorch loop vs Lightning, tokens/s and FLOP/s")
    b.add_argument("--sizes", default="n28k,n336k,n3m")
    b.add_argument("--steps", type=int, default=20)
    b.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    b.add_argument("--out", default=None, help="also write the table as CSV")
    b.set_defaults(func=_bench)
