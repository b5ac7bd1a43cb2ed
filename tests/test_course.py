"""The course edition (course/): graded exercises in every chapter, and a student edition
without any solution. ``make course-check`` grades it; these tests check its structure."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import time
import uuid
import zipfile
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


def test_the_autograder_installs_cpu_torch_and_the_repository_with_its_records(course):
    """Gradescope's image and otter grade build from the zip's requirements once: a CPU
    torch, and the package as an editable clone, whose results/ chapters 9-12 read."""
    zips = sorted((course / "instructor").rglob("autograder.zip"))
    assert len(zips) == len(CHAPTERS)
    for path in zips:
        with zipfile.ZipFile(path) as archive:
            environment = yaml.safe_load(archive.read("environment.yml"))
        pip = next(item["pip"] for item in environment["dependencies"]
                   if isinstance(item, dict))
        assert any(re.fullmatch(r"torch==[\d.]+\+cpu", line) for line in pip), path
        assert [line for line in pip if "recsys_lib" in line] == [
            f"-e git+{build.REPO_URL}#egg=recsys_lib"], path


def test_student_notebooks_start_with_the_colab_setup_cell(course):
    notebooks = sorted((course / "student").glob("*/*.ipynb"))
    assert len(notebooks) == len(CHAPTERS)
    for path in notebooks:
        nb = nbformat.read(path, 4)
        first_code = next(c for c in nb.cells if c.cell_type == "code").source
        # the book notebooks' setup (clone and pip install -e, so results/ is there), then otter
        assert first_code == build.setup_cell(path.stem)
        assert 'find_spec("recsys_lib") is None' in first_code
        assert '"clone"' in first_code and '"-e", "book-code"' in first_code
        assert "otter.Notebook" in first_code
    # where the packages are installed the cell installs nothing
    code = first_code.replace("import subprocess", "import subprocess\nsubprocess.run"
                              " = lambda *a, **k: (_ for _ in ()).throw(AssertionError('pip'))",
                              1)
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


# --- the platform half of issue 23: private overlay, safe --out, equation numbers, hand
# grading (course/build.py, course/interpretations.yml) ------------------------------------

def run_build(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "course" / "build.py"), *args],
                          capture_output=True, text=True)


def one_error_line(result, *words: str) -> None:
    """``result``: a finished process, or ``(status, stderr)`` of :func:`build.main`."""
    status, stderr = ((result.returncode, result.stderr)
                      if isinstance(result, subprocess.CompletedProcess) else result)
    assert status == 2, stderr
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.fixture
def main(capsys):
    """``build.main`` in this process: ``main(*args)`` gives ``(status, stderr)``."""
    def call(*args: str) -> tuple[int, str]:
        status = build.main(list(args))
        return status, capsys.readouterr().err
    yield call
    build.use_overlay(None)


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_a_mistyped_chapter_or_a_foreign_out_folder_touches_nothing(tmp_path, main):
    earlier = tmp_path / "course"  # a previous build: its marker and an edition
    (earlier / "student" / "09_glocal_k").mkdir(parents=True)
    (earlier / "student" / "09_glocal_k" / "09_glocal_k.ipynb").write_text("{}")
    (earlier / build.MARKER).write_text("made by course/build.py\n")
    before = tree(earlier)
    one_error_line(run_build("--out", str(earlier), "09_glocl_k"), "09_glocl_k", "09_glocal_k")
    assert tree(earlier) == before
    mine = tmp_path / "thesis"  # a folder the script did not make, with an edition's name
    (mine / "student").mkdir(parents=True)
    (mine / "student" / "notes.md").write_text("keep me")
    (mine / "draft.tex").write_text("keep me too")
    before = tree(mine)
    one_error_line(main("--out", str(mine), "09_glocal_k"), str(mine))
    assert tree(mine) == before
    (mine / "draft.tex").unlink()  # only a folder named like an edition: still not ours
    before = tree(mine)
    one_error_line(main("--out", str(mine), "09_glocal_k"), str(mine))
    assert tree(mine) == before
    one_error_line(main("--out", str(ROOT), "09_glocal_k"), "repository")


def test_a_bad_private_overlay_is_one_error_line(tmp_path, main):
    out = str(tmp_path / "out")
    one_error_line(main("--out", out, "--private", str(tmp_path / "nowhere"), "09_glocal_k"),
                   "no such folder")
    overlay = tmp_path / "my-course"
    (overlay / "checks").mkdir(parents=True)
    (overlay / "checks" / "glk-ex-poll.py").write_text("# %% glk-ex-poll hidden\n")
    one_error_line(main("--out", out, "--private", str(overlay), "09_glocal_k"),
                   "glk-ex-poll", "unknown exercise label")
    (overlay / "checks" / "glk-ex-poll.py").unlink()
    (overlay / "checks" / "glk-ex-pool.py").write_text("# %% glk-ex-conv hidden\n")
    one_error_line(main("--out", out, "--private", str(overlay), "09_glocal_k"), "glk-ex-conv")
    (overlay / "checks" / "glk-ex-pool.py").unlink()
    (overlay / "solutions.txt").write_text("?")
    one_error_line(main("--out", out, "--private", str(overlay), "09_glocal_k"), "none of")
    one_error_line(main("--out", out, "--private", str(ROOT / "course"), "09_glocal_k"),
                   "inside the repository")
    assert not (tmp_path / "out").exists()


OVERLAY_EXERCISE = '''\
```{exercise}
:label: glk-ex-pool

PRIVATE-PROMPT-{token}: write `global_kernel(reconstruction, bank, dot_scale, size)` as in the
chapter, but pool with the median over users instead of the mean.
```

````{solution-start} glk-ex-pool
:class: dropdown
````

```{code-cell} ipython3
import numpy as np


def global_kernel(reconstruction, bank, dot_scale, size):
    """Median pooling over users, then a weighted sum of the item kernels."""
    private_solution_{token} = np.median(reconstruction, axis=1)
    return dot_scale * (private_solution_{token} @ bank).reshape(size, size)
```

````{solution-end}
````
'''

OVERLAY_CHECKS = '''\
# %% glk-ex-pool public
def test_private_public_{token}(global_kernel):
    import numpy as np
    rng = np.random.default_rng(0)
    reconstruction, bank = rng.random((4, 5)), rng.random((4, 9))
    assert global_kernel(reconstruction, bank, 1.0, 3).shape == (3, 3)

# %% glk-ex-pool hidden
def test_private_hidden_{token}(global_kernel):
    import numpy as np
    rng = np.random.default_rng(1)
    reconstruction, bank = rng.random((6, 7)), rng.random((6, 9))
    expected = 2.0 * (np.median(reconstruction, axis=1) @ bank).reshape(3, 3)
    np.testing.assert_allclose(global_kernel(reconstruction, bank, 2.0, 3), expected)
'''


def test_a_private_overlay_replaces_an_exercise_and_its_hidden_check(tmp_path):
    started = time.time()
    token = uuid.uuid4().hex[:12]  # no file may hold it, but the overlay's
    overlay = tmp_path / "my-course"
    (overlay / "exercises").mkdir(parents=True)
    (overlay / "checks").mkdir()
    (overlay / "exercises" / "glk-ex-pool.md").write_text(
        OVERLAY_EXERCISE.replace("{token}", token))
    (overlay / "checks" / "glk-ex-pool.py").write_text(OVERLAY_CHECKS.replace("{token}", token))
    (overlay / "exercises.yml").write_text("glk-ex-pool: {points: 5}\n")
    out = tmp_path / "course"
    result = run_build("--out", str(out), "--private", str(overlay), "09_glocal_k")
    assert result.returncode == 0, result.stderr
    student = student_text(out / "student")
    instructor = student_text(out / "instructor")
    assert f"PRIVATE-PROMPT-{token}" in student and "5 points, `glk-ex-pool`" in student
    for secret in (f"private_solution_{token}", f"test_private_hidden_{token}"):
        assert secret not in student and secret in instructor, secret
    assert f"test_private_public_{token}" in student
    public = {re.search(r"def (\w+)", s).group(1) for label, checks in
              build.read_checks(ROOT / "notebooks" / "09_glocal_k.md").items()
              for _, s in checks if label == "glk-ex-pool"}
    assert public and not any(name in instructor for name in public)  # all replaced
    assert "test_" in instructor and "glk-ex-conv" in instructor  # the rest kept
    assert not list(out.glob("master")) and not list(out.glob(".building-*"))
    # nothing of the overlay lands in the repository
    for path in ROOT.rglob("*"):
        if (".git" in path.parts or ".venv" in path.parts or not path.is_file()
                or path.stat().st_mtime < started):
            continue
        assert token.encode() not in path.read_bytes(), path


def test_student_notebooks_cite_equations_by_the_books_numbers():
    numbers = build.equation_numbers()
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    numbered = [c["file"] for part in toc["parts"] if part.get("numbered")
                for c in part["chapters"]]
    # the book numbers chapters on across its parts, and equations (chapter.n) (numfig)
    assert [Path(f).stem for f in numbered] == [c.stem for c in CHAPTERS]
    assert all(f"notebooks/{c.stem}" in numbered[int(c.stem[:2]) - 1] for c in CHAPTERS)
    assert numbers["eq-glk-pool"] == "9.1" and numbers["eq-svd-biased-mf"].startswith("3.")
    cited = 0
    for chapter in CHAPTERS:
        parsed = build.parse_chapter(chapter)
        texts = [t["body"] for t in parsed["preamble"] if t["kind"] == "markdown"]
        texts += [e["prompt"] for e in parsed["exercises"]]
        texts += [t["body"] for e in parsed["exercises"] for t in e["solution"]
                  if t["kind"] != "code-cell"]
        for text in texts:
            plain = build.plain_markdown(text, chapter.stem)
            for label in re.findall(r"\{eq\}`([^`]+)`", text):
                assert f"({numbers[label]})" in plain, label
                cited += 1
            assert not re.search(r"eq-[a-z]|\{[a-z]+\}`|handed out as graded", plain), plain
    assert cited >= 13


def test_interpretation_questions_have_specific_prompts_and_point_rubrics():
    questions = yaml.safe_load((ROOT / "course" / "interpretations.yml").read_text())
    compute = [label for label, facts in CATALOGUE.items() if facts["kind"] == "compute"]
    assert sorted(questions) == sorted(compute) and len(compute) >= 11
    prompts = [q["prompt"] for q in questions.values()]
    assert len(set(prompts)) == len(prompts)
    for label, question in questions.items():
        assert "what does your result" not in question["prompt"].lower(), label
        points = [c["points"] for c in question["rubric"]]
        assert len(points) >= 2 and all(p > 0 for p in points), label
        assert all(len(c["criterion"]) > 40 for c in question["rubric"]), label
        assert build.interpretation(label)["points"] == sum(points)
    chapter = ROOT / "notebooks" / "09_glocal_k.md"
    rubric = build.rubrics(chapter, build.exercise_facts())
    assert "## glk-ex-select-interpretation (2 points)" in rubric
    assert "| 1 | Reports the numbers" in rubric
    nb, listed = build.master_notebook(chapter, build.exercise_facts())
    text = "\n".join(c.source for c in nb.cells)
    assert questions["glk-ex-select"]["prompt"] in text


def test_the_gpu_exercise_is_a_bonus_outside_the_total():
    facts = CATALOGUE["mf-ex-gpu"]
    assert facts["points"] == 0 and facts["bonus"] > 0
    chapter = ROOT / "notebooks" / "06_embedding_mf.md"
    nb, listed = build.master_notebook(chapter, build.exercise_facts())
    head = next(c.source for c in nb.cells if "name: mf-ex-gpu" in c.source)
    assert "points: 0" in head
    assert "bonus" in build.rubrics(chapter, build.exercise_facts())


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


def library_names(wrapper: str) -> set[str]:
    """The recsys_lib functions a wrapper calls: names imported from recsys_lib (modules
    counted by the attribute used, as ``describe.gini``)."""
    tree = ast.parse(wrapper)
    modules, names = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("recsys_lib"):
            for alias in node.names:
                name = alias.asname or alias.name
                try:
                    importlib.import_module(f"{node.module}.{alias.name}")
                    is_module = True
                except ImportError:
                    is_module = False
                (modules if is_module else names).add(name)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in modules):
            names.add(f"{node.value.id}.{node.attr}")
    return names


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_the_public_checks_do_not_name_the_library_function_that_answers(chapter):
    """A student reading the public checks learns what to compute, not which recsys_lib
    function computes it: no public check names a function its exercise's wrapper calls,
    beyond what the exercise's solution may call (its allow block)."""
    allowed = {label: set(body.split()) for label, kind, body in build.check_blocks(chapter)
               if kind == "allow"}
    for label, wrapper in build.wrappers(chapter).items():
        public = "\n".join(source for hidden, source in build.read_checks(chapter)[label]
                           if not hidden)
        allow = {name.rsplit(".", 1)[-1] for name in allowed.get(label, ())}
        names = library_names(wrapper)
        assert names, f"{label}: the wrapper calls nothing of recsys_lib"
        for name in names:
            if name.rsplit(".", 1)[-1] not in allow:
                assert not re.search(rf"\b{re.escape(name)}\b", public), (label, name)


