"""Build the course from the chapters' ``## Exercises`` sections.

For every chapter ``notebooks/NN_name.md`` this reads the section from its ``## Exercises``
heading to the end, turns it into an otter-grader master notebook (the exercise prompts, the
solutions between ``{solution-start}`` and ``{solution-end}``, and the checks of
``course/checks/NN_name.py``), and runs ``otter assign`` on it. The output:

* ``_build/course/student/NN_name/``: the student notebook and its public checks;
* ``_build/course/instructor/NN_name/``: the notebook with solutions, every check (public and
  hidden), the rubrics of the short answers and ``autograder.zip`` for ``otter run``.

Exercise facts (kind, points, minutes, what it needs) are in ``course/exercises.yml``.
Usage: ``python course/build.py [--out _build/course] [CHAPTER ...]``.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "notebooks"
CHECKS = ROOT / "course" / "checks"
CATALOGUE = ROOT / "course" / "exercises.yml"
REPO_URL = "https://github.com/recsys-book/rating-prediction"
FENCE = re.compile(r"^(`{3,}|:{3,})\{([\w-]+)\}\s*(.*)$")

SETUP_CELL = f'''\
# Setup. On Colab (or wherever the packages are missing) this installs the book's package and
# the grader; where they are installed already it does nothing.
import subprocess
import sys

try:
    import recsys_lib  # noqa: F401
except ImportError:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q",
                           "recsys_lib @ git+{REPO_URL}"])
try:
    import otter
except ImportError:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q",
                           "otter-grader==7.0.*"])
    import otter

grader = otter.Notebook(tests_dir="tests")'''


# --- reading a chapter ------------------------------------------------------------------------

def tokens(text: str) -> list[dict]:
    """Split MyST text into directive blocks (code cells, exercises, solutions) and markdown."""
    out, lines, i, prose = [], text.splitlines(), 0, []

    def flush():
        body = "\n".join(prose).strip()
        if body:
            out.append({"kind": "markdown", "body": body})
        prose.clear()

    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            prose.append(lines[i])
            i += 1
            continue
        flush()
        fence, name, arg = match.groups()
        i += 1
        options, body = {}, []
        while i < len(lines) and lines[i].strip() != fence:
            if not body and lines[i].startswith(":") and not fence.startswith(":"):
                key, _, value = lines[i][1:].partition(":")
                options[key.strip()] = value.strip()
            else:
                body.append(lines[i])
            i += 1
        i += 1
        out.append({"kind": name, "arg": arg.strip(), "options": options,
                    "body": "\n".join(body).strip("\n")})
    flush()
    return out


def exercises_section(chapter: Path) -> str:
    text = chapter.read_text()
    start = text.find("\n## Exercises")
    if start < 0:
        raise SystemExit(f"{chapter.name}: no '## Exercises' heading")
    return text[start + 1:]


def chapter_title(chapter: Path) -> str:
    return next(line[2:].strip() for line in chapter.read_text().splitlines()
                if line.startswith("# "))


def parse_chapter(chapter: Path) -> dict:
    """The section's preamble (markdown and setup code) and its exercises, in order."""
    preamble, exercises, current, in_solution = [], [], None, False
    for token in tokens(exercises_section(chapter)):
        kind = token["kind"]
        if kind == "exercise":
            current = {"label": token["options"]["label"], "prompt": token["body"],
                       "solution": []}
            exercises.append(current)
        elif kind == "solution-start":
            in_solution = True
            assert current and token["arg"] == current["label"], token
        elif kind == "solution-end":
            in_solution = False
        elif kind == "solution":
            assert current and token["arg"] == current["label"], token
            current["solution"].append({"kind": "markdown", "body": token["body"]})
        elif in_solution:
            current["solution"].append(token)
        elif current is None:
            preamble.append(token)
        elif kind == "markdown" and token["body"].startswith("#"):
            continue
        else:
            raise SystemExit(f"{chapter.name}: {kind} block outside a solution after "
                             f"exercise {current['label']}")
    return {"title": chapter_title(chapter), "preamble": preamble, "exercises": exercises}


def read_checks(chapter: Path) -> dict[str, list[tuple[bool, str]]]:
    """``{label: [(hidden, test function source), ...]}`` from ``course/checks/NN_name.py``.

    Blocks start with ``# %% LABEL public`` or ``# %% LABEL hidden``; a ``# %% common`` block
    is put at the top of every test function (each test must stand alone in the notebook).
    """
    path = CHECKS / f"{chapter.stem}.py"
    if not path.exists():
        return {}
    common, checks = "", {}
    for block in re.split(r"^# %% ", path.read_text(), flags=re.M)[1:]:
        head, _, body = block.partition("\n")
        words = head.split()
        if words[0] == "common":
            common = body.strip("\n")
            continue
        label, visibility = words
        tree = ast.parse(body)
        assert len(tree.body) == 1 and isinstance(tree.body[0], ast.FunctionDef), label
        function = tree.body[0]
        lines = body.strip("\n").splitlines()
        first = function.body[0].lineno - 1
        indent = " " * function.body[0].col_offset
        source = "\n".join(lines[:first] + textwrap.indent(common, indent).splitlines()
                           + lines[first:])
        checks.setdefault(label, []).append((visibility == "hidden", source))
    return checks


