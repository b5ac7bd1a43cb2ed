"""spark-als: MLlib's ALS behind the model interface, and the Spark pitfalls it handles.

One Spark session serves the module (each new driver memory or master restarts the JVM, about
6 s); the tests that need none run first and fast."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from recsys_lib import spark_runtime
from recsys_lib.errors import InvalidParameterError, MissingDependencyError
from recsys_lib.models import create_model, spark_als
from recsys_lib.splits import load_split, split_from_frames
from recsys_lib.training import run

from _cli import assert_user_error, child_env

def test_master_comes_from_the_parameter_then_the_environment(monkeypatch):
    monkeypatch.delenv(spark_runtime.MASTER_ENV, raising=False)
    assert create_model("spark-als").spark_master() == "local[*]"
    monkeypatch.setenv(spark_runtime.MASTER_ENV, "spark://head:7077")
    assert create_model("spark-als").spark_master() == "spark://head:7077"
    assert create_model("spark-als", master="local[1]").spark_master() == "local[1]"
    monkeypatch.setenv(spark_runtime.MASTER_ENV, "local[two]")
    with pytest.raises(InvalidParameterError, match="SPARK_MASTER"):
        create_model("spark-als").spark_master()


def test_a_cluster_needs_a_shared_checkpoint_folder(monkeypatch):
    monkeypatch.delenv(spark_runtime.CHECKPOINT_ENV, raising=False)
    with pytest.raises(InvalidParameterError, match=spark_runtime.CHECKPOINT_ENV):
        spark_runtime.checkpoint_dir("spark://head:7077")
    monkeypatch.setenv(spark_runtime.CHECKPOINT_ENV, "hdfs://head/checkpoints")
    assert spark_runtime.checkpoint_dir("spark://head:7077") == "hdfs://head/checkpoints"
    monkeypatch.delenv(spark_runtime.CHECKPOINT_ENV)
    assert os.path.isdir(spark_runtime.checkpoint_dir("local[2]"))


def test_the_search_grid_and_what_a_fixed_length_means():
    assert len(create_model("spark-als").candidates()) == \
        len(spark_als.FACTOR_GRID) * len(spark_als.REG_GRID)
    assert create_model("spark-als", n_factors=20).candidates() == \
        [(20, reg) for reg in spark_als.REG_GRID]
    assert create_model("spark-als", validation_fraction=0.0).candidates() == \
        [(spark_als.FIXED_DEFAULTS["n_factors"], spark_als.FIXED_DEFAULTS["reg"])]


def test_no_java_is_one_line_and_exit_2(tmp_path):
    """Without Java the command says so in one line, exit 2, before any training."""
    env = dict(child_env(), JAVA_HOME=str(tmp_path), PATH=os.path.dirname(sys.executable))
    result = subprocess.run([sys.executable, "-m", "recsys_lib", "train", "spark-als",
                             "--dataset", "ml-100k", "--param", "n_factors=4"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert_user_error(result, "Java 17", "make install")


def test_no_java_raises_the_missing_dependency_error(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(MissingDependencyError, match="found no java"):
        spark_runtime.require_spark()


@pytest.fixture(scope="module")
def cold_split():
    """A split whose test part holds an unseen user and an unseen item."""
    import pandas as pd

    rng = np.random.default_rng(0)
    train = pd.DataFrame({"user": rng.integers(0, 40, 600), "item": rng.integers(0, 30, 600),
                          "rating": rng.integers(1, 6, 600).astype(float)})
    train = train.drop_duplicates(["user", "item"])
    train = train[(train.user != 0) | (train.item != 29)]
    test = pd.DataFrame({"user": [0, 99, 1, 99], "item": [29, 1, 77, 77],
                         "rating": [3.0, 4.0, 2.0, 5.0]})
    return split_from_frames("cold", "synthetic", train, test, (1.0, 5.0))


def test_unseen_users_and_items_get_the_baseline_and_the_test_set_is_kept(cold_split):
    from recsys_lib.models.baselines import fit_baseline_als

    model = create_model("spark-als", n_factors=4, reg=0.1, n_epochs=3).fit(cold_split)
    test = cold_split.test
    predicted = model.predict(test.users, test.items)
    assert predicted.shape == (4,) and np.isfinite(predicted).all()
    mu, b_user, b_item = fit_baseline_als(cold_split)
    unseen = slice(1, 4)
    assert predicted[unseen] == pytest.approx(
        mu + b_user[test.users[unseen]] + b_item[test.items[unseen]])
    summary = run("spark-als", "cold", cold_split, seed=0,
                  params={"n_factors": 4, "reg": 0.1, "n_epochs": 3})
    assert summary["n_test"] == 4 and np.isfinite(summary["rmse"])


def test_checkpoints_keep_a_long_run_alive(cold_split):
    """60 sweeps overflow the stack without a checkpoint folder; here one is always set."""
    model = create_model("spark-als", n_factors=2, reg=0.1, n_epochs=60,
                         checkpoint_interval=5).fit(cold_split)
    from pyspark.sql import SparkSession

    assert SparkSession.getActiveSession().sparkContext.getCheckpointDir()
    assert np.isfinite(model.factors_.user_factors).all()


def test_a_new_driver_memory_restarts_the_jvm(cold_split):
    first = spark_runtime.spark_session("local[2]", "1g")
    second = spark_runtime.spark_session("local[2]", "1536m")
    assert second.sparkContext.getConf().get("spark.driver.memory") == "1536m"
    assert spark_runtime.spark_session("local[2]", "1536m") is second
    assert first is not second


def test_the_validation_search_chooses_on_the_slice_and_reports_it(cold_split):
    model = create_model("spark-als", n_epochs=2, n_factors=3).fit(cold_split)
    facts = model.report()
    scores = [point["validation_rmse"] for point in facts["validation_grid"]]
    assert len(scores) == len(spark_als.REG_GRID)
    best = facts["validation_grid"][int(np.argmin(scores))]
    assert facts["resolved_params"]["reg"] == best["reg"] == model.reg_


def test_one_core_and_two_give_the_same_rmse_on_ml100k():
    """The partitions are fixed, so local[1] adds in the order local[2] does."""
    split = load_split("ml-100k", "u1")
    figures = [run("spark-als", "ml-100k", split, seed=0,
                   params={"n_factors": 10, "reg": 0.07, "master": master})["rmse"]
               for master in ("local[1]", "local[2]")]
    assert figures[0] == figures[1]
    assert figures[0] < 0.95


def test_the_command_line_prints_one_json_line_and_nothing_else():
    """The JVM's own output goes to the driver log, never onto stdout or stderr."""
    command = [sys.executable, "-m", "recsys_lib", "train", "spark-als", "--dataset",
               "ml-100k", "--param", "n_factors=4", "--param", "reg=0.1", "--param",
               "n_epochs=2"]
    result = subprocess.run(command, capture_output=True, text=True, env=child_env(),
                            timeout=300)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    [line] = result.stdout.splitlines()
    assert line.startswith('{"model": "spark-als"')
    refused = subprocess.run(command + ["--param", "driver_memory=900000g"],
                             capture_output=True, text=True, env=child_env(), timeout=300)
    assert_user_error(refused, "driver did not start", str(spark_runtime.DRIVER_LOG))
    assert refused.stdout == ""
