"""The HTML book's own fixes: MathJax served from the build, a console free of errors, and
download buttons that serve the generated notebooks.

MathJax 3 comes from the built book instead of a CDN, so equations render offline.
The files come from the ``django-static-mathjax`` wheel (MathJax 3.2.2, no dependencies, a
``book`` extra of the package): at the end of an HTML build the components the CHTML output
needs are copied to ``_static/mathjax/``; ``_config.yml`` sets ``mathjax_path`` to
``mathjax/tex-mml-chtml.js`` (relative to ``_static``).
"""

from __future__ import annotations

import re
import shutil
from importlib import resources
from pathlib import Path

# the entry point and what it loads on demand (TeX extensions, fonts, menu, accessibility)
PARTS = ["tex-mml-chtml.js", "input", "output/chtml", "output/chtml.js", "ui", "a11y",
         "adaptors", "sre"]
TARGET = "mathjax"


def source_dir() -> Path:
    return Path(str(resources.files("mathjax"))) / "static" / "mathjax" / "es5"


def _copy(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    _dedupe_scripts(Path(app.outdir))
    source, target = source_dir(), Path(app.outdir) / "_static" / TARGET
    for part in PARTS:
        src, dst = source / part, target / part
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)


INLINE_SCRIPT = re.compile(r"^\s*<script>.*</script>\s*$")
#: sphinx-thebe names its script on a CDN in every page; thebe is not enabled in this book
#: (no live-code button), so the address is blanked and no page names a network script
THEBE_URL = re.compile(r'const THEBE_JS_URL = "https?://[^"]*"')


def _dedupe_scripts(outdir: Path) -> None:
    """Drop repeated inline ``<script>`` lines from every page: jupyter-book registers the
    inline scripts of sphinx-thebe and sphinx-togglebutton twice, and the second
    ``const THEBE_JS_URL`` is a SyntaxError in the console of every page. The remaining one
    gets an empty address (:data:`THEBE_URL`)."""
    for page in outdir.rglob("*.html"):
        lines = page.read_text(encoding="utf-8").splitlines(keepends=True)
        seen, kept = set(), []
        for line in lines:
            if INLINE_SCRIPT.match(line):
                if line.strip() in seen:
                    continue
                seen.add(line.strip())
            kept.append(line)
        kept = [THEBE_URL.sub('const THEBE_JS_URL = ""', line) for line in kept]
        if kept != lines:
            page.write_text("".join(kept), encoding="utf-8")


def _theme_mode(app, config):
    """An explicit light/dark default: with none, pydata-sphinx-theme logs
    "Got invalid theme mode" as a console error on a reader's first visit."""
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "light")  # read by pydata-sphinx-theme's layout.html
    config.html_context = context


def _downloads(app, exception):
    """The download button of a chapter serves its generated notebook (setup cell, plain
    Markdown, folded solutions: book/make_notebooks.py) instead of the executed MyST copy,
    which plain Jupyter and Colab cannot render."""
    if exception is not None or app.builder.format != "html":
        return
    sources = Path(app.outdir) / "_sources"
    for generated in Path(app.srcdir, "notebooks").glob("[0-9][0-9]_*.ipynb"):
        target = sources / "notebooks" / generated.name
        if target.parent.is_dir():
            shutil.copy2(generated, target)


def setup(app):
    if not (source_dir() / "tex-mml-chtml.js").is_file():
        raise RuntimeError("MathJax files not found: pip install django-static-mathjax")
    app.connect("build-finished", _copy)
    app.connect("build-finished", _downloads)
    app.connect("config-inited", _theme_mode)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
