"""The Results plan (the table ``plan.toml`` beside this file) and a resumable driver that
makes the runs it lists.

:func:`results_plan` expands the table into runs (model, dataset, split, seed): each
``[[splits]]`` block gives a dataset's splits, its seeds and whether every registered model
runs there or only the cheap ones; the ``[models]`` rows say which models are cheap and
how long an ML-1M run takes here (a model above ``long_run_seconds`` gets ``long_seeds``
there). A run is *done* when a fresh record of it, with the model's default
hyperparameters, exists anywhere under ``results/``; :func:`run_plan` makes the others one at
a time, each recorded as it finishes (``train ... --record``), so the driver can be stopped at
any point and started again: ``python -m recsys_lib results`` (``make results``).

The plan also holds the *study* runs of the blend, the significance tests, the top-N study and
the activity breakdown (:func:`study_plan`): seed 0 of every model, plus the table's extras
(PureSVD), fitted twice on each study split, once without a seeded 10% validation slice of
the training ratings (its predictions for that slice teach the blend its weights) and once on
all training ratings (test predictions and top-N quality). Each keeps its predictions beside
its record under ``results/study/`` and is done when both exist.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .children import Stopped, run_child, stop_on_signals
from .errors import RecordFileError, UsageError
from .ledger import read_entries
from .models import available_models
from .predictions import identity_problem, read_predictions
from .records import collect_records, matches_current_defaults, results_dir

#: the plan as data: see the comments in the file
TABLE_PATH = Path(__file__).with_name("plan.toml")
TABLE = tomllib.loads(TABLE_PATH.read_text(encoding="utf-8"))
#: models whose u1 run takes a few seconds: they also run where a block says "cheap"
CHEAP = tuple(name for name, row in TABLE["models"].items() if row.get("cheap"))
#: seconds one ML-1M run of a model takes here, until a record of it exists
ML1M_GUESS = {name: row["ml1m_seconds"] for name, row in TABLE["models"].items()
              if "ml1m_seconds" in row}
#: models of the Scale part: trained on its own data and recorded by its chapters, left out
#: of the Results runs (the leaderboard, the blend and the study)
SCALE = tuple(name for name, row in TABLE["models"].items() if row.get("scale"))
LONG_RUN = TABLE["long_run_seconds"]
#: the validation slice of the study runs (a split name suffix, see recsys_lib.splits)
VALIDATION = TABLE["study_validation"]
#: the (dataset, split) pairs the study runs use
STUDY_SPLITS = tuple(tuple(pair) for pair in TABLE["study"]["splits"])
#: study runs with hyperparameters of their own: label -> (model, params)
STUDY_EXTRAS = {label: (extra["model"], tuple(sorted(extra.get("params", {}).items())))
                for label, extra in TABLE["study"].get("extras", {}).items()}


def results_models() -> list[str]:
    """The registered models the Results part ranks: all but the Scale part's."""
    return [name for name in available_models() if name not in SCALE]


def planned_models(models: list[str] | None = None) -> list[str]:
    """``models`` (default: every model of the Results part), each checked to have its row
    in the table and to belong to the Results part: a model without a row is refused with
    the file to edit."""
    models = list(dict.fromkeys(models)) if models else results_models()  # once each
    unknown = [m for m in models if m not in available_models()]
    if unknown:
        raise UsageError(f"no such model: {', '.join(unknown)}; choose from "
                         f"{', '.join(available_models())}")
    missing = [m for m in models if m not in TABLE["models"]]
    if missing:
        raise UsageError(f"{', '.join(missing)} has no row under [models] in "
                         f"recsys_lib/plan.toml; add one (see CONTRIBUTING.md)")
    scale = [m for m in models if m in SCALE]
    if scale:
        raise UsageError(f"{', '.join(scale)} belongs to the Scale part, which records its "
                         f"own runs; the Results part plans none for it")
    return models


