"""Collect the chapter notebooks (jupytext MyST ``.md``) for nbval.

nbval only collects ``.ipynb``; this hook reads each chapter through jupytext instead, so the
``.md`` files stay the only source. Files whose name starts with ``_`` (the template) are skipped.
"""

from __future__ import annotations

from pathlib import Path

NOTEBOOK_DIR = Path(__file__).parent / "notebooks"


def pytest_collect_file(file_path: Path, parent):
    opt = parent.config.option
    if not (getattr(opt, "nbval", False) or getattr(opt, "nbval_lax", False)):
        return None
    if file_path.suffix != ".md" or file_path.parent != NOTEBOOK_DIR or file_path.name.startswith("_"):
        return None
    from nbval.plugin import IPyNbFile

    class MystNotebook(IPyNbFile):
        def collect(self):
            import jupytext
            import nbformat

            original_read = nbformat.read
            nbformat.read = lambda *args, **kwargs: jupytext.read(str(self.fspath))
            try:
                yield from super().collect()
            finally:
                nbformat.read = original_read

    return MystNotebook.from_parent(parent, path=file_path)
