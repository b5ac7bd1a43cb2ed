"""Collect the chapter notebooks (jupytext MyST ``.md``) for nbval, in the ``chapters`` tier.

nbval only collects ``.ipynb``; this hook reads each chapter through jupytext instead, so the
``.md`` files stay the only source. Files whose name starts with ``_`` (the template) are skipped.

With ``RECSYS_EXECUTED_DIR`` set (CI does), a chapter whose every cell passed is also saved
there with its outputs, as ``NN_name.ipynb``: ``book/seed_cache.py`` hands them to the book
build's execution cache, so CI executes each chapter once for nbval and not again to build.

Every test session also checks that it left the repository's ``results/`` as it found it:
tests record into their own temporary folders, never into the recorded runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).parent / "notebooks"
EXECUTED_ENV = "RECSYS_EXECUTED_DIR"
RESULTS_DIR = Path(__file__).parent / "results"


def results_state() -> dict[Path, tuple[int, int]]:
    """Size and modification time (ns) of every file under the repository's ``results/``."""
    return {path: (path.stat().st_size, path.stat().st_mtime_ns)
            for path in RESULTS_DIR.rglob("*") if path.is_file()}


@pytest.fixture(scope="session", autouse=True)
def results_left_as_found():
    """Fails the session's last test if any test added, changed or removed a recorded run."""
    before = results_state()
    yield
    after = results_state()
    changed = sorted(str(path.relative_to(RESULTS_DIR)) for path in before.keys() | after.keys()
                     if before.get(path) != after.get(path))
    assert not changed, f"a test changed the repository's results/: {', '.join(changed)}"


def pytest_collect_file(file_path: Path, parent):
    opt = parent.config.option
    if not (getattr(opt, "nbval", False) or getattr(opt, "nbval_lax", False)):
        return None
    if file_path.suffix != ".md" or file_path.parent != NOTEBOOK_DIR or file_path.name.startswith("_"):
        return None
    from nbval.plugin import IPyNbFile

    class MystNotebook(IPyNbFile):
        failed = False

        def collect(self):
            import jupytext
            import nbformat

            original_read = nbformat.read
            nbformat.read = lambda *args, **kwargs: jupytext.read(str(self.fspath))
            try:
                for item in super().collect():
                    item.add_marker(pytest.mark.chapters)
                    yield item
            finally:
                nbformat.read = original_read

        def teardown(self):
            super().teardown()
            folder = os.environ.get(EXECUTED_ENV)
            if folder and not self.failed:
                self.save_executed(Path(folder))

        def save_executed(self, folder: Path) -> None:
            """The notebook with the outputs nbval saw, when every code cell ran."""
            import nbformat

            cells = [item for item in self.session.items if item.parent is self]
            if not cells or any(item.test_outputs is None for item in cells):
                return  # a cell was skipped or never ran: nothing trustworthy to keep
            for count, item in enumerate(cells, start=1):
                item.cell.outputs = item.test_outputs
                item.cell.execution_count = count
            folder.mkdir(parents=True, exist_ok=True)
            nbformat.write(self.nb, folder / f"{Path(str(self.fspath)).stem}.ipynb")

    return MystNotebook.from_parent(parent, path=file_path)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A chapter with a failed cell is never saved for the build."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and hasattr(item.parent, "save_executed"):
        item.parent.failed = True
