"""The hand-graded answers of a folder of submissions, side by side per question, as one HTML
page for grading them (``make course-answers SUBMISSIONS=dir``).

``SUBMISSIONS`` holds one notebook per student (``alice.ipynb``: the student is the file's name)
or one folder per student (``alice/02_evaluation.ipynb``, ...), as for ``make grade``. The
hand-graded questions (short answers and interpretations) are found in the notebooks
themselves, between otter's ``BEGIN QUESTION`` and ``END QUESTION`` marks; the page has one
section per question, in the order met, with its prompt, its point rubric (from
``course/interpretations.yml``, where it has one) and one row per student with the answer
and an empty points box.

Usage: ``python course/answers.py SUBMISSIONS [--out answers.html]``. Bad input (no such
folder, no notebook, a notebook that does not read) gets one ``error:`` line and exit 2, and
no page is written.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import sys
import tempfile
from pathlib import Path

import mistune
import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
INTERPRETATIONS = ROOT / "course" / "interpretations.yml"
HEADER = re.compile(r"\((?:Short answer|[^()]*?), ([^()]*?), `([\w-]+)`\)")
PLACEHOLDER = "_Type your answer here, replacing this text._"


class AnswersError(Exception):
    """Bad input: one ``error:`` line, exit status 2."""


def submissions(folder: Path) -> list[tuple[str, Path]]:
    """``(student, notebook)`` of every notebook in ``folder``, checked."""
    if not folder.is_dir():
        raise AnswersError(f"submissions folder {folder}: no such folder")
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            found += [(entry.name, p) for p in sorted(entry.glob("*.ipynb"))]
        elif entry.suffix == ".ipynb":
            found.append((entry.stem, entry))
    if not found:
        raise AnswersError(f"submissions folder {folder} holds no notebook (.ipynb)")
    return found


def hand_graded(path: Path) -> dict[str, dict]:
    """``{label: {"prompt": markdown, "points": "2 points", "answer": text}}`` of the
    hand-graded questions of one notebook; an answer left as otter's placeholder is empty."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as error:  # nbformat raises several kinds for a damaged file
        raise AnswersError(f"{path} is not a readable notebook ({type(error).__name__})")
    questions, current = {}, None
    for cell in nb.cells:
        source = cell.source
        if current is not None and "<!-- END QUESTION -->" in source:
            current = None
        if "<!-- BEGIN QUESTION -->" in source:
            prompt = source.split("<!-- BEGIN QUESTION -->", 1)[1].strip()
            match = HEADER.search(prompt)
            if match:
                current = questions.setdefault(match.group(2), {
                    "prompt": prompt, "points": match.group(1), "answer": []})
            continue
        if current is not None:
            text = source.strip()
            if cell.cell_type == "code" and text:
                text = f"```python\n{text}\n```"
            if text and text != PLACEHOLDER:
                current["answer"].append(text)
    for question in questions.values():
        question["answer"] = "\n\n".join(question["answer"])
    return questions


def page(answers: dict[str, dict[str, dict]], rubrics: dict) -> str:
    """The HTML page: one section per question, one row per student."""
    render = mistune.create_markdown(escape=True)
    order: list[str] = []
    for questions in answers.values():
        order += [label for label in questions if label not in order]
    students = sorted(answers)
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'>",
             "<title>Hand-graded answers</title><style>",
             "body{font-family:sans-serif;max-width:70em;margin:auto}",
             "table{border-collapse:collapse;width:100%}",
             "td,th{border:1px solid #999;padding:.4em;vertical-align:top;text-align:left}",
             "td.points{width:6em}.empty{color:#a00}</style></head><body>",
             f"<h1>Hand-graded answers: {len(students)} students, {len(order)} questions</h1>",
             "<ul>" + "".join(f"<li><a href='#{html.escape(q)}'>{html.escape(q)}</a></li>"
                              for q in order) + "</ul>"]
    for label in order:
        first = next(a[label] for a in answers.values() if label in a)
        parts += [f"<h2 id='{html.escape(label)}'>{html.escape(label)} "
                  f"({html.escape(first['points'])})</h2>", render(first["prompt"])]
        rubric = rubrics.get(label.removesuffix("-interpretation"), {}).get("rubric")
        if label.endswith("-interpretation") and rubric:
            parts.append("<table><tr><th>Points</th><th>Criterion</th></tr>" + "".join(
                f"<tr><td>{c['points']:g}</td><td>{html.escape(c['criterion'])}</td></tr>"
                for c in rubric) + "</table><p></p>")
        parts.append("<table><tr><th>Student</th><th>Answer</th><th>Points</th></tr>")
        for student in students:
            answer = answers[student].get(label, {}).get("answer", "")
            shown = render(answer) if answer else "<p class='empty'>(no answer)</p>"
            parts.append(f"<tr><td>{html.escape(student)}</td><td>{shown}</td>"
                         "<td class='points'></td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w") as file:
        file.write(text)
    os.replace(scratch, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path)
    parser.add_argument("--out", type=Path, default=Path("answers.html"))
    args = parser.parse_args(argv)
    try:
        answers: dict[str, dict[str, dict]] = {}
        for student, notebook in submissions(args.submissions):
            answers.setdefault(student, {}).update(hand_graded(notebook))
        if not any(answers.values()):
            raise AnswersError(f"no hand-graded question in the notebooks of "
                               f"{args.submissions} (are they course notebooks?)")
        if args.out.is_dir():
            raise AnswersError(f"--out {args.out} is a folder; give a file name")
    except AnswersError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    rubrics = yaml.safe_load(INTERPRETATIONS.read_text(encoding="utf-8"))
    write_atomically(args.out, page(answers, rubrics))
    questions = {label for a in answers.values() for label in a}
    print(f"answers: {len(answers)} students, {len(questions)} questions in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
