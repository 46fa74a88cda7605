"""Downstream tasks on the held-out Python (issue 22): labelled examples in the study's tokens.

``package``: which of the corpus's 11 Python packages (sympy, django, ...) a window of ``n_ctx``
tokens comes from. No pre-training curriculum sees Python (the text and the code corpora hold none),
so every Python file is held out from pre-training; the task pools the Python train, validation and
test splits and divides them again, *by file* and within each package, into the task's own
train (85%), validation (5%) and test (10%) files. (The study's splits are by directory, which would
leave three packages out of its test split; files of one directory can therefore sit on both sides
of the task's split. That is the same for every curriculum and size, so it does not favour any.)

An example is one non-overlapping window of a file (files shorter than one window are left out).
Classes are balanced everywhere: a training set of ``n`` examples takes example ``j`` from class
``j mod 11``, the ``j // 11``-th window of that class's pool in the order of the run's data seed, so
sets of one seed are nested. Validation and test sets take equal numbers of windows per class,
spread evenly over each class's pool, the same for every run. Data are counted in examples and in
characters: ``nominal_chars(n)`` is ``n`` x the mean characters of a training window (the unit the
fits read, the same for every data seed); each record also keeps its sample's exact characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import torch

from transfer_laws.data.splits import _unit

TASK_SPLITS = {"train": 0.85, "val": 0.05, "test": 0.10}
TASK_SEED = 20261203


class TaskDataError(ValueError):
    """A task's training set asks for more examples than its pool holds."""


@dataclass(frozen=True)
class Examples:
    """Labelled windows: x (n, n_ctx) int64 token ids, y (n,) int64 labels, and their characters."""

    x: torch.Tensor
    y: torch.Tensor
    chars: int


def task_split_of(sha256: str) -> str:
    u, acc = _unit("task-split:" + sha256), 0.0
    for name, frac in TASK_SPLITS.items():
        acc += frac
        if u < acc:
            return name
    return "test"


