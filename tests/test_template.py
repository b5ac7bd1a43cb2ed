"""notebooks/_template.md, the starting point of a new chapter, runs as it stands and keeps
the conventions the chapters are tested for."""

from __future__ import annotations

from pathlib import Path

import jupytext
import pytest

from test_chapter_lines import LIMIT, code_lines

TEMPLATE = Path(__file__).resolve().parents[1] / "notebooks" / "_template.md"


def test_template_keeps_the_conventions():
    text = TEMPLATE.read_text()
    assert all(len(line) <= LIMIT for _, line in code_lines(text))
    assert "{solution-start}" in text and "{solution-end}" in text
    assert "{solution}" not in text  # the old, non-running solution form
    assert "published(" in text and ":tags: [parameters]" in text


def test_template_runs(tmp_path):
    nbclient = pytest.importorskip("nbclient")
    notebook = jupytext.read(TEMPLATE)
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(TEMPLATE.parent)}}).execute()
    printed = "".join(out.get("text", "") for cell in notebook.cells
                      for out in cell.get("outputs", []))
    assert "baseline RMSE" in printed and "mean training rating" in printed
