"""A self-contained prepared folder small enough to carry to a GPU machine (at most 64 MiB).

``python -m transfer_laws.payload OUT_DIR [--python-train-chars N]`` copies the Python
validation and test arrays whole and the first N characters of the Python training split (an
exact prefix, so every D <= N addresses the same tokens as on the full data), with a
``prepare.json`` that records the hashes of what it holds and the truncation. Point
``TRANSFER_LAWS_PREPARED`` at it on the other machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

from transfer_laws.data import fetch, tokens
from transfer_laws.data.prepare import ensure_prepared


def build(out: Path, python_train_chars: int = 10_000_000, extra: tuple[tuple[str, str], ...] = ()) -> Path:
    src = ensure_prepared()
    meta = json.loads((src / "prepare.json").read_text())
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    hashes = {}
    for corpus, split in (("python", "val"), ("python", "test")) + tuple(extra):
        for kind in ("tokens", "chars"):
            shutil.copy(src / f"{corpus}_{split}.{kind}.npy", tmp / f"{corpus}_{split}.{kind}.npy")
        hashes[f"{corpus}/{split}"] = meta["token_hashes"][f"{corpus}/{split}"]
    train = tokens.load(src, "python", "train")
    n = train.n_tokens_for_chars(python_train_chars)
    path = tokens.save(tmp, "python", "train", np.asarray(train.tokens[:n]), np.asarray(train.cum_chars[:n]))
    hashes["python/train"] = fetch.sha256_file(path)
    (tmp / "prepare.json").write_text(json.dumps({
        "token_hashes": hashes, "vocab_size": meta["vocab_size"],
        "payload": {"python_train_chars": python_train_chars, "python_train_tokens": n,
                    "full_token_hashes": meta["token_hashes"]}}, indent=1) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    size = sum(p.stat().st_size for p in out.iterdir())
    if size > 64 * 2**20:
        raise RuntimeError(f"payload {out} is {size / 2**20:.1f} MiB, over the 64 MiB limit")
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--python-train-chars", type=int, default=10_000_000)
    a = ap.parse_args()
    p = build(a.out, a.python_train_chars)
    print(f"payload {p}: {sum(f.stat().st_size for f in p.iterdir()) / 2**20:.1f} MiB")
