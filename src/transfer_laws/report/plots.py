"""Altair chart builders and the offline renderers used by the book.

Static charts render to SVG through vl-convert (no JavaScript, no network). Interactive charts
(sliders) are emitted as a div plus a ``vegaEmbed`` call against the bundle that
``transfer_laws.report.site`` serves from ``_static/vendor`` (no CDN).
"""

from __future__ import annotations

import json
import uuid

import altair as alt
import numpy as np
import pandas as pd


def setup() -> None:
    """Static SVG rendering for every chart shown in a notebook, and the book's table formatter
    (``tables.install``) for every DataFrame shown bare."""
    from transfer_laws.report import tables

    alt.data_transformers.disable_max_rows()
    alt.renderers.enable("svg")
    tables.install()


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


def _logx(field: str, title: str, fmt: str | None = None) -> alt.X:
    """A log x axis whose crowded labels (2, 3, 20, 30 ... between decades) are thinned, not run
    together; ``fmt``: a d3 format for every label (e.g. ".0e" for FLOPs, so that one axis does not
    mix 10,000,000,000 with 1e+12)."""
    axis = alt.Axis(labelOverlap="greedy", labelSeparation=6, **({"format": fmt} if fmt else {}))
    return alt.X(f"{field}:Q", scale=alt.Scale(type="log"), title=title, axis=axis)


def scratch_curves(runs: pd.DataFrame, fits: dict, loss_column: str = "test_loss") -> alt.LayerChart:
    """From-scratch loss against D (log), one colour per size; lines: the per-N fits E + B D^-b over
    the range each was fitted on."""
    pts = runs[runs.curriculum == "scratch"].assign(size_label=lambda d: d["size"])
    lines = []
    for n, c in fits.items():
        if not c.has_law:
            continue
        lo = max(pts.d_train_chars.min(), c.d_fit_min_chars)
        for d in np.logspace(np.log10(lo), np.log10(pts.d_train_chars.max()), 40):
            lines.append({"n_params": n, "d_train_chars": d, "fit": float(c.tail_loss(d)),
                          "size_label": pts[pts.n_params == n]["size"].iloc[0]})
    color = alt.Color("size_label:N", title="size", sort=sorted(pts["size"].unique(), key=lambda s: pts[pts["size"] == s].n_params.iloc[0]))
    base = alt.Chart(pts).mark_point(filled=True).encode(
        x=_logx("d_train_chars", "D: Python training characters (log)"),
        y=alt.Y(f"{loss_column}:Q", scale=alt.Scale(zero=False), title="test loss (nats/token)"), color=color,
        tooltip=["size", "d_train_chars", loss_column, "stop_reason", "hardware"])
    fit = alt.Chart(pd.DataFrame(lines)).mark_line(strokeDash=[4, 3]).encode(
        x="d_train_chars:Q", y="fit:Q", color=color)
    return (base + fit).properties(width=440, height=300)


def transfer_scatter(table: pd.DataFrame, y: str = "d_transferred", title: str = "D_T: effective data transferred (characters, log)") -> alt.Chart:
    df = table[np.isfinite(table[y]) & (table[y] > 0)]
    return alt.Chart(df).mark_point(filled=True, size=60).encode(
        x=_logx("d_train_chars", "D_F: fine-tuning characters (log)"),
        y=alt.Y(f"{y}:Q", scale=alt.Scale(type="log"), title=title),
        color=alt.Color("size:N", title="size", sort=_size_order(df)), shape=alt.Shape("curriculum:N", title="pre-training"),
        tooltip=["curriculum", "size", "seed", "d_train_chars", "d_effective", "d_effective_status", y],
    ).properties(width=440, height=300)


def ossification(m: pd.DataFrame) -> alt.Chart:
    base = alt.Chart(m).encode(x=_logx("d_train_chars", "D_F: fine-tuning characters (log)"),
                               color=alt.Color("size:N", title="size", sort=_size_order(m)))
    y = alt.Y("finetuned_minus_scratch:Q", title="fine-tuned minus from-scratch loss (nats/token)")
    tip = ["curriculum", "size", "d_train_chars", "finetuned_minus_scratch", "seed_sd"]
    # solid: mix, dashed: text; lines and points as two layers, so that the legend draws the dashes
    lines = base.mark_line().encode(y=y, tooltip=tip, strokeDash=alt.StrokeDash(
        "curriculum:N", title="pre-training", scale=alt.Scale(domain=["mix", "text"], range=[[1, 0], [5, 3]])))
    pts = base.mark_point(filled=True, size=30).encode(y=y, tooltip=tip, detail="curriculum:N")
    zero = alt.Chart(pd.DataFrame({"y": [0.0]})).mark_rule(color="gray").encode(y="y:Q")
    return (lines + pts + zero).properties(width=440, height=300)


