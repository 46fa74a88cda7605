"""A Sphinx extension: every executed chapter downloadable as ``.ipynb`` from its page.

MyST-NB writes each executed notebook to ``_build/jupyter_execute/<page>.ipynb``; the book theme
offers it in its download menu only when a launch service (Binder, Colab) is configured, which
this offline book has none of. This copies the notebook next to the page's source
(``_sources/<page>.ipynb``) and tells the theme, before it builds its header buttons.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def _offer_notebook(app, pagename, templatename, context, doctree):
    out = Path(app.outdir)
    executed = out.parent / "jupyter_execute" / f"{pagename}.ipynb"
    if not executed.exists():
        return
    target = out / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(executed, target)
    context["ipynb_source"] = f"{pagename}.ipynb"


def setup(app):
    # before the theme's header buttons (priority 501), after its own page context (500)
    app.connect("html-page-context", _offer_notebook, priority=500)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
