"""What a run reads: token arrays of the prepared corpora, the window loader (random training windows,
mixed by weight) and the fixed evaluation windows."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from transfer_laws.data import tokens
from transfer_laws.data.prepare import ensure_prepared
from transfer_laws.runs import RunSpec

N_VAL_WINDOWS = 128  # fixed validation windows (x n_ctx tokens); the standard error is recorded
N_TEST_WINDOWS = 512  # fixed Python test windows for the reported loss
N_ZERO_SHOT_WINDOWS = 128  # Python test windows logged during pre-training


@dataclass(frozen=True)
class EvalSet:
    """Fixed windows, evenly spaced over a split: the same for every run."""

    x: torch.Tensor  # (n, n_ctx) int64
    y: torch.Tensor  # (n, n_ctx) int64
    chars: int  # characters covered by the targets (for bits per character)

    @classmethod
    def from_array(cls, arr: tokens.TokenArray, n_windows: int, n_ctx: int) -> "EvalSet":
        starts = np.linspace(0, arr.n_tokens - n_ctx - 2, n_windows).astype(np.int64)
        w = np.stack([np.asarray(arr.tokens[s : s + n_ctx + 1], dtype=np.int64) for s in starts])
        chars = int(sum(int(arr.cum_chars[s + n_ctx]) - int(arr.cum_chars[s]) for s in starts))
        return cls(torch.from_numpy(w[:, :-1]).contiguous(), torch.from_numpy(w[:, 1:]).contiguous(), chars)

    @classmethod
    def concat(cls, sets: list["EvalSet"]) -> "EvalSet":
        return cls(torch.cat([s.x for s in sets]), torch.cat([s.y for s in sets]), sum(s.chars for s in sets))


class WindowStream(torch.utils.data.IterableDataset):
    """Endless batches of random windows from token arrays, mixed by weight; order set by the seed.

    ``indexed=False`` (recipe 1): one random stream drawn in sequence. ``indexed=True`` (recipe 2):
    batch t is drawn from its own generator, seeded by (seed, t), so a run resumed at step t sees the
    batches it would have seen uninterrupted; ``start`` is the first batch index to yield."""

    def __init__(self, arrays: list[np.ndarray], weights: list[float], batch_size: int, n_ctx: int, seed: int,
                 indexed: bool = False, start: int = 0):
        self.indexed, self.start = indexed, start
        for a in arrays:
            if len(a) < n_ctx + 2:
                raise ValueError(f"training data of {len(a)} tokens is shorter than one window ({n_ctx + 1})")
        self.arrays, self.batch_size, self.n_ctx, self.seed = arrays, batch_size, n_ctx, seed
        w = np.asarray(weights, dtype=float)
        if len(w) != len(arrays) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"need one non-negative weight per array with a positive sum, got {weights}")
        self.rows_per_batch = w / w.sum() * batch_size  # expected rows of each source in one batch

    def counts(self, batch_index: int) -> np.ndarray:
        """Rows of each source in batch ``batch_index``: every source but the first gets the increase of
        floor(its expected cumulative rows), the first the rest. Over t batches a source gets its share
        to within one row, however small (1% of 32 rows is one row about every third batch; rounding
        each batch would give none); integral shares (a 50/50 mix) give the same rows every batch."""
        t = batch_index
        minor = (np.floor(self.rows_per_batch[1:] * (t + 1) + 1e-9)
                 - np.floor(self.rows_per_batch[1:] * t + 1e-9)).astype(int)
        return np.concatenate([[self.batch_size - minor.sum()], minor])

    def __iter__(self):
        rng = np.random.default_rng(self.seed)
        batch_index = self.start if self.indexed else 0
        while True:
            rows = []
            counts = self.counts(batch_index)
            if self.indexed:
                rng = np.random.default_rng([self.seed, batch_index])
            batch_index += 1
            for a, k in zip(self.arrays, counts):
                starts = rng.integers(0, len(a) - self.n_ctx - 1, size=k)
                rows.extend(np.asarray(a[s : s + self.n_ctx + 1], dtype=np.int64) for s in starts)
            w = torch.from_numpy(np.stack(rows))
            yield w[:, :-1], w[:, 1:]


SPAN_TOKENS = 512  # a data sample is built from pieces of files of at most this many tokens (~1,200 chars)
N_STREAMS = 4  # data seeds 1..4 draw from disjoint sets of files until their hand (~2.5e7 chars) runs out
SPAN_ORDER_SEED = 20261202  # the one fixed shuffle of the files that the hands share out


class StudyData:
    def __init__(self, prepared: Path | None = None, tokenizer: str = "main"):
        # $TRANSFER_LAWS_PREPARED points at a prepared folder elsewhere (e.g. a GPU payload)
        prepared = prepared or (os.environ.get("TRANSFER_LAWS_PREPARED") if tokenizer == "main" else None)
        self.tokenizer = tokenizer
        self.dir = Path(prepared) if prepared else ensure_prepared(tokenizer=tokenizer)
        meta = json.loads((self.dir / "prepare.json").read_text())
        self.token_hashes = meta["token_hashes"]
        self.vocab_size = int(meta["vocab_size"])
        self.payload = meta.get("payload")  # a GPU payload's contents (runs.payload), None for the full data
        self._eval = {}

    @lru_cache(maxsize=None)
    def array(self, corpus: str, split: str) -> tokens.TokenArray:
        return tokens.load(self.dir, corpus, split)

    def for_spec(self, spec: RunSpec) -> "StudyData":
        """The data of the spec's tokenizer: this object, or (once per tokenizer) another one."""
        if spec.tokenizer == self.tokenizer:
            return self
        others = self.__dict__.setdefault("_others", {})
        if spec.tokenizer not in others:
            others[spec.tokenizer] = StudyData(tokenizer=spec.tokenizer)
        return others[spec.tokenizer]

    def task(self, name: str, n_ctx: int = 128):
        """A downstream task on this data (``data.task.TASKS``), built once per (task, n_ctx)."""
        from transfer_laws.data.task import TASKS

        tasks = self.__dict__.setdefault("_tasks", {})
        if (name, n_ctx) not in tasks:
            tasks[(name, n_ctx)] = TASKS[name](self, n_ctx)
        return tasks[(name, n_ctx)]

    def training_arrays(self, spec: RunSpec) -> tuple[list[np.ndarray], list[float], int, float]:
        """(arrays, weights, D in tokens, characters per token of the training data).

        For pre-training, D is the text split divided by the text's share of each batch, so that
        ``tokens_seen / D`` counts epochs over the *text* for every curriculum.
        """
        if spec.phase == "target":
            saved = self.dir / stream_file_name(spec.data_seed, spec.d_train_chars)
            if spec.data_seed and saved.exists():  # a payload carries its sampled streams instead of the split
                z = np.load(saved)
                toks, chars = z["tokens"], int(z["chars"])
                return [toks], [1.0], len(toks), chars / len(toks)
            arr = self.array("python", "train")
            if spec.data_seed:
                toks, cum = sample_stream(arr, spec.data_seed, spec.d_train_chars)
                return [toks], [1.0], len(toks), int(cum[-1]) / len(toks)
            prefix = arr.prefix(spec.d_train_chars)
            return [prefix], [1.0], len(prefix), int(arr.cum_chars[len(prefix) - 1]) / len(prefix)
        text = self.array("text", "train")
        arrays, weights = [text.tokens], [1.0]
        if spec.curriculum == "mix":
            arrays.append(self.array("code", "train").tokens)
            weights = [1 - spec.mix_code_fraction, spec.mix_code_fraction]
        if spec.contamination_frac > 0:
            arrays.append(self.array("python", "aside").tokens)  # never train/val/test Python
            weights = [w * (1 - spec.contamination_frac) for w in weights] + [spec.contamination_frac]
        d_tokens = int(text.n_tokens / weights[0])
        cpt = sum(w * self.array(*c).chars_per_token for w, c in
                  zip(weights, [("text", "train"), ("code", "train"), ("python", "aside")][: len(weights)]
                      if spec.curriculum == "mix" else [("text", "train"), ("python", "aside")][: len(weights)]))
        return arrays, weights, d_tokens, cpt

    def val_set(self, spec: RunSpec) -> EvalSet:
        n = spec.val_windows
        if spec.phase == "target":
            return self._windows("python", "val", n, spec.n_ctx)
        if spec.curriculum == "mix":
            half = n // 2
            return EvalSet.concat([self._windows("text", "val", half, spec.n_ctx),
                                   self._windows("code", "val", half, spec.n_ctx)])
        return self._windows("text", "val", n, spec.n_ctx)

    def test_set(self, n_windows: int, n_ctx: int) -> EvalSet:
        return self._windows("python", "test", n_windows, n_ctx)

    def _windows(self, corpus: str, split: str, n: int, n_ctx: int) -> EvalSet:
        key = (corpus, split, n, n_ctx)
        if key not in self._eval:
            saved = self.dir / eval_file_name(*key)
            if saved.exists():  # a payload carries its evaluation windows instead of whole splits
                z = np.load(saved)
                self._eval[key] = EvalSet(torch.from_numpy(z["x"]), torch.from_numpy(z["y"]), int(z["chars"]))
            else:
                self._eval[key] = EvalSet.from_array(self.array(corpus, split), n, n_ctx)
        return self._eval[key]


