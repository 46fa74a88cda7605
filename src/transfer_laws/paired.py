"""Paired comparisons of two sides scored on the same test windows (numpy only)."""

from __future__ import annotations

import numpy as np


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
