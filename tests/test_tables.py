"""The chapters' table formatter: significant digits, intervals, readable headers, no index."""

import re

import numpy as np
import pandas as pd

from transfer_laws.report.tables import formatted, interval, show, sig


def test_significant_digits_and_missing_values():
    assert [sig(x) for x in (0.447201, 85.2271, 12768, 3e7, 1.3e-5, np.nan, None, True, "text", 0.0)] == \
        ["0.447", "85.2", "12,768", "3e7", "1.30e-5", "–", "–", "yes", "text", "0"]
    assert [sig(x) for x in (1e6, 1.5e7, 100663296, 1240832, 3.0e6 + 0.5)] == ["1e6", "1.5e7", "1.01e8", "1.24e6", "3.00e6"]
    assert sig(1234.5678, 3) == "1,230" and sig(0.0012345, 2) == "0.0012"  # rounded to 3 digits, not to units
    assert sig(24242.7, 2) == "24,000" and sig(24242, 2) == "24,242"  # counts (integers) stay exact


def test_intervals_read_point_and_bounds():
    assert interval(0.447, [0.3751546, 0.70547]) == "0.45 [0.38, 0.71]"
    assert interval(85.2, [21.2287, 255.8016]) == "85 [21, 260]"
    assert interval(0.5, None) == "0.50" and interval(0.5, [np.nan, 1.0]) == "0.50"


def test_table_selects_renames_and_drops_the_index():
    df = pd.DataFrame({"curriculum": ["text", "mix"], "alpha": [0.447201, 0.0344], "ci": [[0.38, 0.71], [-0.001, 0.115]],
                       "n_points": [40, 41], "junk": [1, 2]}, index=[7, 9])
    out = formatted(df, {"curriculum": "curriculum", "α": "α [95%]", "n_points": "points"}, {"α": ("alpha", "ci")})
    assert list(out.columns) == ["curriculum", "α [95%]", "points"]
    assert list(out["α [95%]"]) == ["0.45 [0.38, 0.71]", "0.034 [-0.0010, 0.12]"]
    assert list(out.index) == [0, 1]
    assert "<th" in show(df).to_html() and 'class="row_heading' not in show(df).to_html()


def test_an_interval_breaks_only_before_its_bracket():
    df = pd.DataFrame({"alpha": [0.0644], "ci": [[-0.0481, 0.1912]], "run": ["d9fd21eb79c7a7b2"]})
    html = show(df, {"α": "α [95%]", "run": "run"}, {"α": ("alpha", "ci")}).to_html()
    assert "0.064 [-0.048,\u00a00.19]" in html  # no break inside the bracket
    styles = dict(re.findall(r"#(T_\w+_row0_col\d) \{\s*([^}]*)\}", html))
    assert sorted(v.strip() for v in styles.values()) == ["overflow-wrap: anywhere;", "white-space: normal;"]


def test_prose_wraps_between_words_and_short_values_never():
    from transfer_laws.report.tables import _wrap

    assert _wrap("the hierarchical bootstrap's paired draws") == "white-space: normal;"  # never 'hierarchica-l'
    assert _wrap("n1.2m") == "white-space: nowrap;"
    assert _wrap("d9fd21eb79c7a7b2,3842aefd8162ed18") == "overflow-wrap: anywhere;"


def test_bare_frames_get_readable_headers_and_no_raw_nan():
    from transfer_laws.report.tables import _as_table, header

    assert header("d_train_chars") == "D_F (chars)" and header("text_minus_mix_nats") == "text minus mix (nats)"
    assert header("lower_loss") == "lower loss"
    html = _as_table(pd.DataFrame({"n_params": [12768.0], "gap_nats": [np.nan]}).set_index("n_params"))
    assert "N (non-embedding)" in html and "gap (nats)" in html and "nan" not in html.lower().replace("nan;", "")
