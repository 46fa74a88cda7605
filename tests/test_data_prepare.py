"""End to end on fake packages: splits, tokenizer, token arrays, prefixes and drift detection."""

import json

import numpy as np
import pandas as pd
import pytest

from transfer_laws.data import prepare, splits, tokens
from transfer_laws.data.tokenizer import EOT, chars_per_token, load_tokenizer, plain_encoder, train_tokenizer


@pytest.fixture
def prepared(fake_world, offline_clients, tmp_path):
    frozen = tmp_path / "frozen"
    out = prepare.prepare(tmp_path / "cache", freeze=True, spec_path=fake_world["spec"], frozen=frozen,
                          tokenizer_vocab=300, tokenizer_sample_chars=20_000, log=lambda *_: None)
    return {"out": out, "frozen": frozen, "cache": tmp_path / "cache", "spec": fake_world["spec"]}


def test_prepare_writes_everything(prepared):
    out = prepared["out"]
    assert (out / "prepare.json").exists() and not out.with_name(out.name + ".tmp").exists()
    hashes = json.loads((prepared["frozen"] / "token_hashes.json").read_text())
    assert set(hashes) == {f"{c}/{s}" for c, ss in prepare.SPLITS.items() for s in ss}
    stats = pd.read_csv(out / "stats.csv")
    assert (stats.tokens > 0).all()


def test_splits_are_disjoint_by_hash_and_group(prepared):
    m = pd.read_csv(prepared["frozen"] / "manifest.csv")
    assert m.groupby("sha256").split.nunique().max() == 1
    assert m.groupby(["corpus", "group"]).split.nunique().max() == 1


def test_splits_are_deterministic():
    assert splits.split_of("a:b/c", "python") == splits.split_of("a:b/c", "python")
    assert splits.order_key("x") == splits.order_key("x")
    names = [splits.split_of(f"g{i}", "python") for i in range(4000)]
    share = {s: names.count(s) / 4000 for s in set(names)}
    assert abs(share["train"] - 0.88) < 0.03


def test_second_prepare_checks_and_matches(prepared):
    out = prepare.prepare(prepared["cache"], freeze=False, spec_path=prepared["spec"], frozen=prepared["frozen"],
                          log=lambda *_: None)
    assert out == prepared["out"]


def test_drift_in_token_hashes_is_detected(prepared):
    path = prepared["frozen"] / "token_hashes.json"
    hashes = json.loads(path.read_text())
    hashes["python/train"] = "0" * 64
    path.write_text(json.dumps(hashes))
    with pytest.raises(prepare.DriftError, match="python/train"):
        prepare.prepare(prepared["cache"], spec_path=prepared["spec"], frozen=prepared["frozen"], log=lambda *_: None)


def test_drift_in_documents_is_detected(prepared):
    path = prepared["frozen"] / "manifest.csv"
    m = pd.read_csv(path)
    m.loc[0, "sha256"] = "f" * 64
    m.to_csv(path, index=False)
    with pytest.raises(prepare.DriftError, match="corpus drift"):
        prepare.prepare(prepared["cache"], spec_path=prepared["spec"], frozen=prepared["frozen"], log=lambda *_: None)


def test_character_prefix_addressing(prepared):
    arr = tokens.load(prepared["out"], "python", "train")
    tok = load_tokenizer(str(prepared["frozen"] / "tokenizer.json"))
    n = arr.n_tokens_for_chars(1000)
    assert arr.cum_chars[n - 1] <= 1000 < arr.cum_chars[n]
    text = tok.decode([int(t) for t in arr.tokens[:n]], skip_special_tokens=True)
    assert len(text) == int(arr.cum_chars[n - 1])
    assert np.array_equal(arr.prefix(500), arr.prefix(1000)[: len(arr.prefix(500))]), "nested prefixes"
    with pytest.raises(tokens.DataSizeError, match="larger than the python/train split"):
        arr.n_tokens_for_chars(arr.n_chars + 1)


def test_tokenizer_round_trip_and_char_table():
    tok = train_tokenizer(["def f(x):\n    return x  # héllo 😀\n" * 50, "plain prose, words. " * 50], vocab_size=300)
    enc = plain_encoder(tok)
    table = chars_per_token(tok)
    for s in ["def g(y): return 'ünïcode' 😀", "literal <|endoftext|> in a document"]:
        ids = enc.encode(s, add_special_tokens=False).ids
        assert tok.decode(ids) == s
        assert table[ids].sum() == len(s)
    assert table[tok.token_to_id(EOT)] == 0


def test_rare_token_shares_on_the_prepared_corpora():
    from transfer_laws.data.report import rare_token_shares

    t = rare_token_shares().set_index(["corpus", "seen_at_most"])
    assert t.loc[("python", 0), "share_of_python_test_tokens"] < 1e-3, "Python's own split covers its test split"
    assert t.loc[("text", 0), "vocab_tokens"] > t.loc[("mix (text + code)", 0), "vocab_tokens"]
    assert t.loc[("text", 100), "share_of_python_test_tokens"] >= t.loc[("text", 0), "share_of_python_test_tokens"]
