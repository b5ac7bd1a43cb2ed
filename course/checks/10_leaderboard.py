# Checks of chapter 10's exercises (see course/build.py for the format).
# %% common
import numpy as np
import pandas as pd
from recsys_lib import records
from recsys_lib.models import available_models, create_model

rng = np.random.default_rng(210)  # fixed: a regrade draws the same cases


def random_runs(n_models=6, max_seeds=4):
    models = list(rng.choice(available_models(), n_models, replace=False))
    rows = []
    for model in models:
        for seed in range(int(rng.integers(1, max_seeds + 1))):
            for _ in range(int(rng.integers(1, 3))):    # some seeds recorded twice
                rows.append({"model": model, "seed": seed, "rmse": rng.normal(0.9, 0.02),
                             "mae": 0.7, "ndcg@10": 0.8, "fit_seconds": 1.0,
                             "defaults": True, "stale": False, "dataset": "d",
                             "split": "s"})
    return pd.DataFrame(rows)

# %% lb-ex-current public
def test_defaults_and_a_change(is_current):
    for model in rng.choice(available_models(), 4, replace=False):
        params = create_model(model).get_params()
        assert is_current(model, {**params, "seed": int(rng.integers(100))})
        key = next((k for k, v in params.items() if k != "seed"
                    and isinstance(v, (int, float)) and not isinstance(v, bool)), None)
        if key is not None:
            assert not is_current(model, {**params, key: params[key] + 1}), (model, key)

# %% lb-ex-current hidden
def test_agrees_with_records(is_current):
    for model in rng.choice(available_models(), 6, replace=False):
        params = create_model(model).get_params()
        changed = dict(params)
        key = next((k for k, v in params.items()
                    if k != "seed" and isinstance(v, (int, float)) and not isinstance(v, bool)),
                   None)
        if key is not None:
            changed[key] = params[key] * 2 + 1
            assert is_current(model, changed) == records.matches_current_defaults(model,
                                                                                 changed)
            assert not is_current(model, changed)
        missing = {k: v for k, v in params.items() if k not in (key, "seed")}
        if key is not None:
            assert not is_current(model, missing)

# %% lb-ex-board public
def test_a_small_board(mean_by_model):
    runs = pd.DataFrame({"model": ["a", "a", "b"], "seed": [0, 1, 0],
                         "rmse": [0.90, 0.92, 0.85]})
    got = mean_by_model(runs)
    assert list(got.index) == ["b", "a"], "best (lowest mean RMSE) first"
    assert np.allclose(got["rmse"], [0.85, 0.91])

# %% lb-ex-board hidden
def test_sd_seeds_and_duplicates(mean_by_model):
    runs = random_runs(8, 5)
    got = mean_by_model(runs[["model", "seed", "rmse"]])
    ref = records.leaderboard(runs, "d", "s")
    assert list(got.index) == list(ref.index)
    assert np.allclose(got["rmse"], ref["rmse"])
    assert np.allclose(got["rmse_sd"], ref["rmse_sd"], equal_nan=True)
    assert list(got["seeds"]) == list(ref["seeds"])

# %% lb-ex-gaps public
def test_small_board(adjacent_gaps):
    board = pd.DataFrame({"rmse": [0.90, 0.91, 0.9105], "rmse_sd": [0.001, 0.002, np.nan]},
                         index=["a", "b", "c"])
    got = adjacent_gaps(board)
    assert list(got.index) == ["b", "c"]
    assert np.allclose(got["gap"], [0.01, 0.0005])
    assert list(got["resolved"]) == [True, False]

# %% lb-ex-gaps hidden
def test_random_boards(adjacent_gaps):
    for _ in range(20):
        n = int(rng.integers(2, 12))
        rmse = np.sort(rng.normal(0.9, 0.01, n))
        sd = np.where(rng.random(n) < 0.3, np.nan, rng.uniform(0, 0.004, n))
        board = pd.DataFrame({"rmse": rmse, "rmse_sd": sd},
                             index=[f"m{i}" for i in range(n)])
        got = adjacent_gaps(board)
        gap = np.diff(rmse)
        larger = np.maximum(sd[1:], sd[:-1])
        expected = [bool(g > 2 * s) if not np.isnan(s) else False
                    for g, s in zip(gap, larger)]
        assert list(got.index) == list(board.index[1:])
        assert np.allclose(got["gap"], gap)
        assert [bool(r) for r in got["resolved"]] == expected

# %% lb-ex-current wrapper
def is_current(model, params):
    from recsys_lib import records
    return records.matches_current_defaults(model, params)

# %% lb-ex-board wrapper
def mean_by_model(runs):
    from recsys_lib import records
    return records.leaderboard(runs.assign(dataset="d", split="s"), "d", "s")

# %% lb-ex-current allow
recsys_lib.models.create_model recsys_lib.models.base.RatingModel.get_params
recsys_lib.models.surprise_models.SurpriseModel.get_params
