"""Study runs of the Results part: saved predictions, top-N summaries, the study runs, the
significance table and the blend (on ML-100K u1 with synthetic predictions)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from recsys_lib import blend_protocol, plan, study
from recsys_lib.analysis import bootstrap_rmse, paired_bootstrap, significance
from recsys_lib.errors import MissingRecordError, RecordFileError
from recsys_lib.glossary import unknown_keys
from recsys_lib.ledger import append_record
from recsys_lib.metrics import rmse
from recsys_lib.predictions import load_predictions, run_identity, save_predictions
from recsys_lib.records import collect_records
from recsys_lib.splits import load_split, synthetic_split
from recsys_lib.topn import koren_ranks, koren_targets, topn_summary


@pytest.fixture(scope="module")
def u1():
    return load_split("ml-100k", "u1")


def test_predictions_round_trip_and_refuse_another_split(tmp_path, u1):
    pred = np.linspace(1, 5, len(u1.test.ratings))
    path = save_predictions(tmp_path / "a" / "p.npz", u1, pred, koren_ranks=[3, 1])
    arrays = load_predictions(path, u1)
    assert np.allclose(arrays["pred"], pred) and arrays["pred"].dtype == np.float32
    assert list(arrays["koren_ranks"]) == [3, 1]
    with pytest.raises(RecordFileError, match="another split"):
        load_predictions(path, load_split("ml-100k", "u2"))
    with pytest.raises(RecordFileError, match="must end in .npz"):
        save_predictions(tmp_path / "p.txt", u1, pred)
    with pytest.raises(ValueError, match="predictions for"):
        save_predictions(tmp_path / "q.npz", u1, pred[:-1])
    assert not (tmp_path / "q.npz").exists()


def test_train_saves_predictions_and_topn_with_its_record(tmp_path):
    npz, record = tmp_path / "p.npz", tmp_path / "r.jsonl"
    command = [sys.executable, "-m", "recsys_lib", "train", "global-mean", "--dataset",
               "ml-100k", "--split", "u1", "--topn", "--predictions", str(npz),
               "--record", str(record)]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert unknown_keys(summary) == []
    # a constant predictor ties every item with the target: ties count against it
    assert summary["koren_recall"] == [0.0] * 20 and summary["koren_mean_percentile"] == 1.0
    assert summary["koren_targets"] + summary["koren_skipped"] == 4457
    arrays = load_predictions(npz, load_split("ml-100k", "u1"))
    assert len(arrays["koren_ranks"]) == summary["koren_targets"]
    assert np.isclose(rmse(load_split("ml-100k", "u1").test.ratings, arrays["pred"],
                           (1, 5)), summary["rmse"])
    bad = subprocess.run(command[:-4] + ["--predictions", str(tmp_path / "p.csv")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "must end in .npz" in bad.stderr and not (tmp_path / "p.csv").exists()


def test_koren_protocol_skips_users_without_enough_unrated_items():
    split = synthetic_split(n_users=30, n_items=60, n_ratings=900, seed=1)
    keep = koren_targets(split, n_random=30)
    top = np.flatnonzero(split.test.ratings == split.rating_scale[1])
    rated = np.bincount(np.concatenate([split.train.users, split.test.users]),
                        minlength=split.n_users)
    assert set(keep) == {i for i in top if split.n_items - rated[split.test.users[i]] >= 30}
    assert 0 < len(keep) < len(top)  # the fixture has both kinds of user
    with pytest.raises(ValueError, match="unrated items"):
        koren_ranks(_Oracle(split), split, n_random=30)


class _Oracle:
    """Scores the true test rating high and everything else low."""

    def __init__(self, split):
        self.best = set(zip(split.test.users.tolist(), split.test.items.tolist()))

    def predict(self, users, items):
        return np.array([1.0 if (u, i) in self.best else 0.0 for u, i in zip(users, items)])


def test_topn_summary_of_an_oracle_and_of_noise():
    split = synthetic_split(n_users=40, n_items=400, n_ratings=800, seed=2)
    oracle, ranks = topn_summary(_Oracle(split), split, n_random=100)
    assert oracle["koren_recall"][0] == 1.0 and oracle["koren_mean_percentile"] == 0.0
    assert len(ranks) == oracle["koren_targets"] > 0

    class Noise:
        def predict(self, users, items):
            return np.random.default_rng(0).random(len(users))

    noise, _ = topn_summary(Noise(), split, n_random=100)
    assert 0.35 < noise["koren_mean_percentile"] < 0.65
    assert noise["full_recall@10"] < oracle["full_recall@10"]


def test_study_plan_has_both_parts_of_every_model_and_pure_svd():
    runs = plan.study_plan()
    names = {r.name for r in runs}
    assert names == set(plan.results_models()) | set(plan.STUDY_EXTRAS)
    for run in runs:
        command = run.command()
        assert run.seed == 0 and command[command.index("--predictions") + 1] == \
            f"results/{run.predictions}"
        assert ("--topn" in command) == (run.part == "test")
        assert command[command.index("--split") + 1] == \
            (f"{run.split}/{plan.VALIDATION}" if run.part == "validation" else run.split)
    assert len(runs) == 2 * len(names) * len(plan.STUDY_SPLITS)
    pure = next(r for r in runs if r.name == "pure-svd")
    assert pure.command()[pure.command().index("--param") + 1] == "fill=zero"


def test_a_study_run_is_done_with_its_predictions_and_its_own_fresh_line(tmp_path,
                                                                        monkeypatch, u1):
    monkeypatch.setattr(plan, "results_dir", lambda: tmp_path)
    run = plan.PlannedRun("baseline", "ml-100k", "u1", 0, "test")
    assert not plan.study_done(run)
    (tmp_path / run.predictions).parent.mkdir(parents=True)
    (tmp_path / run.predictions).write_bytes(b"")
    from recsys_lib.models import create_model
    params = create_model("baseline").get_params()
    line = {"n_test": len(u1.test.ratings), "params": params}
    append_record(tmp_path / run.record, run.command()[:-2], line)
    assert not plan.study_done(run)  # a line of another command
    append_record(tmp_path / run.record, run.command(), {**line,
                                                         "params": {**params, "n_epochs": 1}})
    assert not plan.study_done(run)  # stale: not today's defaults
    append_record(tmp_path / run.record, run.command(), line)
    assert not plan.study_done(run)  # an empty file holds no predictions
    identity = {"model": "baseline", "dataset": "ml-100k", "split": "u1", "seed": 0, **line}
    pred = np.full(len(u1.test.ratings), 3.5)
    save_predictions(tmp_path / run.predictions, u1, pred,
                     run=run_identity(identity, [t for t in run.command() if t != "--topn"]))
    assert "other command" in plan.study_problem(run)  # the same model, without top-N
    save_predictions(tmp_path / run.predictions, u1, pred,
                     run=run_identity(identity, run.command()))
    assert plan.study_done(run)
    save_predictions(tmp_path / run.predictions, u1, pred,
                     run=run_identity({**identity, "model": "svd"}, run.command()))
    assert "another run's predictions" in plan.study_problem(run)  # another model's file
    assert not plan.study_done(run)


def test_collect_records_ignores_blend_records(tmp_path):
    append_record(tmp_path / "blend.jsonl", ["blend", "--dataset", "ml-100k"], {"rmse": 0.1})
    append_record(tmp_path / "runs.jsonl", ["train", "baseline", "--dataset", "ml-100k"],
                  {"model": "baseline", "dataset": "ml-100k", "split": "u1", "seed": 0,
                   "rmse": 0.9, "params": {}})
    assert list(collect_records(tmp_path)["model"]) == ["baseline"]


def test_significance_and_bootstrap_interval(u1):
    truth = u1.test.ratings
    rng = np.random.default_rng(0)
    good = truth + rng.normal(0, 0.9, truth.size)
    close = truth + rng.normal(0, 0.9, truth.size)
    bad = truth + rng.normal(0, 1.1, truth.size)
    table = significance(truth, {"good": good, "close": close, "bad": bad},
                         ["good", "close", "bad"], (1, 5), n_resamples=300)
    assert table.loc["good", "vs_leader"] == 0.0 and not table.loc["good", "vs_leader_real"]
    assert table.loc["bad", "vs_leader_real"] and table.loc["bad", "vs_above_real"]
    assert table.loc["bad", "vs_leader_low"] > 0
    low, high = bootstrap_rmse(truth, good, (1, 5), n_resamples=300)
    assert low < rmse(truth, good, (1, 5)) < high


def _write_study(root, run, data, pred):
    """A planned study run's record line and predictions, as ``train`` saves them."""
    line = {"model": run.model, "dataset": run.dataset, "split": run.run_split, "seed": 0,
            "n_test": len(data.test.ratings), "params": dict(run.params)}
    save_predictions(root / run.predictions, data, pred,
                     run=run_identity(line, run.command()))
    append_record(root / run.record, run.command(), line)


