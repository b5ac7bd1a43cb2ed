"""Input checks at the door (recsys_lib/checks.py and the metrics): bad ratings through the
public API with their rows counted, NaN truths, a test part with nothing to rank, and index
arrays of the wrong kind, refused the same way by every model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_lib import data
from recsys_lib.data import DatasetSpec
from recsys_lib.errors import (
    InvalidIndexError,
    InvalidParameterError,
    InvalidRatingsError,
)
from recsys_lib.metrics import mae, ranking_metrics, rmse
from recsys_lib.models import create_model
from recsys_lib.splits import split_from_frames
from recsys_lib.training import score


GOOD = pd.DataFrame({"user": [1, 1, 2, 3], "item": [10, 11, 10, 12],
                     "rating": [4.0, 5.0, 3.0, 2.0]})
TEST = pd.DataFrame({"user": [2, 3], "item": [11, 10], "rating": [1.0, 5.0]})


def _split(train=GOOD, test=TEST, scale=(1.0, 5.0)):
    return split_from_frames("toy", "t", train, test, scale)


def _with(frame, column, row, value):
    frame = frame.copy()
    frame[column] = frame[column].astype(object) if isinstance(value, str) or value is None \
        else frame[column]
    frame.loc[row, column] = value
    return frame


# --------------------------------------------------------------------------------------------
# Ratings at the door

@pytest.mark.parametrize("train, test, scale, pattern", [
    (_with(GOOD, "rating", 1, np.nan), TEST, (1, 5), r"train part\): 1 ratings are off .*1 NaN"),
    (_with(GOOD, "rating", 0, np.inf), TEST, (1, 5), r"1 ratings are off .*1 infinite"),
    (GOOD, _with(TEST, "rating", 0, 6.0), (1, 5), r"test part\): 1 ratings are off the "
                                                   r"declared scale \[1, 5\]"),
    (GOOD, _with(TEST, "rating", 1, -1.0), (1, 5), r"1 ratings are off .*1 outside"),
    (GOOD, TEST, (5, 1), r"rating scale \(5, 1\) must be .* low < high"),
    (GOOD, TEST, (1, float("nan")), r"must be two finite numbers"),
    (_with(GOOD, "user", 2, "u2"), TEST, (1, 5), r"user ids mix types \(3 number, 1 text\); "
                                                  r"1 rows differ"),
    (_with(GOOD, "user", 0, np.nan), TEST, (1, 5), r"1 of 4 rows have no user id"),
    (_with(GOOD, "item", 3, None), TEST, (1, 5), r"1 of 4 rows have no item id"),
    (GOOD.drop(columns="rating"), TEST, (1, 5), r"lack the columns \['rating'\]"),
    (GOOD, TEST.rename(columns={"item": "movie"}), (1, 5), r"lack the columns \['item'\]"),
    (_with(GOOD, "rating", 2, "four"), TEST, (1, 5), r"1 ratings are not numbers"),
    (GOOD, TEST.assign(user=["2", "3"]), (1, 5), r"user ids are text in one part"),
])
def test_bad_ratings_are_refused_with_rows_counted(train, test, scale, pattern):
    with pytest.raises(InvalidRatingsError, match=pattern):
        _split(train, test, scale)


def test_good_ratings_still_make_a_split():
    split = _split()
    assert (len(split.train), len(split.test), split.n_users, split.n_items) == (4, 2, 3, 3)
    text_ids = _split(GOOD.assign(user=GOOD["user"].map("u{}".format)),
                      TEST.assign(user=TEST["user"].map("u{}".format)))
    assert list(text_ids.user_ids) == ["u1", "u2", "u3"]


def test_validate_ratings_counts_rows_too():
    spec = DatasetSpec("toy", "toy", "", "", (1.0, 5.0), ())
    bad = GOOD.assign(rating=[4.0, np.nan, np.nan, 9.0])
    with pytest.raises(InvalidRatingsError, match=r"3 ratings are off .*2 NaN, 0 infinite, 1 "):
        data.validate_ratings(bad, spec)


# --------------------------------------------------------------------------------------------
# Metrics

@pytest.mark.parametrize("metric", [rmse, mae])
def test_metrics_refuse_nan_truth(metric):
    with pytest.raises(InvalidRatingsError, match="1 of 3 true ratings are NaN or infinite"):
        metric([4.0, np.nan, 3.0], [4.0, 4.0, 3.0], (1, 5))


def test_ranking_metrics_refuse_nan_truth():
    with pytest.raises(InvalidRatingsError, match="true ratings are NaN"):
        ranking_metrics([0, 0], [np.nan, 5.0], [1.0, 2.0])


def test_reversed_scale_is_refused_by_the_metrics():
    with pytest.raises(InvalidRatingsError, match="low < high"):
        rmse([1.0, 5.0], [1.0, 5.0], (5, 1))


def test_no_relevant_item_leaves_rmse_and_reports_null_rankings():
    low = TEST.assign(rating=[1.0, 3.0])
    split = _split(GOOD, low)
    scores = score(split, np.array([2.0, 3.0]))
    assert scores["rmse"] == pytest.approx(np.sqrt(0.5))
    assert scores["precision@10"] is None and scores["ndcg@10"] is None
    assert (scores["ranked_users"], scores["unranked_users"]) == (0, 2)


def test_users_without_relevant_items_are_counted():
    scores = ranking_metrics([0, 0, 1], [5.0, 1.0, 2.0], [4.0, 1.0, 3.0], k=1)
    assert (scores["ranked_users"], scores["unranked_users"]) == (1, 1)
    assert scores["precision@1"] == 1.0


# --------------------------------------------------------------------------------------------
# predict: one check of index arrays for every model

MODELS = ["global-mean", "baseline", "svd-truncated"]


@pytest.fixture(scope="module")
def fitted():
    """Cheap models fitted on a seeded 30-user, 20-item split."""
    rng = np.random.default_rng(0)
    users, items = (a.ravel() for a in np.meshgrid(np.arange(30), np.arange(20), indexing="ij"))
    frame = pd.DataFrame({"user": users, "item": items,
                          "rating": rng.integers(1, 6, users.size).astype(float)})
    test_rows = rng.random(len(frame)) < 0.2
    split = split_from_frames("tiny", "t", frame[~test_rows], frame[test_rows], (1.0, 5.0))
    return {name: create_model(name).fit(split) for name in MODELS}


@pytest.mark.parametrize("users, items, pattern", [
    (np.zeros((2, 2), dtype=int), np.zeros((2, 2), dtype=int), r"user indices must be a 1-D"),
    ([0.0, 1.5], [0, 1], r"user indices must be whole numbers; 1 are not"),
    ([0, 1], [np.nan, 1.0], r"item indices must be whole numbers; 1 are NaN"),
    ([True, False], [0, 1], r"user indices must be integers, got booleans"),
    (["0", "1"], [0, 1], r"user indices must be integers, got dtype <U1"),
    ([0, 1], [0], r"users has shape \(2,\) but items has shape \(1,\)"),
    ([0, 99], [0, 1], r"user indices must lie in \[0, 30\)"),
])
def test_every_model_refuses_bad_indices_the_same_way(fitted, users, items, pattern):
    messages = set()
    for name, model in fitted.items():
        with pytest.raises(InvalidIndexError, match=pattern) as error:
            model.predict(users, items)
        messages.add(str(error.value))
    assert len(messages) == 1


def test_integral_floats_predict_like_integers(fitted):
    for model in fitted.values():
        np.testing.assert_array_equal(model.predict(np.array([0.0, 3.0]), np.array([1.0, 2.0])),
                                      model.predict(np.array([0, 3]), np.array([1, 2])))


@pytest.mark.parametrize("name", ["i-autorec", "u-autorec", "deep-ae"])
def test_a_fallback_rating_off_the_scale_is_refused_before_training(name, tiny_split):
    """-1 is a rating on Jester's [-10, 10] but not on a 1-5 scale: refused at fit."""
    model = create_model(name, fallback_rating=-1.0)
    with pytest.raises(InvalidParameterError, match=r"fallback_rating -1 .*\[1, 5\]"):
        model.fit(tiny_split)
    assert not hasattr(model, "shape_")  # nothing trained, nothing half-fitted


