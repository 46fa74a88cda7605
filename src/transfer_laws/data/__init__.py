"""Corpora: pinned sources, download, extraction, cleaning, splits, tokenizer and token arrays.

Data preparation knows nothing about models or training.
"""
