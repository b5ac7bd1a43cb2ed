"""The Results plan and its resumable driver (without running any training)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from recsys_lib import plan
from recsys_lib.models import available_models


def test_plan_covers_every_model_seeds_and_datasets():
    everything = plan.results_plan()
    runs = [r for r in everything if r.part == "leaderboard"]
    assert [r for r in everything if r.part != "leaderboard"] == plan.study_plan()
    models = plan.results_models()
    on = {key: [r for r in runs if (r.dataset, r.split) == key]
          for key in {(r.dataset, r.split) for r in runs}}
    assert len(on[("ml-100k", "u1")]) == 5 * len(models)
    assert len(on[("douban", "monti")]) == 5 * len(models)
    for fold in ("u2", "u3", "u4", "u5"):
        assert {r.model for r in on[("ml-100k", fold)]} == set(plan.CHEAP)
    ml1m = on[("ml-1m", "random-90-10")]
    assert {r.model for r in ml1m if r.seed == 0} == set(models)
    slow = [m for m, s in plan.ML1M_GUESS.items() if s > plan.LONG_RUN]
    assert all(r.seed == 0 for r in ml1m if r.model in slow)
    assert len({(r.model, r.dataset, r.split, r.seed) for r in runs}) == len(runs)
    run = runs[0]
    assert run.command()[-1] == f"results/{run.record}" and "--param" not in run.command()


def test_every_registered_model_has_its_row_in_the_plan_table():
    assert set(plan.TABLE["models"]) == set(available_models()), \
        "give each model a row under [models] in recsys_lib/plan.toml"
    assert set(plan.CHEAP) <= set(available_models())


def test_dry_run_for_one_model_lists_exactly_what_it_owes(monkeypatch, capsys):
    """What a newly added model owes: its leaderboard runs on every block of the table, its
    two study runs on every study split, and then the blends to record again."""
    from recsys_lib import cli

    monkeypatch.setattr(plan, "fresh_default_runs", lambda: pd.DataFrame(
        columns=["model", "dataset", "split", "seed", "fit_seconds"]))
    monkeypatch.setattr(plan, "study_done", lambda run: False)
    assert cli.main(["results", "--model", "baseline", "--dry-run"]) == 0
    lines = capsys.readouterr().err.splitlines()
    trains = [line for line in lines if line.startswith("  python -m recsys_lib train")]
    leaderboard = sum(len(block["splits"]) * block["seeds"] for block in plan.TABLE["splits"])
    assert len(trains) == leaderboard + 2 * len(plan.STUDY_SPLITS) == 39
    assert all(line.split()[4] == "baseline" for line in trains)
    blends = [line for line in lines if line.startswith("  python -m recsys_lib blend")]
    assert len(blends) == len(plan.STUDY_SPLITS)


def test_a_model_without_a_row_is_refused_naming_the_table(monkeypatch, capsys):
    from recsys_lib import cli

    rows = {k: v for k, v in plan.TABLE["models"].items() if k != "svdpp"}
    monkeypatch.setitem(plan.TABLE, "models", rows)
    assert cli.main(["results", "--model", "svdpp", "--dry-run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "svdpp" in err[0] and "plan.toml" in err[0]


def test_pending_skips_recorded_runs_and_estimates_from_records():
    runs = [plan.PlannedRun("baseline", "ml-100k", "u1", seed) for seed in range(3)]
    done = pd.DataFrame({"model": ["baseline"], "dataset": ["ml-100k"], "split": ["u1"],
                         "seed": [1], "fit_seconds": [2.0]})
    assert [r.seed for r in plan.pending(runs, done)] == [0, 2]
    assert plan.estimate_seconds(runs[0], done) == 7.0  # 2 s + 5 s start-up
    guess = plan.PlannedRun("glocal-k", "ml-1m", "random-90-10", 0)
    assert plan.estimate_seconds(guess, done) == plan.ML1M_GUESS["glocal-k"]


def test_dry_run_lists_the_commands_and_runs_nothing(monkeypatch):
    runs = [plan.PlannedRun("baseline", "ml-100k", "u1", 9)]
    monkeypatch.setattr(plan, "fresh_default_runs", lambda: pd.DataFrame(
        columns=["model", "dataset", "split", "seed", "fit_seconds"]))
    monkeypatch.setattr(plan, "run_child", lambda *a, **k: 1 / 0)
    out = io.StringIO()
    assert plan.run_plan(runs, dry_run=True, out=out) == 0
    text = out.getvalue()
    assert "0 of 1 runs recorded; 1 to make" in text
    assert "train baseline --dataset ml-100k --split u1 --seed 9 --record" in text


def test_results_part_picks_the_leaderboard_or_the_study_runs(monkeypatch, capsys):
    from recsys_lib import cli

    monkeypatch.setattr(plan, "fresh_default_runs", lambda: pd.DataFrame(
        columns=["model", "dataset", "split", "seed", "fit_seconds"]))
    monkeypatch.setattr(plan, "study_done", lambda run: False)
    n_models = len(plan.results_models()) + len(plan.STUDY_EXTRAS)
    for part, expected in (("study", 2 * n_models), ("leaderboard", 5 * (n_models - 1))):
        args = ["results", "--dataset", "douban", "--part", part, "--dry-run"]
        assert cli.main(args) == 0
        commands = [line for line in capsys.readouterr().err.splitlines()
                    if line.startswith("  python -m recsys_lib train")]
        assert len(commands) == expected
        assert all(("--predictions" in line) == (part == "study") for line in commands)


def test_a_failed_run_is_named_with_its_reason_and_the_rest_still_run(monkeypatch):
    """A run killed for memory prints nothing itself: the driver says why it stopped, goes
    on with the next run and counts the failure."""
    import subprocess

    runs = [plan.PlannedRun("baseline", "ml-100k", "u1", seed) for seed in (7, 8, 9)]
    monkeypatch.setattr(plan, "fresh_default_runs", lambda: pd.DataFrame(
        columns=["model", "dataset", "split", "seed", "fit_seconds"]))
    statuses = iter([-9, 0, 2])
    started = []

    def fake_run(command, **options):
        started.append(command)
        return subprocess.CompletedProcess(command, next(statuses))

    monkeypatch.setattr(plan, "run_child", fake_run)  # the driver's one way to start a run
    out = io.StringIO()
    assert plan.run_plan(runs, out=out) == 2
    text = out.getvalue()
    assert len(started) == 3
    assert "failed: killed (signal 9); most often the machine ran out of memory" in text
    assert "failed: exit status 2 (bad input; its message is above)" in text
    assert "made 1 runs" in text and "2 failed" in text


# --- a fresh or odd results/ folder (issue 25, class 5): a fork of the package ------------


def _fork(tmp_path: Path) -> Path:
    """This package copied beside an empty ``results/``: a fork regenerating from scratch."""
    import shutil

    import recsys_lib

    root = tmp_path / "fork"
    shutil.copytree(Path(recsys_lib.__file__).parent, root / "recsys_lib",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (root / "results").mkdir()
    return root


def _results(root: Path, *args: str, **popen):
    import subprocess
    import sys

    from _cli import child_env

    command = [sys.executable, "-m", "recsys_lib", "results", *args]
    env = dict(child_env(), PYTHONPATH=str(root))
    if popen:
        return subprocess.Popen(command, cwd=root, env=env, text=True, **popen)
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)


def test_a_fresh_results_folder_and_odd_lines_and_empty_selections(tmp_path):
    from _cli import assert_user_error

    root = _fork(tmp_path)
    fresh = _results(root, "--dry-run", "--limit", "3")
    assert fresh.returncode == 0, fresh.stderr
    assert "0 of " in fresh.stderr and fresh.stderr.count("python -m recsys_lib train") == 3
    for args, reason in ((["--dataset", "nosuch"], "no runs on dataset 'nosuch'"),
                         (["--limit", "-2"], "--limit must be"),
                         (["--limit", "0"], "--limit must be"),
                         (["--threads", "0"], "--threads must be")):
        assert_user_error(_results(root, "--dry-run", *args), reason)
    odd = root / "results" / "odd.jsonl"
    for line, reason in (('{"command": 5}', "its command is 5"),
                         ('{"command": ["train", 3]}', "not a list of words"),
                         ('{"command": ["train"], "model": "baseline"}', "without a proper"),
                         ('{"command": ["train"], "model": "gone", "params": {}, "dataset": '
                          '"ml-100k", "split": "u1", "seed": 0}', "'gone', which is not")):
        odd.write_text(line + "\n", encoding="utf-8")
        assert_user_error(_results(root, "--dry-run"), "odd.jsonl, line 1: damaged record",
                          reason)
    odd.unlink()
    (root / "results").rmdir()
    (root / "results").write_text("", encoding="utf-8")
    assert_user_error(_results(root, "--dry-run"), "results is not a folder")


def test_sigterm_to_the_results_driver_ends_its_run_too(tmp_path):
    import os
    import signal
    import subprocess
    import time

    root = _fork(tmp_path)
    driver = _results(root, "--model", "deep-ae", "--part", "leaderboard", "--limit", "1",
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def children() -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            try:
                fields = (entry / "stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[1] == str(driver.pid):
                found.append(int(entry.name))
        return found

    try:
        deadline = time.monotonic() + 60
        while not children() and time.monotonic() < deadline:
            time.sleep(0.2)
        child = children()
        assert child, "the driver started no run"
        time.sleep(1.0)
        driver.send_signal(signal.SIGTERM)
        _, stderr = driver.communicate(timeout=60)
        assert driver.returncode != 0
        assert "stopped by SIGTERM during run 1 of 1" in stderr and "not recorded" in stderr
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists()
                                                  for pid in child):
            time.sleep(0.2)
        assert not any(Path(f"/proc/{pid}").exists() for pid in child), "the run still runs"
        assert not list((root / "results").rglob("*.jsonl"))
    finally:
        if driver.poll() is None:
            driver.kill()
        for pid in children():
            os.kill(pid, signal.SIGKILL)


def test_a_model_named_twice_is_planned_once():
    once = plan.results_plan(["baseline"])
    assert plan.results_plan(["baseline", "baseline"]) == once
    assert len(set(once)) == len(once)
