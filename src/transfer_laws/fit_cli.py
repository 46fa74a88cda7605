"""``python -m transfer_laws fit RUNS.csv``: the transfer law from a table of finished runs.

RUNS.csv has one row per finished run on the target distribution, with columns ``curriculum``
(``scratch`` for from-scratch runs; any other value names a pre-training source), ``n_params``
(non-embedding), ``d_train_chars`` (D for scratch, D_F for fine-tunes) and the loss column
(``--loss-column``, default ``test_loss``). Optional columns select the rows, as the book does:
``experiment`` (rows of ``--experiment`` only, default the study's, ``study.STUDY_EXPERIMENT``),
``phase`` (``target`` only), ``in_study`` (for the study's experiment, the rows its fit reads) or
else ``in_plan`` (rows an earlier grid rule superseded are left out). ``results/runs.csv`` carries
them all; other columns are ignored.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd

from transfer_laws.fitting import DEFAULT_LOW_DATA_FRACTION, fit_transfer, shared_beta_test
from transfer_laws.study import STUDY_EXPERIMENT


class RunsTableError(ValueError):
    """A malformed runs table."""


def load_runs_table(path: str, loss_column: str = "test_loss", experiment: str = STUDY_EXPERIMENT) -> pd.DataFrame:
    try:
        df = pd.read_csv(path)
    except FileNotFoundError:
        raise RunsTableError(f"{path}: no such file") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise RunsTableError(f"{path}: not a CSV table ({str(exc).splitlines()[0]})") from None
    for col in ("curriculum", "n_params", "d_train_chars", loss_column):
        if col not in df.columns:
            raise RunsTableError(f"{path}: missing column {col!r}")
    if "experiment" in df.columns:
        df = df[df.experiment.fillna(experiment) == experiment]
    if "phase" in df.columns:
        df = df[df.phase.fillna("target") == "target"]
    for col in ("in_study", "in_plan"):
        if col in df.columns and (col != "in_study" or experiment == STUDY_EXPERIMENT):
            df = df[df[col].astype(str).str.lower().isin(["true", "1"])]
            break
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


def run(args) -> int:
    try:
        runs = load_runs_table(args.runs, args.loss_column, args.experiment)
        out = {"experiment": args.experiment, "n_runs": len(runs)}
        curricula = sorted(c for c in runs.curriculum.unique() if c != "scratch")
        if not curricula:
            raise RunsTableError(f"{args.runs}: no fine-tuned runs (curriculum other than 'scratch')")
        for c in curricula:
            f = fit_transfer(runs, c, args.loss_column, args.low_data_fraction, args.bootstrap, args.seed)
            out[c] = {"k": f.k, "alpha": f.alpha, "beta": f.beta, "ci95": f.ci95, "n_points": f.n_points,
                      "share_interpolated": f.share_interpolated}
        if len(curricula) >= 2:
            sb = shared_beta_test(runs, tuple(curricula[:2]), args.loss_column, args.low_data_fraction,
                                  args.bootstrap, args.seed)
            out["shared_beta"] = {"curricula": curricula[:2], "beta_difference": sb.beta_difference,
                                  "ci95": sb.ci95, "aic_shared": sb.aic_shared, "aic_separate": sb.aic_separate,
                                  "preferred": sb.preferred, "margin": sb.margin, "equivalent": sb.equivalent,
                                  "smallest_margin_supported": sb.smallest_margin_supported}
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        for c in curricula:
            r = out[c]
            ci = r["ci95"] or {"k": [np.nan] * 2, "alpha": [np.nan] * 2, "beta": [np.nan] * 2}
            print(f"{c:>10}: k = {r['k']:.3g} [{ci['k'][0]:.3g}, {ci['k'][1]:.3g}]  "
                  f"alpha = {r['alpha']:.3f} [{ci['alpha'][0]:.3f}, {ci['alpha'][1]:.3f}]  "
                  f"beta = {r['beta']:.3f} [{ci['beta'][0]:.3f}, {ci['beta'][1]:.3f}]  "
                  f"({r['n_points']} points, {100 * r['share_interpolated']:.0f}% of D_E interpolated)")
        if "shared_beta" in out:
            s = out["shared_beta"]
            print(f"shared beta: beta_{s['curricula'][0]} - beta_{s['curricula'][1]} = {s['beta_difference']:.3f} "
                  f"[{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]; AIC prefers {s['preferred']}; equivalent within "
                  f"+-{s['margin']}: {s['equivalent']} (this design supports +-{s['smallest_margin_supported']:.3f})")
    return 0


def register(sub) -> None:
    f = sub.add_parser("fit", help="fit D_T = k D_F^alpha N^beta to a runs table")
    f.add_argument("runs", help="RUNS.csv (results/runs.csv is a valid input)")
    f.add_argument("--json", action="store_true", help="print one JSON object")
    f.add_argument("--loss-column", default="test_loss")
    f.add_argument("--low-data-fraction", type=float, default=DEFAULT_LOW_DATA_FRACTION)
    f.add_argument("--bootstrap", type=int, default=200)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--experiment", default=STUDY_EXPERIMENT,
                   help=f"rows of this experiment only (default the study's, {STUDY_EXPERIMENT})")
    f.set_defaults(func=run)
