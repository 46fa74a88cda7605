"""Browser test of the built site with headless Chromium (Debian's ``chromium``).

Serves the built HTML on a local port, loads every chapter page in headless Chromium, and fails
on any console message that is not on a short list of known informational ones (an uncaught
error, a failed resource load), on any request the server answered with an error status, on a
request that left the local server, on an interactive chart container without a rendered SVG or
canvas, and on a static chart image that is missing or not an SVG. At a 1400-px window it also
fails on a table or figure wider than the content column, on a chart without a caption, and on a
page that shows a Python traceback, a warning, stderr output or a raw ``nan``. It saves a
screenshot of every chapter next to the build output.

    python -m transfer_laws browser _build/html --screenshot-page book/07_transfer_law.html
"""

from __future__ import annotations

import argparse
import functools
import html
import html.parser
import http.server
import re
import shutil
import subprocess
import tempfile
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
# Console lines the theme and its extensions print on every healthy page.
BENIGN_CONSOLE = [
    r"^\[PST\]: ",  # pydata-sphinx-theme progress messages
    r"^Got invalid theme mode: \. Resetting to auto\.$",  # pydata-sphinx-theme, first visit
    r"^\[togglebutton\]: Adding toggle buttons to \d+ items$",
]
_CONSOLE = re.compile(r':CONSOLE(?:\(\d+\)|:\d+)\] "(?P<msg>.*)", source: (?P<src>\S*)')


class BrowserTestError(RuntimeError):
    """The built site failed the browser test."""


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise BrowserTestError("no Chromium found: install Debian's `chromium` (`make browser-deps` does it)")


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # quiet; statuses are recorded in log_request
        pass

    def log_request(self, code="-", size="-"):
        self.server.requests.append((self.path, int(code) if str(code).isdigit() else 0))


