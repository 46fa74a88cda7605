"""Byte-level BPE (Hugging Face ``tokenizers``), trained once on the training splits and committed."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

EOT = "<|endoftext|>"  # separates documents; counts zero characters
DEFAULT_VOCAB_SIZE = 1024  # chosen by bits per character at fixed compute: results/tokenizer_choice.csv, book/02_data.md


def train_tokenizer(texts: Iterable[str], vocab_size: int = DEFAULT_VOCAB_SIZE) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


# name -> (committed file, training splits it is trained on). "main" is the study's (an equal-character
# sample of text, code and Python); "text" is trained on English prose alone, as the paper's GPT-2
# tokenizer was (the tokenizer ablation of issue 17).
TOKENIZERS = {"main": ("tokenizer.json", ("text", "code", "python")), "text": ("tokenizer_text.json", ("text",))}


def tokenizer_file(name: str = "main") -> str:
    if name not in TOKENIZERS:
        raise ValueError(f"unknown tokenizer {name!r} (known: {', '.join(TOKENIZERS)})")
    return TOKENIZERS[name][0]


def default_tokenizer_path() -> Path:
    return Path(str(resources.files("transfer_laws.data") / "frozen" / "tokenizer.json"))


@lru_cache(maxsize=4)
def load_tokenizer(path: str | None = None) -> Tokenizer:
    p = Path(path) if path else default_tokenizer_path()
    if not p.exists():
        raise FileNotFoundError(f"tokenizer {p} not found: run `python -m transfer_laws data train-tokenizer`")
    return Tokenizer.from_file(str(p))


def plain_encoder(tok: Tokenizer) -> Tokenizer:
    """A copy of ``tok`` that never matches special tokens in the input.

    Documents may contain the literal string ``<|endoftext|>`` (tokenizer code does): data are
    encoded as plain bytes, and the end-of-text id is inserted between documents explicitly.
    """
    spec = json.loads(tok.to_str())
    spec["added_tokens"] = []
    return Tokenizer.from_str(json.dumps(spec))


def _byte_decoder() -> dict[str, int]:
    """Inverse of GPT-2's bytes-to-unicode map used by the ByteLevel pre-tokenizer."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def chars_per_token(tok: Tokenizer) -> np.ndarray:
    """For each token id, the number of characters it starts: UTF-8 lead bytes in its bytes.

    Every character is counted exactly once, at the token holding its first byte, so the
    cumulative sum over a token sequence is the exact character count of its decoded prefix
    (up to a character split across tokens, which is counted where it starts).
    """
    dec = _byte_decoder()
    vocab = tok.get_vocab()
    table = np.zeros(len(vocab), dtype=np.int64)
    specials = {t.content for t in tok.get_added_tokens_decoder().values()}
    for piece, idx in vocab.items():
        if piece in specials:
            continue
        raw = bytes(dec[c] for c in piece)
        table[idx] = sum(1 for b in raw if (b & 0xC0) != 0x80)
    return table
