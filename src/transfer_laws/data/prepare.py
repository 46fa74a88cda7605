"""``data prepare``: sources -> clean documents -> frozen splits -> token arrays, checked for drift.

Committed, frozen outputs (in ``transfer_laws/data/frozen/``):
  manifest.csv        every kept file: corpus, split, order, source, path, group, sha256, chars
  tokenizer.json      the byte-level BPE tokenizer
  token_hashes.json   sha256 of every token array
Generated outputs (in the cache, ``prepared/<key>/``): token arrays, ``stats.csv``,
``contamination.csv``, ``prepare.json``. The folder is written under a temporary name and
renamed at the end, so a half-written preparation is never used.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from transfer_laws.data import clean, contamination, fetch, splits, tokens
from transfer_laws.data.extract import iter_selected
from transfer_laws.data.spec import Source, default_spec_path, load_sources
from transfer_laws.data.tokenizer import (EOT, TOKENIZERS, chars_per_token, load_tokenizer, plain_encoder, tokenizer_file,
                                         train_tokenizer)

MANIFEST_COLUMNS = ["corpus", "split", "order", "source", "path", "group", "sha256", "chars"]
SPLITS = {"python": ("train", "val", "test", "aside"), "text": ("train", "val"), "code": ("train", "val")}


class DriftError(RuntimeError):
    """Prepared data differ from the committed, frozen record."""


def frozen_dir() -> Path:
    return Path(str(resources.files("transfer_laws.data") / "frozen"))


def _sha_bytes(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes() if p.exists() else b"<missing>")
    return h.hexdigest()


def prepared_key(spec_path: Path | None = None, frozen: Path | None = None, tokenizer: str = "main") -> str:
    frozen = frozen or frozen_dir()
    return _sha_bytes(spec_path or default_spec_path(), frozen / tokenizer_file(tokenizer), frozen / "manifest.csv")[:16]


def prepared_dir(cache_root: Path | None = None, spec_path: Path | None = None, frozen: Path | None = None,
                 tokenizer: str = "main") -> Path:
    root = fetch.cache_dir(cache_root)
    return root / "prepared" / prepared_key(spec_path, frozen, tokenizer)


def hashes_file(tokenizer: str = "main") -> str:
    return "token_hashes.json" if tokenizer == "main" else f"token_hashes_{tokenizer}.json"


# ---- documents and manifest ---------------------------------------------------------------

def collect_documents(sources: list[Source], cache_root: Path, log=print) -> tuple[list[clean.Document], pd.DataFrame]:
    """Fetch, extract and clean every source; returns documents and a table of what was dropped."""
    docs, dropped = [], []
    for s in sources:
        t0 = time.perf_counter()
        artifact = fetch.fetch(s, cache_root, log=log)
        stats: dict[str, int] = {}
        got = list(clean.documents(s.name, s.corpus, s.language, s.reader, iter_selected(artifact, s), stats))
        if not got:
            raise RuntimeError(f"source {s.name!r}: no file survived selection and cleaning (check include globs)")
        docs.extend(got)
        dropped.extend({"source": s.name, "reason": k, "files": v} for k, v in stats.items())
        log(f"  [{s.name}] extracted {len(got):,} documents, "
            f"{sum(len(d.text) for d in got) / 1e6:.1f}M chars ({time.perf_counter() - t0:.1f}s)")
    before = len(docs)
    stats = {}
    docs = clean.dedupe_exact(docs, stats)
    text = clean.dedupe_near([d for d in docs if d.corpus == "text"], stats=stats)
    docs = text + [d for d in docs if d.corpus != "text"]
    dropped.extend({"source": "*", "reason": k, "files": v} for k, v in stats.items())
    log(f"  deduplicated: {before:,} -> {len(docs):,} documents")
    return docs, pd.DataFrame(dropped, columns=["source", "reason", "files"])


def build_manifest(docs: list[clean.Document]) -> pd.DataFrame:
    rows = []
    for d in docs:
        sha = d.sha256
        rows.append((d.corpus, splits.split_of(d.group, d.corpus), splits.order_key(sha),
                     d.source, d.path, d.group, sha, len(d.text)))
    m = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    m = m.sort_values(["corpus", "split", "order", "sha256"], kind="stable").reset_index(drop=True)
    m["order"] = m.groupby(["corpus", "split"]).cumcount()
    return m


def check_manifest(manifest: pd.DataFrame, frozen_path: Path) -> None:
    """Fail loudly if the documents differ from the committed manifest."""
    frozen = pd.read_csv(frozen_path, dtype={"sha256": str})
    a = manifest[MANIFEST_COLUMNS].reset_index(drop=True)
    b = frozen[MANIFEST_COLUMNS].reset_index(drop=True)
    if len(a) == len(b) and (a.astype(str).values == b.astype(str).values).all():
        return
    merged = a.merge(b, on=["source", "path"], how="outer", suffixes=("", "_frozen"), indicator=True)
    only_new = merged[merged["_merge"] == "left_only"]
    only_old = merged[merged["_merge"] == "right_only"]
    changed = merged[(merged["_merge"] == "both") & (merged["sha256"] != merged["sha256_frozen"])]
    examples = [f"{r.source}:{r.path}" for r in pd.concat([only_new, only_old, changed]).head(5).itertuples()]
    raise DriftError(
        f"corpus drift: documents differ from the committed manifest {frozen_path} "
        f"({len(only_new)} new, {len(only_old)} missing, {len(changed)} changed; e.g. {examples}). "
        "If the change is intended, re-freeze with `data prepare --freeze`."
    )


def texts_by_split(docs: list[clean.Document], manifest: pd.DataFrame) -> dict[tuple[str, str], list[str]]:
    by_sha = {d.sha256: d.text for d in docs}
    out = {}
    for (corpus, split), g in manifest.groupby(["corpus", "split"], sort=True):
        out[(corpus, split)] = [by_sha[s] for s in g.sort_values("order")["sha256"]]
    return out


# ---- tokenizer ------------------------------------------------------------------------------

def tokenizer_sample(texts: dict[tuple[str, str], list[str]], chars_per_corpus: int,
                     corpora=("text", "code", "python")) -> list[str]:
    """An equal-character sample of the training splits of ``corpora``, in their fixed order."""
    sample = []
    for corpus in corpora:
        budget = chars_per_corpus
        for t in texts[(corpus, "train")]:
            if budget <= 0:
                break
            sample.append(t[:budget])
            budget -= len(sample[-1])
    return sample


# ---- the command ----------------------------------------------------------------------------

def prepare(cache_root: Path | None = None, freeze: bool = False, log=print,
            spec_path: Path | None = None, frozen: Path | None = None,
            tokenizer_vocab: int | None = None, tokenizer_sample_chars: int = 8_000_000, tokenizer: str = "main") -> Path:
    """Build (or verify) the corpora; returns the prepared folder.

    ``freeze=True`` writes the manifest, (re)trains the tokenizer if ``tokenizer_vocab`` is given
    or none exists, and records the token hashes, instead of checking against them. ``tokenizer``
    names a committed tokenizer (``tokenizer.TOKENIZERS``); each has its own prepared folder and
    token hashes. A tokenizer trained on fewer corpora gets the same total sample of characters.
    """
    t_start = time.perf_counter()
    root = fetch.cache_dir(cache_root)
    frozen = Path(frozen) if frozen else frozen_dir()
    spec_path = Path(spec_path) if spec_path else default_spec_path()
    sources = load_sources(spec_path)
    log(f"[1/4] sources: {len(sources)} pinned artifacts (cache {root})")
    docs, dropped = collect_documents(sources, root, log=log)
    t_extract = time.perf_counter()

    log("[2/4] splits and manifest")
    manifest = build_manifest(docs)
    manifest_path = frozen / "manifest.csv"
    if freeze:
        frozen.mkdir(parents=True, exist_ok=True)
        tmp = manifest_path.with_suffix(".tmp")
        manifest.to_csv(tmp, index=False)
        tmp.replace(manifest_path)
    else:
        if not manifest_path.exists():
            raise DriftError(f"no committed manifest at {manifest_path}: run `data prepare --freeze` once")
        check_manifest(manifest, manifest_path)
    texts = texts_by_split(docs, manifest)

    tok_path = frozen / tokenizer_file(tokenizer)
    if freeze and (tokenizer_vocab or not tok_path.exists()):
        log(f"[3/4] training the tokenizer {tokenizer!r} (vocab {tokenizer_vocab or 'default'})")
        corpora = TOKENIZERS[tokenizer][1]
        tok = train_tokenizer(tokenizer_sample(texts, tokenizer_sample_chars * 3 // len(corpora), corpora),
                              **({"vocab_size": tokenizer_vocab} if tokenizer_vocab else {}))
        tok.save(str(tok_path.with_suffix(".tmp")))
        tok_path.with_suffix(".tmp").replace(tok_path)
        load_tokenizer.cache_clear()
    else:
        log("[3/4] tokenizer: committed")
    tok = load_tokenizer(str(tok_path))
    table = chars_per_token(tok)
    eot = tok.token_to_id(EOT)
    encoder = plain_encoder(tok)

    log("[4/4] encoding token arrays")
    final = prepared_dir(root, spec_path, frozen, tokenizer)
    tmpdir = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmpdir, ignore_errors=True)
    tmpdir.mkdir(parents=True)
    hashes, stat_rows = {}, []
    for corpus, split_names in SPLITS.items():
        for split in split_names:
            t0 = time.perf_counter()
            g = manifest[(manifest.corpus == corpus) & (manifest.split == split)].sort_values("order")
            if g.empty:
                shutil.rmtree(tmpdir)
                raise RuntimeError(f"the {corpus}/{split} split is empty: the sources hold too few groups")
            toks, cum = tokens.encode_documents(encoder, texts[(corpus, split)], table, eot)
            if int(cum[-1]) != int(g["chars"].sum()):
                raise RuntimeError(f"{corpus}/{split}: character count mismatch after encoding")
            path = tokens.save(tmpdir, corpus, split, toks, cum)
            hashes[f"{corpus}/{split}"] = fetch.sha256_file(path)
            # per-source token counts: documents are contiguous runs ending in EOT
            ends = np.flatnonzero(toks == eot)
            starts = np.concatenate([[0], ends[:-1] + 1])
            g = g.assign(tokens=(ends - starts + 1))
            for source, gs in g.groupby("source"):
                stat_rows.append({"corpus": corpus, "split": split, "source": source, "files": len(gs),
                                  "chars": int(gs.chars.sum()), "tokens": int(gs.tokens.sum())})
            log(f"  {corpus}/{split}: {len(toks):,} tokens, {int(cum[-1]) / len(toks):.2f} chars/token "
                f"({time.perf_counter() - t0:.1f}s)")

    hashes_path = frozen / hashes_file(tokenizer)
    if freeze:
        hashes_path.write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n")
    else:
        committed = json.loads(hashes_path.read_text()) if hashes_path.exists() else {}
        bad = [k for k in hashes if committed.get(k) != hashes[k]]
        if bad:
            shutil.rmtree(tmpdir)
            raise DriftError(
                f"token arrays differ from the committed hashes in {hashes_path}: {bad}. "
                "Something upstream changed (tokenizers version? sources?); re-freeze only if intended."
            )

    stats = pd.DataFrame(stat_rows)
    stats["chars_per_token"] = stats.chars / stats.tokens
    stats.to_csv(tmpdir / "stats.csv", index=False)
    dropped.to_csv(tmpdir / "dropped.csv", index=False)
    contamination_table(texts).to_csv(tmpdir / "contamination.csv", index=False)
    meta = {"token_hashes": hashes, "seconds_extract": round(t_extract - t_start, 1),
            "seconds_total": round(time.perf_counter() - t_start, 1), "vocab_size": tok.get_vocab_size(),
            "tokenizer": tokenizer}
    (tmpdir / "prepare.json").write_text(json.dumps(meta, indent=1) + "\n")
    if final.exists():
        shutil.rmtree(final)
    tmpdir.rename(final)
    log(f"done in {meta['seconds_total']:.0f}s -> {final}")
    return final


def contamination_table(texts: dict[tuple[str, str], list[str]]) -> pd.DataFrame:
    rows = []
    for corpus in ("text", "code", "python"):
        hit = n = docs_flagged = n_docs = 0
        for (c, _split), docs in texts.items():
            if c != corpus:
                continue
            for t in docs:
                h, k = contamination.python_line_rate(t)
                hit, n = hit + h, n + k
                docs_flagged += contamination.looks_like_python(t)
                n_docs += 1
        rows.append({"corpus": corpus, "lines": n, "python_like_lines": hit, "line_rate": hit / max(n, 1),
                     "documents": n_docs, "python_like_documents": docs_flagged,
                     "document_rate": docs_flagged / max(n_docs, 1)})
    return pd.DataFrame(rows)


def ensure_prepared(cache_root: Path | None = None, log=print, tokenizer: str = "main") -> Path:
    """The prepared folder, running ``prepare`` first if it is missing."""
    d = prepared_dir(cache_root, tokenizer=tokenizer)
    if not (d / "prepare.json").exists():
        prepare(cache_root, log=log, tokenizer=tokenizer)
    return d
