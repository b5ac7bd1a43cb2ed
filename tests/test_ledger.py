"""Fault injection for the record ledger: concurrent appenders, killed runs, damaged files,
link and permission targets, a failed write after training, and ``rerun`` given hostile
lines. Every CLI-level case checks exit status 2, one ``error:`` line and no traceback."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from recsys_lib import ledger
from recsys_lib.cli import main
from recsys_lib.errors import RecordFileError
from recsys_lib.records import collect_records

from _cli import ROOT, assert_user_error, child_env, cli, setpriv

TRAIN = ["train", "global-mean", "--dataset", "ml-100k", "--split", "u1"]


def _line(i: int) -> dict:
    return {"model": "m", "rmse": 0.9 + i * 1e-6}


# --------------------------------------------------------------------------------------------
# Concurrency and crashes

APPENDER = """
import sys
from recsys_lib.ledger import append_record
path, worker, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    append_record(path, ["train", "w" + worker, str(i)], {"model": "m", "i": i, "pad": "x" * 300})
    if i % 10 == 9:  # run an earlier command again: its line is replaced (a rewrite)
        append_record(path, ["train", "w" + worker, str(i - 5)], {"model": "m", "i": i - 5})
"""


def test_four_processes_times_200_appends_lose_nothing(tmp_path):
    record = tmp_path / "runs.jsonl"
    workers = [subprocess.Popen([sys.executable, "-c", APPENDER, str(record), str(w), "200"],
                                env=child_env()) for w in range(4)]
    assert [w.wait(timeout=300) for w in workers] == [0, 0, 0, 0]
    lines = record.read_text().splitlines()
    assert len(lines) == 800
    commands = {tuple(json.loads(line)["command"]) for line in lines}  # every line is JSON
    assert commands == {("train", f"w{w}", str(i)) for w in range(4) for i in range(200)}
    assert not list(tmp_path.glob(".runs.jsonl.*.tmp"))


def test_concurrent_appends_of_one_command_leave_one_line(tmp_path):
    record = tmp_path / "runs.jsonl"
    same = APPENDER.replace('"w" + worker, str(i)', '"same"').replace(
        '"w" + worker, str(i - 5)', '"same"')
    workers = [subprocess.Popen([sys.executable, "-c", same, str(record), str(w), "50"],
                                env=child_env()) for w in range(4)]
    assert [w.wait(timeout=300) for w in workers] == [0, 0, 0, 0]
    assert len(ledger.read_entries(record)) == 1


KILLED_LOOP = """
import sys
from recsys_lib.ledger import append_record
i = 0
while True:
    append_record(sys.argv[1], ["train", "loop", str(i % 7)], {"i": i, "pad": "y" * 2000})
    i += 1
