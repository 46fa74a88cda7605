"""One table formatter for every chapter: significant digits, intervals as ``0.45 [0.38, 0.71]``,
readable column names with units, no index column (pandas only).

    show(df, columns={"d_train_chars": "D_F (chars)", "alpha": "α"},
         intervals={"α": ("alpha", "alpha_ci")}, digits=3)
"""

from __future__ import annotations

import math
import re
from numbers import Number

import pandas as pd


def sig(x, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits: plain notation from 1e-3 to 1e6 (thousands
    separated), scientific outside it; integers as integers, round ones from 1e6 up by their exact
    digits (3e6, 1.5e7); '–' for a missing value."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)) or x is pd.NA:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if not isinstance(x, Number):
        return str(x)
    if float(x) == 0:
        return "0"
    if float(x).is_integer() and abs(x) < 1e6:
        return f"{int(x):,}"
    mag = math.floor(math.log10(abs(x)))
    if float(x).is_integer() and float(f"{x:.{digits - 1}e}") == float(x):
        # a round count or size (D = 3e6 characters): its exact digits, not padded zeros (3e6, 1.5e7)
        return f"{x:.{digits - 1}e}".split("e")[0].rstrip("0").rstrip(".") + f"e{mag}"
    if -3 <= mag < 6:
        decimals = max(digits - 1 - mag, 0)
        if decimals == 0:  # large numbers: round to the significant digits too (24,242 -> 24,000 at 2)
            x = round(x, digits - 1 - mag)
        return f"{x:,.{decimals}f}"
    return f"{x:.{digits - 1}e}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


def interval(point, bounds, digits: int = 2) -> str:
    """``point [lo, hi]`` at ``digits`` significant digits; the point alone when bounds are missing."""
    if bounds is None or (isinstance(bounds, float) and not math.isfinite(bounds)) or len(bounds) != 2 \
            or any(b is None or not math.isfinite(float(b)) for b in bounds):
        return sig(point, digits)
    return f"{sig(point, digits)} [{sig(bounds[0], digits)}, {sig(bounds[1], digits)}]"


def formatted(df: pd.DataFrame, columns: dict[str, str] | None = None, intervals: dict | None = None,
              digits: int = 3, ci_digits: int = 2) -> pd.DataFrame:
    """A copy of ``df`` as strings: ``intervals`` maps a new column's name to its (point column,
    bounds column); ``columns`` (source or interval name -> header) selects and renames, in its order."""
    intervals = intervals or {}
    out = df.copy()
    for name, (point, bounds) in intervals.items():
        out[name] = [interval(p, b, ci_digits) for p, b in zip(out[point], out[bounds])]
    if columns:
        out = out[[c for c in columns if c in out.columns]].rename(columns=columns)
    interval_names = {(columns or {}).get(n, n) for n in intervals}
    for c in out.columns:
        if c not in interval_names:
            out[c] = [sig(v, digits) for v in out[c]]
    return out.reset_index(drop=True)


def show(df: pd.DataFrame, columns: dict[str, str] | None = None, intervals: dict | None = None,
         digits: int = 3, ci_digits: int = 2):
    """``formatted`` as a styled table without its index column, for a chapter's cell output."""
    out = formatted(df, columns, intervals, digits, ci_digits)
    # an interval may break only before its bracket (a no-break space after the comma), short values
    # (sizes, numbers) never break, prose breaks between words, and a value with a long unbroken word
    # (lists, ids) may wrap anywhere, so that the table fits its column
    out = out.map(lambda v: v.replace(", ", ",\u00a0") if isinstance(v, str) and INTERVAL.match(v) else v)
    return _styled(out)


def _wrap(value) -> str:
    """A cell's wrapping (see ``show``)."""
    s = str(value)
    if INTERVAL.match(s):
        return "white-space: normal;"
    if len(s) <= LONG_VALUE:
        return "white-space: nowrap;"
    return "overflow-wrap: anywhere;" if max(map(len, s.split())) > LONG_VALUE else "white-space: normal;"


def _styled(out: pd.DataFrame):
    """No index column; wide tables get a smaller font and tighter cells, so that they fit the
    content column."""
    size = "0.78em" if out.shape[1] > 10 else "0.85em" if out.shape[1] > 6 else "1em"
    pad = "0.1em 0.4em" if out.shape[1] > 6 else "0.15em 0.7em"
    return (out.style.hide(axis="index")
            .map(_wrap)
            .set_table_styles([{"selector": "", "props": f"font-size: {size};"},
                               {"selector": "th, td", "props": f"padding: {pad}; text-align: left;"},
                               {"selector": "th", "props": "white-space: normal;"}]))


LONG_VALUE = 12  # characters: a longer value may wrap; one with a word longer than this, inside it
INTERVAL = re.compile(r"^\S+ \[\S+,[ \u00a0]\S+\]$")  # what ``interval`` writes: point [lo, hi]


def note(text: str):
    """A sentence as a cell's output (rendered as text, not as a quoted string)."""
    from IPython.display import Markdown

    return Markdown(text)


# readable headers for the runs table's columns, when a chapter shows a frame bare
HEADERS = {"n_params": "N (non-embedding)", "n_params_total": "N (total)", "d_train_chars": "D_F (chars)",
           "d_effective": "D_E (chars)", "d_transferred": "D_T (chars)", "d_effective_status": "D_E read by",
           "test_loss": "test loss (nats)", "test_loss_se": "SE (nats)", "val_loss": "validation loss (nats)",
           "pretrain_tokens": "pre-training tokens", "pretrain_id": "pre-training run", "lr": "learning rate",
           "flops_full": "FLOPs", "wall_seconds": "wall (s)", "run_seconds": "run (s)", "best_step": "best step",
           "stop_reason": "stop", "multiplier": "D_E / D_F"}


def header(name: str) -> str:
    """A column's readable header: ``HEADERS`` or its words (``text_minus_mix_nats`` ->
    'text minus mix (nats)'), so that headers wrap inside the content column."""
    if name in HEADERS:
        return HEADERS[name]
    words = str(name).split("_")
    unit = {"nats": "(nats)", "chars": "(chars)", "s": "(s)", "seconds": "(s)"}.get(words[-1]) if len(words) > 1 else None
    return " ".join(words[:-1] + [unit]) if unit else " ".join(words)


def _as_table(df: pd.DataFrame) -> str:
    """A DataFrame shown bare in a chapter, through ``show``: a meaningful index becomes columns,
    headers are made readable (``header``)."""
    if not isinstance(df.index, pd.RangeIndex) or any(n is not None for n in df.index.names):
        df = df.reset_index()
    df = df.copy()
    df.columns = [header(" ".join(map(str, c)) if isinstance(c, tuple) else str(c)) for c in df.columns]
    return show(df).to_html()


def install() -> None:
    """Every DataFrame a chapter shows bare is rendered by ``show`` (significant digits, '–' for a
    missing value, no index column, wide tables in a smaller font). A no-op outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is not None:
        ip.display_formatter.formatters["text/html"].for_type(pd.DataFrame, _as_table)
