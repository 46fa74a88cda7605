"""Deterministic, group-level splits and the fixed shuffled order of each split.

A group (one prose document, or a source directory up to three levels deep) lands wholly in
one split, decided by a hash of its name, so near-duplicate files of one directory never sit
on both sides of a split. Within a split, documents follow one fixed pseudo-random order:
"the first D characters of the Python training split" are always a prefix of that order, so
fine-tuning sets of every size are nested.
"""

from __future__ import annotations

import hashlib

# Fractions of groups per split. Python keeps a small "aside" split, never used for training,
# validation or test, for the contamination experiment.
SPLIT_FRACTIONS = {
    "python": {"train": 0.88, "val": 0.04, "test": 0.04, "aside": 0.04},
    "text": {"train": 0.95, "val": 0.05},
    "code": {"train": 0.95, "val": 0.05},
}


def _unit(key: str) -> float:
    """A deterministic number in [0, 1) from a string."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") / 2**64


def split_of(group: str, corpus: str) -> str:
    u, acc = _unit("split:" + group), 0.0
    fractions = SPLIT_FRACTIONS[corpus]
    for name, frac in fractions.items():
        acc += frac
        if u < acc:
            return name
    return list(fractions)[-1]


def order_key(sha256: str) -> float:
    """The document's place in its split's fixed shuffled order."""
    return _unit("order:" + sha256)
