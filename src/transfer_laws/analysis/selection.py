"""Which runs a fit may read: every target run is checked, and a run that fails a check is refused
with its reason (issue 17). Pure pandas over the runs table (``runs.runs_table``).

Reasons, in the order they are applied (a run gets the first that fits):

- ``diverged``: its best evaluation is step 0 and its validation loss then rose more than
  ``checks.DIVERGED_NATS`` above it (a rate too high; its number would be the untouched start's).
- ``unresolved``: its best evaluation is the first after step 0 or the last, so the minimum the
  number stands for was never bracketed (a fine-tune stopped too early or evaluated too late; a
  from-scratch run that ended on budget still improving).
- ``capped``: a from-scratch run that ended on its step budget with its best evaluation in the last
  tenth of its steps: still improving when the budget ran out, not converged (the pilot's A3 run at
  n28k, D = 1e6, 400 epochs, best at 39,918 of 40,699 steps, passes ``unresolved`` yet is capped).
  A family of horizon branches (wsd runs that differ only in their epoch cap, ``train.resume``) is
  capped when its best branch is its longest: the horizon was not bracketed.
- ``not_best_branch``: a horizon branch whose family has a branch with a lower validation loss (the
  family's number is its best branch, as a rate sweep's is its best rate; on a tie, the shorter). A
  branch's own best is the end of its cool-down by design, so ``unresolved`` applies to a branch
  only as its family's: the best branch is the shortest of several and its best evaluation is its
  last (the horizon not bracketed below; a shortest branch that overfit before its end, its best
  evaluation inside it, is bracketed by its own evaluations).
- ``worse_than_checkpoint``: a fine-tune whose test loss is above its own checkpoint's on the same
  test windows by more than one paired standard error (recipe-2 records; the checkpoint's window
  losses are stored with its pre-training).

A fine-tune whose best step is 0 (``zero_shot``) is kept: its number is the checkpoint's own, which
is a real measurement of transfer at that D_F. ``with_zero_shot=False`` drops them, so that a fit can be
shown both ways.
"""

from __future__ import annotations

import pandas as pd

from transfer_laws.runs.checks import DIVERGED_NATS

CAPPED_FRACTION = 0.9  # a budget-stopped from-scratch run whose best step is past this share of its steps

REASONS = {
    "diverged": f"best evaluation is step 0, then the validation loss rose by more than {DIVERGED_NATS:g} nat/token",
    "unresolved": "best evaluation is the first after step 0 or the last (minimum not bracketed)",
    "capped": "from scratch, ended on its step budget with its best in the last tenth of its steps "
              "(horizon branches: the family's best branch is its longest)",
    "not_best_branch": "a horizon branch beaten by a sibling of another epoch cap on validation loss",
    "worse_than_checkpoint": "test loss above its checkpoint's by more than one paired standard error",
    "zero_shot": "best step is 0 (left out on request only)",
}


def label(reason) -> str:
    """A reason as a table shows it: words, not the identifier ('not_best_branch' -> 'not the best
    branch'); '' and missing values stay ''."""
    if not isinstance(reason, str) or not reason:
        return ""
    return {"not_best_branch": "not the best branch", "worse_than_checkpoint": "worse than its checkpoint"}.get(
        reason, reason.replace("_", " "))


def exclusion_reasons(runs: pd.DataFrame, with_zero_shot: bool = True) -> pd.Series:
    """One reason per row ('' for a run that passes every check); pre-training rows always pass."""
    target = runs.phase == "target"
    reason = pd.Series("", index=runs.index, dtype=object)
    worse = runs.vs_checkpoint_nats.astype(float) > runs.vs_checkpoint_se.astype(float)
    capped = pd.Series(False, index=runs.index)
    if {"stop_reason", "best_step", "steps"} <= set(runs.columns):
        capped = ((runs.curriculum == "scratch") & (runs.stop_reason == "budget")
                  & (runs.best_step.astype(float) >= CAPPED_FRACTION * runs.steps.astype(float)))
    unresolved = runs.unresolved.fillna(False).astype(bool)
    diverged = (runs.diverged.fillna(False).astype(bool) if "diverged" in runs
                else pd.Series(False, index=runs.index))
    branch, not_best = _horizon_branches(runs)
    best_branch = branch & ~not_best
    capped = (capped & ~branch) | (best_branch & _end_branch(runs, branch, longest=True))
    # a family whose best is its shortest branch, at that branch's last evaluation: a shorter horizon
    # might do better. Where the shortest branch's best evaluation lies inside it (it overfit before
    # its cool-down ended, as at the smallest D, where no shorter branch keeps enough steps), the
    # minimum over training is bracketed by its own evaluations, as any early-stopped run's
    at_end = (runs.best_step.astype(float) >= runs.steps.astype(float)
              if {"best_step", "steps"} <= set(runs.columns) else pd.Series(True, index=runs.index))
    unresolved = (unresolved & ~branch) | (best_branch & _end_branch(runs, branch, longest=False) & ~capped & at_end)
    rules = [("diverged", diverged), ("unresolved", unresolved), ("not_best_branch", not_best), ("capped", capped.fillna(False)),
             ("worse_than_checkpoint", worse.fillna(False))]
    if not with_zero_shot:
        rules.append(("zero_shot", runs.zero_shot.fillna(False).astype(bool)))
    for name, failed in rules:
        reason[(reason == "") & target & failed] = name
    return reason