@dataclass(frozen=True)
class PlannedRun:
    """One run of the plan. ``part`` is ``"leaderboard"``, or for a study run
    ``"validation"`` (fit without the validation slice, predict it) or ``"test"`` (fit on all
    training ratings, predict the test part and measure top-N)."""

    model: str
    dataset: str
    split: str
    seed: int
    part: str = "leaderboard"
    params: tuple = ()
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or self.model

    @property
    def run_split(self) -> str:
        return f"{self.split}/{VALIDATION}" if self.part == "validation" else self.split

    @property
    def record(self) -> str:
        """The record file, relative to ``results/``."""
        if self.part == "leaderboard":
            return f"leaderboard/{self.dataset}_{self.split}/{self.model}.jsonl"
        return f"study/{self.dataset}_{self.split}/{self.name}.jsonl"

    @property
    def predictions(self) -> str | None:
        """The predictions file of a study run, relative to ``results/``."""
        if self.part == "leaderboard":
            return None
        return f"study/{self.dataset}_{self.split}/{self.name}.{self.part}.npz"

    def command(self) -> list[str]:
        command = ["train", self.model, "--dataset", self.dataset, "--split", self.run_split,
                   "--seed", str(self.seed)]
        for key, value in self.params:
            command += ["--param", f"{key}={value}"]
        if self.part == "test":
            command.append("--topn")
        if self.predictions:
            command += ["--predictions", f"results/{self.predictions}"]
        return command + ["--record", f"results/{self.record}"]


def study_plan(models: list[str] | None = None,
               splits: tuple = STUDY_SPLITS) -> list[PlannedRun]:
    """The study runs: seed 0 of each of ``models`` (default: every model and every
    :data:`STUDY_EXTRAS`), on each split, without the validation slice and on all training
    ratings."""
    extras = STUDY_EXTRAS.items() if models is None else ()
    entries = [(m, (), "") for m in planned_models(models)] + \
        [(model, params, label) for label, (model, params) in extras]
    return [PlannedRun(model, dataset, split, 0, part, params, label)
            for dataset, split in splits for part in ("validation", "test")
            for model, params, label in entries]


def _block_runs(block: dict, models: list[str]) -> list[PlannedRun]:
    """The leaderboard runs of one ``[[splits]]`` block, seed by seed."""
    if block["models"] not in ("all", "cheap"):
        raise ValueError(f"plan.toml: models must be 'all' or 'cheap', got {block['models']!r}")
    chosen = [m for m in models if block["models"] == "all" or m in CHEAP]
    long_seeds = block.get("long_seeds", block["seeds"])

    def seeds(model: str) -> int:
        return long_seeds if ML1M_GUESS.get(model, 0) > LONG_RUN else block["seeds"]

    return [PlannedRun(m, block["dataset"], split, seed) for split in block["splits"]
            for seed in range(block["seeds"]) for m in chosen if seed < seeds(m)]


def results_plan(models: list[str] | None = None) -> list[PlannedRun]:
    """Every run the Results part needs, in the table's order (cheapest datasets first);
    the study runs on a dataset follow its last block."""
    blocks, chosen = TABLE["splits"], planned_models(models)
    runs = []
    for index, block in enumerate(blocks):
        runs += _block_runs(block, chosen)
        if all(later["dataset"] != block["dataset"] for later in blocks[index + 1:]):
            runs += study_plan(models, tuple(pair for pair in STUDY_SPLITS
                                             if pair[0] == block["dataset"]))
    return runs


def fresh_default_runs() -> pd.DataFrame:
    """(model, dataset, split, seed, fit_seconds) of every fresh default record; none in a
    fresh (empty or missing) ``results/``, where every run is still to make."""
    try:
        runs = collect_records(results_dir())
    except FileNotFoundError:  # no recorded run yet: a fork regenerating from scratch
        return pd.DataFrame(columns=["model", "dataset", "split", "seed", "fit_seconds"])
    fresh = runs[runs["defaults"] & ~runs["stale"]]
    return fresh[["model", "dataset", "split", "seed", "fit_seconds"]]


