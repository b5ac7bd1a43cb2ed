"""Grade the built course with ``otter run`` and print one JSON summary line.

Five gradings of every chapter: the instructor notebooks (solutions) must get full marks on
every auto-graded question, the unanswered student notebooks zero on every one, and the
*wrappers* submission zero on every question that has a wrapper: the solutions with each
graded function replaced by a call of the library function that answers it (the
``# %% LABEL wrapper`` blocks of ``course/checks/``), which the checks disable. The solutions
are graded a second time and must get identical scores (the checks draw from fixed seeds).
Grading runs without Docker, chapters in parallel (``--jobs``, default 2), each with one torch
thread. The last line printed is ``{"questions": N, "solutions_score": 1.0, "blank_score":
0.0, "wrapper_score": 0.0, "regrade_identical": true}`` when all is well; exit status 1 when a
rule fails. Usage: ``python course/check.py [--course _build/course] [--jobs 2]``.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build  # noqa: E402  (course/build.py: the chapters' wrapper blocks)
from grade import otter_run  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def wrapper_notebook(solutions: Path, chapter: str, out: Path) -> list[str]:
    """Write the wrappers submission of ``chapter`` to ``out``: the solutions notebook with
    a cell after each graded function's definition that redefines it as its wrapper.
    Returns the labels wrapped."""
    nb = nbformat.read(solutions, 4)
    wrapped = []
    for label, source in build.wrappers(build.CHAPTERS / f"{chapter}.md").items():
        name = next(n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef))
        at = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                   and f"def {name}(" in c.source), None)
        if at is None:
            raise SystemExit(f"{chapter}/{label}: no cell of the solutions defines {name}")
        nb.cells.insert(at + 1, nbformat.v4.new_code_cell(source))
        wrapped.append(label)
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    return wrapped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--course", type=Path, default=ROOT / "_build" / "course")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    args.course = args.course.resolve()
    start = time.time()
    chapters = sorted(p.name for p in (args.course / "student").iterdir() if p.is_dir())
    work = Path(tempfile.mkdtemp(prefix="course-check-"))
    jobs, wrapped = [], {}
    for chapter in chapters:
        autograder = args.course / "instructor" / chapter / "autograder.zip"
        solutions = args.course / "instructor" / chapter / f"{chapter}.ipynb"
        # the wrappers notebook sits beside the solutions (same data paths, same cwd)
        wrappers = solutions.with_name(f"{chapter}-wrappers.ipynb")
        wrapped[chapter] = wrapper_notebook(solutions, chapter, wrappers)
        jobs += [("solutions", chapter, solutions, autograder),
                 ("blank", chapter, args.course / "student" / chapter / f"{chapter}.ipynb",
                  autograder),
                 ("wrappers", chapter, wrappers, autograder),
                 ("regrade", chapter, solutions, autograder)]
    try:
        with ThreadPoolExecutor(args.jobs) as pool:
            graded = list(pool.map(lambda j: (j[0], j[1], otter_run(
                j[2], j[3].resolve(), work / j[0] / j[1])), jobs))
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from None
    finally:
        for chapter in chapters:
            (args.course / "instructor" / chapter / f"{chapter}-wrappers.ipynb").unlink()
    totals = {edition: [0.0, 0.0] for edition in ("solutions", "blank", "wrappers")}
    problems, questions, by_job = [], set(), {}
    for edition, chapter, scores in graded:
        by_job[edition, chapter] = scores
        for name, (score, possible) in sorted(scores.items()):
            questions.add(name)
            if edition == "wrappers" and name not in wrapped[chapter]:
                continue  # no library function answers it: graded as the solution
            if edition in totals:
                totals[edition][0] += score
                totals[edition][1] += possible
            if edition == "solutions" and score < possible:
                problems.append(f"{chapter}/{name}: the solution gets {score:g}/{possible:g}")
            if edition == "blank" and score > 0:
                problems.append(f"{chapter}/{name}: the blank notebook gets {score:g}")
            if edition == "wrappers" and score > 0:
                problems.append(f"{chapter}/{name}: the library wrapper gets {score:g}")
        print(f"{edition:9s} {chapter}: "
              f"{sum(s for s, _ in scores.values()):g}/{sum(p for _, p in scores.values()):g}",
              file=sys.stderr)
    identical = all(by_job["solutions", c] == by_job["regrade", c] for c in chapters)
    if not identical:
        problems += [f"{c}: a regrade of the solutions differs" for c in chapters
                     if by_job["solutions", c] != by_job["regrade", c]]
    for problem in problems:
        print("problem:", problem, file=sys.stderr)
    n_wrapped = sum(map(len, wrapped.values()))
    print(f"graded in {time.time() - start:.0f} s; {n_wrapped} of {len(questions)} questions "
          "have a library wrapper (the others: no library function answers them)",
          file=sys.stderr)
    summary = {"questions": len(questions),
               "solutions_score": round(totals["solutions"][0] / totals["solutions"][1], 4),
               "blank_score": round(totals["blank"][0] / totals["blank"][1], 4),
               "wrapper_score": round(totals["wrappers"][0] / totals["wrappers"][1], 4),
               "regrade_identical": identical}
    print(json.dumps(summary))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