def high_data_curves(curves: pd.DataFrame) -> alt.FacetChart:
    """Validation loss against training step (both log) of the runs at each size's largest D_F, one
    panel per size (smallest first, three to a row, each its own loss scale), one colour per
    curriculum: whether the sides still fall at the
    end, and by how much they differ at equal steps. ``curves``: the curves table's rows of those
    runs with ``curriculum`` and ``size``."""
    df = curves[curves.step > 0]
    return alt.Chart(df).mark_line(opacity=0.7).encode(
        x=_logx("step", "training step (log)"),
        y=alt.Y("val_loss:Q", scale=alt.Scale(zero=False), title="validation loss (nats/token)"),
        color=alt.Color("curriculum:N", title="curriculum"), detail="run_id:N",
    ).properties(width=190, height=170).facet(
        facet=alt.Facet("size:N", title=None, sort=_size_order(df)), columns=3
    ).resolve_scale(y="independent")


def rate_check(check: pd.DataFrame) -> alt.LayerChart:
    """The fine-tuning rate check at a large D_F (``experiments.high_data_rate_check``): validation
    loss against the rate (log), one line per curriculum, the check's best rate large; the dashed
    line is training from scratch on the same data for the same steps. Diverged runs are left out
    (their loss is off the scale; the caption names them)."""
    df = check[~check.diverged].assign(times=lambda d: [f"{t:.2g}× held" for t in d.times_held])
    base = alt.Chart(df).encode(
        x=_logx("lr", "fine-tuning learning rate (log)"),
        y=alt.Y("val_loss:Q", scale=alt.Scale(zero=False), title="validation loss (nats/token)"),
        color=alt.Color("curriculum:N", title="pre-training"),
        tooltip=["curriculum", "lr", "times", "val_loss", "steps"])
    lines = base.mark_line(point=alt.OverlayMarkDef(size=40))
    best = base.transform_filter("datum.best").mark_point(size=160, strokeWidth=2, filled=True)
    scratch = check.drop_duplicates(["size", "d_train_chars"])[["scratch_val_loss"]].dropna()
    rule = alt.Chart(scratch).mark_rule(strokeDash=[5, 4], color="black").encode(y="scratch_val_loss:Q")
    label = alt.Chart(scratch.assign(x=float(df.lr.max()) if len(df) else 1.0)).mark_text(
        align="right", dy=-7, fontSize=11).encode(x="x:Q", y="scratch_val_loss:Q", text=alt.value("from scratch"))
    return alt.layer(lines, best, rule, label).properties(width=440, height=280)


def frontier(points: pd.DataFrame, compute_column: str = "flops_full") -> alt.Chart:
    """Loss against training compute, one line per run; evaluations at zero compute (a fine-tune's
    checkpoint at step 0, without its pre-training charged) cannot sit on the log axis and are left
    out (a single one blanked the whole chart)."""
    points = points[points[compute_column] > 0]
    return alt.Chart(points).mark_line(opacity=0.6).encode(
        x=_logx(compute_column, "training compute (FLOPs, log)", fmt=".0e"),
        y=alt.Y("val_loss:Q", scale=alt.Scale(type="log", domain=[float(points.val_loss.min()) * 0.97,
                                                                  float(points.val_loss.max()) * 1.03] if len(points) else None,
                                              nice=False), title="validation loss (nats/token, log)"),
        color=alt.Color("curriculum:N", title="curriculum"), detail="run_id:N",
    ).properties(width=440, height=300)