@dataclass
class _Server:
    root: Path
    requests: list = field(default_factory=list)

    def __enter__(self):
        handler = functools.partial(_Handler, directory=str(self.root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.requests = self.requests
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class _ChartScan(html.parser.HTMLParser):
    """Interactive containers (``.tl-interactive``) and whether each holds an svg or canvas."""

    def __init__(self):
        super().__init__()
        self.containers: list[dict] = []
        self._stack: list[int | None] = []  # per open element: index of the container it opens, else None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag in ("svg", "canvas"):
            for idx in self._stack:
                if idx is not None:
                    self.containers[idx]["rendered"] = True
        if tag in ("img", "br", "meta", "link", "input", "hr", "source", "path", "rect", "line", "circle"):
            return
        if "tl-interactive" in classes:
            self.containers.append({"id": a.get("id"), "rendered": False})
            self._stack.append(len(self.containers) - 1)
        else:
            self._stack.append(None)

    def handle_endtag(self, tag):
        if tag in ("img", "br", "meta", "link", "input", "hr", "source", "path", "rect", "line", "circle"):
            return
        if self._stack:
            self._stack.pop()


def _static_chart_images(page_html: str) -> list[str]:
    """The SVG images inside figures and cell outputs (how the book's static charts are emitted)."""
    return re.findall(r'<img[^>]*\ssrc="([^"]+\.svg)"', page_html)


# A mark's accessible label names each encoded field by its axis title and value ("pre-training tokens
# (log): 0; loss (nats/token): 6.94"); the book titles every log axis "... (log)" or "(..., log)".
_LOG_FIELD = re.compile(r"(?:^|; )([^:;]*\blog\)): (-?[0-9][0-9.,e+-]*)")


def _off_log_axis(svg_root) -> list[str]:
    """The log-axis titles under which a static chart draws a mark at a value <= 0: a log scale has
    no place for it, and one such value collapsed a whole chart onto its axis (the compute frontiers
    and pre-training curves once drew every line at x = 0)."""
    bad = []
    for el in svg_root.iter():
        for field, value in _LOG_FIELD.findall(el.get("aria-label") or ""):
            try:
                off = float(value.replace(",", "")) <= 0
            except ValueError:
                continue
            if off and field.strip() not in bad:
                bad.append(field.strip())
    return bad


def _console_problems(stderr: str) -> list[str]:
    problems = []
    for m in _CONSOLE.finditer(stderr):
        msg = m.group("msg")
        if not any(re.search(p, msg) for p in BENIGN_CONSOLE):
            problems.append(f"console: {msg} ({m.group('src')})")
    return problems


BROWSER_IMPLICIT_REQUESTS = frozenset({"/favicon.ico"})


def check_page(chromium: str, server: _Server, rel: str, site: Path, budget_ms: int = 8000) -> list[str]:
    """Problems found loading one page (empty when it passes)."""
    start = len(server.requests)
    with tempfile.TemporaryDirectory(prefix="tl-chromium-") as profile:
        proc = subprocess.run(
            [chromium, *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
             f"--virtual-time-budget={budget_ms}", "--dump-dom", server.base + rel],
            capture_output=True, text=True, timeout=120)
    problems = _console_problems(proc.stderr)
    if proc.returncode != 0:
        problems.append(f"chromium exited with {proc.returncode}")
    for path, code in server.requests[start:]:
        # Chromium asks every origin for /favicon.ico on its own, whether or not a page links one (it
        # did so for the redirecting index.html only some of the time); that is not a load the page asked for.
        if code >= 400 and path not in BROWSER_IMPLICIT_REQUESTS:
            problems.append(f"request {path} failed with HTTP {code}")
    scan = _ChartScan()
    scan.feed(proc.stdout)
    for c in scan.containers:
        if not c["rendered"]:
            problems.append(f"interactive chart #{c['id']} holds no rendered svg or canvas")
    page_dir = (site / rel).parent
    for src in _static_chart_images((site / rel).read_text(encoding="utf-8")):
        img = (page_dir / src).resolve()
        try:
            root = ET.parse(img).getroot()
        except (FileNotFoundError, ET.ParseError) as exc:
            problems.append(f"static chart {src}: {exc}")
            continue
        if not root.tag.endswith("svg"):
            problems.append(f"static chart {src} is not an svg (root <{root.tag}>)")
        for field in _off_log_axis(root):
            problems.append(f"static chart {src} places a value <= 0 on its log axis '{field}' (the axis collapses)")
    if "<body" not in proc.stdout:
        problems.append("the page did not load (no <body> in the rendered DOM)")
    return problems


# Measures a page inside a same-origin iframe at the reader's window width and writes JSON into
# the wrapper's DOM, which --dump-dom prints: what is wider than the article's content column,
# which charts have no caption, and what the page shows that a reader must never see.
_MEASURE = r"""<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head>
<body style="margin:0"><pre id="tl-out">pending</pre>
<iframe id="tl-frame" src="{src}" style="width:{width}px;height:2400px;border:0"></iframe>
<script>
document.getElementById("tl-frame").addEventListener("load", function () {{ setTimeout(function () {{
  var out = document.getElementById("tl-out"), res = {{wide: [], uncaptioned: [], shows: []}};
  try {{
    var d = document.getElementById("tl-frame").contentDocument;
    var art = d.querySelector("article") || d.querySelector("main") || d.body, ar = art.getBoundingClientRect();
    res.article_width = Math.round(ar.width);
    art.querySelectorAll("table, img, figure, .tl-interactive, .cell_output svg, .vega-embed").forEach(function (el) {{
      var r = el.getBoundingClientRect();
      if (r.width > ar.width + 2) {{
        var cap = el.closest("figure") && el.closest("figure").querySelector("figcaption");
        res.wide.push(el.tagName.toLowerCase() + " " + Math.round(r.width) + "px" +
                      (cap ? " (" + cap.textContent.trim().slice(0, 50) + ")" : ""));
      }}
    }});
    art.querySelectorAll("img[src$='.svg'], .tl-interactive").forEach(function (el) {{
      var fig = el.closest("figure");
      if (!fig || !fig.querySelector("figcaption") || !fig.querySelector("figcaption").textContent.trim())
        res.uncaptioned.push((el.getAttribute("src") || el.id || el.tagName).split("/").pop());
    }});
    var text = art.innerText;
    if (/Traceback \(most recent call last\)/.test(text)) res.shows.push("a Python traceback");
    art.querySelectorAll(".output.stderr, .cell_output .stderr").forEach(function (el) {{
      if (el.textContent.trim()) res.shows.push("stderr output: " + el.textContent.trim().slice(0, 80));
    }});
    art.querySelectorAll(".cell_output").forEach(function (el) {{
      var m = el.innerText.match(/\w*Warning\b[^\n]{{0,60}}/);
      if (m) res.shows.push("a warning: " + m[0]);
    }});
    var nan = text.match(/[^\n]{{0,30}}\b(nan|NaN)\b[^\n]{{0,30}}/);
    if (nan) res.shows.push("a raw nan: ..." + nan[0].trim() + "...");
  }} catch (e) {{ res.error = String(e); }}
  out.textContent = JSON.stringify(res);
}}, {settle_ms}); }});
</script></body></html>"""


def layout_problems(result: dict) -> list[str]:
    """The layout check's findings as problems (see ``_MEASURE``)."""
    if "error" in result:
        return [f"layout check failed: {result['error']}"]
    width = result.get("article_width")
    return ([f"wider than the content column ({width}px): {w}" for w in result.get("wide", [])]
            + [f"chart without a caption: {u}" for u in result.get("uncaptioned", [])]
            + [f"the page shows {x}" for x in result.get("shows", [])])


def measure_page(chromium: str, server: _Server, rel: str, site: Path, width: int = 1400,
                 budget_ms: int = 12000) -> dict:
    """Load ``rel`` in a same-origin wrapper at ``width`` px and return the layout check's JSON."""
    import json

    wrapper = site / f"_tl_measure_{abs(hash(rel))}.html"
    wrapper.write_text(_MEASURE.format(src=rel, width=width, settle_ms=1500), encoding="utf-8")
    try:
        with tempfile.TemporaryDirectory(prefix="tl-chromium-") as profile:
            proc = subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width + 40},2400",
                                   f"--virtual-time-budget={budget_ms}", "--dump-dom", server.base + wrapper.name],
                                  capture_output=True, text=True, timeout=120)
    finally:
        wrapper.unlink(missing_ok=True)
    m = re.search(r'<pre id="tl-out">(.*?)</pre>', proc.stdout, re.S)
    if not m or m.group(1).strip() == "pending":
        return {"error": f"the layout check did not finish on {rel}"}
    return json.loads(html.unescape(m.group(1)))


