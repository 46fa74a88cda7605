"""The browser test: its parsers (fast) and a real headless-Chromium run over a tiny site (slow)."""

import shutil

import pytest

from transfer_laws.report import browser

LOG = '''[1:1:1127/184714.183407:INFO:CONSOLE:62] "Uncaught SyntaxError: Identifier 'X' has already been declared", source: http://127.0.0.1:1/book/a.html (62)
[1:1:1127/184714.586946:INFO:CONSOLE:1] "[PST]: Changed to auto mode using the light theme.", source: http://127.0.0.1:1/_static/t.js (1)
[1:1:1127/184714.617269:INFO:CONSOLE:13] "[togglebutton]: Adding toggle buttons to 0 items", source: http://127.0.0.1:1/_static/tb.js (13)
[2:2:1127/184713.591038:ERROR:dbus/bus.cc:405] Failed to connect to the bus
'''


def test_console_errors_are_found_and_theme_chatter_is_not():
    problems = browser._console_problems(LOG)
    assert len(problems) == 1 and "Uncaught SyntaxError" in problems[0]


def test_chart_scan_sees_rendered_and_empty_containers():
    scan = browser._ChartScan()
    scan.feed('<div><div id="a" class="tl-interactive vega-embed"><details></details><svg><g><path d="M0 0"/></g>'
              '</svg></div><div id="b" class="tl-interactive"></div><svg></svg></div>')
    assert scan.containers == [{"id": "a", "rendered": True}, {"id": "b", "rendered": False}]


def test_static_chart_images_are_the_svg_imgs():
    assert browser._static_chart_images('<img alt="x" src="../_images/a.svg" /><img src="b.png">') == ["../_images/a.svg"]


def test_a_value_at_or_below_zero_on_a_log_axis_is_found():
    import xml.etree.ElementTree as ET

    svg = ET.fromstring(
        '<svg xmlns="http://www.w3.org/2000/svg"><g>'
        '<path aria-label="pre-training tokens (log): 0; loss (nats/token): 6.94; pre-training: mix"/>'
        '<path aria-label="pre-training tokens (log): 409,600; loss (nats/token): 5.1"/>'
        '<path aria-label="training compute (FLOPs, log): -1e+09; validation loss (nats/token, log): 3.2"/>'
        '<path aria-label="fine-tuned minus from-scratch loss (nats/token): -0.5; D_F (log): 1,000"/></g></svg>')
    assert browser._off_log_axis(svg) == ["pre-training tokens (log)", "training compute (FLOPs, log)"]
    fine = ET.fromstring('<svg xmlns="http://www.w3.org/2000/svg"><path aria-label="D_F (log): 1,000; y: -2"/></svg>')
    assert browser._off_log_axis(fine) == []


def test_not_a_site_is_a_clear_error(tmp_path):
    with pytest.raises(browser.BrowserTestError, match="not a built site"):
        browser.run(tmp_path)


GOOD = """<!doctype html><html><head><link rel="icon" href="data:,"></head><body><article style="width:800px">
<figure><img src="chart.svg"><figcaption>A chart.</figcaption></figure>
<figure><div id="c1" class="tl-interactive"></div><figcaption>An interactive chart.</figcaption></figure>
<table><tr><th>a</th></tr><tr><td>0.45</td></tr></table></article>
<script>var s = document.createElementNS("http://www.w3.org/2000/svg", "svg");
document.getElementById("c1").appendChild(s);</script></body></html>"""


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium (make browser-deps)")
def test_real_chromium_passes_a_good_site_and_fails_a_broken_one(tmp_path):
    good = tmp_path / "good"
    (good / "book").mkdir(parents=True)
    (good / "index.html").write_text(GOOD)
    (good / "book" / "ch.html").write_text(GOOD.replace('src="chart.svg"', 'src="../chart.svg"'))
    (good / "chart.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>')
    summary = browser.run(good, screenshot_page="book/ch.html", screenshot_out=tmp_path / "shot.png", log=lambda *_: None)
    assert summary["pages"] == 2 and summary["interactive_charts"] == 2 and summary["static_charts"] == 2
    assert (tmp_path / "shot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    bad = tmp_path / "bad"
    (bad / "book").mkdir(parents=True)
    (bad / "index.html").write_text(GOOD.replace("appendChild(s);", "appendChild(s); null.boom();"))
    (bad / "book" / "ch.html").write_text(GOOD.replace("appendChild(s);", "")
                                          + '<img src="missing.png">')
    with pytest.raises(browser.BrowserTestError) as err:
        browser.run(bad, screenshot_page=None, log=lambda *_: None)
    msg = str(err.value)
    assert "index.html: console: Uncaught TypeError" in msg
    assert "book/ch.html: request /book/missing.png failed with HTTP 404" in msg
    assert "interactive chart #c1 holds no rendered svg or canvas" in msg
    assert "static chart chart.svg" in msg  # the chapter's image path points at a file that is not there

    # the layout checks: a table wider than the content column, a chart without a caption, a raw nan,
    # a traceback; and every chapter's screenshot is saved beside the build
    ugly = tmp_path / "ugly" / "html"
    (ugly / "book").mkdir(parents=True)
    (ugly / "chart.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>')
    page = (GOOD.replace('src="chart.svg"', 'src="../chart.svg"')
            .replace("<figcaption>A chart.</figcaption>", "")
            .replace("<td>0.45</td>", '<td style="white-space:nowrap">' + "x" * 400 + "</td><td>nan</td>")
            .replace("</article>", '<div class="cell_output"><pre>Traceback (most recent call last):</pre></div></article>'))
    (ugly / "book" / "ch.html").write_text(page)
    with pytest.raises(browser.BrowserTestError) as err:
        browser.run(ugly, screenshot_page=None, log=lambda *_: None)
    msg = str(err.value)
    assert "wider than the content column (800px): table" in msg
    assert "chart without a caption: chart.svg" in msg
    assert "the page shows a raw nan" in msg and "the page shows a Python traceback" in msg
    assert (tmp_path / "ugly" / "screenshots" / "ch.png").exists()
