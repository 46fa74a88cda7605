"""One table formatter for every chapter: significant digits, intervals as ``0.45 [0.38, 0.71]``,
readable column names with units, no index column (pandas only).

    show(df, columns={"d_train_chars": "D_F (chars)", "alpha": "α"},
         intervals={"α": ("alpha", "alpha_ci")}, digits=3)
"""

from __future__ import annotations

import math
from numbers import Number

import pandas as pd


def sig(x, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits: plain notation from 1e-3 to 1e6 (thousands
    separated), scientific outside it; integers as integers; '–' for a missing value."""
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
    return (formatted(df, columns, intervals, digits, ci_digits).style.hide(axis="index")
            .set_table_styles([{"selector": "th, td", "props": "padding: 0.15em 0.7em; text-align: left;"}]))


def note(text: str):
    """A sentence as a cell's output (rendered as text, not as a quoted string)."""
    from IPython.display import Markdown

    return Markdown(text)
