"""Token arrays: ``uint16`` tokens plus the cumulative character count through each token.

"The first D characters of a split" maps to an exact token prefix: the longest prefix whose
characters number at most D.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


class DataSizeError(ValueError):
    """A requested number of characters exceeds what a split holds."""


@dataclass(frozen=True)
class TokenArray:
    corpus: str
    split: str
    tokens: np.ndarray  # (n_tokens,) uint16, memory-mapped
    cum_chars: np.ndarray  # (n_tokens,) uint32: characters in tokens[: i + 1]

    @property
    def n_tokens(self) -> int:
        return int(self.tokens.shape[0])

    @property
    def n_chars(self) -> int:
        return int(self.cum_chars[-1]) if self.n_tokens else 0

    @property
    def chars_per_token(self) -> float:
        return self.n_chars / max(self.n_tokens, 1)

    def n_tokens_for_chars(self, d_chars: int) -> int:
        """Length of the longest token prefix holding at most ``d_chars`` characters."""
        if d_chars > self.n_chars:
            raise DataSizeError(
                f"D = {d_chars:,} characters is larger than the {self.corpus}/{self.split} split "
                f"({self.n_chars:,} characters)"
            )
        if d_chars <= 0:
            raise DataSizeError(f"D must be positive, got {d_chars}")
        # the needle in the array's own dtype: a Python int would make numpy cast the whole
        # (memory-mapped, tens of millions of entries) array to int64 on every call
        needle = np.asarray(d_chars, dtype=self.cum_chars.dtype)
        return int(np.searchsorted(self.cum_chars, needle, side="right"))

    def prefix(self, d_chars: int) -> np.ndarray:
        return self.tokens[: self.n_tokens_for_chars(d_chars)]


def encode_documents(tok, texts: list[str], table: np.ndarray, eot_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Encode documents in order, each followed by the end-of-text token."""
    pieces = []
    for start in range(0, len(texts), 256):
        for enc in tok.encode_batch(texts[start : start + 256], add_special_tokens=False):
            pieces.append(np.asarray(enc.ids, dtype=np.uint16))
            pieces.append(np.asarray([eot_id], dtype=np.uint16))
    tokens = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.uint16)
    cum = np.cumsum(table[tokens.astype(np.int64)], dtype=np.int64)
    if cum.size and cum[-1] >= 2**32:
        raise OverflowError("split too large for uint32 character counts")
    return tokens, cum.astype(np.uint32)


def save(dirpath: Path, corpus: str, split: str, tokens: np.ndarray, cum: np.ndarray) -> Path:
    path = dirpath / f"{corpus}_{split}.tokens.npy"
    np.save(path, tokens)
    np.save(dirpath / f"{corpus}_{split}.chars.npy", cum)
    return path


def load(dirpath: Path, corpus: str, split: str) -> TokenArray:
    tpath = dirpath / f"{corpus}_{split}.tokens.npy"
    if not tpath.exists():
        raise FileNotFoundError(f"{tpath} missing: run `python -m transfer_laws data prepare`")
    return TokenArray(
        corpus,
        split,
        np.load(tpath, mmap_mode="r"),
        np.load(dirpath / f"{corpus}_{split}.chars.npy", mmap_mode="r"),
    )