def test_the_hidden_common_block_reaches_every_hidden_check_and_no_public_one():
    """Chapter 7's reference helper is written once, in its ``# %% common hidden`` block."""
    chapter = ROOT / "notebooks" / "07_autorec.md"
    sources = [(hidden, source) for checks in build.read_checks(chapter).values()
               for hidden, source in checks]
    assert {hidden for hidden, _ in sources} == {True, False}
    for hidden, source in sources:
        assert ("def problem_and_params(" in source) == hidden, source[:200]
        assert "def random_split(" in source  # the common block reaches every check


# --- the course notebooks on Colab or a hub: chapters 9-12 from an empty folder -------------

RECORD_ERRORS = ("MissingRecordError", "RecordFileError")


def fresh_environment(folder: Path) -> str:
    """A kernel without recsys_lib: a venv that sees this environment's other packages (a
    .pth file) but not its editable recsys_lib, so the setup cell has to install it. Returns
    the kernel's name (its spec is in ``folder/jupyter``, for JUPYTER_PATH)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder / "venv")],
                   check=True)
    site = next((folder / "venv" / "lib").glob("python3*/site-packages"))
    ours = next(p for p in sys.path if p.endswith("site-packages") and sys.prefix in p)
    (site / "book-environment.pth").write_text(ours + "\n")
    spec = folder / "jupyter" / "kernels" / "fresh"
    spec.mkdir(parents=True)
    # offline: pip finds every dependency installed, and builds with this setuptools
    env = {"PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0"}
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(folder / "venv" / "bin" / "python"), "-m", "ipykernel_launcher", "-f",
                 "{connection_file}"], "display_name": "fresh", "language": "python",
        "env": env}))
    return "fresh"


def test_course_notebooks_of_chapters_9_to_12_run_from_an_empty_folder(course, tmp_path,
                                                                       monkeypatch):
    """Each student notebook's setup cell clones the repository (here: this one, by its
    file:// URL) and installs it with pip install -e, as the book's notebooks do, so the
    preamble's records load. The exercises are blank, so their cells may fail; no cell may
    fail for want of a record."""
    nbclient = pytest.importorskip("nbclient")
    kernel = fresh_environment(tmp_path)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    url = build.make_notebooks.repository_url()
    for chapter in ("09_glocal_k", "10_leaderboard", "11_blend", "12_topn"):
        folder = tmp_path / "hub" / chapter
        shutil.copytree(course / "student" / chapter, folder)
        path = folder / f"{chapter}.ipynb"
        nb = nbformat.read(path, 4)
        setup = next(c for c in nb.cells if c.cell_type == "code")
        assert f'REPOSITORY = "{url}"' in setup.source and '"-e", "book-code"' in setup.source
        setup.source = setup.source.replace(url, ROOT.as_uri())
        nb.cells.append(nbformat.v4.new_code_cell("import recsys_lib\n"
                                                  "print(recsys_lib.__file__)"))
        nbclient.NotebookClient(nb, kernel_name=kernel, allow_errors=True, timeout=600,
                                resources={"metadata": {"path": str(folder)}}).execute()
        errors = {i: o for i, c in enumerate(nb.cells) if c.cell_type == "code"
                  for o in c.outputs if o.output_type == "error"}
        for index, error in errors.items():
            text = error.ename + "\n".join(error.traceback)
            assert not any(name in text for name in RECORD_ERRORS), (chapter, index, text)
        first_exercise = next(i for i, c in enumerate(nb.cells) if "BEGIN QUESTION"
                              in c.source or "otter_answer_cell" in c.metadata.get("tags", []))
        assert not [i for i in errors if i < first_exercise], (chapter, errors)
        printed = "".join(o.get("text", "") for o in setup.outputs)
        assert len(printed.splitlines()) <= 3, printed  # quietly
        where = nb.cells[-1].outputs[0]["text"]
        assert str(tmp_path / "hub") in where and "book-code" in where, where


def test_grade_refuses_bad_submissions_with_one_error_line(tmp_path, monkeypatch, capsys):
    """make grade's script: no such folder, an empty one, a stray file, a broken notebook
    and a notebook of no chapter each get one error: line and exit status 2, and nothing is
    written (the gradebook's folder is not even made)."""
    spec = importlib.util.spec_from_file_location("course_grade", ROOT / "course" / "grade.py")
    grade = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(grade)
    (tmp_path / "empty").mkdir()
    (tmp_path / "stray").mkdir()
    (tmp_path / "stray" / "notes.txt").write_text("hi")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "ann.ipynb").write_text("{")
    (tmp_path / "other").mkdir()
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "other" / "essay.ipynb")
    (tmp_path / "a-file").write_text("hi", encoding="utf-8")
    out = tmp_path / "grades"
    cases = {"missing": "no such folder", "a-file": "is a file, not a folder of submissions",
             "empty": "is empty", "stray": "is not a notebook",
             "broken": "is not a notebook", "other": "no chapter of the course"}
    for folder, words in cases.items():
        monkeypatch.setattr(sys, "argv", ["grade.py", str(tmp_path / folder), "--out", str(out)])
        with pytest.raises(SystemExit) as exit_:
            grade.main()
        assert exit_.value.code == 2, folder
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], lines
        assert not out.exists()
