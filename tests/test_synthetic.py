"""The synthetic MovieLens-shaped stand-in: seeded, exact in its counts, streamed without a
dense matrix, close to real ML-1M in its statistics and in its RMSE ladder, and never set
beside a published figure."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from recsys_lib import data, describe, reference, synthetic
from recsys_lib.errors import (DataUnavailableError, SyntheticDatasetError,
                               UnknownNameError)
from recsys_lib.splits import load_split

from _cli import assert_user_error, cli

SMALL = "synthetic-small"


def test_same_seed_same_ratings_and_another_seed_other_ratings():
    first, again = synthetic.frame(SMALL, seed=0), synthetic.frame(SMALL, seed=0)
    assert first.equals(again)
    other = synthetic.frame(SMALL, seed=1)
    assert len(other) == len(first)
    assert not np.array_equal(other["item"].to_numpy(), first["item"].to_numpy())
    assert not np.array_equal(other["rating"].to_numpy(), first["rating"].to_numpy())


@pytest.mark.parametrize("shape", [SMALL, "synthetic-ml1m"])
def test_counts_are_exact_and_every_pair_is_rated_once(shape):
    ratings = synthetic.frame(shape)
    n_users, n_items, n_ratings = synthetic.SHAPES[shape]
    assert len(ratings) == n_ratings
    assert ratings["user"].nunique() == n_users and ratings["item"].nunique() == n_items
    assert not ratings.duplicated(["user", "item"]).any()
    assert ratings["user"].value_counts().min() >= synthetic.MIN_USER_RATINGS
    assert set(np.unique(ratings["rating"])) == {1.0, 2.0, 3.0, 4.0, 5.0}


def test_the_shapes_are_movielens_counts():
    for name, counts in reference.MOVIELENS_SHAPES.items():
        assert synthetic.SHAPES[f"synthetic-{name.replace('-', '')}"] == counts
    assert reference.MOVIELENS_SHAPES["ml-1m"] == reference.DATASET_COUNTS["ml-1m"]


def test_generation_streams_in_chunks_without_a_dense_matrix(tmp_path):
    """Chunks of about 20,000 ratings for ML-1M's shape: the traced peak (about 9 MB, and
    proportional to the chunk) stays far below the 90 MB dense float32 users x items
    matrix, and the files hold every rating."""
    n_users, n_items, n_ratings = synthetic.SHAPES["synthetic-ml1m"]
    synthetic.calibration()  # the calibration's arrays (read once) are not generation
    tracemalloc.start()
    try:
        paths = synthetic.write("synthetic-ml1m", tmp_path, chunk_ratings=20_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    dense = describe.shape_statistics((n_users, n_items, n_ratings))["dense bytes"]
    assert peak < dense / 6, f"peak {peak / 1e6:.0f} MB against a {dense / 1e6:.0f} MB matrix"
    assert sum(path.stat().st_size for path in paths.values()) == \
        synthetic.expected_bytes("synthetic-ml1m")
    chunks = list(synthetic.generate(SMALL, chunk_ratings=5_000))
    assert len(chunks) >= 8
    users = np.concatenate([chunk[0] for chunk in chunks])
    assert np.all(np.diff(users) >= 0) and len(users) == synthetic.SHAPES[SMALL][2]


def test_a_synthetic_dataset_is_generated_once_into_the_cache(tmp_cache):
    split = load_split(SMALL)
    assert split.n_users == 600 and split.n_items == 400
    assert len(split.train) + len(split.test) == 40_000 and len(split.test) == 4_000
    files = data.fetch(SMALL).paths
    stamps = {name: path.stat().st_mtime_ns for name, path in files.items()}
    assert all(str(path).startswith(str(tmp_cache)) for path in files.values())
    assert data.cache_state(data.get_dataset(SMALL)) == "synthetic, generated"
    data.fetch(SMALL)
    assert stamps == {name: path.stat().st_mtime_ns for name, path in files.items()}


def test_a_file_size_limit_mid_generation_is_one_line_and_leaves_no_part(tmp_cache):
    """synthetic-small's column files are 160, 160 and 40 kB: a 100 kB limit stops the
    first in the middle; the run names the cause before training and keeps nothing."""
    import subprocess
    import sys

    from _cli import child_env

    env = dict(child_env(), RECSYS_DATA_DIR=str(tmp_cache))
    result = subprocess.run(["prlimit", "--fsize=100000", sys.executable, "-m", "recsys_lib",
                             "train", "global-mean", "--dataset", SMALL], env=env,
                            capture_output=True, text=True, timeout=120)
    assert_user_error(result, f"cannot generate {SMALL}", "file-size limit",
                      "nothing was written to the cache")
    assert not [path for path in tmp_cache.rglob("*.bin*")]
    assert data.cache_state(data.get_dataset(SMALL)) == "synthetic, generated on first use"


def test_too_little_free_space_is_refused_before_generating(tmp_cache, monkeypatch):
    import shutil

    needed = synthetic.expected_bytes(SMALL)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(
        10 * needed, 10 * needed - needed // 2, needed // 2))
    with pytest.raises(DataUnavailableError, match=r"needs 0\.4 MB and the disk has 0\.2 MB"
                       r" free; set RECSYS_DATA_DIR"):
        data.fetch(SMALL)
    assert not [path for path in tmp_cache.rglob("*.bin*")]


def test_the_registry_marks_synthetic_datasets():
    assert set(synthetic.SHAPES) <= set(data.DATASETS)
    assert not set(synthetic.SHAPES) & set(data.real_datasets())
    assert all(data.get_dataset(name).synthetic for name in synthetic.SHAPES)
    with pytest.raises(UnknownNameError, match="synthetic-ml1m"):
        list(synthetic.generate("synthetic-ml2m"))


def test_published_figures_refuse_a_synthetic_dataset():
    assert reference.published("i-autorec", "ml-1m") == 0.831
    with pytest.raises(SyntheticDatasetError, match="synthetic-ml1m is synthetic"):
        reference.published("i-autorec", "synthetic-ml1m")
    assert not any(dataset.startswith(reference.SYNTHETIC_PREFIX)
                   for dataset, _ in reference.SCALE_ANCHORS)


def test_the_datasets_command_lists_the_stand_ins():
    result = cli("datasets")
    assert result.returncode == 0
    for name in synthetic.SHAPES:
        assert f"\n{name} " in result.stdout
    assert "synthetic, generated" in result.stdout
    assert_user_error(cli("splits", "synthetic-ml2m"), "unknown dataset 'synthetic-ml2m'")


def test_shape_statistics_give_the_dense_footprints():
    gigabytes = {name: describe.shape_statistics(shape)["dense bytes"] / 1e9
                 for name, shape in reference.MOVIELENS_SHAPES.items()}
    assert round(gigabytes["ml-1m"], 2) == 0.09
    assert round(gigabytes["ml-10m"]) == 3 and round(gigabytes["ml-25m"]) == 38
    stats = describe.shape_statistics((10, 20, 30))
    assert stats["triples bytes"] == 360 and stats["csr bytes"] == 8 * 30 + 8 * 11


#: how far synthetic ML-1M's activity statistics may sit from real ML-1M's
#: (not the top item's share of users: 0.57 real, about 0.37 synthetic; see chapter 13)
TOLERANCES = {"user Gini": 0.03, "item Gini": 0.03,
              "per user q0.5": 0.15, "per user q0.9": 0.15, "per item q0.5": 0.2,
              "per item q0.9": 0.15, "mean rating": 0.05, "rating std": 0.03,
              **{f"share of {star} stars": 0.02 for star in range(1, 6)}}


def test_synthetic_ml1m_statistics_are_close_to_real_ml1m():
    real = describe.activity_statistics(load_split("ml-1m"))
    fake = describe.activity_statistics(load_split("synthetic-ml1m"))
    for key in ("users", "items", "ratings", "min per user"):
        assert fake[key] == real[key] if key != "min per user" else fake[key] >= real[key]
    for key, tolerance in TOLERANCES.items():
        gap = abs(fake[key] - real[key])
        if key.startswith("per "):  # quantiles of counts: a relative tolerance
            gap /= real[key]
        assert gap <= tolerance, f"{key}: synthetic {fake[key]:.4g}, real {real[key]:.4g}"


#: the rungs of the ladder: (model, fixed parameters); spark-als without its search
LADDER = (("global-mean", {}), ("baseline", {}),
          ("spark-als", {"n_factors": 10, "reg": 0.05, "validation_fraction": 0.0}),
          ("spark-als", {"n_factors": 50, "reg": 0.05, "validation_fraction": 0.0}))


def test_the_rmse_ladder_of_synthetic_ml1m_follows_real_ml1m():
    """global mean, baseline, ALS rank 10, ALS rank 50: each synthetic rung within 0.01 of
    the real one (one Spark session for the module; about 3 minutes on 2 cores)."""
    from recsys_lib.training import run

    real, fake = load_split("ml-1m"), load_split("synthetic-ml1m")
    for model, params in LADDER:
        figures = [run(model, split.dataset, split, seed=0, params=params)["rmse"]
                   for split in (real, fake)]
        assert abs(figures[0] - figures[1]) <= 0.01, (model, params, figures)


@pytest.mark.parametrize("shape", ["synthetic-ml10m", "synthetic-ml20m", "synthetic-ml25m"])
def test_large_shapes_plan_exact_counts_and_a_capped_head(shape):
    """The population of a large shape (no rating drawn): activities sum exactly to the
    shape's ratings, none under 20, and no item expected in more than the head share."""
    n_users, n_items, n_ratings = synthetic.SHAPES[shape]
    pop = synthetic.population(shape)
    assert pop.user_counts.sum() == n_ratings and len(pop.user_counts) == n_users
    assert pop.user_counts.min() >= synthetic.MIN_USER_RATINGS
    assert len(pop.item_weights) == n_items and np.isclose(pop.item_weights.sum(), 1)
    head = float(synthetic.calibration()["head_share"])
    assert pop.item_weights.max() * n_ratings <= head * n_users * (1 + 1e-9)
    assert np.bincount(pop.forced_user, minlength=n_users).max() <= \
        pop.user_counts.max() // 2


def test_the_calibration_pieces():
    """The thresholds give the wanted histogram; the ALS fits beat the global mean."""
    from recsys_lib import synthetic_calibration as calibration

    scores = np.random.default_rng(0).normal(size=20_000)
    shares = np.array([0.1, 0.15, 0.3, 0.3, 0.15])
    stars = np.searchsorted(calibration.thresholds(scores, shares), scores) + 1
    assert np.allclose(np.bincount(stars, minlength=6)[1:] / len(stars), shares, atol=1e-3)
    split = load_split(SMALL)
    fit = calibration.fit_biased_als(split, rank=4, n_iterations=5)
    test = split.test
    mean_rmse = float(np.sqrt(np.mean((test.ratings - split.train.ratings.mean()) ** 2)))
    fitted = calibration.predict(fit, test.users, test.items)
    assert float(np.sqrt(np.mean((np.clip(fitted, 1, 5) - test.ratings) ** 2))) < mean_rmse
    assert calibration.plain_als_rmse(split, rank=4, n_iterations=5) < mean_rmse
