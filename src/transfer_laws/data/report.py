"""Tables about the corpora for the data chapter (reads the prepared folder; computes nothing new)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from transfer_laws.data.prepare import ensure_prepared, frozen_dir
from transfer_laws.data.spec import load_sources


def sources_table() -> pd.DataFrame:
    return pd.DataFrame(
        [{"source": s.name, "corpus": s.corpus, "language": s.language or ("python" if s.corpus == "python" else "english"),
          "client": s.client, "artifact": s.requirement, "license": s.license, "sha256": s.sha256[:12] + "…"}
         for s in load_sources()]
    )


def stats(prepared: Path | None = None) -> pd.DataFrame:
    d = prepared or ensure_prepared()
    return pd.read_csv(d / "stats.csv")


def corpus_split_table(prepared: Path | None = None) -> pd.DataFrame:
    """Files, characters, tokens and characters per token per corpus and split."""
    s = stats(prepared)
    t = s.groupby(["corpus", "split"], sort=False)[["files", "chars", "tokens"]].sum().reset_index()
    t["chars_per_token"] = (t.chars / t.tokens).round(3)
    t["mb_chars"] = (t.chars / 1e6).round(2)
    return t


def contamination(prepared: Path | None = None) -> pd.DataFrame:
    d = prepared or ensure_prepared()
    return pd.read_csv(d / "contamination.csv")


def dropped(prepared: Path | None = None) -> pd.DataFrame:
    d = prepared or ensure_prepared()
    return pd.read_csv(d / "dropped.csv")


def prepare_meta(prepared: Path | None = None) -> dict:
    d = prepared or ensure_prepared()
    return json.loads((d / "prepare.json").read_text())


def manifest() -> pd.DataFrame:
    return pd.read_csv(frozen_dir() / "manifest.csv", dtype={"sha256": str})


def rare_token_shares(prepared: Path | None = None, thresholds=(0, 100), target=("python", "test")) -> pd.DataFrame:
    """How well each pre-training corpus covers the tokens of the Python test split (issue 17, item 7).

    For each training split (text, code, python) and threshold k: the tokens of the vocabulary seen
    at most k times in that split, and the share of the Python test split's tokens that are such
    tokens. A token never seen in pre-training keeps its random (tied) embedding."""
    import numpy as np

    from transfer_laws.data import tokens

    d = prepared or ensure_prepared()
    vocab = int(prepare_meta(d)["vocab_size"])
    test = np.asarray(tokens.load(d, *target).tokens)
    test_counts = np.bincount(test, minlength=vocab)
    rows = []
    counts_of = {c: np.bincount(np.asarray(tokens.load(d, c, "train").tokens), minlength=vocab)
                 for c in ("text", "code", "python")}
    counts_of = {"text": counts_of["text"], "mix (text + code)": counts_of["text"] + counts_of["code"],
                 "code": counts_of["code"], "python": counts_of["python"]}
    for corpus, counts in counts_of.items():
        for k in thresholds:
            rare = counts <= k
            rows.append({"corpus": corpus, "seen_at_most": k, "vocab_tokens": int(rare.sum()),
                         "share_of_python_test_tokens": float(test_counts[rare].sum() / test_counts.sum())})
    return pd.DataFrame(rows)


def chosen_vocab(table: pd.DataFrame) -> int:
    """Of a vocabulary study's table (``results/tokenizer_choice.csv``): the vocabulary with the lowest
    mean bits per character over the measured sizes."""
    return int(table.groupby("vocab_size").val_bits_per_char.mean().idxmin())
