"""Command line: ``python -m transfer_laws {data,train,sweep,results,fit,bench} ...``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _data(args) -> int:
    from transfer_laws.data import prepare

    if args.data_cmd == "prepare":
        prepare.prepare(args.cache_dir, freeze=args.freeze, tokenizer_vocab=args.vocab, tokenizer=args.tokenizer)
    elif args.data_cmd == "ensure":
        prepare.ensure_prepared(args.cache_dir, tokenizer=args.tokenizer)
    elif args.data_cmd == "where":
        print(prepare.prepared_dir(args.cache_dir, tokenizer=args.tokenizer))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="transfer_laws", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    d = sub.add_parser("data", help="build the corpora and token arrays")
    dsub = d.add_subparsers(dest="data_cmd", required=True)
    for name, help_ in (("prepare", "download, clean, split and encode (checks committed hashes)"),
                        ("ensure", "prepare only if the prepared folder is missing"),
                        ("where", "print the prepared folder")):
        q = dsub.add_parser(name, help=help_)
        q.add_argument("--cache-dir", type=Path, default=None,
                       help="cache root (default: $TRANSFER_LAWS_CACHE or the user cache dir)")
        q.add_argument("--tokenizer", default="main", choices=["main", "text"],
                       help="which committed tokenizer (text: trained on English prose alone, as the paper's)")
        if name == "prepare":
            q.add_argument("--freeze", action="store_true",
                           help="write the manifest and token hashes instead of checking them")
            q.add_argument("--vocab", type=int, default=None, help="with --freeze: retrain the tokenizer")
    d.set_defaults(func=_data)

    from transfer_laws import cli_extra

    cli_extra.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        return 130
    except (ValueError, FileNotFoundError, RuntimeError, KeyError) as exc:
        if getattr(args, "traceback", False):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
