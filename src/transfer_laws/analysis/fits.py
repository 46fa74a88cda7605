"""The study's fits, computed once and shared: the claims ledger and every chapter call these, so
one runs table gives one set of numbers (and one set of intervals) across the whole book.

Results are cached on disk, keyed by a hash of the runs table's content, the call's arguments and
the source of the analysis code that computes them (so a change to the fitting code never reads a
stale fit). The cache lives in ``$TRANSFER_LAWS_FIT_CACHE``, else ``_build/.fit_cache`` of the
repository (one build's cache, never committed); a failed fit (ValueError) is cached as its message
and raised again.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path

import pandas as pd

from transfer_laws.analysis import bootstrap, effective_data, fitting, laws, scratch, study

STUDY_BOOTSTRAP = 200  # bootstrap draws behind the book's cross-checks and sensitivity intervals
HEADLINE_BOOTSTRAP = 1000  # draws behind the primary fits (analysis_plan.md, item 10)
PRIMARY_METHOD = "loss"  # the transfer law fitted in loss space, no censoring (analysis_plan.md, item 6)
STUDY_SEED = 0
# study: the first grid's borrowed checkpoint level (``external_checkpoint_noise``)
_CODE = tuple(Path(m.__file__) for m in (fitting, scratch, effective_data, laws, bootstrap, study)) + (Path(__file__),)


def cache_dir() -> Path:
    if os.environ.get("TRANSFER_LAWS_FIT_CACHE"):
        return Path(os.environ["TRANSFER_LAWS_FIT_CACHE"])
    repo = Path(__file__).resolve().parents[3]
    if (repo / "pyproject.toml").exists():  # a checkout (editable install): beside the book's build
        return repo / "_build" / ".fit_cache"
    from transfer_laws.data.fetch import cache_dir as download_cache  # an installed package

    return download_cache() / "fits"


def _key(name: str, runs: pd.DataFrame, kwargs: dict) -> str:
    h = hashlib.sha256(name.encode())
    h.update(pd.util.hash_pandas_object(runs.reset_index(drop=True), index=True).to_numpy().tobytes())
    h.update(",".join(map(str, runs.columns)).encode())
    h.update(json.dumps(kwargs, sort_keys=True, default=str).encode())
    for p in _CODE:
        h.update(p.read_bytes())
    return h.hexdigest()[:24]


def _cached(name: str, fn, runs: pd.DataFrame, **kwargs):
    path = cache_dir() / f"{name}-{_key(name, runs, kwargs)}.pkl"
    if path.exists():
        kind, value = pickle.loads(path.read_bytes())
    else:
        try:
            kind, value = "ok", fn(runs, **kwargs)
        except ValueError as exc:
            kind, value = "error", str(exc)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps((kind, value)))
        os.replace(tmp, path)
    if kind == "error":
        raise ValueError(value)
    return value


def joint(runs: pd.DataFrame, method: str = PRIMARY_METHOD, n_bootstrap: int | None = None, seed: int = STUDY_SEED,
          **kwargs) -> fitting.JointFit:
    """``fitting.fit_joint`` of every pre-training curriculum in the table, once per (table, arguments):
    the one bootstrap behind each curriculum's law (``transfer_fit``), the shared-beta test and the
    paired comparisons. By default the primary method with the headline's draws (a cross-check
    method: STUDY_BOOTSTRAP)."""
    if n_bootstrap is None:
        n_bootstrap = HEADLINE_BOOTSTRAP if method == PRIMARY_METHOD else STUDY_BOOTSTRAP
    return _cached("joint", fitting.fit_joint, runs, method=method, n_bootstrap=n_bootstrap, seed=seed,
                   **_with_noise(runs, kwargs))


def transfer_fit(runs: pd.DataFrame, curriculum: str, method: str = PRIMARY_METHOD, n_bootstrap: int | None = None,
                 seed: int = STUDY_SEED, **kwargs) -> fitting.TransferFit:
    """One curriculum's law and intervals, from the table's joint fit (``joint``)."""
    return joint(runs, method, n_bootstrap, seed, **kwargs).fit(curriculum)


def _with_noise(runs: pd.DataFrame, kwargs: dict) -> dict:
    """The checkpoint level: the table's own replicates, or (a table without them, the first grid)
    the committed pre-training-seed pair's spread (``study.external_checkpoint_noise``)."""
    if "noise" in kwargs:
        return kwargs
    noise = study.external_checkpoint_noise(runs) if "pretrain_id" in runs else None
    return kwargs if noise is None else {**kwargs, "noise": noise}


def shared_beta(runs: pd.DataFrame, curricula=("text", "mix"), n_bootstrap: int | None = None,
                seed: int = STUDY_SEED, margin: float = 0.1, method: str = PRIMARY_METHOD, **kwargs) -> fitting.SharedBeta:
    """``fitting.shared_beta_test`` on the paired draws of the table's joint fit (``joint``)."""
    return fitting.shared_beta_from(joint(runs, method, n_bootstrap, seed, **kwargs), *curricula, margin=margin)


def paired(runs: pd.DataFrame, curricula=("mix", "text"), n_bootstrap: int | None = None,
           seed: int = STUDY_SEED, method: str = PRIMARY_METHOD, **kwargs) -> dict:
    """``fitting.paired_curricula`` on the paired draws of the table's joint fit (``joint``)."""
    return fitting.paired_from(joint(runs, method, n_bootstrap, seed, **kwargs), *curricula)


