"""recsys_lib.reproduction: retraining a record, and the one rule that says whether the live
figure reproduces it (same machine, float64, or within the seeds' noise)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from recsys_lib import records, reproduction
from recsys_lib.ledger import append_record, read_entries
from recsys_lib.machine import machine_facts
from recsys_lib.reproduction import (FLOAT64, NOISE_FLOOR, SAME_MACHINE, NotReproducedError,
                                     agreement, reproduce)
from recsys_lib.torch_utils import torch_threads
from recsys_lib.training import run

# float32 and sensitive to the order of its sums: one thread and two differ by ~2e-4 RMSE
SMALL_SFC = {"n_hidden": 32, "n_epochs": 4, "n_iterations": 10}
SFC_COMMAND = ["train", "sparse-fc", "--dataset", "ml-100k", "--split", "u1", "--seed", "0",
               *[token for key, value in SMALL_SFC.items()
                 for token in ("--param", f"{key}={value}")]]
NO_RUNS = pd.DataFrame()  # no recorded seeds: the noise rule falls back to its floor


def line(model="sparse-fc", rmse=0.9, machine=None, **extra) -> dict:
    return {"model": model, "dataset": "ml-100k", "split": "u1", "seed": 0, "rmse": rmse,
            "params": {"n_hidden": 32}, "machine": machine or {}, **extra}


def seeds(values, model="sparse-fc") -> pd.DataFrame:
    return pd.DataFrame([line(model, rmse, seed=seed) for seed, rmse in enumerate(values)])


def test_the_same_machine_demands_the_same_figure():
    here = machine_facts()
    record = line(rmse=0.9, machine=here)
    same = agreement(line(rmse=0.9, machine=here), record, NO_RUNS)
    assert same.rule == "same machine" and same.holds and same.difference == 0
    assert same.bound == pytest.approx(SAME_MACHINE * 0.9)
    # one float32 ulp of the predictions moves an RMSE by ~1e-8: not the same figure
    off = agreement(line(rmse=0.9 + 1e-8, machine=here), record, NO_RUNS)
    assert off.rule == "same machine" and not off.holds
    with pytest.raises(NotReproducedError, match="NOT reproduced \\(same machine rule\\)"):
        off.check()


def test_a_float64_model_elsewhere_agrees_to_the_last_digits():
    record = line("baseline", rmse=0.96)   # an old record: no fingerprint at all
    live = line("baseline", rmse=0.96 * (1 + 1e-12), machine=machine_facts())
    held = agreement(live, record, NO_RUNS)
    assert held.rule == "float64" and held.holds
    assert "not recorded: cpu" in str(held)
    off = agreement({**live, "rmse": 0.96 * (1 + 10 * FLOAT64)}, record, NO_RUNS)
    assert off.rule == "float64" and not off.holds
    # the float32 rule would have let that through: the model's arithmetic decides
    assert agreement({**live, "rmse": 0.96 * (1 + 10 * FLOAT64)}, record, NO_RUNS,
                     float64=False).holds


def test_a_float32_model_elsewhere_is_held_to_its_seeds_noise():
    runs = seeds([0.90, 0.91, 0.92, 0.91, 0.91])   # sd 0.00707
    sd = float(pd.Series([0.90, 0.91, 0.92, 0.91, 0.91]).std())
    record = line(rmse=0.91, machine={"cpu": "another CPU"})
    live = line(rmse=0.91 + 1.5 * sd, machine=machine_facts())
    held = agreement(live, record, runs)
    assert held.rule == "within noise" and held.holds
    assert held.bound == pytest.approx(2 * sd)
    assert "= 1.5 sd of 5 seeds" in str(held) and "differ in cpu" in str(held)
    assert not agreement({**live, "rmse": 0.91 + 2.1 * sd}, record, runs).holds
    # other parameters are other runs: their seeds do not count
    other = seeds([0.5, 1.5, 2.5]).assign(params=[{"n_hidden": 64}] * 3)
    assert agreement(live, record, pd.concat([runs, other])).bound == pytest.approx(2 * sd)


@pytest.mark.parametrize("values", [[0.85, 0.85, 0.85], [0.85]],
                         ids=["seeds agree", "one seed"])
def test_the_noise_rule_never_asks_for_less_than_its_floor(values):
    record = line(rmse=0.85)
    held = agreement(line(rmse=0.85 + 0.9 * NOISE_FLOOR, machine=machine_facts()), record,
                     seeds(values))
    assert held.holds and held.bound == NOISE_FLOOR
    assert not agreement(line(rmse=0.85 + 1.1 * NOISE_FLOOR, machine=machine_facts()),
                         record, seeds(values)).holds


def test_list_figures_are_held_element_by_element():
    record = line("baseline", rmse=0.96, koren_recall=[0.1, 0.2])
    live = {**record, "koren_recall": [0.1, 0.2 + 1e-6], "machine": machine_facts()}
    held = reproduction.agreements(live, record, ["rmse", "koren_recall"], NO_RUNS)
    assert [v.key for v in held] == ["rmse", "koren_recall[0]", "koren_recall[1]"]
    assert [v.holds for v in held] == [True, True, False]


def test_the_foreign_arithmetic_path(tmp_path):
    """A float32 record made with one thread is retrained as a record of another machine
    would be: exactly on its own fingerprint, within noise on another, and a figure 0.01
    off fails either way."""
    record = tmp_path / "runs.jsonl"
    with torch_threads(1):  # as `OMP_NUM_THREADS=1 python -m recsys_lib train ...` would
        append_record(record, SFC_COMMAND,
                      run("sparse-fc", "ml-100k", "u1", seed=0, params=SMALL_SFC))
    ours = read_entries(record)[0]
    assert ours["machine"]["torch_threads"] == 1

    live = reproduce(ours)                       # one thread again, here: the same machine
    same = agreement(live, ours, NO_RUNS).check()
    assert same.rule == "same machine" and same.difference == 0

    # the record as another machine made it: two threads, another CPU. Retrained here on
    # two threads, its sums are added in another order and the figure moves.
    foreign = {**ours, "machine": {**ours["machine"], "torch_threads": 2,
                                   "cpu": "a CPU this machine is not"}}
    live = reproduce(foreign)
    assert live["machine"]["torch_threads"] == 2
    held = agreement(live, foreign, NO_RUNS).check()
    assert held.rule == "within noise" and held.differs_in == ("cpu",)
    assert abs(held.difference) > SAME_MACHINE * foreign["rmse"]  # the exact rule would fail
    far = agreement({**live, "rmse": foreign["rmse"] + 0.01}, foreign, NO_RUNS)
    assert not far.holds
    with pytest.raises(NotReproducedError, match="within noise rule"):
        far.check()


def test_records_load_fails_loudly_and_reproduce_repeats_a_run():
    with pytest.raises(records.MissingRecordError, match="no-such/record"):
        records.load("no-such/record")
    frame = records.load("leaderboard/u1_defaults")
    row = frame[frame["model"] == "baseline"].iloc[0]
    assert agreement(reproduce(row), row).check().rule in ("same machine", "float64")


def test_reproduce_runs_on_the_recorded_device_unless_told_otherwise(monkeypatch):
    seen = []
    monkeypatch.setattr(reproduction, "run", lambda *a, **k: seen.append(k["params"]) or {})
    row = {"command": ["train", "u-autorec", "--dataset", "ml-100k"], "device": "cpu",
           "machine": {"torch_threads": 1}}
    reproduce(row)
    reproduce(row, same_device=False)
    reproduce({**row, "command": ["train", "baseline", "--dataset", "ml-100k"]})
    assert seen == [{"device": "cpu"}, {}, {}]


def test_live_beside_recorded_says_which_rule_held():
    frame = records.load("leaderboard/u1_defaults")
    rows = frame[frame["model"].isin(["global-mean", "baseline"])].drop_duplicates("model")
    table = reproduction.live_beside_recorded(rows, runs=NO_RUNS)
    assert table["holds"].all() and set(table["rule"]) <= {"same machine", "float64"}
    assert not any(math.isnan(d) for d in table["difference"])


def test_rerun_keeps_its_files_beside_the_record_and_survives_odd_machine_facts(tmp_path):
    """From another folder: predictions land beside the record (not in the working folder);
    a line may not write an .npz elsewhere; a line whose machine names 0 threads runs on 2,
    is written back, and the later lines still run."""
    import json

    from _cli import assert_user_error, cli

    repo, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    folder = repo / "results" / "x"
    folder.mkdir(parents=True)
    elsewhere.mkdir()
    record = folder / "g.jsonl"
    train = ["train", "global-mean", "--dataset", "ml-100k", "--split", "u1"]
    for seed, predictions in (("0", "results/x/g0.npz"), ("1", str(tmp_path / "evil.npz")),
                              ("2", "../../../evil2.npz"), ("3", "results/x/g3.npz")):
        command = [*train, "--seed", seed, "--predictions", predictions,
                   "--record", "results/x/g.jsonl"]
        machine = {"torch_threads": 0 if seed == "0" else 1}
        append_record(record, command, {"model": "global-mean", "dataset": "ml-100k",
                                        "split": "u1", "seed": int(seed), "rmse": 1.15,
                                        "params": {"seed": int(seed)}}, machine)
    result = cli("rerun", str(record), cwd=elsewhere, timeout=300)
    assert_user_error(result, "2 line(s) not rerun: line(s) 2, 3", children=True)
    assert "torch_threads 0, not a thread count" in result.stderr
    assert "not in the record file's folder" in result.stderr
    assert (folder / "g0.npz").exists() and (folder / "g3.npz").exists()
    assert not list(elsewhere.rglob("*")) and not (tmp_path / "evil.npz").exists()
    assert not (tmp_path / "evil2.npz").exists()
    entries = {entry["seed"]: entry for entry in read_entries(record)}
    assert entries[0]["machine"]["torch_threads"] == 2 and entries[0]["rmse"] != 1.15
    assert entries[3]["rmse"] == json.loads(result.stdout.splitlines()[-1])["rmse"]
    assert entries[1]["rmse"] == entries[2]["rmse"] == 1.15  # refused lines are untouched
    # the predictions a rerun saves carry the run of the line they belong to
    from recsys_lib.predictions import identity_problem, read_predictions

    saved = read_predictions(folder / "g0.npz")
    assert identity_problem(saved, {"model": "global-mean", "seed": 0, "split": "u1",
                                    "command": entries[0]["command"]}) is None


def test_rerun_compares_a_line_that_names_no_model_by_its_command(tmp_path, monkeypatch):
    """A hand-written line keeps its command and figure only: the rerun is still compared
    with that figure (it was "not compared ... (KeyError: 'model')")."""
    import io
    import json

    monkeypatch.setenv("RECSYS_DATA_MIRROR", "/work/shared/datasets")
    record = tmp_path / "hand.jsonl"
    command = ["train", "global-mean", "--dataset", "ml-100k", "--split", "u1"]
    record.write_text(json.dumps({"command": command, "rmse": 1.2}) + "\n", encoding="utf-8")
    out = io.StringIO()
    assert reproduction.rerun(record, out=out) == []
    text = out.getvalue()
    assert "but not compared" not in text, text
    assert "line 1: NOT reproduced (float64 rule): rmse 1.153676 live, 1.200000 recorded" \
        in text, text
    assert read_entries(record)[0]["model"] == "global-mean"


def test_reproduce_refuses_a_malformed_row_and_a_gpu_record_without_the_gpu(monkeypatch):
    """It was KeyError, TypeError or torch's AssertionError; now one RecsysError each,
    before any training."""
    import torch

    from recsys_lib import reproduction
    from recsys_lib.errors import InvalidParameterError, MissingDependencyError, RecordFileError

    monkeypatch.setattr(reproduction, "run", lambda *a, **k: 1 / 0)  # never trains
    for row in ({}, {"command": 5}, {"command": ["train", 3]}, {"command": []}):
        with pytest.raises(RecordFileError, match="not the record of a run"):
            reproduction.reproduce(row)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    gpu = {"command": ["train", "mf", "--dataset", "ml-100k", "--seed", "0"],
           "machine": {"device": "cuda", "torch_threads": 2}}
    with pytest.raises(MissingDependencyError, match="recorded on cuda, which this machine "
                       "lacks; reproduce\\(row, same_device=False\\)"):
        reproduction.reproduce(gpu)
    named = {"command": [*gpu["command"], "--param", "device=cuda"], "machine": gpu["machine"]}
    with pytest.raises(InvalidParameterError, match="device='cuda' cannot run here"):
        reproduction.reproduce(named)
    monkeypatch.setattr(reproduction, "run", lambda *args, **kwargs: {"params": kwargs["params"]})
    assert "device" not in reproduction.reproduce(named, same_device=False)["params"]


def test_sigterm_to_rerun_ends_its_child_and_keeps_the_line(tmp_path):
    """SIGTERM used to stop rerun and leave its child training; now the child ends too and
    the line keeps its old figures."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from _cli import child_env

    record = tmp_path / "results" / "slow.jsonl"
    record.parent.mkdir()
    command = ["train", "deep-ae", "--dataset", "ml-100k", "--split", "u1", "--seed", "0",
               "--record", "results/slow.jsonl"]
    append_record(record, command, {"model": "deep-ae", "dataset": "ml-100k", "split": "u1",
                                    "seed": 0, "rmse": 0.9, "params": {"seed": 0}},
                  {"torch_threads": 1})
    before = record.read_text(encoding="utf-8")
    driver = subprocess.Popen([sys.executable, "-m", "recsys_lib", "rerun", str(record)],
                              cwd=tmp_path, env=child_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)

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
        assert child, "rerun started no run"
        time.sleep(1.0)
        driver.send_signal(signal.SIGTERM)
        _, stderr = driver.communicate(timeout=60)
        assert driver.returncode != 0 and "Traceback" not in stderr
        assert "stopped by SIGTERM while rerunning line 1" in stderr
        assert "keeps its old figures" in stderr
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists()
                                                  for pid in child):
            time.sleep(0.2)
        assert not any(Path(f"/proc/{pid}").exists() for pid in child), "the run still runs"
        assert record.read_text(encoding="utf-8") == before
    finally:
        if driver.poll() is None:
            driver.kill()
        for pid in children():
            subprocess.run(["kill", "-9", str(pid)])
