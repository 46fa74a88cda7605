"""Learning rates per size, for training from scratch and for fine-tuning: the one place they live.

Until the study's pilot sweep replaces an entry, a size uses Kaplan et al. (2020, eq. D.1)'s
fitted learning rate LR(N) = 0.003239 - 0.0001395 * ln(N), and fine-tuning uses a third of it.
Each entry names its source, and every run records the value it used.
"""

from __future__ import annotations

import math

from transfer_laws.config import LADDER


def kaplan_lr(n_params: int) -> float:
    """Kaplan et al. 2020, eq. D.1: LR(N) ~ 0.003239 - 0.0001395 log N."""
    return 0.003239 - 0.0001395 * math.log(n_params)


# size -> (learning rate, source). Overridden entries from the pilot's sweep go here.
SCRATCH_LR: dict[str, tuple[float, str]] = {
    name: (round(kaplan_lr(cfg.n_params()), 6), "Kaplan+20 eq. D.1") for name, cfg in LADDER.items()
}
FINETUNE_LR: dict[str, tuple[float, str]] = {
    name: (round(lr / 3, 6), "Kaplan+20 eq. D.1 / 3") for name, (lr, _) in SCRATCH_LR.items()
}


def learning_rate(size: str, phase: str, curriculum: str) -> float:
    """The learning rate a run of this size and kind uses unless its spec says otherwise."""
    if size not in LADDER:
        raise ValueError(f"unknown model size {size!r}; known sizes: {', '.join(LADDER)}")
    if phase == "target" and curriculum != "scratch":
        return FINETUNE_LR[size][0]
    return SCRATCH_LR[size][0]
