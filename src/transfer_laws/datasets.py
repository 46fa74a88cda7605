"""What a run reads: token arrays of the prepared corpora and the fixed evaluation windows."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from transfer_laws.data import tokens
from transfer_laws.data.prepare import ensure_prepared
from transfer_laws.runs import RunSpec
from transfer_laws.training import N_VAL_WINDOWS, EvalSet


class StudyData:
    def __init__(self, prepared: Path | None = None):
        # $TRANSFER_LAWS_PREPARED points at a prepared folder elsewhere (e.g. a GPU payload)
        prepared = prepared or os.environ.get("TRANSFER_LAWS_PREPARED")
        self.dir = Path(prepared) if prepared else ensure_prepared()
        meta = json.loads((self.dir / "prepare.json").read_text())
        self.token_hashes = meta["token_hashes"]
        self.vocab_size = int(meta["vocab_size"])
        self._eval = {}

    @lru_cache(maxsize=None)
    def array(self, corpus: str, split: str) -> tokens.TokenArray:
        return tokens.load(self.dir, corpus, split)

    def training_arrays(self, spec: RunSpec) -> tuple[list[np.ndarray], list[float], int, float]:
        """(arrays, weights, D in tokens, characters per token of the training data).

        For pre-training, D is the text split divided by the text's share of each batch, so that
        ``tokens_seen / D`` counts epochs over the *text* for every curriculum.
        """
        if spec.phase == "target":
            arr = self.array("python", "train")
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
        if spec.phase == "target":
            return self._windows("python", "val", N_VAL_WINDOWS, spec.n_ctx)
        if spec.curriculum == "mix":
            half = N_VAL_WINDOWS // 2
            return EvalSet.concat([self._windows("text", "val", half, spec.n_ctx),
                                   self._windows("code", "val", half, spec.n_ctx)])
        return self._windows("text", "val", N_VAL_WINDOWS, spec.n_ctx)

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


def save_eval_set(es: EvalSet, path: Path) -> None:
    np.savez(path, x=es.x.numpy(), y=es.y.numpy(), chars=np.int64(es.chars))
