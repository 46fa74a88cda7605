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
        from transfer_laws.study import write_tables

        write_tables(args.results, data)
    return 0


def _results(args) -> int:
    from transfer_laws.study import write_tables

    print("wrote " + ", ".join(str(p) for p in write_tables(args.results)))
    return 0


def _compare(args) -> int:
    """Test loss of run A minus run B, paired over the test windows when both records store them."""
    import math

    from transfer_laws.experiments import paired_difference
    from transfer_laws.runs import load_records, window_losses

    by_id = {r["run_id"]: r for r in load_records(args.results)}
    recs = []
    for rid in (args.run_a, args.run_b):
        hits = [r for k, r in by_id.items() if k.startswith(rid)]
        if len(hits) != 1:
            raise ValueError(f"run id {rid!r} matches {len(hits)} committed records (need exactly one)")
        recs.append(hits[0])
    a, b = recs
    for r in recs:
        s = r["spec"]
        print(f"{r['run_id']}  {s['phase']:8s} {s['experiment']:14s} {s['curriculum']:7s} {s['size']:6s} "
              f"D={s.get('d_train_chars') or 0:.3g} seed={s['seed']}  test {r['test_loss']:.4f} "
              f"+- {r['test_loss_se']:.4f} nats/token")
    if a["data_hashes"] != b["data_hashes"] or a["eval"] != b["eval"]:
        raise ValueError("the two runs were scored on different test data (token hashes or evaluation settings differ)")
    w = window_losses([a, b])
    if len(w) == 2:
        gap, se = paired_difference([w[a["run_id"]]], [w[b["run_id"]]])
        how = f"paired over {len(w[a['run_id']])} test windows"
    else:
        gap, se = a["test_loss"] - b["test_loss"], math.hypot(a["test_loss_se"], b["test_loss_se"])
        how = "unpaired (a record predates per-window losses): an upper bound on the evaluation noise"
    print(f"A - B = {gap:+.4f} +- {se:.4f} nats/token ({gap / se:+.1f} SE), {how}")
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
    t.set_defaults(func=_results)
    c = rsub.add_parser("compare", help="test loss of run A minus run B, with its standard error")
    c.add_argument("run_a", help="run id (or a unique prefix)")
    c.add_argument("run_b", help="run id (or a unique prefix)")
    c.add_argument("--results", type=Path, default=None)
    c.set_defaults(func=_compare)

    b = sub.add_parser("bench", help="plain PyTorch loop vs Lightning, tokens/s and FLOP/s")
    b.add_argument("--sizes", default="n28k,n336k,n3m")
    b.add_argument("--steps", type=int, default=20)
    b.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    b.add_argument("--out", default=None, help="also write the table as CSV")
    b.set_defaults(func=_bench)