class PackageTask:
    """Source-package classification (see the module's docstring). ``data`` is a ``StudyData``."""

    name = "package"

    def __init__(self, data, n_ctx: int = 128, manifest: pd.DataFrame | None = None):
        from transfer_laws.data.prepare import frozen_dir

        self.data, self.n_ctx = data, n_ctx
        self.manifest = manifest if manifest is not None else pd.read_csv(frozen_dir() / "manifest.csv")

    @cached_property
    def files(self) -> pd.DataFrame:
        """The Python files the task draws on (every split but "aside", kept for contamination runs)."""
        return self.manifest[(self.manifest.corpus == "python") & (self.manifest.split != "aside")]

    @cached_property
    def classes(self) -> list[str]:
        return sorted(self.files.source.unique())

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @cached_property
    def windows(self) -> pd.DataFrame:
        """Every window of every task file: its study split (which token array), start token,
        characters, class and task split."""
        m = self.files
        label = {c: i for i, c in enumerate(self.classes)}
        rows = []
        for split, docs in m.groupby("split"):
            arr = self.data.array("python", split)
            t = np.asarray(arr.tokens)
            ends = np.flatnonzero(t == 0)  # each document is followed by the end-of-text token
            docs = docs.sort_values("order")
            if len(ends) != len(docs):
                raise ValueError(f"python/{split}: {len(ends)} documents in the tokens, {len(docs)} in the manifest")
            starts = np.concatenate([[0], ends[:-1] + 1])
            cum = np.asarray(arr.cum_chars, dtype=np.int64)
            for (_, doc), s, e in zip(docs.iterrows(), starts, ends):
                k = np.arange((e - s) // self.n_ctx)
                if not len(k):
                    continue
                w0 = s + k * self.n_ctx
                before = np.where(w0 > 0, cum[np.maximum(w0 - 1, 0)], 0)
                rows.append(pd.DataFrame({"split": split, "start": w0, "chars": cum[w0 + self.n_ctx - 1] - before,
                                          "label": label[doc.source], "task_split": task_split_of(doc.sha256)}))
        return pd.concat(rows, ignore_index=True)

    def pool(self, task_split: str, label: int) -> pd.DataFrame:
        w = self.windows
        return w[(w.task_split == task_split) & (w.label == label)]

    def pool_sizes(self) -> pd.DataFrame:
        """Windows per class and task split (the largest training set is 11 x the smallest class's pool)."""
        w = self.windows
        t = w.groupby(["label", "task_split"]).size().unstack("task_split").fillna(0).astype(int)
        t.index = [self.classes[i] for i in t.index]
        return t

    def max_train_examples(self) -> int:
        return int(self.pool_sizes()["train"].min()) * self.n_classes

    @cached_property
    def chars_per_example(self) -> float:
        """Mean characters of a training window (over the whole class-balanced training pool)."""
        w = self.windows[self.windows.task_split == "train"]
        return float(w.groupby("label").chars.mean().mean())

    def nominal_chars(self, n_examples: int) -> int:
        return int(round(n_examples * self.chars_per_example))

    def _take(self, rows: pd.DataFrame) -> Examples:
        x = np.empty((len(rows), self.n_ctx), dtype=np.int64)
        for split in rows.split.unique():
            t = self.data.array("python", split).tokens
            at = np.flatnonzero(rows.split.to_numpy() == split)
            x[at] = np.stack([np.asarray(t[s : s + self.n_ctx], dtype=np.int64) for s in rows.start.to_numpy()[at]])
        return Examples(torch.from_numpy(x), torch.from_numpy(np.array(rows.label, dtype=np.int64)), int(rows.chars.sum()))

    def train_set(self, n_examples: int, data_seed: int) -> Examples:
        """The first ``n_examples`` of data seed ``data_seed``'s class-balanced order (nested in n)."""
        k = self.n_classes
        per_class = -(-n_examples // k)
        picked = []
        for c in range(k):
            pool = self.pool("train", c)
            if per_class > len(pool):
                raise TaskDataError(f"{n_examples:,} examples need {per_class:,} windows of class "
                                    f"{self.classes[c]!r}; its training pool holds {len(pool):,} "
                                    f"(at most {self.max_train_examples():,} examples)")
            order = np.random.default_rng([TASK_SEED, data_seed, c]).permutation(len(pool))[:per_class]
            picked.append(pool.iloc[order].assign(_rank=np.arange(per_class) * k + c))
        rows = pd.concat(picked).sort_values("_rank").iloc[:n_examples].drop(columns="_rank").reset_index(drop=True)
        return self._take(rows)

    def eval_set(self, task_split: str, n_examples: int) -> Examples:
        """``n_examples`` (rounded down to a multiple of the classes) windows of the task's val or test
        files, equally many per class, evenly spaced over each class's pool."""
        per_class = n_examples // self.n_classes
        picked = []
        for c in range(self.n_classes):
            pool = self.pool(task_split, c)
            if per_class > len(pool):
                raise TaskDataError(f"{task_split}: class {self.classes[c]!r} has {len(pool)} windows, "
                                    f"{per_class} asked")
            picked.append(pool.iloc[np.linspace(0, len(pool) - 1, per_class).round().astype(int)])
        return self._take(pd.concat(picked).reset_index(drop=True))


class ExampleStream(torch.utils.data.IterableDataset):
    """Endless batches of a task's training examples, drawn with replacement; batch ``t`` comes from
    its own generator seeded by (seed, t), so a resumed run sees the batches it would have seen
    uninterrupted (as ``windows.WindowStream(indexed=True)``); ``start`` is the first batch index."""

    indexed = True

    def __init__(self, examples: Examples, batch_size: int, seed: int, start: int = 0):
        self.examples, self.batch_size, self.seed, self.start = examples, batch_size, seed, start

    def __iter__(self):
        t = self.start
        while True:
            idx = torch.from_numpy(np.random.default_rng([self.seed, t]).integers(0, len(self.examples.y),
                                                                                  size=self.batch_size))
            t += 1
            yield self.examples.x[idx], self.examples.y[idx]


TASKS = {"package": PackageTask}