def test_blend_learns_on_the_validation_slice_and_beats_its_parts(tmp_path, monkeypatch):
    monkeypatch.setattr(study, "results_dir", lambda: tmp_path)
    monkeypatch.setattr(plan, "results_dir", lambda: tmp_path)
    runs = {(name, part): plan.PlannedRun("global-mean", "ml-100k", "u1", 0, part,
                                          (("label", name),), name)
            for name in ("a", "b", "noise") for part in ("validation", "test")}
    monkeypatch.setattr(study, "study_plan", lambda splits: list(runs.values()))
    validation = load_split("ml-100k", f"u1/{plan.VALIDATION}")
    test = load_split("ml-100k", "u1")
    rng = np.random.default_rng(0)
    for part, data in (("validation", validation), ("test", test)):
        truth = data.test.ratings
        shared = rng.normal(0, 0.5, truth.size)
        _write_study(tmp_path, runs["a", part], data,
                     truth + shared + rng.normal(0, 0.6, truth.size))
        _write_study(tmp_path, runs["b", part], data,
                     truth - shared + rng.normal(0, 0.7, truth.size))
        _write_study(tmp_path, runs["noise", part], data, rng.uniform(1, 5, truth.size))
    only = plan.PlannedRun("global-mean", "ml-100k", "u1", 0, "test", (), "only-test")
    _write_study(tmp_path, only, test, test.test.ratings)  # not planned: never blended
    result = blend_protocol.run_blend("ml-100k", "u1", n_resamples=200)
    assert result["models"] == ["a", "b", "noise"]
    assert result["best_single"] == "a"
    assert result["rmse"] < result["best_single_rmse"] - 0.1
    assert result["versus_best_single"]["real"]
    low, high = result["rmse_interval"]
    assert low < result["rmse"] < high
    assert abs(result["mean_weights"]["noise"]) < 0.05
    assert result["leave_one_out_rmse"]["b"] > result["rmse"] + 0.05
    assert result["n_validation"] == 8000 and result["n_test"] == 20000