def pretraining(runs: pd.DataFrame, curriculum: str = "text", n_bootstrap: int | None = None,
                seed: int = STUDY_SEED, **kwargs) -> dict:
    """``fitting.pretraining_axis`` (gamma, beta at fixed P and along the paper's path) of the
    table's runs of every pre-training budget (``in_axis``), once per (table, arguments)."""
    return _cached("pretraining", fitting.pretraining_axis, runs, curriculum=curriculum,
                   n_bootstrap=HEADLINE_BOOTSTRAP if n_bootstrap is None else n_bootstrap, seed=seed, **kwargs)


def sensitivity(runs: pd.DataFrame, curricula=("text", "mix")) -> pd.DataFrame:
    """The analysis plan's sensitivity checks of the primary law, one row per (check, curriculum):
    the primary fit; without the fine-tunes whose best step is 0 (item 2; ``STUDY_BOOTSTRAP`` draws);
    the low-data regime by D_T / D_E >= 1/2 instead of D(N) (item 5; a point estimate, since the rule
    selects on the outcome). Columns: check, curriculum, alpha, alpha_ci, beta, beta_ci, points,
    problem (why a check could not be fitted)."""
    rows = []
    no_zero = runs[~runs.get("zero_shot", pd.Series(False, index=runs.index)).fillna(False).astype(bool)]
    for cur in curricula:
        if not (runs.curriculum == cur).any():
            continue
        checks = [("primary (loss space, D(N) regime)", lambda: joint(runs).fit(cur)),
                  (f"without zero-shot fine-tunes ({int((runs.curriculum == cur).sum() - (no_zero.curriculum == cur).sum())} "
                   "left out)", lambda: joint(no_zero.reset_index(drop=True), n_bootstrap=STUDY_BOOTSTRAP).fit(cur)),
                  ("regime D_T/D_E ≥ ½ (point only)",
                   lambda: _cached("share", fitting.fit_by_transfer_share, runs, curriculum=cur))]
        for name, fit in checks:
            row = {"check": name, "curriculum": cur, "alpha": None, "alpha_ci": None, "beta": None, "beta_ci": None,
                   "points": None, "problem": ""}
            try:
                f = fit()
            except (ValueError, KeyError) as exc:
                rows.append({**row, "problem": str(exc)})
                continue
            if isinstance(f, dict):
                rows.append({**row, "alpha": f["alpha"], "beta": f["beta"], "points": f["points"]})
            else:
                rows.append({**row, "alpha": f.alpha, "alpha_ci": (f.ci95 or {}).get("alpha"), "beta": f.beta,
                             "beta_ci": (f.ci95 or {}).get("beta"), "points": f.n_points})
    return pd.DataFrame(rows)


def recipe_constants(tables: dict[str, pd.DataFrame], reference: tuple[float, float] | None = None,
                     method: str = PRIMARY_METHOD, n_bootstrap: int | None = None) -> pd.DataFrame:
    """Each experiment's law side by side (the reproducing chapter's comparison of the recipes): per
    (experiment, pre-training curriculum) k, alpha and beta with their 95% intervals, and log10 D_T at
    one reference (N, D_F) shared by all rows (default: the middle size and low-data D_F that every
    experiment's fitted points share, ``fitting.reference_point`` of their common part; the first
    experiment's where they share none), since k alone is D_T at N = D_F = 1, outside every grid.
    ``tables``: experiment -> the target runs its fit reads. A fit that fails is a row with
    ``problem`` set."""
    rows = []
    if reference is None:
        reference = shared_reference(tables, method, n_bootstrap)
    for experiment, runs in tables.items():
        for cur in sorted(c for c in runs.curriculum.unique() if c != "scratch"):
            base = {"experiment": experiment, "curriculum": cur, "sizes": runs.n_params.nunique(),
                    "n_min": float(runs.n_params.min()), "n_max": float(runs.n_params.max()),
                    "runs": int((runs.curriculum == cur).sum()), "problem": ""}
            try:
                j = joint(runs, method, n_bootstrap)
                f = j.fit(cur)
            except ValueError as exc:
                rows.append({**base, "problem": str(exc)})
                continue
            if reference is None:
                reference = fitting.reference_point(j.table)
            at = f.log10_d_transferred(*reference)
            ci = f.ci95 or {}
            rows.append({**base, "points": f.n_points, "k": f.k, "k_ci": ci.get("k"), "alpha": f.alpha,
                         "alpha_ci": ci.get("alpha"), "beta": f.beta, "beta_ci": ci.get("beta"),
                         "log10_d_transferred": at["point"], "log10_d_transferred_ci": at.get("ci"),
                         "reference_n_params": reference[0], "reference_d_train_chars": reference[1]})
    return pd.DataFrame(rows)


def shared_reference(tables: dict[str, pd.DataFrame], method: str = PRIMARY_METHOD,
                     n_bootstrap: int | None = None) -> tuple[float, float] | None:
    """A reference (N, D_F) inside every experiment's fitted points: ``fitting.reference_point`` of
    the sizes and low-data D_F values they all have; the first experiment's own where the common
    part is empty; None where no experiment can be fitted."""
    fitted = []
    for runs in tables.values():
        try:
            fitted.append(joint(runs, method, n_bootstrap).table)
        except ValueError:
            continue
    if not fitted:
        return None
    common = fitted[0]
    for other in fitted[1:]:
        low = other[other.low_data]
        common = common[common.n_params.isin(other.n_params) & (~common.low_data | common.d_train_chars.isin(low.d_train_chars))]
    if common.empty or not common.low_data.any():
        return fitting.reference_point(fitted[0])
    return fitting.reference_point(common)


def points(runs: pd.DataFrame, **kwargs):
    """``fitting.transfer_points`` (the D_E table and the per-N from-scratch curves) once per table."""
    return _cached("points", fitting.transfer_points, runs, **kwargs)