def pretrain_curves(curves: pd.DataFrame) -> alt.FacetChart:
    long = curves.melt(id_vars=["run_id", "tokens", "curriculum", "size"], value_vars=["val_loss", "zero_shot_loss"],
                       var_name="loss", value_name="nats")
    long["loss"] = long["loss"].map({"val_loss": "own validation", "zero_shot_loss": "zero-shot Python test"})
    long = long[long.tokens > 0]  # step 0 (no token seen yet) has no place on the log axis
    # three panels a row: six in one row came out too small to read in the content column
    base = alt.Chart().encode(
        x=_logx("tokens", "pre-training tokens (log)"),
        y=alt.Y("nats:Q", title="loss (nats/token)", scale=alt.Scale(zero=False)),
        color=alt.Color("curriculum:N", title="pre-training"), detail="run_id:N")
    # lines and points as two layers, so that the legend draws each evaluation as its dash pattern
    lines = base.mark_line().encode(strokeDash=alt.StrokeDash("loss:N", title="evaluated on"), detail="run_id:N")
    pts = base.mark_point(filled=True, size=20).encode(detail=["run_id:N", "loss:N"])
    return alt.layer(lines, pts, data=long).properties(width=190, height=170).facet(
        facet=alt.Facet("size:N", title=None, sort=_size_order(long)), columns=3)


def experiment_transfer(table: pd.DataFrame, group: str, group_title: str) -> alt.LayerChart:
    """D_T against D_F (both log), one line per value of ``group`` (a pre-training variant)."""
    df = table[np.isfinite(table.d_transferred) & (table.d_transferred > 0)].assign(
        group_label=lambda d: d[group].astype(str))
    base = alt.Chart(df).encode(
        x=_logx("d_train_chars", "D_F: fine-tuning characters (log)"),
        y=alt.Y("d_transferred:Q", scale=alt.Scale(type="log"), title="D_T: effective data transferred (characters, log)"),
        color=alt.Color("group_label:N", title=group_title),
        tooltip=[group, "d_train_chars", "test_loss", "d_effective", "d_effective_status", "d_transferred"])
    return (base.mark_line() + base.mark_point(filled=True, size=60)).properties(width=420, height=280)


def experiment_loss(table: pd.DataFrame, group: str, group_title: str) -> alt.LayerChart:
    """The fine-tuned test loss against D_F (log), one line per value of ``group`` (a pre-training
    variant): defined at every D_F, where D_T is not (it is positive only where pre-training helps)."""
    df = table.groupby([group, "d_train_chars"], as_index=False).test_loss.mean().assign(
        group_label=lambda d: d[group].astype(str))
    base = alt.Chart(df).encode(
        x=_logx("d_train_chars", "D_F: fine-tuning characters (log)"),
        y=alt.Y("test_loss:Q", scale=alt.Scale(zero=False), title="fine-tuned test loss (nats/token)"),
        color=alt.Color("group_label:N", title=group_title),
        tooltip=[group, "d_train_chars", "test_loss"])
    return (base.mark_line() + base.mark_point(filled=True, size=60)).properties(width=420, height=280)


def transfer_cells(cells: pd.DataFrame) -> alt.FacetChart:
    """Does pre-training lower the loss at all? Fine-tuned minus from-scratch test loss at equal D_F
    (``claims.transfer_cells``, with a ``size`` column) against D_F (log), with ±1.96 standard errors,
    one panel per pre-training curriculum, one colour per size; filled: beyond noise (Holm), hollow:
    not; below the grey line pre-training helped."""
    if not len(cells):  # say so in the figure's place (the first grid has one seed a cell)
        return alt.Chart(pd.DataFrame({"t": ["no cell has three runs a side with per-window test losses"]})).mark_text(
            size=14).encode(text="t:N").properties(width=440, height=60)
    df = cells.assign(lo=cells.finetuned_minus_scratch - 1.96 * cells.se,
                      hi=cells.finetuned_minus_scratch + 1.96 * cells.se,
                      beyond_noise=cells.outcome != "no difference")
    color = alt.Color("size:N", title="size", sort=_size_order(df))
    x = _logx("d_train_chars", "D_F: fine-tuning characters (log)")
    base = alt.Chart().encode(x=x, color=color)  # data on the layer: each panel filters it
    bars = base.mark_rule().encode(y=alt.Y("lo:Q", title="fine-tuned minus from-scratch test loss (nats/token)"),
                                   y2="hi:Q")
    pts = base.mark_point(size=60).encode(
        y="finetuned_minus_scratch:Q",
        fill=alt.condition("datum.beyond_noise", alt.Color("size:N", sort=_size_order(df), legend=None),
                           alt.value("white")),
        tooltip=["curriculum:N", "size:N", "d_train_chars:Q", "finetuned_minus_scratch:Q", "se:Q", "n_finetuned:Q",
                 "n_scratch:Q", "p_holm:Q", "outcome:N"])
    zero = alt.Chart().mark_rule(color="gray", strokeDash=[3, 3]).encode(y=alt.datum(0))
    return alt.layer(bars, pts, zero, data=df).properties(width=300, height=260).facet(
        column=alt.Column("curriculum:N", title="pre-trained on", sort=["text", "mix"]))


