"""The command line contract: the last stdout line of `train` is one JSON summary."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from recsys_lib.cli import main
from recsys_lib.records import collect_records, load_records

REQUIRED = {"model", "dataset", "split", "seed", "n_train", "n_test", "rmse", "mae",
            "fit_seconds"}


def test_train_prints_json_summary_last(tmp_path):
    out = tmp_path / "summary.json"
    result = subprocess.run(
        [sys.executable, "-m", "recsys_lib", "train", "baseline", "--dataset", "ml-100k",
         "--split", "u1", "--seed", "3", "--json", str(out)],
        capture_output=True, text=True, check=True)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert REQUIRED <= set(summary)
    assert (summary["model"], summary["split"], summary["seed"]) == ("baseline", "u1", 3)
    assert (summary["n_train"], summary["n_test"]) == (80_000, 20_000)
    assert json.loads(out.read_text()) == summary


def test_param_and_record(tmp_path, capsys):
    record = tmp_path / "runs.jsonl"
    args = ["train", "baseline", "--dataset", "ml-100k", "--param", "n_epochs=2",
            "--record", str(record)]
    assert main(args) == 0
    assert main(args) == 0  # the same command replaces its own line
    assert main(args[:4] + ["--param", "n_epochs=5", "--record", str(record)]) == 0
    runs = load_records(record)
    assert sorted(runs["params.n_epochs"]) == [2, 5]
    assert runs["command"].iloc[0] == args
    assert runs["params"].iloc[0]["n_epochs"] == 2  # the params dict is kept beside its columns


@pytest.mark.parametrize("args, message", [
    (["train", "baseline", "--dataset", "netflix"], "unknown dataset 'netflix'"),
    (["train", "baseline", "--dataset", "ml-100k", "--split", "u7"], "unknown split 'u7'"),
    (["train", "nope", "--dataset", "ml-100k"], "unknown model 'nope'"),
    (["train", "baseline", "--dataset", "ml-100k", "--param", "alpha=1"], "bad parameters"),
    (["fetch", "netflix"], "unknown dataset 'netflix'"),
    (["train", "glocal-k", "--dataset", "ml-100k", "--param", "conv_layers=0"],
     "conv_layers must be an integer >= 1"),
    (["train", "integrated", "--dataset", "ml-100k", "--param", "k=0"],
     "k must be an integer >= 1"),
])
def test_bad_names_exit_2_with_a_message(args, message, capsys):
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_datasets_and_splits_listing(capsys):
    assert main(["datasets"]) == 0
    listing = capsys.readouterr().out
    for name in ("ml-100k", "ml-1m", "douban", "jester", "amazon-electronics"):
        assert name in listing
    assert main(["splits", "douban"]) == 0
    assert json.loads(capsys.readouterr().out)["n_test"] == 13_689


def test_collect_records_flags_default_runs(tmp_path):
    main(["train", "global-mean", "--dataset", "ml-100k", "--record", str(tmp_path / "a.jsonl")])
    main(["train", "baseline", "--dataset", "ml-100k", "--param", "n_epochs=1",
          "--record", str(tmp_path / "sub" / "b.jsonl")])
    runs = collect_records(tmp_path).set_index("model")
    assert runs.loc["global-mean", "defaults"] and not runs.loc["baseline", "defaults"]
    assert runs.loc["baseline", "record_file"] == "sub/b.jsonl"
    assert not runs["stale"].any()


def test_record_of_changed_defaults_is_stale():
    from recsys_lib.records import matches_current_defaults

    defaults = {"n_epochs": 10, "reg_user": 15.0, "reg_item": 10.0, "seed": 3}
    assert matches_current_defaults("baseline", defaults)
    assert not matches_current_defaults("baseline", {**defaults, "n_epochs": 20})


@pytest.mark.parametrize("how", ["same", "dot", "symlink", "hardlink", "record"])
def test_one_file_named_twice_is_refused_before_training(tmp_path, how):
    from _cli import assert_user_error, cli

    train = ["train", "global-mean", "--dataset", "ml-100k", "--split", "u1"]
    kept = tmp_path / "p.npz"
    kept.write_bytes(b"kept")
    other = {"same": "p.npz", "dot": "./sub/../p.npz", "symlink": "link.npz",
             "hardlink": "hard.npz", "record": "link.npz"}[how]
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.npz").symlink_to(kept)
    (tmp_path / "hard.npz").hardlink_to(kept)
    flag = "--record" if how == "record" else "--json"
    result = cli(*train, "--predictions", "p.npz", flag, other, cwd=tmp_path)
    assert_user_error(result, "name the same file", "--predictions", flag)
    assert result.stdout == "" and kept.read_bytes() == b"kept"


def test_json_never_replaces_a_file_that_is_not_a_summary(tmp_path):
    from _cli import assert_user_error, cli

    record = tmp_path / "runs.jsonl"
    record.write_text('{"a": 1}\n{"a": 2}\n')
    source = tmp_path / "notes.py"
    source.write_text("print('kept')\n")
    train = ["train", "global-mean", "--dataset", "ml-100k", "--split", "u1"]
    assert_user_error(cli(*train, "--json", str(record)), "holds 2 lines", "never replaced")
    assert_user_error(cli(*train, "--json", str(source)), "not one JSON summary")
    one = tmp_path / "one.jsonl"
    one.write_text('{"model": "m", "command": ["train"], "recorded_on": "2026-12-06"}\n')
    assert_user_error(cli(*train, "--json", str(one)), "holds a record line")
    assert "recorded_on" in one.read_text()
    assert record.read_text() == '{"a": 1}\n{"a": 2}\n'
    assert source.read_text() == "print('kept')\n"
    summary = tmp_path / "summary.json"
    summary.write_text('{"model": "old"}\n')  # an earlier --json summary is replaced
    assert cli(*train, "--json", str(summary)).returncode == 0
    assert json.loads(summary.read_text())["model"] == "global-mean"
