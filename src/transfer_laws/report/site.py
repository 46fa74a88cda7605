"""The book's offline assets and the check that the built site loads nothing from the internet.

``python -m transfer_laws site assets _assets``  writes MathJax (npm ``mathjax@3.2.2``, pinned by
sha256, through the same fetch cache as the corpora) and the Vega bundle of ``vl-convert``
(wrapped in an IIFE so it does not collide with Sphinx's globals) under ``_assets/vendor/`` (served as ``_static/vendor``).
``python -m transfer_laws site check _build/html``  fails if any page references an external
script, stylesheet, image, font or frame.
"""

from __future__ import annotations

import re
import shutil
import sys
import tarfile
from pathlib import Path

from transfer_laws.data import fetch
from transfer_laws.data.spec import Source

MATHJAX = Source(
    name="mathjax", client="npm", package="mathjax", version="3.2.2",
    sha256="1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09",
    license="Apache-2.0", root="package/es5/", include=("*",), exclude=(), corpus="text",
)


def write_assets(static: Path) -> None:
    vendor = Path(static) / "vendor"
    vendor.mkdir(parents=True, exist_ok=True)
    mj = vendor / "mathjax"
    if not (mj / "tex-mml-chtml.js").exists():
        artifact = fetch.fetch(MATHJAX, fetch.cache_dir())
        tmp = vendor / "mathjax.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        with tarfile.open(artifact, "r:gz") as tf:
            for m in tf.getmembers():
                if m.isfile() and m.name.startswith(MATHJAX.root):
                    out = tmp / m.name[len(MATHJAX.root):]
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(tf.extractfile(m).read())
        shutil.rmtree(mj, ignore_errors=True)
        tmp.rename(mj)
    vega = vendor / "vega-bundle.js"
    if not vega.exists():
        import vl_convert

        tmp = vega.with_suffix(".tmp")
        # the bundle sets window.vegaEmbed / vega / vegaLite itself
        tmp.write_text("(function(){\n" + vl_convert.javascript_bundle() + "\n})();\n")
        tmp.rename(vega)


# Attributes that make a browser fetch something. Plain links (<a href>) are navigation, not loads.
_LOADING = re.compile(
    r"<(script|link|img|iframe|source|video|audio|embed)\b[^>]*?\b(src|href)\s*=\s*[\"']([^\"']+)[\"']",
    re.IGNORECASE,
)
_CSS_URL = re.compile(r"url\(\s*[\"']?(https?:)?//", re.IGNORECASE)


def external_loads(html: str) -> list[str]:
    bad = []
    for tag, _attr, url in _LOADING.findall(html):
        if re.match(r"^(https?:)?//", url):
            bad.append(f"<{tag}> {url}")
    if _CSS_URL.search(html):
        bad.append("CSS url() to an external host")
    return bad


def check_site(build: Path) -> list[str]:
    problems = []
    pages = sorted(Path(build).rglob("*.html"))
    if not pages:
        return [f"no HTML pages under {build}"]
    for page in pages:
        for b in external_loads(page.read_text(errors="replace")):
            problems.append(f"{page.relative_to(build)}: {b}")
    for css in Path(build).rglob("*.css"):
        if _CSS_URL.search(css.read_text(errors="replace")):
            problems.append(f"{css.relative_to(build)}: external url()")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "assets":
        write_assets(Path(argv[1]))
        return 0
    if len(argv) == 2 and argv[0] == "check":
        problems = check_site(Path(argv[1]))
        for p in problems:
            print("external resource:", p, file=sys.stderr)
        n = len(list(Path(argv[1]).rglob("*.html")))
        print(f"site check: {n} pages, {len(problems)} external loads")
        return 1 if problems else 0
    print("usage: python -m transfer_laws site {assets STATIC_DIR | check BUILD_DIR}", file=sys.stderr)
    return 2
