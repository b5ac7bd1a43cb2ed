"""Every code line of every chapter fits the book's text column: at most 88 characters."""

import re
from pathlib import Path

import pytest

CHAPTERS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.md"))
LIMIT = 88
FENCE = re.compile(r"^(`{3,}|~{3,})")


def code_lines(text: str):
    """``(line number, line)`` of every line inside a ``{code-cell}`` block."""
    inside, fence = False, ""
    for number, line in enumerate(text.splitlines(), start=1):
        if not inside:
            match = FENCE.match(line)
            if match and line[match.end():].startswith("{code-cell}"):
                inside, fence = True, match.group(1)
        elif line.strip() == fence:
            inside = False
        else:
            yield number, line


def test_code_lines_are_found():
    assert CHAPTERS
    assert all(any(True for _ in code_lines(p.read_text(encoding="utf-8"))) for p in CHAPTERS)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_code_lines_fit_the_column(chapter):
    long = [f"{chapter.name}:{n}: {len(line)} characters"
            for n, line in code_lines(chapter.read_text(encoding="utf-8")) if len(line) > LIMIT]
    assert not long, "\n".join(long)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_saving_a_chapter_from_jupyterlab_rewrites_nothing(chapter):
    """JupyterLab saves a chapter through jupytext with notebooks/jupytext.toml: the text it
    writes back is the text in git (no version stamp, no caption wrapped anew)."""
    import jupytext
    from jupytext.config import load_jupytext_configuration_file

    config = load_jupytext_configuration_file(str(chapter.parent / "jupytext.toml"))
    text = chapter.read_text(encoding="utf-8")
    notebook = jupytext.reads(text, fmt="md:myst", config=config)
    assert jupytext.writes(notebook, fmt="md:myst", config=config) == text
