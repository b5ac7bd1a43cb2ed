"""book/make_notebooks.py: what a student's generated notebook defaults to, and its setup
cell's output (the notebooks' structure and runs are tested in test_students.py)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location("make_notebooks",
                                              ROOT / "book" / "make_notebooks.py")
make_notebooks = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(make_notebooks)
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.md"))
CHECKING = [p for p in CHAPTERS if re.search(r"^CHECK_RECORD = True", p.read_text(), re.M)]


def parameters(notebook) -> str:
    return "\n".join(c.source for c in notebook.cells
                     if "parameters" in c.metadata.get("tags", []))


def test_some_chapters_check_their_record_in_the_book_build():
    assert len(CHECKING) >= 2  # chapters 8 and 9 at least: the build keeps checking


@pytest.mark.parametrize("chapter", CHECKING, ids=lambda p: p.stem)
def test_a_student_notebook_does_not_check_the_record_by_default(chapter):
    notebook = nbformat.read(chapter.with_suffix(".ipynb"), as_version=4)
    cell = parameters(notebook)
    assert re.findall(r"^CHECK_RECORD *=.*$", cell, re.M) == ["CHECK_RECORD = False"]
    assert "set it to True" in cell  # the student is told how to turn it on
    namespace = {}
    exec(cell, namespace)  # the rewritten cell still runs, and papermill can override it
    assert namespace["CHECK_RECORD"] is False


def test_student_parameters_rewrites_only_the_named_assignment():
    source = 'TRAIN = "auto"\nCHECK_RECORD = True  # slow\nNOT_CHECK_RECORD = True\n'
    out = make_notebooks.student_parameters(source)
    assert "CHECK_RECORD = False" in out.splitlines()
    assert "NOT_CHECK_RECORD = True" in out.splitlines() and 'TRAIN = "auto"' in out
    assert "CHECK_RECORD = True" not in out.splitlines()


def test_the_setup_cell_keeps_pip_quiet_and_shows_output_only_on_failure(tmp_path):
    source = make_notebooks.SETUP.format(url="https://example.invalid/repo")
    assert "--quiet" in source and "--disable-pip-version-check" in source
    assert "check=True" not in source  # output captured: a failure prints it, then raises
    namespace = {"__name__": "setup"}
    exec(source.split("\nif importlib.util.find_spec")[0], namespace)
    namespace["quietly"]([sys.executable, "-c", "print('noise'); import sys; "
                          "sys.stderr.write('WARNING: pip notice')"])
    with pytest.raises(RuntimeError, match="failed \\(3\\)"):
        namespace["quietly"]([sys.executable, "-c", "import sys; sys.exit(3)"])