def test_resampling_users_widens_the_interval_when_a_users_errors_agree(u1):
    truth = u1.test.ratings
    rng = np.random.default_rng(1)
    user_bias = rng.normal(0, 0.4, u1.n_users)[u1.test.users]
    a = truth + user_bias + rng.normal(0, 0.8, truth.size)
    b = truth + rng.normal(0, 0.85, truth.size)
    by_rating = paired_bootstrap(truth, a, b, (1, 5), n_resamples=400)
    by_user = paired_bootstrap(truth, a, b, (1, 5), n_resamples=400, groups=u1.test.users)
    assert by_rating["difference"] == by_user["difference"]
    assert by_user["unit"] == "group" and by_rating["unit"] == "rating"
    assert by_user["high"] - by_user["low"] > 1.3 * (by_rating["high"] - by_rating["low"])
    with pytest.raises(ValueError, match="groups for"):
        paired_bootstrap(truth, a, b, (1, 5), groups=u1.test.users[:-1])


def test_blend_command_refuses_bad_input_in_one_line(tmp_path):
    base = [sys.executable, "-m", "recsys_lib", "blend"]
    for extra, message in ((["--dataset", "jester"], "no study runs are planned on"),
                           (["--dataset", "ml-100k", "--record", str(tmp_path)],
                            "is a directory")):
        result = subprocess.run(base + extra, capture_output=True, text=True)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
        assert result.stdout == ""
    closed = subprocess.run(base + ["--dataset", "ml-100k"], stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: os.close(1))  # `>&-`
    assert closed.returncode == 2 and closed.stderr.count("\n") == 1, closed.stderr
    assert "standard output is closed and no --record" in closed.stderr


@pytest.mark.parametrize("fault", ["missing", "another model's", "the validation part's",
                                   "truncated"])
def test_the_blend_refuses_missing_foreign_or_damaged_predictions(tmp_path, monkeypatch,
                                                                   fault):
    import io
    import shutil

    folder = tmp_path / "study" / "ml-100k_u1"
    shutil.copytree(plan.results_dir() / "study" / "ml-100k_u1", folder)
    monkeypatch.setattr(plan, "results_dir", lambda: tmp_path)
    monkeypatch.setattr(study, "results_dir", lambda: tmp_path)
    names = study.study_names("ml-100k", "u1")
    assert len(names) == len({run.name for run in plan.study_plan(splits=(("ml-100k", "u1"),))})
    target = folder / "mf.test.npz"
    if fault == "missing":
        target.unlink()
    elif fault == "another model's":
        shutil.copy(folder / "baseline.test.npz", target)
    elif fault == "the validation part's":
        shutil.copy(folder / "mf.validation.npz", target)
    else:
        target.write_bytes(target.read_bytes()[:1000])
    with pytest.raises(MissingRecordError, match=r"mf \(test\)"):
        study.study_predictions("ml-100k", "u1", "test")
    with pytest.raises(MissingRecordError, match="1 of the 42 study runs"):
        blend_protocol.blend_command("ml-100k", None, ["blend", "--dataset", "ml-100k"])
    out = io.StringIO()
    plan.run_plan(plan.study_plan(splits=(("ml-100k", "u1"),)), dry_run=True, out=out)
    assert "41 of 42 runs recorded" in out.getvalue()  # `results` owes it again
    assert "--predictions results/study/ml-100k_u1/mf.test.npz" in out.getvalue()


def test_rerun_study_names_an_unknown_run_or_split():
    """It was a KeyError (unknown run) or a MissingRecordError about 42 missing files."""
    from recsys_lib.errors import UnknownNameError
    from recsys_lib.study import rerun_study

    with pytest.raises(UnknownNameError, match="no study runs on nosuch u1; the study splits"):
        rerun_study("nosuch", "u1", "baseline")
    with pytest.raises(UnknownNameError, match="no study run 'nosuch' on ml-100k u1; its "
                       "study runs: .*baseline"):
        rerun_study("ml-100k", "u1", "nosuch")
    # the readers of the study runs too (they said 42 of 42 runs were missing)
    from recsys_lib.study import study_names, study_predictions, study_runs

    for read in (lambda: study_names("nosuch", "u1"), lambda: study_runs("ml-100k", "u9"),
                 lambda: study_predictions("douban", "u1", "test")):
        with pytest.raises(UnknownNameError, match="no study runs on .*; the study splits"):
            read()