def study_problem(run: PlannedRun) -> str | None:
    """Why a study run is not done, or None when it is: its record file must hold a fresh
    line made by exactly its command, and its predictions file must load and carry that
    run's identity (model, dataset, split, seed, parameters, n_test, command)."""
    record, predictions = results_dir() / run.record, results_dir() / run.predictions
    if not record.exists():
        return f"no record file results/{run.record}"
    command = run.command()
    lines = [entry for entry in read_entries(record) if entry.get("command") == command]
    if not lines:
        return f"results/{run.record} holds no line of its command"
    line = lines[-1]
    if not isinstance(line.get("params"), dict):
        return f"its line in results/{run.record} records no params"
    if not run.params and not matches_current_defaults(run.model, line["params"]):
        return f"its line in results/{run.record} is stale (the model's defaults changed)"
    try:
        arrays = read_predictions(predictions)
    except RecordFileError as exc:
        return str(exc)
    problem = identity_problem(arrays, {"model": run.model, "dataset": run.dataset,
                                        "split": run.run_split, "seed": run.seed,
                                        "params": line.get("params"),
                                        "n_test": line.get("n_test"),
                                        "command": command})
    return f"results/{run.predictions}: {problem}" if problem else None


def study_done(run: PlannedRun) -> bool:
    """A study run is done when :func:`study_problem` finds nothing; a predictions file
    that exists but is refused is named on standard error."""
    problem = study_problem(run)
    if problem and (results_dir() / run.predictions).exists():
        print(f"{run.name} ({run.part}): {problem}; it is made again", file=sys.stderr)
    return problem is None


def select_runs(models: list[str] | None = None, dataset: str | None = None,
                part: str | None = None) -> list[PlannedRun]:
    """The runs of the plan for ``models`` (default all), on ``dataset`` (default all) and of
    ``part`` (``"leaderboard"``, ``"study"`` or None for both). UsageError when a choice
    selects nothing: a dataset the plan does not hold, an unknown part."""
    runs = results_plan(models)
    if dataset is not None:
        planned = sorted({run.dataset for run in runs}, key=[r.dataset for r in runs].index)
        if dataset not in planned:
            raise UsageError(f"the results plan has no runs on dataset {dataset!r}; its "
                             f"datasets: {', '.join(planned)}")
        runs = [run for run in runs if run.dataset == dataset]
    if part is not None:
        if part not in ("leaderboard", "study"):
            raise UsageError(f"no part {part!r}; choose leaderboard or study")
        runs = [run for run in runs if (run.part == "leaderboard") == (part == "leaderboard")]
    if not runs:
        raise UsageError(f"the results plan holds no {part or ''} run for "
                         f"{', '.join(models or ['these models'])} on {dataset or 'any dataset'}")
    return runs


def pending(plan: list[PlannedRun], done: pd.DataFrame) -> list[PlannedRun]:
    """The planned runs not done yet: no fresh default record covers a leaderboard run;
    :func:`study_done` tells for a study run."""
    have = set(zip(done["model"], done["dataset"], done["split"], done["seed"]))
    return [run for run in plan
            if (run.part == "leaderboard"
                and (run.model, run.dataset, run.split, run.seed) not in have)
            or (run.part != "leaderboard" and not study_done(run))]


def estimate_seconds(run: PlannedRun, done: pd.DataFrame) -> float:
    """The mean fit time of the recorded runs of the same model and dataset, else a guess."""
    same = done[(done["model"] == run.model) & (done["dataset"] == run.dataset)]
    if len(same):
        return float(same["fit_seconds"].mean()) + 5.0  # data loading and start-up
    if run.dataset == "ml-1m":
        return ML1M_GUESS.get(run.model, 120.0)
    return 60.0 if run.dataset == "douban" else 30.0


def exit_reason(returncode: int) -> str:
    """A run's exit status in words: a killed run prints nothing of its own."""
    if returncode == 2:
        return "exit status 2 (bad input; its message is above)"
    if returncode in (-9, 137):
        return (f"killed ({'signal 9' if returncode < 0 else 'exit status 137'}); "
                "most often the machine ran out of memory")
    if returncode < 0:
        return f"killed by signal {-returncode}"
    return f"exit status {returncode} (its message is above)"


