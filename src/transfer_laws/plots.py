"""Altair chart builders and the offline renderers used by the book.

Static charts render to SVG through vl-convert (no JavaScript, no network). Interactive charts
(sliders) are emitted as a div plus a ``vegaEmbed`` call against the bundle that
``transfer_laws.site`` serves from ``_static/vendor`` (no CDN).
"""

from __future__ import annotations

import json
import uuid

import altair as alt
import numpy as np
import pandas as pd


def setup() -> None:
    """Static SVG rendering for every chart shown in a notebook."""
    alt.data_transformers.disable_max_rows()
    alt.renderers.enable("svg")


class Interactive:
    """An interactive chart for the static site: a div and a vegaEmbed call on the local bundle."""

    def __init__(self, chart: alt.TopLevelMixin):
        self.spec = chart.to_dict()

    def _repr_html_(self) -> str:
        div = f"vis-{uuid.uuid4().hex[:12]}"
        return (f'<div id="{div}" class="tl-interactive"></div>\n<script type="text/javascript">\n'
                f'(function(){{ function go(){{ if (window.vegaEmbed) {{ window.vegaEmbed("#{div}", '
                f'{json.dumps(self.spec)}, {{"actions": false}}); }} else {{ setTimeout(go, 50); }} }} go(); }})();\n'
                "</script>")


def log_axis(title: str) -> alt.Scale:
    return alt.Axis(title=title)


def corpus_sizes(stats: pd.DataFrame) -> alt.Chart:
    """Characters per corpus and source (training splits), log scale."""
    df = stats[stats.split == "train"].assign(mchars=lambda d: d.chars / 1e6)
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            y=alt.Y("source:N", sort="-x", title=None),
            x=alt.X("mchars:Q", title="training characters (millions)"),
            color=alt.Color("corpus:N", title="corpus"),
            tooltip=["corpus", "source", "files", "chars", "tokens"],
        )
        .properties(width=420, height=300)
    )


def vocab_choice(table: pd.DataFrame) -> alt.Chart:
    """Bits per character against vocabulary size (log), one line per model size."""
    return (
        alt.Chart(table)
        .mark_line(point=True)
        .encode(
            x=alt.X("vocab_size:Q", scale=alt.Scale(type="log", base=2), title="vocabulary size (log)"),
            y=alt.Y("val_bits_per_char:Q", scale=alt.Scale(zero=False), title="Python validation bits per character"),
            color=alt.Color("size:N", title="model"),
            tooltip=["vocab_size", "size", "steps", "chars_per_token", "val_bits_per_char"],
        )
        .properties(width=380, height=260)
    )


def timelines_interactive(grid: pd.DataFrame) -> alt.Chart:
    """Compute saving against D_E, with sliders for log10 N and log10 (characters per sample) and a
    radio for the constants; the browser filters a precomputed grid (no kernel needed)."""
    log_n = alt.param(name="log10_N", value=14, bind=alt.binding_range(min=11, max=16, step=1, name="log10 N "))
    log_u = alt.param(name="log10_u", value=0, bind=alt.binding_range(min=0, max=4, step=1,
                                                                      name="log10 characters per sample "))
    const = alt.param(name="constants", value="text", bind=alt.binding_radio(options=["text", "mix"], name="constants "))
    return (
        alt.Chart(grid)
        .mark_line(point=True)
        .encode(
            x=alt.X("d_effective:Q", scale=alt.Scale(type="log"), title="D_E: long-horizon samples needed from scratch (log)"),
            y=alt.Y("compute_saving:Q", scale=alt.Scale(type="log"), title="compute saving from transfer (x, log)"),
            tooltip=["d_effective", "compute_saving", "data_saving"],
        )
        .add_params(log_n, log_u, const)
        .transform_filter("datum.log10_n == log10_N && datum.log10_u == log10_u && datum.constants == constants")
        .properties(width=420, height=280)
    )


def crossover_hist(table: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(table.assign(log10_crossover=np.log10(table.crossover_chars)))
        .mark_bar()
        .encode(x=alt.X("log10_crossover:Q", bin=alt.Bin(maxbins=30), title="log10 crossover D_F (characters)"),
                y=alt.Y("count():Q", title="rounding combinations"))
        .properties(width=380, height=200)
    )