# --- the master notebook ----------------------------------------------------------------------

def plain_markdown(text: str) -> str:
    """MyST roles that a plain notebook cannot resolve, as words."""
    text = re.sub(r"\{eq\}`([^`]+)`", r"(equation `\1` of the chapter)", text)
    text = re.sub(r"\{doc\}`([^`]+)`", r"the book page `\1`", text)
    text = re.sub(r"\{(?:ref|numref)\}`([^`<]*?)\s*(?:<[^>]+>)?`", r"\1", text)
    return text


def stub_marked(source: str) -> str:
    """Solution code with otter's markers: imports stay, a function keeps its signature and
    docstring (its body becomes ``...``), every other run of statements becomes one ``...``."""
    tree = ast.parse(source)
    lines = source.splitlines()
    out, last, open_block = [], 0, False
    for node in tree.body:
        start = (node.decorator_list[0].lineno if getattr(node, "decorator_list", None)
                 else node.lineno) - 1
        end = node.end_lineno
        hidden = not isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef))
        if open_block and not hidden:
            out.append("# END SOLUTION")
            open_block = False
        if hidden and not open_block:
            out.append("# BEGIN SOLUTION")
            open_block = True
        out.extend(lines[last:start])  # comments and blank lines between statements
        if isinstance(node, ast.FunctionDef):
            body = node.body
            has_doc = (isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                       and isinstance(body[0].value.value, str))
            first = body[1] if has_doc and len(body) > 1 else body[0]
            keep_until = first.lineno - 1
            indent = " " * first.col_offset
            out.extend(lines[start:keep_until])
            out.append(indent + "# BEGIN SOLUTION")
            out.extend(lines[keep_until:end])
            out.append(indent + "# END SOLUTION")
        else:
            out.extend(lines[start:end])
        last = end
    if open_block:
        out.append("# END SOLUTION")
    out.extend(lines[last:])
    return "\n".join(out)


def raw(text: str):
    return nbformat.v4.new_raw_cell(text)


def master_notebook(chapter: Path, catalogue: dict) -> tuple[nbformat.NotebookNode, list]:
    parsed = parse_chapter(chapter)
    checks = read_checks(chapter)
    config = {"name": chapter.stem, "init_cell": False, "check_all_cell": True,
              "export_cell": False, "run_tests": False, "solutions_pdf": False,
              "generate": {"pdf": False},
              "tests": {"files": True, "ok_format": False}}
    cells = [raw("# ASSIGNMENT CONFIG\n" + yaml.safe_dump(config, sort_keys=False)),
             nbformat.v4.new_markdown_cell(
                 f"# Exercises: {parsed['title']}\n\nThese exercises go with the chapter "
                 f"*{parsed['title']}* (`notebooks/{chapter.name}`). Run the cells from the top. "
                 "`grader.check(\"...\")` runs the public checks of an exercise; your "
                 "instructor grades with more (hidden) checks, on fresh random data, so make "
                 "your functions correct in general, not just for the examples."),
             nbformat.v4.new_code_cell(SETUP_CELL)]
    for token in parsed["preamble"]:
        if token["kind"] == "code-cell":
            cells.append(nbformat.v4.new_code_cell(token["body"]))
        elif token["kind"] == "markdown":
            body = re.sub(r"^## Exercises\s*", "", token["body"]).strip()
            if body:
                cells.append(nbformat.v4.new_markdown_cell(plain_markdown(body)))
    questions = []
    for number, exercise in enumerate(parsed["exercises"], 1):
        label = exercise["label"]
        facts = catalogue[label]
        manual = facts["kind"] == "short"
        if not manual and not checks.get(label):
            raise SystemExit(f"{chapter.name}: auto-graded exercise {label} has no checks")
        questions.append({"label": label, "chapter": chapter.stem, **facts})
        head = {"name": label, "points": facts["points"], "manual": manual}
        cells.append(raw("# BEGIN QUESTION\n" + yaml.safe_dump(head, sort_keys=False)))
        kind = {"implement": "Implement it", "compute": "Compute and interpret",
                "short": "Short answer"}[facts["kind"]]
        cells.append(nbformat.v4.new_markdown_cell(
            f"**Exercise {number}** ({kind}, {facts['points']} points, `{label}`)\n\n"
            + plain_markdown(exercise["prompt"])))
        code = [t for t in exercise["solution"] if t["kind"] == "code-cell"]
        prose = [t for t in exercise["solution"] if t["kind"] != "code-cell"]
        cells.append(raw("# BEGIN SOLUTION"))
        for token in (exercise["solution"] if manual else code):
            if token["kind"] == "code-cell":
                cell = nbformat.v4.new_code_cell(stub_marked(token["body"]))
            else:
                cell = nbformat.v4.new_markdown_cell(plain_markdown(token["body"]))
            cells.append(cell)
        cells.append(raw("# END SOLUTION"))
        if not manual:
            cells.append(raw("# BEGIN TESTS"))
            for hidden, source in checks[label]:
                cells.append(nbformat.v4.new_code_cell(("# HIDDEN\n" if hidden else "")
                                                       + source))
            cells.append(raw("# END TESTS"))
        cells.append(raw("# END QUESTION"))
        if facts["kind"] == "compute" and prose:
            name = f"{label}-interpretation"
            questions.append({"label": name, "chapter": chapter.stem, "kind": "short",
                              "points": 2, "minutes": 10, "needs": facts["needs"]})
            head = {"name": name, "points": 2, "manual": True}
            cells += [raw("# BEGIN QUESTION\n" + yaml.safe_dump(head, sort_keys=False)),
                      nbformat.v4.new_markdown_cell(
                          f"**Exercise {number}, interpretation** (Short answer, 2 points, "
                          f"`{name}`)\n\nIn a few sentences: what does your result for "
                          f"exercise {number} show, and why?"),
                      raw("# BEGIN SOLUTION")]
            cells += [nbformat.v4.new_markdown_cell(plain_markdown(t["body"])) for t in prose]
            cells += [raw("# END SOLUTION"), raw("# END QUESTION")]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python",
                                 "name": "python3"}
    return nb, questions