def tokenizer_ablation(table: pd.DataFrame) -> alt.LayerChart:
    """``experiments.tokenizer_ablation``: the median multiplier D_E / D_F against D_F (both log), one
    colour per tokenizer, one dash per size; a grey line at 1 (no gain)."""
    if table is None or not len(table):
        return alt.Chart(pd.DataFrame({"t": ["no text fine-tunes with another tokenizer in these runs"]})).mark_text(
            size=14).encode(text="t:N").properties(width=440, height=60)
    df = table[np.isfinite(table.multiplier) & (table.multiplier > 0)]
    base = alt.Chart(df).encode(
        x=_logx("d_train_chars", "D_F: fine-tuning characters (log)"),
        y=alt.Y("multiplier:Q", scale=alt.Scale(type="log"), title="median multiplier D_E / D_F (log)"),
        color=alt.Color("tokenizer:N", title="tokenizer"), detail="size:N",
        tooltip=["size:N", "tokenizer:N", "d_train_chars:Q", "finetunes:Q", "multiplier:Q"])
    one = alt.Chart(pd.DataFrame({"y": [1.0]})).mark_rule(color="gray", strokeDash=[3, 3]).encode(y="y:Q")
    return (base.mark_line(point=True) + one).properties(width=420, height=260)


def high_data_gap(table: pd.DataFrame, cells: pd.DataFrame | None = None) -> alt.LayerChart:
    """Text-minus-mix fine-tuned loss against D_F (log), one line per size; above zero the mix is better.
    ``cells`` (``claims.text_against_mix``): 95% bars where a cell was tested with its seeds' spread."""
    sizes = list(dict.fromkeys(table.sort_values("n_params")["size"]))
    color = alt.Color("size:N", title="size", sort=sizes)
    x = _logx("d_train_chars", "D_F: fine-tuning characters (log)")
    base = alt.Chart(table).encode(
        x=x, y=alt.Y("text_minus_mix_nats:Q", title="text minus mix fine-tuned test loss (nats/token)"), color=color,
        tooltip=["size", "d_train_chars", "text", "mix", "scratch", "text_minus_mix_nats"])
    zero = alt.Chart(pd.DataFrame({"y": [0.0]})).mark_rule(strokeDash=[3, 3], color="gray").encode(y="y:Q")
    layers = [base.mark_line(point=True), zero]
    if cells is not None and len(cells):
        from transfer_laws.analysis.study import size_names

        names = size_names(table)
        bars = cells.assign(size=cells.n_params.map(names), lo=cells.text_minus_mix - 1.96 * cells.se,
                            hi=cells.text_minus_mix + 1.96 * cells.se).dropna(subset=["size"])
        layers.append(alt.Chart(bars).mark_rule().encode(x=x, y="lo:Q", y2="hi:Q", color=color))
    return alt.layer(*layers).properties(width=420, height=260)


def effective_data_picture(runs: pd.DataFrame, table: pd.DataFrame, size: str) -> alt.LayerChart:
    """The paper's Figure 1 for one size: the from-scratch loss against D (line), each fine-tune at
    its D_F (points), and a horizontal segment from D_F to D_E at the fine-tuned loss: D_T is that gap."""
    from transfer_laws.analysis.scratch import scratch_curves

    own = runs[(runs.curriculum == "scratch") & (runs["size"] == size)]
    curve = next(iter(scratch_curves(own).values()))  # the one curve D_E was read from
    grid = np.logspace(np.log10(own.d_train_chars.min()), np.log10(own.d_train_chars.max()), 80)
    sc = pd.DataFrame({"d_train_chars": grid, "test_loss": curve.loss(grid)})
    measured = own.groupby("d_train_chars", as_index=False).test_loss.mean()
    ft = table[(table["size"] == size) & np.isfinite(table.d_effective)]
    ft = ft.groupby(["curriculum", "d_train_chars"], as_index=False).agg(test_loss=("test_loss", "mean"),
                                                                        d_effective=("d_effective", "mean"))
    x = _logx("d_train_chars", "D: Python training characters (log)")
    y = alt.Y("test_loss:Q", scale=alt.Scale(zero=False), title="test loss (nats/token)")
    line = alt.Chart(sc.assign(curve="from scratch")).mark_line(color="black").encode(x=x, y=y)
    line = line + alt.Chart(measured).mark_point(color="black").encode(
        x="d_train_chars:Q", y="test_loss:Q", tooltip=["d_train_chars", "test_loss"])
    seg = alt.Chart(ft).mark_rule(strokeDash=[4, 3]).encode(
        x="d_train_chars:Q", x2="d_effective:Q", y="test_loss:Q", color=alt.Color("curriculum:N", title="pre-training"))
    pts = alt.Chart(ft).mark_point(filled=True, size=70).encode(
        x="d_train_chars:Q", y="test_loss:Q", color="curriculum:N",
        tooltip=["curriculum", "d_train_chars", "test_loss", "d_effective"])
    return (line + seg + pts).properties(width=440, height=300)