def run_plan(plan: list[PlannedRun], limit: int | None = None, dry_run: bool = False,
             out=None, threads: int = 2) -> int:
    """Make the pending runs of ``plan`` one at a time, each with ``threads`` torch threads
    (a record keeps its thread count), reporting to ``out`` (default standard error);
    returns the number that failed."""
    out = out or sys.stderr
    if results_dir().exists() and not results_dir().is_dir():
        raise UsageError(f"{results_dir()} is not a folder; the results plan records its runs "
                         "in a folder of that name")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                              or limit < 1):
        raise UsageError(f"--limit must be a whole number of runs, 1 or more; got {limit!r}")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise UsageError(f"--threads must be a whole number, 1 or more; got {threads!r}")
    done = fresh_default_runs()
    waiting = pending(plan, done)  # reads every study record once
    todo = waiting[:limit]
    total = sum(estimate_seconds(run, done) for run in todo)
    print(f"{len(plan) - len(waiting)} of {len(plan)} runs recorded; "
          f"{len(todo)} to make, about {total / 3600:.1f} h on this machine", file=out)
    if dry_run:
        for run in todo:
            print(f"  python -m recsys_lib {' '.join(run.command())}", file=out)
        blends = sorted({(run.dataset, run.split) for run in todo if run.part != "leaderboard"})
        if blends:
            print("then record the blends again (chapter 11 reads them):", file=out)
        for dataset, split in blends:
            print(f"  python -m recsys_lib blend --dataset {dataset} "
                  f"--record results/blend/{dataset}_{split}.jsonl", file=out)
        return 0
    # a passive OpenMP wait: spinning threads slow each other badly when other work shares
    # the two cores (measured: up to 2x on ML-1M), and it changes no sum
    env = {**os.environ, "OMP_NUM_THREADS": str(threads),
           "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    failed, started, left = 0, time.perf_counter(), total
    for index, run in enumerate(todo, 1):
        left -= estimate_seconds(run, done)
        print(f"[{index}/{len(todo)}] {run.name} {run.dataset} {run.run_split} seed {run.seed}"
              f"{'' if run.part == 'leaderboard' else ' (study, ' + run.part + ')'} "
              f"(then about {max(left, 0.0) / 60:.0f} min left)", file=out, flush=True)
        try:
            with stop_on_signals():  # SIGTERM or SIGHUP here also ends the run it started
                result = run_child([sys.executable, "-m", "recsys_lib", *run.command()],
                                   cwd=results_dir().parent, env=env,
                                   stdout=subprocess.DEVNULL)
        except KeyboardInterrupt as stop:
            how = str(stop) if isinstance(stop, Stopped) else "interrupted"
            print(f"{how} during run {index} of {len(todo)}, which was ended and is not "
                  f"recorded; the {index - 1 - failed} runs made before it are recorded "
                  f"(start the same command again to go on)", file=out, flush=True)
            raise
        if result.returncode != 0:
            failed += 1
            print(f"  failed: {exit_reason(result.returncode)}", file=out, flush=True)
    print(f"made {len(todo) - failed} runs in {(time.perf_counter() - started) / 60:.0f} min"
          f"; {failed} failed", file=out)
    return failed


def missing_runs(datasets: tuple[str, ...] | None = None) -> pd.DataFrame:
    """The planned runs not recorded yet (on ``datasets``, default all): one row each with
    its ``part`` and the ``command`` that makes it. Empty when the records are complete."""
    plan = [run for run in results_plan() if datasets is None or run.dataset in datasets]
    rows = [{"model": run.name, "dataset": run.dataset, "split": run.run_split,
             "seed": run.seed, "part": run.part,
             "command": "python -m recsys_lib " + " ".join(run.command())}
            for run in pending(plan, fresh_default_runs())]
    return pd.DataFrame(rows, columns=["model", "dataset", "split", "seed", "part", "command"])
