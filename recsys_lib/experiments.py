"""The runs the Results part needs, and a resumable driver that makes the missing ones.

:func:`results_plan` lists every run (model, dataset, split, seed) of the leaderboard: every
registered model on ML-100K u1 and on Douban with 5 seeds, the cheap models on the other four
ML-100K folds, and every model on ML-1M with 3 seeds (1 where a run takes more than 15
minutes here). A run is *done* when a fresh record of it, with the model's default
hyperparameters, exists anywhere under ``results/``; :func:`run_plan` makes the others one at
a time, each recorded as it finishes (``train ... --record``), so the driver can be stopped at
any point and started again: ``python -m recsys_lib results`` (``make results``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass

import pandas as pd

from .models import available_models
from .records import collect_records, results_dir

SEEDS = (0, 1, 2, 3, 4)
ML1M_SEEDS = (0, 1, 2)
#: models whose u1 run takes under a few seconds: they also run on folds u2..u5
CHEAP = ("global-mean", "baseline", "svd-truncated", "biased-mf-sgd", "knn-pearson",
         "global-neighborhood", "svdpp", "integrated", "surprise-baseline", "surprise-svd",
         "surprise-knnbaseline")
#: seconds a run is expected to take when no record tells (two threads, ML-1M)
ML1M_GUESS = {"glocal-k": 1300, "sparse-fc": 1500, "i-autorec": 680, "u-autorec": 180,
              "surprise-svdpp": 600, "deep-ae": 900}
LONG_RUN = 15 * 60
#: the threads a driven run uses (a record keeps its thread count)
THREADS = 2


@dataclass(frozen=True)
class PlannedRun:
    model: str
    dataset: str
    split: str
    seed: int

    @property
    def record(self) -> str:
        """The record file, relative to ``results/``."""
        return f"leaderboard/{self.dataset}_{self.split}/{self.model}.jsonl"

    def command(self) -> list[str]:
        return ["train", self.model, "--dataset", self.dataset, "--split", self.split,
                "--seed", str(self.seed), "--record", f"results/{self.record}"]


def results_plan(models: list[str] | None = None) -> list[PlannedRun]:
    """Every run the Results part needs, cheapest datasets first."""
    models = models or available_models()
    plan = [PlannedRun(m, "ml-100k", "u1", s) for m in models for s in SEEDS]
    plan += [PlannedRun(m, "ml-100k", fold, s) for fold in ("u2", "u3", "u4", "u5")
             for m in models if m in CHEAP for s in SEEDS]
    plan += [PlannedRun(m, "douban", "monti", s) for m in models for s in SEEDS]
    plan += [PlannedRun(m, "ml-1m", "random-90-10", s) for s in ML1M_SEEDS for m in models
             if s == 0 or ML1M_GUESS.get(m, 0) <= LONG_RUN]
    return plan


def fresh_default_runs() -> pd.DataFrame:
    """(model, dataset, split, seed, fit_seconds) of every fresh default record."""
    runs = collect_records(results_dir())
    fresh = runs[runs["defaults"] & ~runs["stale"]]
    return fresh[["model", "dataset", "split", "seed", "fit_seconds"]]


def pending(plan: list[PlannedRun], done: pd.DataFrame) -> list[PlannedRun]:
    """The planned runs that no fresh default record covers yet."""
    have = set(zip(done["model"], done["dataset"], done["split"], done["seed"]))
    return [run for run in plan if (run.model, run.dataset, run.split, run.seed) not in have]


def estimate_seconds(run: PlannedRun, done: pd.DataFrame) -> float:
    """The mean fit time of the recorded runs of the same model and dataset, else a guess."""
    same = done[(done["model"] == run.model) & (done["dataset"] == run.dataset)]
    if len(same):
        return float(same["fit_seconds"].mean()) + 5.0  # data loading and start-up
    if run.dataset == "ml-1m":
        return ML1M_GUESS.get(run.model, 120.0)
    return 60.0 if run.dataset == "douban" else 30.0


def run_plan(plan: list[PlannedRun], limit: int | None = None, dry_run: bool = False,
             out=sys.stderr) -> int:
    """Make the pending runs of ``plan`` one at a time; returns the number that failed."""
    done = fresh_default_runs()
    todo = pending(plan, done)[:limit]
    total = sum(estimate_seconds(run, done) for run in todo)
    print(f"{len(plan) - len(pending(plan, done))} of {len(plan)} runs recorded; "
          f"{len(todo)} to make, about {total / 3600:.1f} h on this machine", file=out)
    if dry_run:
        for run in todo:
            print(f"  python -m recsys_lib {' '.join(run.command())}", file=out)
        return 0
    env = {**os.environ, "OMP_NUM_THREADS": str(THREADS)}
    failed, started, left = 0, time.perf_counter(), total
    for index, run in enumerate(todo, 1):
        left -= estimate_seconds(run, done)
        print(f"[{index}/{len(todo)}] {run.model} {run.dataset} {run.split} seed {run.seed} "
              f"(then about {max(left, 0.0) / 60:.0f} min left)", file=out, flush=True)
        result = subprocess.run([sys.executable, "-m", "recsys_lib", *run.command()],
                                cwd=results_dir().parent, env=env, stdout=subprocess.DEVNULL)
        failed += result.returncode != 0
    print(f"made {len(todo) - failed} runs in {(time.perf_counter() - started) / 60:.0f} min"
          f"; {failed} failed", file=out)
    return failed
