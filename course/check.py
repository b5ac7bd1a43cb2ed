"""Grade the built course twice with ``otter run`` and print one JSON summary line.

The instructor notebooks (solutions) must get full marks on every auto-graded question and
the unanswered student notebooks zero on every one. Grading runs without Docker, chapters in
parallel (``--jobs``, default 2), each with one torch thread. Exit status 1 when either rule
fails. Usage: ``python course/check.py [--course _build/course] [--jobs 2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def grade(notebook: Path, autograder: Path, out: Path) -> dict[str, tuple[float, float]]:
    """``{question: (score, possible)}`` of one notebook, graded by ``otter run``."""
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    otter = Path(sys.executable).with_name("otter")
    proc = subprocess.run([str(otter), "run", "--no-logo", "-a", str(autograder), "-o",
                           str(out), str(notebook)], capture_output=True, text=True, env=env,
                          cwd=notebook.parent)
    results = out / "results.json"
    if proc.returncode != 0 or not results.exists():
        raise SystemExit(f"otter run failed on {notebook}:\n{proc.stdout}\n{proc.stderr}")
    data = json.loads(results.read_text())
    return {t["name"]: (float(t["score"]), float(t["max_score"])) for t in data["tests"]
            if "score" in t}  # the "Public Tests" summary entry carries no score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--course", type=Path, default=ROOT / "_build" / "course")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    args.course = args.course.resolve()
    start = time.time()
    chapters = sorted(p.name for p in (args.course / "student").iterdir() if p.is_dir())
    work = Path(tempfile.mkdtemp(prefix="course-check-"))
    jobs = []
    for chapter in chapters:
        autograder = args.course / "instructor" / chapter / "autograder.zip"
        jobs.append(("solutions", chapter, args.course / "instructor" / chapter
                     / f"{chapter}.ipynb", autograder))
        jobs.append(("blank", chapter, args.course / "student" / chapter / f"{chapter}.ipynb",
                     autograder))
    with ThreadPoolExecutor(args.jobs) as pool:
        graded = list(pool.map(lambda j: (j[0], j[1], grade(j[2], j[3].resolve(),
                                                            work / j[0] / j[1])), jobs))
    totals = {"solutions": [0.0, 0.0], "blank": [0.0, 0.0]}
    problems, questions = [], set()
    for edition, chapter, scores in graded:
        for name, (score, possible) in sorted(scores.items()):
            questions.add(name)
            totals[edition][0] += score
            totals[edition][1] += possible
            if edition == "solutions" and score < possible:
                problems.append(f"{chapter}/{name}: the solution gets {score:g}/{possible:g}")
            if edition == "blank" and score > 0:
                problems.append(f"{chapter}/{name}: the blank notebook gets {score:g}")
        print(f"{edition:9s} {chapter}: "
              f"{sum(s for s, _ in scores.values()):g}/{sum(p for _, p in scores.values()):g}",
              file=sys.stderr)
    for problem in problems:
        print("problem:", problem, file=sys.stderr)
    print(f"graded in {time.time() - start:.0f} s", file=sys.stderr)
    summary = {"questions": len(questions),
               "solutions_score": round(totals["solutions"][0] / totals["solutions"][1], 4),
               "blank_score": round(totals["blank"][0] / totals["blank"][1], 4)}
    print(json.dumps(summary))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
