import json

import numpy as np
import pandas as pd

from transfer_laws import payload, vocab_study
from transfer_laws.data import tokens
from transfer_laws.data.prepare import ensure_prepared
from transfer_laws.datasets import StudyData


def test_chosen_vocab_is_lowest_mean_bpc():
    t = pd.DataFrame({"vocab_size": [512, 512, 1024, 1024], "size": ["a", "b", "a", "b"],
                      "val_bits_per_char": [2.0, 2.5, 2.1, 2.3]})
    assert vocab_study.chosen_vocab(t) == 1024


def test_payload_is_an_exact_prefix(tmp_path):
    out = payload.build(tmp_path / "p", python_train_chars=300_000)
    full = tokens.load(ensure_prepared(), "python", "train")
    part = tokens.load(out, "python", "train")
    assert np.array_equal(part.tokens, full.prefix(300_000))
    assert np.array_equal(part.prefix(100_000), full.prefix(100_000))
    meta = json.loads((out / "prepare.json").read_text())
    assert meta["payload"]["python_train_chars"] == 300_000
    d = StudyData(out)
    assert d.vocab_size == meta["vocab_size"] and d.array("python", "test").n_tokens > 0