def fraction_from_transfer(table: pd.DataFrame) -> alt.Chart:
    """The fraction of the effective data that pre-training contributed, D_T / D_E, against D_F."""
    df = table[np.isfinite(table.fraction_from_transfer)]
    df = df.groupby(["curriculum", "size", "n_params", "d_train_chars"], as_index=False).fraction_from_transfer.mean()
    base = alt.Chart(df).encode(
        x=_logx("d_train_chars", "D_F: fine-tuning characters (log)"),
        y=alt.Y("fraction_from_transfer:Q", title="fraction of effective data from transfer, D_T / D_E"),
        color=alt.Color("size:N", title="size", sort=list(dict.fromkeys(df.sort_values("n_params")["size"]))),
        tooltip=["curriculum", "size", "d_train_chars", "fraction_from_transfer"],
    )
    # lines and points as two layers, so that the legend draws each pre-training as its dash pattern
    lines = base.mark_line().encode(strokeDash=alt.StrokeDash("curriculum:N", title="pre-training"),
                                    detail="curriculum:N")
    return alt.layer(lines, base.mark_point(filled=True, size=30), data=df).properties(width=440, height=280)


def _size_order(df: pd.DataFrame) -> list[str]:
    """The sizes in ``df`` smallest first (by N where the frame has it, else by the ladder)."""
    if "n_params" in df:
        return list(dict.fromkeys(df.sort_values("n_params")["size"]))
    from transfer_laws.train.config import LADDER

    rank = {name: i for i, name in enumerate(LADDER)}
    return sorted(df["size"].unique(), key=lambda s: rank.get(s, len(rank)))


def headline(table: pd.DataFrame, laws_by_curriculum: dict, paper: dict) -> alt.HConcatChart:
    """The book's headline figure: D_T against D_F (both log) for each pre-training curriculum, one
    colour per size. Filled points enter the fit (low-data, off the flat head, D_T > 0), hollow ones
    do not; solid lines: the fitted law D_T = k D_F^alpha N^beta at each size's N; dashed lines: the
    paper's law (``paper``: curriculum -> TransferLaw) at the same N."""
    df = table[np.isfinite(table.d_transferred) & (table.d_transferred > 0)].copy()
    from transfer_laws.analysis.fitting import in_regime

    df["in fit"] = np.where(in_regime(df), "in the fit", "outside the low-data regime or flat")
    order = _size_order(table)
    color = alt.Color("size:N", title="size", sort=order)
    panels = []
    for cur in [c for c in ("text", "mix") if c in set(df.curriculum)]:
        d = df[df.curriculum == cur]
        lines = []
        lo, hi = table.d_train_chars.min(), table.d_train_chars.max()
        for n, size in table.groupby("n_params")["size"].first().items():
            for dF in np.logspace(np.log10(lo), np.log10(hi), 20):
                for who, law in (("fitted here", laws_by_curriculum.get(cur)), ("paper, Table 1", paper.get(cur))):
                    if law is not None:
                        lines.append({"size": size, "n_params": n, "d_train_chars": dF, "law": who,
                                      "d_transferred": float(law.d_transferred(dF, n))})
        x = _logx("d_train_chars", "D_F: fine-tuning characters (log)")
        y = alt.Y("d_transferred:Q", scale=alt.Scale(type="log"), title="D_T: effective data transferred (characters)")
        pts = alt.Chart(d).mark_point(size=55).encode(
            x=x, y=y, color=color,
            fill=alt.condition(alt.datum["in fit"] == "in the fit", alt.Color("size:N", sort=order, legend=None),
                               alt.value("white")),
            # filled against hollow is the caption's to say: a shape legend here drew its symbols blank
            # (white fill, no stroke: the stroke comes from the size colour, not from this channel)
            shape=alt.Shape("in fit:N", legend=None),
            tooltip=["size", "seed", "d_train_chars", "d_effective", "d_transferred", "in fit"])
        ln = alt.Chart(pd.DataFrame(lines)).mark_line(opacity=0.8).encode(
            x="d_train_chars:Q", y="d_transferred:Q", color=color, detail="size:N",
            strokeDash=alt.StrokeDash("law:N", title="law", sort=["fitted here", "paper, Table 1"]))
        panels.append((ln + pts).properties(width=290, height=280, title=f"pre-trained on {cur}"))
    return alt.hconcat(*panels).resolve_scale(y="shared").configure_legend(orient="bottom", columns=4)