def eval_file_name(corpus: str, split: str, n: int, n_ctx: int) -> str:
    return f"eval_{corpus}_{split}_{n}x{n_ctx}.npz"


def stream_file_name(data_seed: int, d_chars: int) -> str:
    return f"stream_python_train_seed{data_seed}_{d_chars}chars.npz"


def save_stream(dirpath: Path, data_seed: int, d_chars: int, toks: np.ndarray, cum: np.ndarray) -> Path:
    """A sampled training stream (``sample_stream``) as a payload carries it: its tokens and characters."""
    path = Path(dirpath) / stream_file_name(data_seed, d_chars)
    np.savez(path, tokens=toks, chars=np.int64(cum[-1]))
    return path


def save_eval_set(es: EvalSet, path: Path) -> None:
    np.savez(path, x=es.x.numpy(), y=es.y.numpy(), chars=np.int64(es.chars))


def spans(arr: tokens.TokenArray, eot_id: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The split cut into spans: each document (ended by the end-of-text token) into pieces of at
    most SPAN_TOKENS tokens. Returns (start, end, document index) per span, in file order."""
    t = np.asarray(arr.tokens)
    ends = np.flatnonzero(t == eot_id)
    if not len(ends) or ends[-1] != len(t) - 1:
        ends = np.append(ends, len(t))
    doc_start = np.concatenate([[0], ends[:-1] + 1])
    doc_len = ends - doc_start
    keep = doc_len > 0
    doc_start, doc_len, doc_id = doc_start[keep], doc_len[keep], np.flatnonzero(keep)
    n = -(-doc_len // SPAN_TOKENS)
    which = np.repeat(np.arange(len(n)), n)
    j = np.arange(len(which)) - np.repeat(np.cumsum(n) - n, n)
    start = doc_start[which] + j * SPAN_TOKENS
    end = np.minimum(start + SPAN_TOKENS, doc_start[which] + doc_len[which])
    return start, end, doc_id[which]


def span_order(doc_of_span: np.ndarray, data_seed: int) -> np.ndarray:
    """The order in which data seed ``data_seed`` (>= 1) takes the spans: the documents are dealt,
    after one fixed shuffle, round-robin into N_STREAMS hands; a seed takes the spans of its own hand
    in a shuffled order first, then all the others. Samples of different seeds therefore come from
    different files up to the size of a hand (~1/N_STREAMS of the split), a seed's samples are nested
    (a larger D extends a smaller one), and a sample of D_F = 1e4 characters spans ~9 files."""
    if data_seed < 1:
        raise ValueError(f"data_seed must be >= 1 for a sampled stream, got {data_seed}")
    docs = np.unique(doc_of_span)
    hand_of_doc = np.empty(docs.max() + 1, dtype=np.int64)
    hand_of_doc[np.random.default_rng(SPAN_ORDER_SEED).permutation(docs)] = np.arange(len(docs)) % N_STREAMS
    rng = np.random.default_rng([SPAN_ORDER_SEED, data_seed])
    mine = hand_of_doc[doc_of_span] == (data_seed - 1) % N_STREAMS
    idx = np.arange(len(doc_of_span))
    return np.concatenate([rng.permutation(idx[mine]), rng.permutation(idx[~mine])])


def sample_stream(arr: tokens.TokenArray, data_seed: int, d_chars: int, eot_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The first ``d_chars`` characters of data seed ``data_seed``'s stream: spans of at most
    SPAN_TOKENS tokens from random files and packages (the last one cut at a token boundary), joined
    by the end-of-text token (zero characters). Returns (tokens, cumulative characters)."""
    if d_chars > arr.n_chars:
        raise tokens.DataSizeError(f"D = {d_chars:,} characters is larger than the {arr.corpus}/{arr.split} split "
                                   f"({arr.n_chars:,} characters)")
    start, end, doc = spans(arr, eot_id)
    order = span_order(doc, data_seed)
    cum = np.asarray(arr.cum_chars, dtype=np.int64)
    starts, ends = start[order], end[order]
    span_chars = cum[ends - 1] - np.where(starts > 0, cum[np.maximum(starts - 1, 0)], 0)
    need = int(np.searchsorted(np.cumsum(span_chars), d_chars, side="left")) + 1
    pieces, chars = [], []
    for s, e in zip(starts[:need], ends[:need]):
        c = cum[s:e] - (cum[s - 1] if s > 0 else 0)
        pieces += [np.asarray(arr.tokens[s:e]), np.asarray([eot_id], dtype=arr.tokens.dtype)]
        chars += [np.diff(c, prepend=0), np.zeros(1, dtype=np.int64)]
    toks = np.concatenate(pieces[:-1])
    cum_out = np.cumsum(np.concatenate(chars[:-1]))
    n = int(np.searchsorted(cum_out, d_chars, side="right"))
    if n < 1:
        raise tokens.DataSizeError(f"D = {d_chars} characters is shorter than one token")
    return toks[:n], cum_out[:n]
