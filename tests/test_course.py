"""The course edition (course/): graded exercises in every chapter, and a student edition
without any solution. ``make course-check`` grades it; these tests check its structure."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("course_build", ROOT / "course" / "build.py")
build = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build)

CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.md"))
CATALOGUE = yaml.safe_load((ROOT / "course" / "exercises.yml").read_text())


def test_every_chapter_has_three_graded_exercises_with_public_and_hidden_checks():
    total = 0
    for chapter in CHAPTERS:
        parsed = build.parse_chapter(chapter)
        checks = build.read_checks(chapter)
        auto = [e for e in parsed["exercises"] if CATALOGUE[e["label"]]["kind"] != "short"]
        assert len(auto) >= 3, chapter.name
        total += len(auto)
        for exercise in auto:
            kinds = {hidden for hidden, _ in checks.get(exercise["label"], [])}
            assert kinds == {False, True}, f"{exercise['label']}: public and hidden checks"
            assert any(t["kind"] == "code-cell" for t in exercise["solution"]), \
                f"{exercise['label']}: the solution must be code that runs"
        assert set(checks) <= {e["label"] for e in parsed["exercises"]}, chapter.name
    assert total >= 30
    labels = [e["label"] for c in CHAPTERS for e in build.parse_chapter(c)["exercises"]]
    assert sorted(labels) == sorted(CATALOGUE)


def test_solutions_are_gated_and_code_lines_are_short():
    for chapter in CHAPTERS:
        section = build.exercises_section(chapter)
        # no solution code as an indented literal block (it would never run)
        for block in re.findall(r"```\{solution\}.*?\n```", section, flags=re.S):
            assert not re.search(r"^    \S", block, flags=re.M), chapter.name
        for token in build.tokens(section):
            if token["kind"] == "code-cell":
                long = [line for line in token["body"].splitlines() if len(line) > 88]
                assert not long, f"{chapter.name}: {long}"
        assert section.count("{solution-start}") == section.count("{solution-end}")
        for match in re.finditer(r"\{solution-start\} \S+\n(:class: \w+)", section):
            assert match.group(1) == ":class: dropdown", chapter.name


def solution_lines(exercise: dict) -> list[str]:
    """Lines of a solution that a student must not see: code the stub does not keep, and
    every sentence of the written answers and rubrics."""
    lines = []
    for token in exercise["solution"]:
        if token["kind"] == "code-cell":
            stub = build.stub_marked(token["body"])
            kept, hiding = set(), False
            for line in stub.splitlines():
                if line.strip().startswith("# BEGIN SOLUTION"):
                    hiding = True
                elif line.strip() == "# END SOLUTION":
                    hiding = False
                elif not hiding:
                    kept.add(line.strip())
            lines += [line.strip() for line in token["body"].splitlines()
                      if len(line.strip()) > 15 and line.strip() not in kept]
        else:
            text = " ".join(build.plain_markdown(token["body"]).split())
            lines += [s for s in re.split(r"(?<=[.:])\s+", text) if len(s) > 30]
    return lines


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    out = tmp_path_factory.mktemp("course")
    subprocess.run([sys.executable, str(ROOT / "course" / "build.py"), "--out", str(out)],
                   check=True, capture_output=True)
    return out


def student_text(folder: Path) -> str:
    parts = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", errors="ignore")
            if path.suffix == ".ipynb":  # compare cell sources as plain text, not JSON
                text += "\n".join(c.source for c in nbformat.reads(text, 4).cells)
            parts.append(" ".join(text.split()))
    return "\n".join(parts)


def test_student_edition_holds_no_solution(course):
    text = student_text(course / "student")
    instructor = "\n".join(" ".join(p.read_text(errors="ignore").split())
                           for p in (course / "instructor").rglob("*")
                           if p.is_file() and p.suffix in (".ipynb", ".md", ".py"))
    checked = 0
    for chapter in CHAPTERS:
        for exercise in build.parse_chapter(chapter)["exercises"]:
            for line in solution_lines(exercise):
                flat = " ".join(line.split())
                assert flat not in text, f"{exercise['label']}: {line!r} in the student edition"
                checked += 1
    assert checked > 300
    # the hidden checks are only in the instructor edition
    for chapter in CHAPTERS:
        for label, checks in build.read_checks(chapter).items():
            for hidden, source in checks:
                name = re.search(r"def (\w+)", source).group(1)
                mine = student_text(course / "student" / chapter.stem)
                assert (name in mine) != hidden, f"{label}: {name}"
                assert name in instructor
    assert not list((course / "student").rglob("*.zip"))
    assert not list((course / "student").rglob("*.md"))[1:]  # only the README


def test_student_notebooks_start_with_the_colab_setup_cell(course):
    notebooks = sorted((course / "student").glob("*/*.ipynb"))
    assert len(notebooks) == len(CHAPTERS)
    for path in notebooks:
        nb = nbformat.read(path, 4)
        first_code = next(c for c in nb.cells if c.cell_type == "code").source
        assert "import recsys_lib" in first_code and "except ImportError" in first_code
        assert "git+https://github.com/recsys-book/rating-prediction" in first_code
    # where the packages are installed the cell installs nothing
    code = first_code.replace("import subprocess", "import subprocess\nsubprocess.check_call"
                              " = lambda *a, **k: (_ for _ in ()).throw(AssertionError('pip'))")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=notebooks[-1].parent)


def test_the_instructors_table_is_generated_from_the_catalogue():
    """The exercise table of book/instructors.md is written by ``course/build.py --tables``
    from course/exercises.yml and the chapters; an edit to either shows up here."""
    sys.path.insert(0, str(ROOT / "course"))
    try:
        import build
    finally:
        sys.path.pop(0)
    page = (ROOT / "book" / "instructors.md").read_text()
    table = build.catalogue_table(sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.md")))
    assert build.page_with_table(page, table) == page, \
        "run: python course/build.py --tables"


def test_catalogue_is_on_the_instructors_page(course):
    page = (ROOT / "book" / "instructors.md").read_text()
    for label in CATALOGUE:
        assert f"`{label}`" in page, label
    questions = json.loads((course / "instructor" / "questions.json").read_text())
    assert sum(q["kind"] != "short" for q in questions) >= 30


# --- grading: the checks run as otter runs them (each test function alone, the student's
# functions passed by name), without otter, on chapter 2 (numbers only, no data) ----------

EVALUATION = ROOT / "notebooks" / "02_evaluation.md"


def solution_functions(chapter: Path, label: str) -> str:
    """The graded function definitions of an exercise's solution (no apply-to-data code)."""
    import ast
    exercise = next(e for e in build.parse_chapter(chapter)["exercises"]
                    if e["label"] == label)
    parts = []
    for token in exercise["solution"]:
        if token["kind"] == "code-cell":
            tree = ast.parse(token["body"])
            parts += [ast.get_source_segment(token["body"], node) for node in tree.body
                      if isinstance(node, (ast.FunctionDef, ast.Import, ast.ImportFrom))]
    return "\n\n".join(parts)


