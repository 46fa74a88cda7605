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