def rubrics(chapter: Path, catalogue: dict) -> str:
    """The model answers and rubrics of a chapter's short-answer exercises, as markdown."""
    parsed = parse_chapter(chapter)
    parts = [f"# Rubrics: {parsed['title']}\n"]
    for exercise in parsed["exercises"]:
        if catalogue[exercise["label"]]["kind"] == "implement":
            continue
        parts.append(f"## {exercise['label']}\n\n{plain_markdown(exercise['prompt'])}\n")
        parts += [plain_markdown(t["body"]) + "\n" for t in exercise["solution"]
                  if t["kind"] == "markdown"]
    return "\n".join(parts)


def build(out: Path, chapters: list[Path]) -> list[dict]:
    catalogue = yaml.safe_load(CATALOGUE.read_text())
    otter = Path(sys.executable).with_name("otter")
    masters = out / "master"
    for edition in ("master", "otter", "student", "instructor"):
        shutil.rmtree(out / edition, ignore_errors=True)
    masters.mkdir(parents=True)
    all_questions = []
    for chapter in chapters:
        nb, questions = master_notebook(chapter, catalogue)
        all_questions += questions
        master = masters / f"{chapter.stem}.ipynb"
        nbformat.write(nb, master)
        result = out / "otter" / chapter.stem
        subprocess.run([str(otter), "assign", "--no-run-tests", "--no-pdfs", str(master),
                        str(result)], check=True, cwd=masters, stdout=subprocess.DEVNULL)
        shutil.copytree(result / "student", out / "student" / chapter.stem)
        instructor = out / "instructor" / chapter.stem
        shutil.copytree(result / "autograder", instructor)
        for archive in instructor.glob("*-autograder_*.zip"):
            archive.rename(instructor / "autograder.zip")
        (instructor / "rubrics.md").write_text(rubrics(chapter, catalogue))
    (out / "instructor" / "questions.json").write_text(json.dumps(all_questions, indent=1))
    (out / "student" / "README.md").write_text(
        "# Course notebooks\n\nOne folder per chapter. Open `NN_name/NN_name.ipynb` (keep the "
        "`tests/` folder beside it), run it from the top, and hand in the notebook.\n")
    shutil.rmtree(out / "otter")
    return all_questions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "course")
    parser.add_argument("chapters", nargs="*")
    args = parser.parse_args()
    chapters = ([CHAPTERS / f"{c}.md" for c in args.chapters] if args.chapters
                else sorted(p for p in CHAPTERS.glob("[0-9][0-9]_*.md")))
    questions = build(args.out.resolve(), chapters)
    auto = sum(q["kind"] != "short" for q in questions)
    print(f"course: {len(chapters)} chapters, {len(questions)} exercises "
          f"({auto} auto-graded) in {args.out}")


if __name__ == "__main__":
    main()
