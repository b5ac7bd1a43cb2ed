"""course/answers.py: the hand-graded answers of a folder of submissions, side by side per
question, as one HTML page (make course-answers SUBMISSIONS=dir)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("course_answers", ROOT / "course" / "answers.py")
answers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(answers)


def student_notebook(path: Path, answer: str | None, code: str = "") -> None:
    """Cells as otter assign writes a student notebook's hand-graded questions."""
    md, locked = nbformat.v4.new_markdown_cell, {"deletable": False, "editable": False}
    cells = [md("# Exercises"), nbformat.v4.new_code_cell("x = 1"),
             md("<!-- BEGIN QUESTION -->\n\n**Exercise 3, interpretation** (Short answer, "
                "2 points, `glk-ex-select-interpretation`)\n\nGive the optimism."),
             md(answer if answer is not None else answers.PLACEHOLDER),
             md("<!-- END QUESTION -->\n\n<!-- BEGIN QUESTION -->\n\n**Exercise 4** (Short "
                "answer, 3 points, `glk-ex-frozen`)\n\nWhy frozen?"),
             md("Because it is computed once."),
             md("<!-- END QUESTION -->"), md("Not an answer: after the last question.")]
    cells[2].metadata.update(locked)
    cells[3].metadata["tags"] = ["otter_answer_cell"]
    if code:
        cells.insert(4, nbformat.v4.new_code_cell(code))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)


def test_the_page_sets_every_students_answer_beside_the_others(tmp_path):
    subs = tmp_path / "submissions"
    student_notebook(subs / "alice.ipynb", "About 0.001 <script>alert(1)</script>, *small*.")
    student_notebook(subs / "bob" / "09_glocal_k.ipynb", None, code="print(0.0012)")
    (subs / "notes.txt").write_text("ignored")
    out = tmp_path / "grading" / "answers.html"
    assert answers.main([str(subs), "--out", str(out)]) == 0
    text = out.read_text()
    assert text.count("<h2") == 2 and "glk-ex-select-interpretation (2 points)" in text
    assert "<em>small</em>" in text and "<script>" not in text  # rendered, escaped
    alice_row = text.split("<td>alice</td>")[1].split("</tr>")[0]
    assert "About 0.001" in alice_row
    assert text.count("Because it is computed once.") == 2
    assert "Not an answer" not in text and "x = 1" not in text
    assert "Reports the numbers" in text  # the interpretation's point rubric
    bob_row = text.split("<td>bob</td>")[1].split("</tr>")[0]
    assert "print(0.0012)" in bob_row and answers.PLACEHOLDER not in text


def test_bad_input_is_one_error_line_and_no_page(tmp_path, capsys):
    out = tmp_path / "answers.html"
    result = subprocess.run([sys.executable, str(ROOT / "course" / "answers.py"),
                             str(tmp_path / "nowhere"), "--out", str(out)],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: submissions folder {tmp_path / 'nowhere'}: no such folder"]
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "carol.ipynb").write_text("{ not json")
    (tmp_path / "other").mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("hi")]),
                   tmp_path / "other" / "dave.ipynb")
    for folder, words in (("empty", "holds no notebook"), ("broken", "carol.ipynb is not a "
                          "readable notebook"), ("other", "no hand-graded question")):
        assert answers.main([str(tmp_path / folder), "--out", str(out)]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], lines
    assert not out.exists()