def pages(site: Path) -> list[str]:
    """The index and every chapter page of the built book."""
    found = sorted(p.relative_to(site).as_posix() for p in (site / "book").glob("*.html"))
    return (["index.html"] if (site / "index.html").exists() else []) + found


def screenshot(chromium: str, server: _Server, rel: str, out: Path, width: int = 1280, height: int = 3000) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp.png")
    with tempfile.TemporaryDirectory(prefix="tl-chromium-") as profile:
        subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", "--hide-scrollbars",
                        f"--window-size={width},{height}", "--virtual-time-budget=8000",
                        f"--screenshot={tmp}", server.base + rel], capture_output=True, text=True, timeout=120)
    if not tmp.exists() or tmp.stat().st_size == 0:
        raise BrowserTestError(f"no screenshot of {rel} was written")
    tmp.replace(out)
    return out


def run(site: Path, screenshot_page: str | None = "book/07_transfer_law.html",
        screenshot_out: Path | None = None, log=print, screenshot_all: bool = True) -> dict:
    """Check every page; raise BrowserTestError listing every problem. Returns counts. With
    ``screenshot_all``, every chapter's screenshot (1400 px wide) is saved under
    ``<site>/../screenshots/`` beside the build, for a reader's eye."""
    site = Path(site)
    if not (site / "index.html").exists() and not (site / "book").is_dir():
        raise BrowserTestError(f"{site} is not a built site (no index.html or book/)")
    chromium = find_chromium()
    all_problems, n_interactive, n_static = {}, 0, 0
    with _Server(site) as server:
        shots = site.parent / "screenshots"
        for rel in pages(site):
            problems = check_page(chromium, server, rel, site)
            if rel != "index.html":  # index.html only redirects to the first chapter
                problems += layout_problems(measure_page(chromium, server, rel, site))
                if screenshot_all:
                    screenshot(chromium, server, rel, shots / Path(rel).with_suffix(".png").name, width=1400)
            text = (site / rel).read_text(encoding="utf-8")
            n_interactive += text.count('class="tl-interactive"')
            n_static += len(_static_chart_images(text))
            log(f"{rel}: {'ok' if not problems else f'{len(problems)} problem(s)'}")
            if problems:
                all_problems[rel] = problems
        shot = None
        if screenshot_page:
            shot = screenshot(chromium, server, screenshot_page,
                              screenshot_out or site.parent / "screenshots" / Path(screenshot_page).with_suffix(".png").name)
            log(f"screenshot: {shot}")
    if all_problems:
        lines = [f"{rel}: {p}" for rel, ps in all_problems.items() for p in ps]
        raise BrowserTestError("browser test failed:\n  " + "\n  ".join(lines))
    return {"pages": len(pages(site)), "interactive_charts": n_interactive, "static_charts": n_static,
            "screenshot": str(shot) if shot else None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m transfer_laws browser", description=__doc__.splitlines()[0])
    ap.add_argument("site", type=Path, help="the built HTML folder, e.g. _build/html")
    ap.add_argument("--screenshot-page", default="book/07_transfer_law.html")
    ap.add_argument("--screenshot-out", type=Path, default=None)
    args = ap.parse_args(argv)
    try:
        summary = run(args.site, args.screenshot_page, args.screenshot_out)
    except BrowserTestError as exc:
        print(exc)
        return 1
    print(f"browser test passed: {summary}")
    return 0