def forest(rows: pd.DataFrame) -> alt.FacetChart:
    """A forest plot: one row per (quantity, estimate) with its point and 95% interval; ``rows`` has
    quantity, estimate (e.g. 'text, loss method' or 'paper, Table 1'), value, lo, hi (NaN: no interval)."""
    base = alt.Chart(rows).encode(y=alt.Y("estimate:N", title=None, sort=list(dict.fromkeys(rows.estimate))))
    bars = base.mark_rule(strokeWidth=2).encode(x=alt.X("lo:Q", title=None, scale=alt.Scale(zero=False)), x2="hi:Q",
                                                color=alt.Color("source:N", title=None))
    pts = base.mark_point(filled=True, size=60).encode(x="value:Q", color="source:N",
                                                       tooltip=["quantity", "estimate", "value", "lo", "hi"])
    return (bars + pts).properties(width=190, height=alt.Step(18)).facet(
        column=alt.Column("quantity:N", title=None, sort=list(dict.fromkeys(rows.quantity)))
    ).resolve_scale(x="independent").configure_legend(orient="bottom")


def tornado(sens: pd.DataFrame, base_saving: float, labels: dict | None = None) -> alt.LayerChart:
    """The timelines sensitivity as a tornado chart: per assumption, the range of the compute saving
    as it moves alone over its range (log x), longest bar on top; the rule marks the base case."""
    g = sens[sens.assumption != "constants"].groupby("assumption").compute_saving.agg(["min", "max"]).reset_index()
    g["span"] = np.log10(g["max"] / g["min"])
    g["label"] = [(labels or {}).get(a, a) for a in g.assumption]
    order = list(g.sort_values("span", ascending=False).label)
    bars = alt.Chart(g).mark_bar(height=14).encode(
        y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=320)),
        x=alt.X("min:Q", scale=alt.Scale(type="log"), title="compute saving: from scratch / with transfer (log)"),
        x2="max:Q", tooltip=["label", "min", "max"])
    rule = alt.Chart(pd.DataFrame({"x": [base_saving]})).mark_rule(color="black", strokeDash=[4, 3]).encode(x="x:Q")
    return (bars + rule).properties(width=380, height=alt.Step(24))


def lr_sweeps(cells: pd.DataFrame, loss_unit: str = "nats/token", d_title: str = "D (chars)",
              d_label=None) -> alt.FacetChart:
    """Learning-rate sweeps (``tuning.lr_sweeps``): validation loss above the cell's best against the
    rate (log), one line per cell (size, D and batch), one panel per kind of run, so that every cell's
    curvature shows on one scale; the best rate of each cell is the large point, hollow where it sits at
    an edge of the rates tried (not bracketed). ``d_label`` (a cell -> its D as text) relabels D (a
    downstream task's examples)."""
    rows = []
    for c in cells.itertuples():
        kind = "pre-training" if c.phase == "pretrain" else ("from scratch" if c.curriculum == "scratch"
                                                              else f"fine-tuning ({c.curriculum})")
        d = "pre-training" if c.phase == "pretrain" else (d_label(c) if d_label else f"{c.d_train_chars:.0e}")
        batch = getattr(c, "batch_size_used", None)
        cell = f"{c.size}, D {d}" + (f", batch {int(batch)}" if batch == batch and batch else "")
        for lr, loss in zip(c.lrs, c.losses):
            rows.append({"kind": kind, "cell": cell, "D": d, "d_order": np.inf if c.phase == "pretrain" else
                         float(c.d_train_chars), "size": c.size, "n_params": c.n_params, "lr": lr,
                         "val_loss": loss, "above_best": loss - c.best_loss, "best": bool(lr == c.best_lr),
                         "bracketed": bool(c.bracketed)})
    df = pd.DataFrame(rows)
    color = alt.Color("size:N", title="size", sort=_size_order(df))
    base = alt.Chart().encode(
        x=_logx("lr", "learning rate (log)"),
        y=alt.Y("above_best:Q", title=f"validation loss above the cell's best ({loss_unit})"),
        color=color, detail="cell:N", tooltip=["kind", "cell", "lr", "val_loss", "bracketed"])
    # lines and points as separate layers, so that the legend draws each D as its dash pattern
    d_sort = list(dict.fromkeys(df.sort_values("d_order")["D"]))  # smallest D first, pre-training last
    lines = base.mark_line().encode(strokeDash=alt.StrokeDash("D:N", title=d_title, sort=d_sort))
    pts = base.mark_point(filled=True, size=25)
    best = base.transform_filter("datum.best").mark_point(size=140, strokeWidth=2).encode(
        fill=alt.condition("datum.bracketed", alt.Color("size:N", sort=_size_order(df), legend=None),
                           alt.value("white")))
    return alt.layer(lines, pts, best, data=df).properties(width=280, height=190).facet(
        facet=alt.Facet("kind:N", title=None), columns=2).resolve_scale(y="independent", x="independent")


