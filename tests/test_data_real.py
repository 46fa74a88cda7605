"""The committed, frozen record of the real corpora, and (slow) the real preparation."""

import json

import pandas as pd
import pytest

from transfer_laws.data import prepare


def test_committed_manifest_splits_are_disjoint():
    m = pd.read_csv(prepare.frozen_dir() / "manifest.csv", dtype={"sha256": str})
    assert m.sha256.is_unique, "exact duplicates were removed"
    assert m.groupby(["corpus", "group"]).split.nunique().max() == 1, "no group in two splits"
    sizes = m.groupby("corpus").chars.sum()
    assert sizes["text"] >= 30e6 and sizes["python"] >= 100e6 and sizes["code"] >= 60e6
    assert not m[m.corpus == "code"].path.str.endswith(".py").any()


@pytest.mark.slow
def test_real_prepare_matches_committed_hashes():
    """Runs the real `data prepare` (reusing the download cache `make` filled)."""
    out = prepare.prepare()
    committed = json.loads((prepare.frozen_dir() / "token_hashes.json").read_text())
    assert json.loads((out / "prepare.json").read_text())["token_hashes"] == committed
