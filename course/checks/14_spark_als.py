# Checks of chapter 14's exercises (see course/build.py for the format).
# %% common
import numpy as np

rng = np.random.default_rng(214)  # fixed: a regrade draws the same cases


def reference_step(item_factors, items, ratings, reg):
    """The ALS-WR user step by least squares on the stacked, penalised system."""
    rated = item_factors[items]
    k = item_factors.shape[1]
    penalty = np.sqrt(reg * len(items)) * np.eye(k)
    stacked = np.vstack([rated, penalty])
    target = np.concatenate([ratings, np.zeros(k)])
    return np.linalg.lstsq(stacked, target, rcond=None)[0]


def reference_objective(users, items, ratings, X, Y, reg):
    total = sum((r - X[u] @ Y[i]) ** 2 for u, i, r in zip(users, items, ratings))
    for u in set(users.tolist()):
        total += reg * np.sum(users == u) * X[u] @ X[u]
    for i in set(items.tolist()):
        total += reg * np.sum(items == i) * Y[i] @ Y[i]
    return total

# %% als-ex-step public
def test_agrees_with_least_squares(als_user_step):
    Y = rng.normal(size=(25, 3))
    items = rng.choice(25, 6, replace=False)
    ratings = rng.integers(1, 6, 6).astype(float)
    got = np.asarray(als_user_step(Y, items, ratings, 0.1))
    assert got.shape == (3,)
    assert np.allclose(got, reference_step(Y, items, ratings, 0.1))

# %% als-ex-step hidden
def test_the_penalty_grows_with_the_count(als_user_step):
    for n_rated, reg in [(1, 0.05), (40, 0.07), (3, 2.0)]:
        Y = rng.normal(size=(60, 5))
        items = rng.choice(60, n_rated, replace=False)
        ratings = rng.integers(1, 6, n_rated).astype(float)
        got = np.asarray(als_user_step(Y, items, ratings, reg))
        assert np.allclose(got, reference_step(Y, items, ratings, reg)), (n_rated, reg)

# %% als-ex-coldstart public
def test_nan_takes_the_fallback(score_with_fallback):
    truth = rng.integers(1, 6, 50).astype(float)
    predictions = truth + rng.normal(0, 0.5, 50)
    predictions[:7] = np.nan
    fallback = np.full(50, 3.5)
    filled = np.clip(np.where(np.isnan(predictions), fallback, predictions), 1, 5)
    expected = np.sqrt(np.mean((filled - truth) ** 2))
    got = score_with_fallback(predictions, truth, fallback, (1.0, 5.0))
    assert np.isclose(got, expected)

# %% als-ex-coldstart hidden
def test_every_rating_counts_and_predictions_are_clipped(score_with_fallback):
    truth = rng.integers(1, 6, 80).astype(float)
    predictions = rng.normal(3, 3, 80)   # many outside the scale
    predictions[rng.random(80) < 0.3] = np.nan
    fallback = rng.uniform(1, 5, 80)     # one value per rating, not a constant
    filled = np.clip(np.where(np.isnan(predictions), fallback, predictions), 1, 5)
    expected = np.sqrt(np.mean((filled - truth) ** 2))
    assert np.isclose(score_with_fallback(predictions, truth, fallback, (1.0, 5.0)), expected)
    none_missing = rng.normal(3, 1, 20)
    truth20 = rng.integers(1, 6, 20).astype(float)
    expected = np.sqrt(np.mean((np.clip(none_missing, 1, 5) - truth20) ** 2))
    assert np.isclose(score_with_fallback(none_missing, truth20, np.zeros(20), (1.0, 5.0)),
                      expected)

# %% als-ex-objective public
def test_agrees_with_the_sum(als_wr_objective):
    users, items = rng.integers(0, 6, 30), rng.integers(0, 8, 30)
    ratings = rng.integers(1, 6, 30).astype(float)
    X, Y = rng.normal(size=(6, 2)), rng.normal(size=(8, 2))
    got = als_wr_objective(users, items, ratings, X, Y, 0.1)
    assert np.isclose(got, reference_objective(users, items, ratings, X, Y, 0.1))

# %% als-ex-objective hidden
def test_unrated_rows_add_no_penalty(als_wr_objective):
    users, items = rng.integers(0, 5, 40), rng.integers(0, 5, 40)
    ratings = rng.integers(1, 6, 40).astype(float)
    X, Y = rng.normal(size=(9, 3)), rng.normal(size=(7, 3))  # rows 5.. never rated
    X[5:] *= 100
    Y[5:] *= 100
    for reg in (0.0, 0.07, 1.5):
        got = als_wr_objective(users, items, ratings, X, Y, reg)
        assert np.isclose(got, reference_objective(users, items, ratings, X, Y, reg)), reg