def rate_rules(priced: pd.DataFrame, rules: dict) -> alt.FacetChart:
    """The fitted learning-rate rules against the sweeps they were fitted to (``tuning.price_rules``):
    each cell's optimum (the parabola's vertex) against D (log-log), one colour per size, hollow where
    the cell's best rate sits at an edge; lines: the rule at each size over the D range swept; one
    panel per kind of run (D-free rules, pre-training, are left out)."""
    names = {"scratch": "from scratch", "finetune-text": "fine-tuning (text)", "finetune-mix": "fine-tuning (mix)"}
    pts = priced[priced.kind.isin([k for k in names if k in rules and rules[k].uses_d])].copy()
    pts["panel"] = pts.kind.map(names)
    lines = []
    for (kind, size), g in pts.groupby(["kind", "size"]):
        d = np.logspace(np.log10(g.d_train_chars.astype(float).min()), np.log10(g.d_train_chars.astype(float).max()), 20)
        n = float(g.n_params.iloc[0])
        lines += [{"panel": names[kind], "size": size, "d_train_chars": x, "lr_rule": rules[kind].exact(n, x)} for x in d]
    lines = pd.DataFrame(lines)
    order = _size_order(pts)
    color = alt.Color("size:N", title="size", sort=order)
    x = _logx("d_train_chars", "D (characters, log)")
    y = alt.Y("lr:Q", scale=alt.Scale(type="log"), title="learning rate (log)")
    data = pd.concat([pts.assign(lr=pts.lr_opt, layer="cell"), lines.assign(lr=lines.lr_rule, layer="rule")],
                     ignore_index=True)
    rule = alt.Chart().transform_filter("datum.layer == 'rule'").mark_line(strokeWidth=1.5).encode(
        x=x, y=y, color=color, detail="size:N")
    dots = alt.Chart().transform_filter("datum.layer == 'cell'").mark_point(size=70, strokeWidth=2).encode(
        x=x, y=y, color=color,
        fill=alt.condition("datum.bracketed", alt.Color("size:N", sort=order, legend=None), alt.value("white")),
        tooltip=["kind", "experiment", "size", "d_train_chars", "best_lr", "lr_opt", "lr_rule", "cost_nats"])
    return alt.layer(rule, dots, data=data).properties(width=250, height=200).facet(
        facet=alt.Facet("panel:N", title=None), columns=3)


def horizon_branches(table: pd.DataFrame) -> alt.FacetChart:
    """From-scratch horizon branches (``experiments.horizon_branches``): test loss against the branch's
    epoch cap (log), one line per size, one panel per D; filled: the family's best branch; the
    dashed rule: the cosine run at the rate sweeps' horizon (50 epochs, at least 4,000 steps)."""
    df = table.assign(D=table.d_train_chars.map(lambda d: f"D = {d:.0e} characters"))
    base = alt.Chart().encode(
        x=_logx("max_epochs", "branch horizon (epochs over D, log)"),
        y=alt.Y("test_loss:Q", scale=alt.Scale(zero=False), title="test loss (nats/token)"),
        color=alt.Color("size:N", title="size", sort=_size_order(df)),
        tooltip=["size", "d_train_chars", "lr", "max_epochs", "best_step", "test_loss", "refused"])
    pts = base.mark_line(point=False) + base.mark_point(size=80).encode(
        fill=alt.condition("datum.family_best", alt.Color("size:N", sort=_size_order(df), legend=None),
                           alt.value("white")))
    ref = alt.Chart().mark_rule(strokeDash=[4, 3]).encode(
        y="cosine_test_loss:Q", color=alt.Color("size:N", sort=_size_order(df)))
    return alt.layer(pts, ref, data=df).properties(width=300, height=220).facet(
        facet=alt.Facet("D:N", title=None), columns=2).resolve_scale(y="independent")


