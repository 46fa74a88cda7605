"""Choosing the tokenizer's vocabulary: bits per character at a fixed training compute.

For each candidate vocabulary a BPE tokenizer is trained on the same equal-character sample of
the three training splits; models of two sizes are trained from scratch on the same Python
characters for the same FLOPs (counting the embedding and output layer, which dominate small
models with large vocabularies), and evaluated in bits per character on the Python validation
split. Run: ``python -m transfer_laws vocab-study results/tokenizer_choice.csv [512,1024,...]``.
"""

from __future__ import annotations

import time
from pathlib import Path

import lightning as L
import pandas as pd
import torch

from transfer_laws.data import prepare, tokens
from transfer_laws.data.report import chosen_vocab  # noqa: F401  (the study reports its choice)
from transfer_laws.data.spec import load_sources
from transfer_laws.data.tokenizer import EOT, chars_per_token, plain_encoder, train_tokenizer
from transfer_laws.train.model import GPT, GPTConfig, flops_per_token
from transfer_laws.train.loop import EvalSet, LitGPT, WindowStream, evaluate, make_trainer

VOCABS = (1024, 4096, 16384)
SIZES = ("n100k", "n336k")
FLOPS_BUDGET = 4e12  # per run, "full" count (6N + output layer + attention) x tokens
TRAIN_CHARS = 4_000_000  # Python training characters (a prefix of the fixed order)
BATCH, N_CTX = 32, 128


def run(out: Path, vocabs=VOCABS, log=print) -> pd.DataFrame:
    root = prepare.fetch.cache_dir()
    docs, _ = prepare.collect_documents(load_sources(), root, log=lambda *_: None)
    manifest = prepare.build_manifest(docs)
    texts = prepare.texts_by_split(docs, manifest)
    sample = prepare.tokenizer_sample(texts, 8_000_000)
    train_docs, budget = [], TRAIN_CHARS
    for t in texts[("python", "train")]:
        if budget <= 0:
            break
        train_docs.append(t[:budget])
        budget -= len(train_docs[-1])
    rows = []
    for vocab in vocabs:
        t0 = time.perf_counter()
        tok = train_tokenizer(sample, vocab)
        enc, table, eot = plain_encoder(tok), chars_per_token(tok), tok.token_to_id(EOT)
        tr_tokens, tr_cum = tokens.encode_documents(enc, train_docs, table, eot)
        va_tokens, va_cum = tokens.encode_documents(enc, texts[("python", "val")], table, eot)
        val = EvalSet.from_array(tokens.TokenArray("python", "val", va_tokens, va_cum), 128, N_CTX)
        log(f"vocab {vocab}: tokenizer + encoding {time.perf_counter() - t0:.0f}s, "
            f"{tr_cum[-1] / len(tr_tokens):.2f} chars/token")
        for size in SIZES:
            cfg = GPTConfig.from_name(size, vocab_size=vocab, n_ctx=N_CTX)
            fpt = flops_per_token(cfg)["full"]
            steps = int(FLOPS_BUDGET / fpt / (BATCH * N_CTX))
            L.seed_everything(0, verbose=False)
            model = GPT(cfg)
            from transfer_laws.train.hparams import learning_rate

            lit = LitGPT(model, learning_rate(size, "target", "scratch"), steps, max(1, steps // 20), 0.1)
            loader = torch.utils.data.DataLoader(WindowStream([tr_tokens], [1.0], BATCH, N_CTX, seed=1), batch_size=None)
            t1 = time.perf_counter()
            make_trainer("cpu", steps).fit(lit, loader)
            ev = evaluate(model, val)
            rows.append({"vocab_size": vocab, "size": size, "n_params": cfg.n_params(),
                         "n_params_total": cfg.n_params(False), "flops_per_token": fpt, "steps": steps,
                         "tokens": steps * BATCH * N_CTX, "chars_per_token": float(tr_cum[-1] / len(tr_tokens)),
                         "chars_seen": steps * BATCH * N_CTX * float(tr_cum[-1] / len(tr_tokens)),
                         "val_bits_per_char": ev["bits_per_char"], "val_loss_nats": ev["loss"],
                         "seconds": round(time.perf_counter() - t1, 1)})
            log(rows[-1])
    df = pd.DataFrame(rows).assign(flops_budget=FLOPS_BUDGET)
    if out.exists():  # add to earlier measurements (other vocabularies)
        old = pd.read_csv(out)
        if "flops_budget" not in old:
            old["flops_budget"] = FLOPS_BUDGET  # first measurements, before the column existed
        df = pd.concat([old[~old.vocab_size.isin(df.vocab_size)], df]).sort_values(["vocab_size", "size"])
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    return df