# --- the paths of files a run writes ------------------------------------------------------


def test_output_paths_that_name_no_file_are_refused_with_the_reason(tmp_path):
    from recsys_lib.checks import check_output_path
    from recsys_lib.errors import UsageError

    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    cases = {"x" * 300 + ".jsonl": "306 bytes long", str(tmp_path / "a"): "loop of symbolic",
             str(tmp_path / "a" / "x.npz"): "loop of symbolic",
             "~nosuchuser_r2/x.jsonl": "names no user", "": "empty path"}
    for path, reason in cases.items():
        with pytest.raises(UsageError, match=reason):
            check_output_path(path, "record file")
    assert check_output_path("~/x.jsonl") == Path.home() / "x.jsonl"


def test_new_files_get_the_umask_s_mode(tmp_path):
    import os

    from recsys_lib.checks import new_file_mode

    old = os.umask(0o077)
    try:
        assert new_file_mode() == 0o600
    finally:
        os.umask(old)
    assert new_file_mode() == 0o666 & ~old


def test_train_refuses_such_paths_before_training_and_saves_with_the_umask(tmp_path):
    import os
    import stat
    import subprocess
    import sys

    from _cli import assert_user_error, child_env

    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    train = [sys.executable, "-m", "recsys_lib", "train", "global-mean", "--dataset",
             "ml-100k", "--split", "u1"]
    for flag, path, reason in (("--record", "y" * 300 + ".npz", "304 bytes long"),
                               ("--json", str(tmp_path / "a" / "x.npz"), "loop of symbolic"),
                               ("--predictions", "~nosuchuser_r2/x.npz", "names no user")):
        result = subprocess.run([*train, flag, path], capture_output=True, text=True,
                                env=child_env(), cwd=tmp_path, timeout=120)
        assert result.stdout == "", (flag, path)  # refused before training
        assert_user_error(result, flag.lstrip("-").replace("record", "record file"), reason)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]  # links untouched
    result = subprocess.run(["sh", "-c", 'umask 077 && exec "$@"', "sh", *train,
                             "--predictions", "p.npz", "--json", "j.json", "--record",
                             "r.jsonl"], capture_output=True, text=True, env=child_env(),
                            cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    for name in ("p.npz", "j.json", "r.jsonl"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600, name