def fraction_against_n(table: pd.DataFrame) -> alt.FacetChart:
    """The paper's Figure 4 view: the fraction of effective data from transfer, D_T / D_E, against N
    (log), one line per D_F, one panel per pre-training curriculum (means over seeds)."""
    df = table[np.isfinite(table.fraction_from_transfer)]
    df = df.groupby(["curriculum", "size", "n_params", "d_train_chars"], as_index=False).fraction_from_transfer.mean()
    df["D_F"] = df.d_train_chars.map(lambda d: f"{d:.0e}")
    order = [f"{d:.0e}" for d in sorted(df.d_train_chars.unique())]
    x = _logx("n_params", "N: non-embedding parameters (log)")
    x.scale = alt.Scale(type="log", domain=[float(df.n_params.min()), float(df.n_params.max())], nice=False)
    return alt.Chart(df).mark_line(point=True).encode(
        x=x, y=alt.Y("fraction_from_transfer:Q", title="D_T / D_E"),
        color=alt.Color("D_F:N", title="D_F (chars)", sort=order, scale=alt.Scale(scheme="viridis")),
        tooltip=["curriculum", "size", "d_train_chars", "fraction_from_transfer"],
    ).properties(width=300, height=240).facet(column=alt.Column("curriculum:N", title="pre-trained on"))


def task_curves(cells: pd.DataFrame, chance_nats: float) -> alt.LayerChart:
    """A downstream task's test loss (nats/example) against its training examples (log), one panel
    per size, one line per curriculum, each run's cell mean with its seed spread as an error bar
    where it has several runs; the dashed line is chance (the uniform prediction)."""
    df = cells.assign(lo=cells.loss - cells.loss_sd.fillna(0), hi=cells.loss + cells.loss_sd.fillna(0),
                      chance=chance_nats)
    sizes = list(dict.fromkeys(df.sort_values("n_params")["size"]))
    base = alt.Chart().encode(
        x=_logx("d_train_examples", "task training examples (log)"),
        color=alt.Color("curriculum:N", title="pre-training", sort=["scratch", "text", "mix"]))
    title = "test loss (nats/example)"  # on every layer, so that the shared axis has one title
    line = base.mark_line(point=True).encode(
        y=alt.Y("loss:Q", scale=alt.Scale(zero=False, padding=10), title=title),
        tooltip=["curriculum", "size", "d_train_examples", "loss", "loss_sd", "accuracy", "runs"])
    bars = base.mark_errorbar().encode(y=alt.Y("lo:Q", title=title), y2="hi:Q")
    chance = alt.Chart().mark_rule(strokeDash=[4, 3], color="gray").encode(y=alt.Y("mean(chance):Q", title=title))
    return alt.layer(line, bars, chance, data=df).properties(width=300, height=260).facet(
        column=alt.Column("size:N", title=None, sort=sizes))


def pretrain_budgets(budgets: pd.DataFrame) -> alt.LayerChart:
    """Pre-training tokens against model size (both log), one colour per recipe, one shape per
    curriculum: a rule that grows with N (the first grid) against budgets fixed across sizes."""
    sizes = alt.X("n_params:Q", title="N: non-embedding parameters (log)",
                  scale=alt.Scale(type="log", domain=[float(budgets.n_params.min()), float(budgets.n_params.max())],
                                  nice=False))
    base = alt.Chart(budgets).encode(
        x=sizes, y=alt.Y("tokens:Q", scale=alt.Scale(type="log"), title="pre-training tokens (log)"),
        color=alt.Color("recipe:N", title="recipe"), shape=alt.Shape("curriculum:N", title="pre-training"),
        detail="budget:N", tooltip=["recipe", "curriculum", "size", "tokens", "budget"])
    return (base.mark_line(opacity=0.5) + base.mark_point(filled=True, size=70)).properties(width=440, height=280)