"""


def test_appender_killed_at_random_points_leaves_a_valid_file(tmp_path):
    record = tmp_path / "runs.jsonl"
    for i in range(50):
        ledger.append_record(record, ["train", "old", str(i)], _line(i))
    old = [line for line in record.read_text().splitlines()]
    rng = random.Random(0)
    for _ in range(12):
        child = subprocess.Popen([sys.executable, "-c", KILLED_LOOP, str(record)], env=child_env())
        time.sleep(0.4 + rng.random() * 0.4)  # import takes ~0.3 s; then appends in a loop
        child.send_signal(signal.SIGKILL)
        child.wait()
        entries = ledger.read_entries(record)  # never damaged
        text = record.read_text()
        assert all(line in text.splitlines() for line in old)  # old content intact
        assert len(entries) >= 50 and text.endswith("\n")
    ledger.append_record(record, ["train", "after"], _line(0))
    assert not list(tmp_path.glob(".runs.jsonl.*.tmp"))  # the next writer cleans orphans


def test_train_record_killed_at_random_points(tmp_path):
    record = tmp_path / "runs.jsonl"
    for i in range(20):
        ledger.append_record(record, ["train", "old", str(i)], _line(i))
    before = record.read_text()
    rng = random.Random(1)
    for _ in range(4):
        child = subprocess.Popen([sys.executable, "-m", "recsys_lib", *TRAIN, "--record",
                                  str(record)], env=child_env(), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        time.sleep(0.8 + rng.random() * 1.5)
        child.send_signal(signal.SIGKILL)
        child.wait()
        entries = ledger.read_entries(record)
        assert record.read_text().startswith(before)  # appended at the end, old lines kept
        assert len(entries) in (20, 21)


# --------------------------------------------------------------------------------------------
# Damaged files

@pytest.mark.parametrize("damage, number", [
    ('{"a": 1}\n}\n', 2),                  # the last line truncated to "}"
    ('{"a": 1}\n\n{"a": 2\n{"a": 3}\n', 3),  # a half-written line, then a whole one
    ('not json\n', 1),
    ('{"a": 1}\n[1, 2]\n', 2),             # JSON, but not an object
])
def test_damaged_record_is_refused_with_its_line_number(tmp_path, damage, number):
    record = tmp_path / "runs.jsonl"
    record.write_text(damage)
    with pytest.raises(RecordFileError, match=f"line {number}"):
        ledger.read_entries(record)
    result = cli(*TRAIN, "--record", str(record))
    assert_user_error(result, str(record), f"line {number}")
    assert result.stdout == ""  # refused before training: no summary was ever made
    assert record.read_text() == damage
    assert_user_error(cli("rerun", str(record)), f"line {number}")


def test_blank_lines_are_allowed(tmp_path):
    record = tmp_path / "runs.jsonl"
    record.write_text('\n{"model": "x", "command": ["train", "x"]}\n\n')
    assert len(ledger.read_entries(record)) == 1
    ledger.append_record(record, ["train", "y"], _line(0))
    assert [e["command"] for e in ledger.read_entries(record)] == [["train", "x"], ["train", "y"]]


def test_non_finite_values_are_written_as_strict_json(tmp_path):
    record = tmp_path / "runs.jsonl"
    ledger.append_record(record, ["train", "x"], {"rmse": float("nan"), "x": float("inf")})
    text = record.read_text()
    assert "NaN" not in text and "Infinity" not in text
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict constant {c}"))


# --------------------------------------------------------------------------------------------
# Targets: directories, links, read-only files, unwritable folders

def test_directory_targets_are_refused_before_training(tmp_path):
    assert_user_error(cli(*TRAIN, "--record", str(tmp_path)), "is a directory")
    assert_user_error(cli(*TRAIN, "--json", str(tmp_path)), "is a directory")
    folder = tmp_path / "p.npz"
    folder.mkdir()
    result = cli(*TRAIN, "--predictions", str(folder))
    assert_user_error(result, "--predictions file", "is a directory")
    assert result.stdout == ""


def test_record_and_json_naming_one_file_conflict(tmp_path):
    same = str(tmp_path / "x.jsonl")
    assert_user_error(cli(*TRAIN, "--record", same, "--json", same), "--record and --json")


def test_read_only_record_is_refused_even_for_root(tmp_path):
    record = tmp_path / "runs.jsonl"
    ledger.append_record(record, ["train", "x"], _line(0))
    record.chmod(0o444)
    before = record.read_text()
    result = cli(*TRAIN, "--record", str(record))
    assert_user_error(result, "read-only")
    assert result.stdout == "" and record.read_text() == before
    assert record.stat().st_mode & 0o777 == 0o444


def test_read_only_predictions_file_is_refused_even_for_root(tmp_path):
    target = tmp_path / "p.npz"
    target.write_bytes(b"kept")
    target.chmod(0o444)
    result = cli(*TRAIN, "--predictions", str(target))
    assert_user_error(result, "--predictions file", "read-only")
    assert result.stdout == "" and target.read_bytes() == b"kept"


def test_a_link_is_written_through(tmp_path):
    target = tmp_path / "real" / "runs.jsonl"
    target.parent.mkdir()
    ledger.append_record(target, ["train", "x"], _line(0))
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    ledger.append_record(link, ["train", "y"], _line(1))
    assert link.is_symlink()
    assert len(ledger.read_entries(target)) == 2


def test_file_mode_is_kept(tmp_path):
    record = tmp_path / "runs.jsonl"
    ledger.append_record(record, ["train", "x"], _line(0))
    record.chmod(0o640)
    ledger.append_record(record, ["train", "y"], _line(0))
    assert record.stat().st_mode & 0o777 == 0o640


def cli_without_override(*args: str) -> subprocess.CompletedProcess:
    prefix = setpriv() if os.geteuid() == 0 else []
    return subprocess.run([*prefix, sys.executable, "-m", "recsys_lib", *args],
                          capture_output=True, text=True, env=child_env(), timeout=120)


def test_unwritable_folder_is_refused_before_training(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        for flag, name in (("--record", "runs.jsonl"), ("--json", "run.json"),
                           ("--predictions", "run.npz")):
            result = cli_without_override(*TRAIN, flag, str(folder / "sub" / name))
            assert_user_error(result, "not", "writable")
            assert result.stdout == ""
    finally:
        folder.chmod(0o755)


def test_failed_write_after_training_names_the_file_and_keeps_the_summary(
        tmp_path, monkeypatch, capsys):
    record = tmp_path / "runs.jsonl"

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ledger, "write_replacing", disk_full)
    monkeypatch.setattr(ledger, "_append_line", disk_full)
    assert main([*TRAIN, "--record", str(record)]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out.strip().splitlines()[-1])["model"] == "global-mean"
    assert str(record) in err and "no space left" in err and "standard output" in err
    assert err.count("error:") == 1 and "Traceback" not in err


# --------------------------------------------------------------------------------------------
# The command that is recorded

def test_param_equals_form_is_recorded_as_a_tuned_run(tmp_path):
    record = tmp_path / "runs.jsonl"
    result = cli("train", "baseline", "--dataset=ml-100k", "--param=n_epochs=1",
                 "--record", str(record))
    assert result.returncode == 0, result.stderr
    command = ledger.read_entries(record)[0]["command"]
    assert command[:6] == ["train", "baseline", "--dataset", "ml-100k", "--param", "n_epochs=1"]
    assert not collect_records(tmp_path)["defaults"].any()


# --------------------------------------------------------------------------------------------
# rerun: a record file is data, never a program

def test_rerun_runs_train_lines_only_and_reports_every_failure(tmp_path):
    repo = tmp_path / "repo"
    (repo / "results").mkdir(parents=True)
    record = repo / "results" / "runs.jsonl"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    stolen = tmp_path / "overwritten.json"
    good = [*TRAIN, "--record", "results/runs.jsonl"]  # as typed at the repository root
    lines = [
        {"model": "global-mean", "rmse": 9.0, "command": good},
        {"command": ["rerun", str(record)]},                             # recursion
        {"command": [*TRAIN, "--seed", "1", "--json", str(stolen)]},     # writes elsewhere
        {"command": [*TRAIN, "--seed", "2", "--js", str(stolen)]},       # an abbreviation
        {"command": " ".join(TRAIN)},                                    # a string
        {"model": "no command"},
        {"command": [*TRAIN, "--seed", "3", "--record", str(tmp_path / "other.jsonl")]},
        {"command": ["train", "global-mean", "--dataset", "netflix"]},   # fails when run
        {"model": "global-mean", "rmse": 9.0, "command": [*TRAIN, "--seed", "4"],
         "machine": {"torch_threads": 1}},                               # ran on one thread
    ]
    record.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = cli("rerun", str(record), cwd=elsewhere)
    assert_user_error(result, "7 line(s) not rerun: line(s) 2, 3, 4, 5, 6, 7, 8",
                      children=True)
    for number, reason in ((2, "only train commands"), (3, "--json"), (4, "--js"),
                           (5, "not a list"), (6, "no command"), (7, "another file"),
                           (8, "exit status 2")):
        assert f"line {number}: not rerun: " in result.stderr
        assert reason in result.stderr.split(f"line {number}: not rerun: ")[1].splitlines()[0]
    assert not stolen.exists() and not (tmp_path / "other.jsonl").exists()
    assert not (elsewhere / "results").exists()  # nothing written relative to the cwd
    entries = ledger.read_entries(record)
    assert len(entries) == len(lines)
    rerun_lines = [e for e in entries if e.get("rmse") != 9.0 and e.get("model") == "global-mean"]
    assert [e["command"] for e in rerun_lines] == [good, [*TRAIN, "--seed", "4"]]
    # each line is run again on the thread count it recorded (2 when it named none), and
    # the line written back says so, with the device: the facts of the run, not of rerun
    assert [e["machine"]["torch_threads"] for e in rerun_lines] == [2, 1]
    assert all(e["machine"]["device"] in ("cpu", "cuda") for e in rerun_lines)
    assert "OMP_NUM_THREADS=1 " in result.stderr and "OMP_NUM_THREADS=2 " in result.stderr
    # each rerun line says whether it reproduced the old figure, by the one rule
    assert "line 1: NOT reproduced (float64 rule): rmse 1.153676 live, 9.000000 recorded" \
        in result.stderr


def test_rerun_of_a_missing_file_is_one_line(tmp_path):
    assert_user_error(cli("rerun", str(tmp_path / "none.jsonl")), "no record file")


# --------------------------------------------------------------------------------------------
# The ledger benchmark (timing is printed by benchmarks/ledger.py, never asserted here)

def test_ledger_benchmark_runs_and_keeps_every_line():
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "ledger.py"),
                             "--repeats", "5", "--sizes", "0,20"], capture_output=True,
                            text=True, env=child_env(), timeout=120)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()[2:]]
    assert [row[0] for row in rows] == ["0", "20"] and all(len(row) == 7 for row in rows)


def test_new_commands_append_and_repeated_commands_replace(tmp_path):
    record = tmp_path / "runs.jsonl"
    for i in range(30):
        ledger.append_record(record, ["train", "m", str(i)], _line(i))
    first = record.read_text()
    ledger.append_record(record, ["train", "m", "30"], _line(30))
    assert record.read_text().startswith(first)  # appended, old bytes untouched
    ledger.append_record(record, ["train", "m", "3"], {"model": "m", "rmse": 0.5})
    entries = ledger.read_entries(record)
    assert len(entries) == 31 and entries[-1]["rmse"] == 0.5
    assert [e["command"][2] for e in entries].count("3") == 1
    # a line written by hand with other spacing is still found and replaced
    record.write_text('{"command" : [ "train","m" ,"x" ], "rmse": 1}\n')
    ledger.append_record(record, ["train", "m", "x"], {"rmse": 2})
    assert [e["rmse"] for e in ledger.read_entries(record)] == [2]


def test_incomplete_last_line_is_ignored_by_readers_and_removed_by_the_next_write(
        tmp_path, caplog):
    record = tmp_path / "runs.jsonl"
    record.write_bytes('{"a": 1}\n{"a": "caf\u00e9 \u00e9t'.encode()[:-1])  # cut in a character
    assert ledger.read_entries(record) == [{"a": 1}]
    assert "line 2: an incomplete last line" in caplog.text and "ignored" in caplog.text
    ledger.check_record_target(record)  # a run may start
    ledger.append_record(record, ["train", "y"], _line(0))
    assert "was removed" in caplog.text
    assert record.read_text().startswith('{"a": 1}\n{"model": "m"')
    assert [e.get("command") for e in ledger.read_entries(record)] == [None, ["train", "y"]]
    assert record.read_text().endswith("\n")


def test_a_last_line_without_its_newline_is_whole_and_the_next_line_follows(tmp_path):
    record = tmp_path / "runs.jsonl"
    record.write_text('{"a": 1}\n{"a": 2}')
    ledger.check_record_target(record)
    ledger.append_record(record, ["train", "y"], _line(0))
    entries = ledger.read_entries(record)
    assert [e.get("a") for e in entries] == [1, 2, None] and record.read_text().count("\n") == 3
    record.write_text('{"command": ["train", "y"], "a": 1}')  # the replacing path too
    ledger.append_record(record, ["train", "y"], _line(1))
    assert len(ledger.read_entries(record)) == 1


def test_a_write_cut_short_by_a_full_disk_is_undone(tmp_path, monkeypatch):
    record = tmp_path / "runs.jsonl"
    ledger.append_record(record, ["train", "x"], _line(0))
    before = record.read_bytes()
    real_write = os.write

    def half_then_full(fd, data):  # the disk fills in the middle of the line
        if len(data) > 10:
            return real_write(fd, data[:len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(RecordFileError, match="no space left.*as it was before"):
        ledger.append_record(record, ["train", "y"], _line(1))
    monkeypatch.undo()
    assert record.read_bytes() == before
    ledger.append_record(record, ["train", "y"], _line(1))
    assert len(ledger.read_entries(record)) == 2


LIMITED = """
import resource, sys
from recsys_lib.ledger import append_record
size = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
append_record(sys.argv[1], ["train", "y"], {"model": "m", "pad": "x" * 400})
"""


def test_a_file_size_limit_mid_append_leaves_the_file_as_it_was(tmp_path):
    record = tmp_path / "runs.jsonl"
    ledger.append_record(record, ["train", "x"], _line(0))
    before = record.read_bytes()
    result = subprocess.run([sys.executable, "-c", LIMITED, str(record),
                             str(len(before) + 100)], env=child_env(), capture_output=True,
                            text=True)
    assert result.returncode != 0 and "file-size limit" in result.stderr, result.stderr
    assert record.read_bytes() == before
    # through the command line: the summary is kept on standard output, the file intact
    train = subprocess.run(["prlimit", f"--fsize={len(before) + 100}", sys.executable, "-m",
                            "recsys_lib", *TRAIN, "--record", str(record)], env=child_env(),
                           capture_output=True, text=True)
    assert_user_error(train, str(record), "file-size limit", "last line on standard output")
    assert json.loads(train.stdout.splitlines()[-1])["model"] == "global-mean"
    assert record.read_bytes() == before
    assert cli(*TRAIN, "--record", str(record)).returncode == 0
    assert len(ledger.read_entries(record)) == 2


def test_with_standard_output_closed_the_run_is_still_recorded(tmp_path):
    record, npz = tmp_path / "r.jsonl", tmp_path / "p.npz"
    read, write = os.pipe()
    os.close(read)  # `train ... | true`: the reader is gone before the summary
    result = subprocess.run([sys.executable, "-m", "recsys_lib", *TRAIN, "--record",
                             str(record), "--predictions", str(npz)], stdout=write,
                            stderr=subprocess.PIPE, text=True, env=child_env())
    os.close(write)
    assert result.returncode == 0, result.stderr
    assert "standard output is closed" in result.stderr and "kept" in result.stderr
    assert len(ledger.read_entries(record)) == 1 and npz.exists()
    # `>&-`: descriptor 1 closed from the start
    closed = subprocess.run([sys.executable, "-m", "recsys_lib", *TRAIN, "--seed", "1",
                             "--record", str(record)], stderr=subprocess.PIPE, text=True,
                            env=child_env(), preexec_fn=lambda: os.close(1))
    assert closed.returncode == 0, closed.stderr
    assert len(ledger.read_entries(record)) == 2
    lost = subprocess.run([sys.executable, "-m", "recsys_lib", *TRAIN],
                          stderr=subprocess.PIPE, text=True, env=child_env(),
                          preexec_fn=lambda: os.close(1))
    assert_user_error(lost, "standard output is closed", "--record")
    assert "fit" not in lost.stderr.lower()  # refused before training
