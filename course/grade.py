"""Grade a folder of submissions with ``otter run`` (no Docker) and write one gradebook CSV.

``SUBMISSIONS`` holds one notebook per student (``alice.ipynb``: the student is the file's
name) or one folder per student (``alice/02_evaluation.ipynb``, ``alice/07_autorec.ipynb``,
...). Each notebook is graded by the autograder of its chapter, read from the notebook's
metadata (``otter.assignment_name``, which the course edition writes) or else from its file
name. The gradebook has one row per student, one column per auto-graded question (in the
catalogue's order; empty where the student handed in no notebook of that chapter) and the
total. otter's full results of each notebook go to ``OUT/STUDENT/CHAPTER/``.
Usage: ``python course/grade.py SUBMISSIONS [--course _build/course] [--out _build/grades]
[--check-only]``.
Bad input (no such folder, an empty one, a file that is not a notebook, a notebook of no
chapter) gets one ``error:`` line and exit status 2, before anything is graded.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class GradingError(Exception):
    """A submission or course folder that cannot be graded; the message is one line."""


def otter_run(notebook: Path, autograder: Path, out: Path) -> dict[str, tuple[float, float]]:
    """``{question: (score, possible)}`` of one notebook, graded by ``otter run`` into ``out``
    (created if missing; otter itself stops when it does not exist)."""
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    otter = Path(sys.executable).with_name("otter")
    proc = subprocess.run([str(otter), "run", "--no-logo", "-a", str(autograder), "-o",
                           str(out), str(notebook)], capture_output=True, text=True, env=env,
                          cwd=notebook.parent)
    results = out / "results.json"
    if proc.returncode != 0 or not results.exists():
        (out / "otter.log").write_text(f"{proc.stdout}\n{proc.stderr}", encoding="utf-8")
        raise RuntimeError(f"otter run failed on {notebook} (its output: {out / 'otter.log'})")
    data = json.loads(results.read_text(encoding="utf-8"))
    return {t["name"]: (float(t["score"]), float(t["max_score"])) for t in data["tests"]
            if "score" in t}  # the "Public Tests" summary entry carries no score


def chapter_of(notebook: Path, chapters: set[str]) -> str:
    """The chapter a submitted notebook answers: its otter metadata, else its file name."""
    try:
        meta = json.loads(notebook.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GradingError(f"{notebook} is not a notebook ({type(exc).__name__})") from None
    name = (meta.get("otter") or {}).get("assignment_name")
    for candidate in (name, notebook.stem):
        if candidate in chapters:
            return candidate
    raise GradingError(f"{notebook}: no chapter of the course (its otter assignment_name is "
                       f"{name!r}, its file name {notebook.name!r})")


def submissions(folder: Path, chapters: set[str]) -> list[tuple[str, str, Path]]:
    """``(student, chapter, notebook)`` of every submission in ``folder``, checked first."""
    if folder.exists() and not folder.is_dir():
        raise GradingError(f"{folder} is a file, not a folder of submissions")
    if not folder.is_dir():
        raise GradingError(f"no such folder of submissions: {folder}")
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    if not entries:
        raise GradingError(f"the folder of submissions {folder} is empty")
    found = []
    for entry in entries:
        if entry.is_dir():
            notebooks = sorted(p for p in entry.iterdir() if not p.name.startswith("."))
            if not notebooks:
                raise GradingError(f"the student folder {entry} is empty")
            seen = set()
            for notebook in notebooks:
                if notebook.suffix != ".ipynb" or not notebook.is_file():
                    raise GradingError(f"{notebook} is not a notebook (.ipynb)")
                chapter = chapter_of(notebook, chapters)
                if chapter in seen:
                    raise GradingError(f"{entry} holds two notebooks of {chapter}")
                seen.add(chapter)
                found.append((entry.name, chapter, notebook))
        elif entry.suffix == ".ipynb":
            found.append((entry.stem, chapter_of(entry, chapters), entry))
        else:
            raise GradingError(f"{entry} is not a notebook (.ipynb) or a student's folder")
    return found


def question_order(course: Path) -> list[str]:
    """The auto-graded questions in the catalogue's order (instructor/questions.json)."""
    listing = course / "instructor" / "questions.json"
    if not listing.exists():
        raise GradingError(f"no course edition at {course} (run: make course)")
    return [q["label"] for q in json.loads(listing.read_text(encoding="utf-8"))
            if q["kind"] != "short"]


def write_gradebook(path: Path, questions: list[str], scores: dict[str, dict[str, float]],
                    incomplete: set[str] = frozenset()) -> None:
    """One row per student, one column per question, then the total (written atomically;
    empty for the ``incomplete`` students, a notebook of whom otter could not grade)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", newline="", dir=path.parent, delete=False,
                                     suffix=".tmp") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *questions, "total"])
        for student in sorted(scores):
            row = scores[student]
            writer.writerow([student, *(("" if q not in row else f"{row[q]:g}")
                                        for q in questions),
                             "" if student in incomplete else f"{sum(row.values()):g}"])
    os.replace(handle.name, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path)
    parser.add_argument("--course", type=Path, default=ROOT / "_build" / "course")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "grades")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--check-only", action="store_true",
                        help="check the submissions folder and stop (make grade runs this "
                             "before it builds the course)")
    args = parser.parse_args()
    course, out = args.course.resolve(), args.out.resolve()
    chapters = {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.md")}
    try:
        work = submissions(args.submissions.resolve(), chapters)
        if args.check_only:
            print(f"{len(work)} notebooks of {len({s for s, _, _ in work})} students")
            return
        questions = question_order(course)
    except GradingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)

    failed = []

    def one(job):
        student, chapter, notebook = job
        target = out / student / chapter
        shutil.rmtree(target, ignore_errors=True)
        try:
            graded = otter_run(notebook, course / "instructor" / chapter / "autograder.zip",
                               target)
        except RuntimeError as exc:  # one notebook otter cannot grade: the others still are
            failed.append((student, str(exc)))
            return student, {}
        print(f"{student} {chapter}: {sum(s for s, _ in graded.values()):g}/"
              f"{sum(p for _, p in graded.values()):g}", file=sys.stderr)
        return student, graded

    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(one, work))
    scores: dict[str, dict[str, float]] = {student: {} for student, _, _ in work}
    for student, graded in results:
        scores[student].update({name: score for name, (score, _) in graded.items()})
    gradebook = out / "gradebook.csv"
    write_gradebook(gradebook, questions, scores, {student for student, _ in failed})
    print(f"gradebook of {len(scores)} students, {len(questions)} questions: {gradebook}")
    for _, message in failed:
        print(f"error: {message}; its cells of the gradebook are empty", file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
