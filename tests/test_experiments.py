"""The Results plan and its resumable driver (without running any training)."""

from __future__ import annotations

import io

import pandas as pd

from recsys_lib import experiments
from recsys_lib.models import available_models


def test_plan_covers_every_model_seeds_and_datasets():
    everything = experiments.results_plan()
    plan = [r for r in everything if r.part == "leaderboard"]
    assert [r for r in everything if r.part != "leaderboard"] == experiments.study_plan()
    models = available_models()
    on = {key: [r for r in plan if (r.dataset, r.split) == key]
          for key in {(r.dataset, r.split) for r in plan}}
    assert len(on[("ml-100k", "u1")]) == 5 * len(models)
    assert len(on[("douban", "monti")]) == 5 * len(models)
    for fold in ("u2", "u3", "u4", "u5"):
        assert {r.model for r in on[("ml-100k", fold)]} == set(experiments.CHEAP)
    ml1m = on[("ml-1m", "random-90-10")]
    assert {r.model for r in ml1m if r.seed == 0} == set(models)
    slow = [m for m, s in experiments.ML1M_GUESS.items() if s > experiments.LONG_RUN]
    assert all(r.seed == 0 for r in ml1m if r.model in slow)
    assert len({(r.model, r.dataset, r.split, r.seed) for r in plan}) == len(plan)
    run = plan[0]
    assert run.command()[-1] == f"results/{run.record}" and "--param" not in run.command()


def test_pending_skips_recorded_runs_and_estimates_from_records():
    plan = [experiments.PlannedRun("baseline", "ml-100k", "u1", seed) for seed in range(3)]
    done = pd.DataFrame({"model": ["baseline"], "dataset": ["ml-100k"], "split": ["u1"],
                         "seed": [1], "fit_seconds": [2.0]})
    assert [r.seed for r in experiments.pending(plan, done)] == [0, 2]
    assert experiments.estimate_seconds(plan[0], done) == 7.0  # 2 s + 5 s start-up
    guess = experiments.PlannedRun("glocal-k", "ml-1m", "random-90-10", 0)
    assert experiments.estimate_seconds(guess, done) == experiments.ML1M_GUESS["glocal-k"]


def test_dry_run_lists_the_commands_and_runs_nothing(monkeypatch):
    plan = [experiments.PlannedRun("baseline", "ml-100k", "u1", 9)]
    monkeypatch.setattr(experiments, "fresh_default_runs", lambda: pd.DataFrame(
        columns=["model", "dataset", "split", "seed", "fit_seconds"]))
    monkeypatch.setattr(experiments.subprocess, "run", lambda *a, **k: 1 / 0)
    out = io.StringIO()
    assert experiments.run_plan(plan, dry_run=True, out=out) == 0
    text = out.getvalue()
    assert "0 of 1 runs recorded; 1 to make" in text
    assert "train baseline --dataset ml-100k --split u1 --seed 9 --record" in text


def test_results_part_picks_the_leaderboard_or_the_study_runs(monkeypatch, capsys):
    from recsys_lib import cli

    monkeypatch.setattr(experiments, "fresh_default_runs", lambda: pd.DataFrame(
        columns=["model", "dataset", "split", "seed", "fit_seconds"]))
    monkeypatch.setattr(experiments, "study_done", lambda run: False)
    n_models = len(available_models()) + len(experiments.STUDY_EXTRAS)
    for part, expected in (("study", 2 * n_models), ("leaderboard", 5 * (n_models - 1))):
        args = ["results", "--dataset", "douban", "--part", part, "--dry-run"]
        assert cli.main(args) == 0
        commands = [line for line in capsys.readouterr().err.splitlines()
                    if line.startswith("  python")]
        assert len(commands) == expected
        assert all(("--predictions" in line) == (part == "study") for line in commands)


def test_a_failed_run_is_named_with_its_reason_and_the_rest_still_run(monkeypatch):
    """A run killed for memory prints nothing itself: the driver says why it stopped, goes
    on with the next run and counts the failure."""
    import subprocess

    plan = [experiments.PlannedRun("baseline", "ml-100k", "u1", seed) for seed in (7, 8, 9)]
    monkeypatch.setattr(experiments, "fresh_default_runs", lambda: pd.DataFrame(
        columns=["model", "dataset", "split", "seed", "fit_seconds"]))
    statuses = iter([-9, 0, 2])
    started = []

    def fake_run(command, **options):
        started.append(command)
        return subprocess.CompletedProcess(command, next(statuses))

    monkeypatch.setattr(experiments.subprocess, "run", fake_run)
    out = io.StringIO()
    assert experiments.run_plan(plan, out=out) == 2
    text = out.getvalue()
    assert len(started) == 3
    assert "failed: killed (signal 9); most often the machine ran out of memory" in text
    assert "failed: exit status 2 (bad input; its message is above)" in text
    assert "made 1 runs" in text and "2 failed" in text