def _horizon_branches(runs: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(is a horizon branch, is a branch beaten by a sibling on validation loss)."""
    if "horizon_family" not in runs:
        false = pd.Series(False, index=runs.index)
        return false, false
    branch = runs.horizon_family.notna() & (runs.phase == "target")
    if not branch.any():
        return branch, branch
    fam = runs.horizon_family.where(branch)
    # the best branch of each family: lowest validation loss, the shorter on a tie (branches whose
    # best lies in their shared stable phase tie)
    order = runs.assign(_v=runs.val_loss.astype(float), _e=runs.max_epochs.astype(float), _f=fam)[branch]
    best_ix = order.sort_values(["_f", "_v", "_e"]).groupby("_f").head(1).index
    return branch, branch & ~runs.index.isin(best_ix)


def _end_branch(runs: pd.DataFrame, branch: pd.Series, longest: bool) -> pd.Series:
    """Branches that are their family's longest (or shortest), in families of more than one branch
    when ``longest`` is False."""
    if not branch.any():
        return branch
    fam = runs.horizon_family.where(branch)
    e = runs.max_epochs.astype(float)
    end = e.groupby(fam).transform("max" if longest else "min")
    size = e.groupby(fam).transform("size")
    return branch & (e == end) & (True if longest else size > 1)


def checked_runs(runs: pd.DataFrame, with_zero_shot: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows a fit may read, and the refused rows with a ``reason`` column."""
    reason = exclusion_reasons(runs, with_zero_shot)
    kept = runs[reason == ""].reset_index(drop=True)
    refused = runs[reason != ""].assign(reason=reason[reason != ""]).reset_index(drop=True)
    return kept, refused


def exclusion_counts(refused: pd.DataFrame) -> pd.DataFrame:
    """Refused runs counted by (curriculum, reason), for the chapters' 'every exclusion counted'."""
    if refused.empty:
        return pd.DataFrame(columns=["curriculum", "reason", "runs"])
    return refused.groupby(["curriculum", "reason"]).size().rename("runs").reset_index()


def _all_pass(runs: pd.DataFrame) -> bool:
    reason = exclusion_reasons(runs)
    return bool(reason.isin(["", "not_best_branch"]).all() and (reason == "").any())


def converged_range(runs: pd.DataFrame) -> pd.DataFrame:
    """Per model size: the largest D whose from-scratch runs all passed their checks (early-stopped
    with the minimum bracketed), the largest D tried, and how many D lie above the converged range
    (issue 17: the curve above it is marked, and D_E is never read there)."""
    sc = runs[(runs.phase == "target") & (runs.curriculum == "scratch")]
    rows = []
    for (size, n), g in sc.groupby(["size", "n_params"], sort=False):
        # every run at D passes, horizon branches beaten by a sibling aside (their family's best stands)
        ok = g.groupby("d_train_chars").apply(_all_pass, include_groups=False)
        ok = ok.sort_index()
        # the converged range runs up to the first D (from the smallest) with an unconverged run
        bad = ok.index[~ok.to_numpy()]
        top = ok.index[ok.index < bad.min()].max() if len(bad) else ok.index.max()
        rows.append({"size": size, "n_params": n, "d_converged_max_chars": float(top) if top == top else float("nan"),
                     "d_max_chars": float(ok.index.max()), "d_above_converged": int((ok.index > top).sum())
                     if top == top else len(ok)})
    return pd.DataFrame(rows, columns=["size", "n_params", "d_converged_max_chars", "d_max_chars", "d_above_converged"])