def failures(chapter: Path, label: str, source: str) -> list[str]:
    """``name: error`` of every check of ``label`` that the definitions in ``source`` fail."""
    namespace = {"__name__": "__main__"}
    exec(compile("import numpy as np\n" + source, "<submission>", "exec"), namespace)
    failed = []
    for _, check in build.read_checks(chapter)[label]:
        env: dict = {}
        exec(compile(check, "<check>", "exec"), env)
        test = next(v for k, v in env.items() if k.startswith("test_"))
        args = test.__code__.co_varnames[:test.__code__.co_argcount]
        try:
            test(**{a: namespace[a] for a in args})
        except Exception as exc:  # noqa: BLE001 - a failed check, whatever it raised
            failed.append(f"{test.__name__}: {type(exc).__name__}: {exc}")
    return failed


def test_named_wrong_answers_fail_every_time_and_the_solutions_pass():
    """Precision averaged over every user (also those without a relevant item) and a
    bootstrap without clipping fail; graded twice, the outcome is the same (fixed seeds)."""
    precision = solution_functions(EVALUATION, "eval-ex-precision")
    bootstrap = solution_functions(EVALUATION, "eval-ex-bootstrap")
    all_users = (precision.replace("        if not relevant.any():\n            continue\n", "")
                 .replace("        recalls.append(hits / relevant.sum())\n",
                          "        if relevant.any():\n"
                          "            recalls.append(hits / relevant.sum())\n"))
    unclipped = (bootstrap
                 .replace("np.clip(np.asarray(pred_a, dtype=float), *rating_scale)",
                          "np.asarray(pred_a, dtype=float)")
                 .replace("np.clip(np.asarray(pred_b, dtype=float), *rating_scale)",
                          "np.asarray(pred_b, dtype=float)"))
    assert all_users != precision and "np.clip" in bootstrap and "np.clip" not in unclipped
    for label, right, wrong in [("eval-ex-precision", precision, all_users),
                                ("eval-ex-bootstrap", bootstrap, unclipped)]:
        assert failures(EVALUATION, label, right) == [], label
        first = failures(EVALUATION, label, wrong)
        assert len(first) == len(build.read_checks(EVALUATION)[label]), (label, first)
        assert failures(EVALUATION, label, wrong) == first, f"{label}: not reproducible"


def test_a_submission_that_calls_the_library_scores_zero():
    """Each wrapper of chapter 2 (the graded function as a call of recsys_lib's) fails every
    check with the guard's message; the student's own helper functions are not affected."""
    wrappers = build.wrappers(EVALUATION)
    assert {"eval-ex-errors", "eval-ex-precision"} <= set(wrappers)
    for label, source in wrappers.items():
        failed = failures(EVALUATION, label, source)
        assert len(failed) == len(build.read_checks(EVALUATION)[label]), label
        assert all("this check grades your own implementation: recsys_lib." in f
                   and "is disabled here" in f for f in failed), failed
    # the public checks do not name the library function a wrapper calls
    for label, checks in build.read_checks(EVALUATION).items():
        public = "\n".join(source for hidden, source in checks if not hidden)
        for name in ("metrics.rmse", "metrics.mae", "ranking_metrics"):
            assert name not in public, (label, name)
