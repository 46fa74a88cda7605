"""The checks a run's record carries and the analysis reads (issue 17): pure functions of its curve,
and the paired comparison of two sides scored on the same test windows.

A number enters a fit only if its run is resolved: its best evaluation is neither the first after
step 0 nor the last. Recipe-2 records store these checks when they are written; for first-grid
(recipe 1) records the same function is applied to the stored curve when the tables are built.
"""

from __future__ import annotations

import numpy as np

DIVERGED_NATS = 1.0  # a run whose best is step 0 and whose validation loss then rose by more than this


def diverged(curve: list[dict], best_step: int) -> bool:
    """Did the run diverge? Its best evaluation is step 0 and its validation loss after step 0 rose
    more than ``DIVERGED_NATS`` nats/token above step 0's, or stopped being finite (a rate too high).

    Overfitting is not divergence: a run that overfits had a best evaluation after step 0. On the
    committed runs the largest rise of a fine-tune that did not diverge is under 0.5 nats, the one
    diverged run (a rate check at 250x the held rate) rose 1.8 nats within 6 steps."""
    if best_step != 0 or not curve or curve[0]["step"] != 0:
        return False
    v0 = curve[0]["val_loss"]
    after = [p["val_loss"] for p in curve[1:]]
    return any(v is None or not np.isfinite(v) or v > v0 + DIVERGED_NATS for v in after)


def checks(curve: list[dict], best_step: int, warmup: int = 0) -> dict:
    """The checks a recipe-2 record carries (issue 17): is its best evaluation resolved?

    ``zero_shot``: the best evaluation is step 0 (the checkpoint itself). ``unresolved``: the best is
    the first evaluation after step 0 or the last one (the minimum is not bracketed).
    ``warmup_past_first_min``: warm-up ends after the first local minimum of the validation loss.
    ``diverged``: see ``diverged``."""
    steps = [p["step"] for p in curve]
    losses = [p["val_loss"] for p in curve]
    after0 = [s for s in steps if s > 0]
    first_min = next((steps[i] for i in range(1, len(steps) - 1)
                      if losses[i] <= losses[i - 1] and losses[i] < losses[i + 1]), None)
    return {"zero_shot": best_step == 0 and 0 in steps,
            "unresolved": bool(after0) and (best_step == after0[0] or best_step == steps[-1]),
            "warmup_past_first_min": first_min is not None and warmup > first_min,
            "diverged": diverged(curve, best_step),
            "first_min_step": first_min, "overrun": (steps[-1] / best_step) if best_step else None}


def paired_difference(a: list[np.ndarray], b: list[np.ndarray]) -> tuple[float, float]:
    """Mean and standard error of (loss of a) - (loss of b), paired over test windows.

    ``a`` and ``b`` hold the per-window losses (nats/token) of one or more runs each (e.g. seeds),
    all scored on the same windows; each side is averaged over its runs window by window first. The
    standard error is that of the mean of the per-window differences, so it counts only the
    evaluation noise the two sides do not share."""
    if not a or not b:
        raise ValueError("paired_difference needs at least one run on each side")
    n = {len(w) for w in [*a, *b]}
    if len(n) != 1:
        raise ValueError(f"runs scored on different numbers of test windows ({sorted(n)}) cannot be paired")
    d = np.mean(a, axis=0) - np.mean(b, axis=0)
    if len(d) < 2:
        raise ValueError("a paired standard error needs at least 2 windows")
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))
