"""The command line, every command in one place: ``python -m transfer_laws COMMAND``.

  data {prepare,ensure,where}   build the corpora and token arrays
  fit RUNS.csv                  fit D_T = k D_F^alpha N^beta to a runs table
  sweep GRID                    run every missing run of a grid (resumable)
  results {table,compare}       the run tables and the plan; paired comparison of two runs
  bench                         plain PyTorch loop against Lightning, tokens/s and FLOP/s
  site {assets,check}           the offline site's assets; check a build for external loads
  browser HTML_DIR              every page of the built book in headless Chromium
  payload [GRID] OUT            a bundle of a grid's runs for a GPU machine; gpu-pass: its summary
  vocab-study [OUT] [VOCABS]    the tokenizer's vocabulary at fixed compute

``fit``: RUNS.csv has one row per finished run on the target distribution, with columns
 ``curriculum``
(``scratch`` for from-scratch runs; any other value names a pre-training source), ``n_params``
(non-embedding), ``d_train_chars`` (D for scratch, D_F for fine-tunes) and the loss column
(``--loss-column``, default ``test_loss``). Optional columns select the rows, as the book does:
``experiment`` (rows of ``--experiment`` only, default the study's, ``study.STUDY_EXPERIMENT``),
``phase`` (``target`` only), ``in_study`` (for the study's experiment, the rows its fit reads;
``in_axis``, every pre-training budget, for the exponent of pre-training tokens) or else ``in_plan`` (rows an earlier grid rule superseded are left out). ``results/runs.csv`` carries
them all. For another experiment than the study's, rows of another ``tokenizer``, refused rows
(``exclusion``, from the checked recipe on) and fine-tunes off its main pre-training budget
(``pretrain_tokens``) are left out, as the book selects; other columns are ignored.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from transfer_laws.analysis.fitting import (DEFAULT_LOW_DATA_FRACTION, fit_joint, method_spread, pretraining_axis,
                                            shared_beta_from)
from transfer_laws.analysis.study import STUDY_EXPERIMENT, fit_rows


def _data(args) -> int:
    from transfer_laws.data import prepare

    if args.data_cmd == "prepare":
        prepare.prepare(args.cache_dir, freeze=args.freeze, tokenizer_vocab=args.vocab, tokenizer=args.tokenizer)
    elif args.data_cmd == "ensure":
        prepare.ensure_prepared(args.cache_dir, tokenizer=args.tokenizer)
    elif args.data_cmd == "where":
        print(prepare.prepared_dir(args.cache_dir, tokenizer=args.tokenizer))
    return 0


# ---- fit ----

class RunsTableError(ValueError):
    """A malformed runs table."""


def _read_table(path: str, columns, experiment: str) -> pd.DataFrame:
    """A CSV with ``columns``, the rows of ``experiment`` and of phase ``target`` where the table
    has those columns; a clear RunsTableError otherwise."""
    try:
        df = pd.read_csv(path)
    except FileNotFoundError:
        raise RunsTableError(f"{path}: no such file") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise RunsTableError(f"{path}: not a CSV table ({str(exc).splitlines()[0]})") from None
    for col in columns:
        if col not in df.columns:
            raise RunsTableError(f"{path}: missing column {col!r}")
    if "experiment" in df.columns:
        df = df[df.experiment.fillna(experiment) == experiment]
    if "phase" in df.columns:
        df = df[df.phase.fillna("target") == "target"]
    return df


def load_runs_table(path: str, loss_column: str = "test_loss", experiment: str = STUDY_EXPERIMENT,
                    select: str = "in_study") -> pd.DataFrame:
    """The rows a transfer fit reads: for the study's experiment, those ``select`` marks (``in_study``,
    the primary arm; ``in_axis``, every pre-training budget), else the planned ones (``in_plan``),
    where the table has those columns."""
    df = _read_table(path, ("curriculum", "n_params", "d_train_chars", loss_column), experiment)
    for col in (select, "in_plan"):
        if col in df.columns and (col != select or experiment == STUDY_EXPERIMENT):
            df = df[df[col].astype(str).str.lower().isin(["true", "1"])]
            break
    if experiment != STUDY_EXPERIMENT:  # the rule study.study_runs applies to another experiment
        df = df[fit_rows(df, experiment, at_main_budget=select == "in_study")]
    for col in ("n_params", "d_train_chars", loss_column):
        values = pd.to_numeric(df[col], errors="coerce")
        bad = df.index[values.isna() | ~np.isfinite(values) | ((values <= 0) if col != loss_column else values.isna())]
        if len(bad):
            raise RunsTableError(f"{path}: column {col!r}, row {int(bad[0]) + 2}: "
                                 f"{df.loc[bad[0], col]!r} is not a positive number")
        df[col] = values.astype(float)
    if not (df.curriculum == "scratch").any():
        raise RunsTableError(f"{path}: no scratch runs (curriculum == 'scratch'): D_E needs from-scratch results")
    return df.reset_index(drop=True)


def load_law_table(path: str, d_column: str, loss_column: str, experiment: str) -> pd.DataFrame:
    """The rows a joint L(N, D) fit reads: every row, or the from-scratch rows of the study's
    experiment where the table has ``curriculum`` (and ``experiment``, ``phase``) columns."""
    df = _read_table(path, ("n_params", d_column, loss_column), experiment)
    if "curriculum" in df.columns:
        df = df[df.curriculum == "scratch"]
    for col in ("n_params", d_column, loss_column):
        values = pd.to_numeric(df[col], errors="coerce")
        bad = df.index[values.isna() | ~np.isfinite(values) | (values <= 0)]
        if len(bad):
            raise RunsTableError(f"{path}: column {col!r}, row {int(bad[0]) + 2}: "
                                 f"{df.loc[bad[0], col]!r} is not a positive number")
        df[col] = values.astype(float)
    return df.reset_index(drop=True)


def _fit_law(args) -> int:
    from transfer_laws.analysis.joint import NAMES, fit_law, size_effect

    try:
        df = load_law_table(args.runs, args.d_column, args.loss_column, args.experiment)
        if args.exclude_highest:
            if args.exclude_highest < 0 or args.exclude_highest >= len(df):
                raise RunsTableError(f"--exclude-highest {args.exclude_highest}: the table has {len(df)} runs")
            df = df.sort_values(args.loss_column).iloc[: len(df) - args.exclude_highest]
        f = fit_law(df.n_params, df[args.d_column], df[args.loss_column], args.law, args.bootstrap, args.seed)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = {"law": args.law, "d_column": args.d_column, "loss_column": args.loss_column, "n_points": f.n_points,
           "excluded_highest": args.exclude_highest, "huber_loss": f.huber_loss, **f.params, "ci95": f.ci95,
           "bias": f.diagnostics.get("bias", {}), "mc_error": f.diagnostics.get("mc_error", {}),
           "size_effect": size_effect(f, df.n_params, df[args.d_column])}
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        from transfer_laws.report.tables import interval
        e = out["size_effect"]
        print(f"{args.law} law on {f.n_points} runs (D = {args.d_column}, loss = {args.loss_column}):")
        print("  " + "  ".join(f"{k} = {interval(f.params[k], f.ci95.get(k), 3)}" for k in NAMES[args.law]))
        print(f"  size term: {e['loss_gap_nats']:+.4f} nats from the smallest N to the largest ({e['decades_of_n']:.1f} "
              f"decades) at D = {e['d_reference']:.3g}; N exponent {'identified' if e['identified'] else 'not identified'}")
    return 0


def _fit(args) -> int:
    if args.law != "transfer":
        return _fit_law(args)
    try:
        runs = load_runs_table(args.runs, args.loss_column, args.experiment)
        if "task" in runs and (runs.task.fillna("lm") != "lm").any():  # a downstream task: as its chapter,
            from transfer_laws.analysis.downstream import tuned  # a rate sweep enters once, at its best rate

            runs = tuned(runs)
        # the pre-training-amount axis reads every budget (``in_axis``); the laws, the main budget alone
        axis_runs = load_runs_table(args.runs, args.loss_column, args.experiment, select="in_axis")
        out = {"experiment": args.experiment, "n_runs": len(runs)}
        curricula = sorted(c for c in runs.curriculum.unique() if c != "scratch")
        if not curricula:
            raise RunsTableError(f"{args.runs}: no fine-tuned runs (curriculum other than 'scratch')")
        # every curriculum from the same replicates (one bootstrap: the laws, then their paired difference)
        # and the total-parameter convention for N, fitted on the same replicates; the checkpoint level
        # as the book's (a table without checkpoint replicates borrows the committed seed pair's)
        from transfer_laws.analysis.fits import _with_noise

        joint = fit_joint(runs, curricula, args.loss_column, args.low_data_fraction, args.bootstrap, args.seed,
                          method=args.method, **_with_noise(runs, {}),
                          n_conventions={"total": "n_params_total"} if "n_params_total" in runs else None)
        for c in curricula:
            f = joint.fit(c)
            out[c] = {"method": args.method, "k": f.k, "alpha": f.alpha, "beta": f.beta, "ci95": f.ci95,
                      "n_points": f.n_points, "share_interpolated": f.share_interpolated,
                      "n_convention": "n_params (non-embedding parameters in this project's runs.csv)",
                      "bias": f.diagnostics.get("bias", {}), "mc_error": f.diagnostics.get("mc_error", {}),
                      "interval_kind": f.diagnostics.get("interval_kind", {}), "bootstrap_levels": f.levels,
                      "method_spread": method_spread(runs, c, args.loss_column, args.low_data_fraction)}
            if "n_params_total" in runs:  # the other N convention, beside the primary one
                t = joint.fit(f"{c}@total")
                out[c]["total_params"] = {"beta": t.beta, "ci95": t.ci95.get("beta"), "alpha": t.alpha}
            g = pretraining_axis(axis_runs, c, args.loss_column, args.low_data_fraction, args.bootstrap, args.seed)
            out[c]["gamma"], out[c]["gamma_reason"] = g["gamma"], g["gamma_reason"]
            if g["gamma"] is not None:  # the primary method's gamma, and the direct fit's beside it
                out[c]["gamma_method"], out[c]["gamma_direct"] = g["gamma_method"], g.get("gamma_direct")
                out[c]["pretraining_axis"] = {k: g[k] for k in ("beta_fixed_p", "beta_fixed_p_ci95", "path_exponent",
                                                                 "beta_path", "beta_path_ci95")}
            if g["gamma"] is not None:
                out[c]["ci95"] = {**out[c]["ci95"], "gamma": g["ci95"]}
                out[c]["bias"] = {**out[c]["bias"], "gamma": g["bias"]}
                out[c]["mc_error"] = {**out[c]["mc_error"], "gamma": g["mc_error"]}
        gate = _transfer_gate(runs)
        for c in curricula:
            out[c]["transfer_cells"] = gate.get(c, {"tested": 0, "lower": 0, "higher": 0, "measured": None})
        if len(curricula) >= 2:
            sb = shared_beta_from(joint, *curricula[:2])
            out["shared_beta"] = {"curricula": curricula[:2], "beta_difference": sb.beta_difference,
                                  "ci95": sb.ci95, "aic_shared": sb.aic_shared, "aic_separate": sb.aic_separate,
                                  "preferred": sb.preferred, "margin": sb.margin, "equivalent": sb.equivalent,
                                  "smallest_margin_supported": sb.smallest_margin_supported, "method": sb.method}
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        for c in curricula:
            r = out[c]
            # no interval without a bootstrap (--bootstrap 0): printed as [nan, nan]
            ci = {key: (r["ci95"] or {}).get(key) or [np.nan] * 2 for key in ("k", "alpha", "beta", "gamma")}
            gamma = (f"  gamma = {r['gamma']:.3f} [{ci['gamma'][0]:.3f}, {ci['gamma'][1]:.3f}] (pre-training tokens)"
                     if r.get("gamma") is not None else "")
            print(f"{c:>10}: k = {r['k']:.3g} [{ci['k'][0]:.3g}, {ci['k'][1]:.3g}]  "
                  f"alpha = {r['alpha']:.3f} [{ci['alpha'][0]:.3f}, {ci['alpha'][1]:.3f}]  "
                  f"beta = {r['beta']:.3f} [{ci['beta'][0]:.3f}, {ci['beta'][1]:.3f}]{gamma}  "
                  f"({r['n_points']} points, {100 * r['share_interpolated']:.0f}% of D_E interpolated)")
            g = r["transfer_cells"]
            if g["tested"]:
                print(f"{'':>10}  pre-training lowers the loss beyond noise in {g['lower']} of {g['tested']} (N, D_F) "
                      f"cells (above it in {g['higher']}; unpaired, Holm)"
                      + ("" if g["measured"] else ": this law describes no measured transfer"))
        if "shared_beta" in out:
            s = out["shared_beta"]
            print(f"shared beta: beta_{s['curricula'][0]} - beta_{s['curricula'][1]} = {s['beta_difference']:.3f} "
                  f"[{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]; AIC prefers {s['preferred']}; equivalent within "
                  f"+-{s['margin']}: {s['equivalent']} (this design supports +-{s['smallest_margin_supported']:.3f})"
                  + "".join(f"; not a comparison of transfer: {c}'s law describes none" for c in s["curricula"]
                            if out[c]["transfer_cells"]["measured"] is False))
    return 0


def _transfer_gate(runs) -> dict:
    """Per curriculum: does its pre-training lower the loss at all (``claims.transfer_cells``, unpaired:
    a CSV holds no per-window losses)? {} where the table lacks what the test reads (a learning-rate
    sweep to find each cell's tuned rate, seeds)."""
    from transfer_laws.analysis.claims import law_describes_transfer, transfer_cells, transfer_measured

    try:
        cells = transfer_cells(runs, runs, None)
    except (KeyError, ValueError):
        return {}
    out = {}
    for c in cells.curriculum.unique():
        lower, n = transfer_measured(cells, c)
        out[c] = {"tested": n, "lower": lower, "higher": int((cells[cells.curriculum == c].outcome == "higher").sum()),
                  "measured": law_describes_transfer(cells, c)}
    return out


# ---- sweep, results, bench ----

def _trainer_kwargs(args) -> dict:
    kw = {}
    for name in ("devices", "strategy", "num_nodes"):
        v = getattr(args, name, None)
        if v is not None:
            kw[name] = int(v) if name in ("devices", "num_nodes") and str(v).isdigit() else v
    return kw


def _csv(value):
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _slurm_options(args) -> dict:
    opts = {"folder": args.slurm_folder, "partition": args.slurm_partition, "gpus_per_task": args.slurm_gpus_per_task,
            "cpus_per_task": args.slurm_cpus_per_task}
    if args.slurm_time is not None:
        opts["timeout_min"] = args.slurm_time
    return opts


def _sweep(args) -> int:
    from transfer_laws.data.windows import StudyData
    from transfer_laws.runs.sweep import run_sweep

    data = StudyData()
    run_sweep(Path(args.grid), data, device=args.device, shard_spec=args.shard, max_runs=args.max_runs,
              dry_run=args.dry_run, max_minutes=args.max_minutes, trainer_kwargs=_trainer_kwargs(args),
              root=args.results, sizes=_csv(args.sizes), experiments=_csv(args.experiments),
              executor=args.executor, slurm=_slurm_options(args))
    if not args.dry_run and not data.payload:  # a payload has no test split for the tables' zero-shot columns
        from transfer_laws.analysis.study import write_tables

        write_tables(args.results, data)
    return 0


def _results(args) -> int:
    from transfer_laws.analysis.study import write_tables

    print("wrote " + ", ".join(str(p) for p in write_tables(args.results)))
    return 0


def _compare(args) -> int:
    """Test loss of run A minus run B, paired over the test windows when both records store them."""
    import math

    from transfer_laws.analysis.experiments import paired_difference
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


def _rules(args) -> int:
    """The recipe-2 rate rules: as written, refitted from their cells (``hparams.RULE_CELLS``), or
    refitted from every committed sweep of the named experiments, with what each costs per cell."""
    from transfer_laws import runs
    from transfer_laws.analysis import tuning
    from transfer_laws.train import hparams

    table = runs.runs_table(runs.load_records(args.results))
    if table.empty:
        raise ValueError(f"no run records under {runs.results_dir(args.results) / 'runs'}")
    cells_by_kind = dict(hparams.RULE_CELLS)
    if args.experiments:
        cells_by_kind = {k: {"experiment": args.experiments, "d_train_chars": None,
                             **({"form": args.form} if args.form and k != "pretrain" else {})}
                         for k in hparams.RULE_CELLS}
    if args.refit or args.experiments:
        rules, priced = tuning.refit_rules(table, cells_by_kind)
    else:
        rules = hparams.RECIPE2_RULES
        priced = tuning.price_rules(table, rules, cells_by_kind)
    checks = tuning.price_rules(table, rules, hparams.RULE_CHECKS)
    pd.set_option("display.width", 200)
    print(tuning.rules_summary(priced, rules).drop(columns="source").to_string(index=False, float_format="%.4g"))
    for kind, rule in rules.items():
        print(f"{kind}: lr_ref={rule.lr_ref:.6g} n_ref={rule.n_ref:g} n_exponent={rule.n_exponent:.4f} "
              f"d_exponent={rule.d_exponent:.4f} nd_exponent={rule.nd_exponent:.4f}")
    if args.cells:
        print(priced.to_string(index=False, float_format="%.4g"))
    if len(checks):
        print("checks (hparams.RULE_CHECKS):")
        print(checks.to_string(index=False, float_format="%.4g"))
    return 0


def _bench(args) -> int:
    from transfer_laws.train.bench import run_bench
    from transfer_laws.data.windows import StudyData

    df = run_bench(StudyData(), sizes=tuple(args.sizes.split(",")), steps=args.steps, device=args.device)
    print(df.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(args.out, index=False)
    return 0


# ---- the report's site, the browser test, the GPU payload and pass, the vocabulary study ----

def _site(args) -> int:
    from transfer_laws.report import site

    return site.main([args.site_cmd, str(args.folder)])


def _browser(args) -> int:
    from transfer_laws.report import browser

    argv = [str(args.site), "--screenshot-page", args.screenshot_page]
    return browser.main(argv + (["--screenshot-out", str(args.screenshot_out)] if args.screenshot_out else []))


def _payload(args) -> int:
    from transfer_laws.runs import payload

    grids = [Path(g) for g in args.grid.split(",")] if args.grid else None
    p = payload.build(grids, args.out, args.python_train_chars,
                      sizes=args.sizes.split(",") if args.sizes else None,
                      curricula=args.curricula.split(",") if args.curricula else None)
    size = sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    print(f"payload {p}: {size / 2**20:.1f} MiB, {json.loads((p / 'prepare.json').read_text())['payload']['runs']} runs")
    return 0


def _gpu_pass(args) -> int:
    from transfer_laws.runs import gpu_pass

    ceiling = float(pd.read_csv(args.bench).matmul_ceiling_flops_per_s.iloc[0])
    s = gpu_pass.summary(args.results, args.wall_seconds, ceiling)
    s.to_csv(args.out, index=False)
    print(s.to_string(index=False))
    return 0


def _vocab_study(args) -> int:
    from transfer_laws.train import vocab_study

    vocabs = tuple(int(v) for v in args.vocabs.split(",")) if args.vocabs else vocab_study.VOCABS
    vocab_study.run(args.out, vocabs)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="transfer_laws", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    d = sub.add_parser("data", help="build the corpora and token arrays")
    dsub = d.add_subparsers(dest="data_cmd", required=True)
    for name, help_ in (("prepare", "download, clean, split and encode (checks committed hashes)"),
                        ("ensure", "prepare only if the prepared folder is missing"),
                        ("where", "print the prepared folder")):
        q = dsub.add_parser(name, help=help_)
        q.add_argument("--cache-dir", type=Path, default=None,
                       help="cache root (default: $TRANSFER_LAWS_CACHE or the user cache dir)")
        q.add_argument("--tokenizer", default="main", choices=["main", "text"],
                       help="which committed tokenizer (text: trained on English prose alone, as the paper's)")
        if name == "prepare":
            q.add_argument("--freeze", action="store_true",
                           help="write the manifest and token hashes instead of checking them")
            q.add_argument("--vocab", type=int, default=None, help="with --freeze: retrain the tokenizer")
    d.set_defaults(func=_data)

    f = sub.add_parser("fit", help="fit D_T = k D_F^alpha N^beta (or, with --law, L(N, D)) to a runs table",
                       description="Fit the transfer law D_T = k D_F^alpha N^beta to a runs table; with --law "
                                   "chinchilla (L = E + A/N^alpha + B/D^beta) or kaplan (L = [(N_c/N)^(alpha_N/"
                                   "alpha_D) + D_c/D]^alpha_D), a joint from-scratch law instead: log-space Huber "
                                   "loss, L-BFGS from a broad grid of starts, bootstrap intervals. D is whatever "
                                   "--d-column holds: the Chinchilla form describes single-epoch training on D "
                                   "tokens, while this project's from-scratch runs train many epochs on D unique "
                                   "characters; the command fits whatever the table holds.")
    f.add_argument("runs", help="RUNS.csv (results/runs.csv is a valid input)")
    f.add_argument("--json", action="store_true", help="print one JSON object")
    f.add_argument("--loss-column", default="test_loss")
    f.add_argument("--low-data-fraction", type=float, default=DEFAULT_LOW_DATA_FRACTION)
    f.add_argument("--bootstrap", type=int, default=200)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--method", default="loss", choices=["direct", "paper", "loss"],
                   help="loss (the default: through the from-scratch curves, uncensored, the analysis plan's "
                        "primary), direct (log-space fit of D_T > 0), paper (logit)")
    f.add_argument("--experiment", default=STUDY_EXPERIMENT,
                   help=f"rows of this experiment only (default the study's, {STUDY_EXPERIMENT})")
    f.add_argument("--law", default="transfer", choices=["transfer", "chinchilla", "kaplan"],
                   help="transfer (default), or a joint from-scratch law L(N, D) over the from-scratch rows")
    f.add_argument("--d-column", default="d_train_chars",
                   help="with --law: the data-size column (tokens or characters, as the table has them)")
    f.add_argument("--exclude-highest", type=int, default=0,
                   help="with --law: leave out the K highest-loss runs, as replications do")
    f.set_defaults(func=_fit)
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
    s.add_argument("--executor", default="local", choices=["local", "slurm"],
                   help="local: train here, one run after another; slurm: one SLURM job per run (submitit)")
    s.add_argument("--slurm-partition", default=None)
    s.add_argument("--slurm-gpus-per-task", type=int, default=0)
    s.add_argument("--slurm-cpus-per-task", type=int, default=None)
    s.add_argument("--slurm-time", type=int, default=None, help="a job's time limit in minutes (default 24 h)")
    s.add_argument("--slurm-folder", default="slurm_logs", help="submitit's folder: job scripts and logs")
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

    ru = sub.add_parser("rules", help="the learning-rate rules, what they cost on their sweep cells, and refits")
    ru.add_argument("--refit", action="store_true", help="refit every rule from hparams.RULE_CELLS")
    ru.add_argument("--experiments", type=_csv, default=None,
                    help="refit from every sweep cell of these experiments (comma-separated)")
    ru.add_argument("--form", choices=["nd", "nd-interaction"], default=None,
                    help="with --experiments: the form of the D-dependent rules")
    ru.add_argument("--cells", action="store_true", help="print every cell")
    ru.add_argument("--results", type=Path, default=None)
    ru.set_defaults(func=_rules)
    b = sub.add_parser("bench", help="plain PyTorch loop vs Lightning, tokens/s and FLOP/s")
    b.add_argument("--sizes", default="n28k,n336k,n3m")
    b.add_argument("--steps", type=int, default=20)
    b.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    b.add_argument("--out", default=None, help="also write the table as CSV")
    b.set_defaults(func=_bench)
    st = sub.add_parser("site", help="the offline site: write its assets, or check a build for external loads")
    st.add_argument("site_cmd", choices=["assets", "check"])
    st.add_argument("folder", type=Path, help="assets: the static folder (_assets); check: the build (_build/html)")
    st.set_defaults(func=_site)
    bw = sub.add_parser("browser", help="every page of the built book in headless Chromium")
    bw.add_argument("site", type=Path, help="the built HTML folder, e.g. _build/html")
    bw.add_argument("--screenshot-page", default="book/07_transfer_law.html")
    bw.add_argument("--screenshot-out", type=Path, default=None)
    bw.set_defaults(func=_browser)
    pl = sub.add_parser("payload", help="a self-contained bundle of a grid's runs for a GPU machine")
    pl.add_argument("grid", nargs="?", default=None, help="grid TOML file(s), comma-separated")
    pl.add_argument("out", type=Path)
    pl.add_argument("--python-train-chars", type=int, default=10_000_000)
    pl.add_argument("--sizes", default=None, help="comma-separated model sizes: only these runs")
    pl.add_argument("--curricula", default=None, help="comma-separated curricula (scratch, text, mix): only these runs")
    pl.set_defaults(func=_payload)
    gp = sub.add_parser("gpu-pass", help="throughput and utilisation of a packed GPU pass")
    gp.add_argument("results", type=Path)
    gp.add_argument("wall_seconds", type=float)
    gp.add_argument("bench", type=Path)
    gp.add_argument("out", type=Path)
    gp.set_defaults(func=_gpu_pass)
    vs = sub.add_parser("vocab-study", help="bits per character by tokenizer vocabulary at fixed compute")
    vs.add_argument("out", type=Path, nargs="?", default=Path("results/tokenizer_choice.csv"))
    vs.add_argument("vocabs", nargs="?", default=None, help="comma-separated vocabulary sizes")
    vs.set_defaults(func=_vocab_study)
    return p


# which extra provides a module a command needs (the core installs numpy, scipy and pandas only)
EXTRA_OF = {"torch": "train", "lightning": "train", "tokenizers": "train", "safetensors": "train",
            "platformdirs": "train", "altair": "book", "vl_convert": "book", "jupytext": "book",
            "myst_nb": "book", "submitit": "slurm"}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        return 130
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        if top not in EXTRA_OF:
            raise
        print(f"error: this command needs {top}, from the [{EXTRA_OF[top]}] extra: "
              f"pip install 'transfer-laws[{EXTRA_OF[top]}]'", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError, RuntimeError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
