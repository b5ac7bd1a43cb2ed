# Checks of chapter 2's exercises. Each block is one test function of the otter notebook;
# its parameters are names the student defines. The common block starts every function.
# %% common
import numpy as np
from recsys_lib import metrics

rng = np.random.default_rng(202)  # fixed: a regrade draws the same cases

# %% eval-ex-errors public
def test_a_small_example(clipped_errors):
    truth = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    pred = np.array([0.0, 2.0, 3.5, 4.0, 7.0])  # clipped: 1, 2, 3.5, 4, 5
    got = clipped_errors(truth, pred, (1.0, 5.0))
    assert len(got) == 2, "return (RMSE, MAE)"
    assert np.isclose(got[0], np.sqrt(0.5 ** 2 / 5)), "RMSE of the clipped predictions"
    assert np.isclose(got[1], 0.5 / 5), "MAE of the clipped predictions"

# %% eval-ex-errors hidden
def test_other_scale_lists_and_lengths(clipped_errors):
    truth = rng.uniform(-10, 10, 57)
    pred = rng.normal(0, 15, 57)
    got = clipped_errors(list(truth), list(pred), (-10.0, 10.0))
    assert np.allclose(got, (metrics.rmse(truth, pred, (-10, 10)),
                             metrics.mae(truth, pred, (-10, 10))))
    assert np.allclose(clipped_errors([3.0], [3.0], (1, 5)), (0.0, 0.0))
    try:
        clipped_errors(truth, pred[:-1], (-10.0, 10.0))
    except ValueError:
        pass
    else:
        raise AssertionError("different lengths must raise ValueError")

# %% eval-ex-precision public
def test_a_small_example(precision_recall_at_k):
    # user 0: relevant items 5 and 4, the top 2 by prediction hold one of them;
    # user 1: nothing relevant, so user 1 counts in neither mean
    users = np.array([0, 0, 0, 1, 1])
    truth = np.array([5.0, 1.0, 4.0, 2.0, 3.0])
    pred = np.array([0.9, 0.8, 0.1, 0.5, 0.4])
    got = precision_recall_at_k(users, truth, pred, k=2, threshold=4.0)
    assert np.allclose(got, (0.5, 0.5))

# %% eval-ex-precision hidden
def test_ties_large_k_and_threshold(precision_recall_at_k):
    users = rng.integers(0, 25, 400)
    truth = rng.integers(1, 6, 400).astype(float)
    pred = rng.integers(1, 4, 400).astype(float)  # many ties: input order decides
    for k, threshold in [(3, 4.0), (10, 5.0), (100, 3.0)]:
        ref = metrics.ranking_metrics(users, truth, pred, k=k, threshold=threshold)
        got = precision_recall_at_k(users, truth, pred, k=k, threshold=threshold)
        assert np.allclose(got, (ref[f"precision@{k}"], ref[f"recall@{k}"])), k

# %% eval-ex-bootstrap public
def test_interval_shape_and_zero(bootstrap_rmse_difference):
    truth = rng.integers(1, 6, 500).astype(float)
    a = truth + rng.normal(0, 1.0, 500)
    b = truth + rng.normal(0, 0.8, 500)
    low, high = bootstrap_rmse_difference(truth, a, b, (1.0, 5.0), n_boot=300, seed=1)
    observed = (np.sqrt(np.mean((truth - np.clip(a, 1, 5)) ** 2))
                - np.sqrt(np.mean((truth - np.clip(b, 1, 5)) ** 2)))
    assert low <= observed <= high
    assert np.allclose(bootstrap_rmse_difference(truth, a, a, (1.0, 5.0), n_boot=50),
                       (0.0, 0.0))

# %% eval-ex-bootstrap hidden
def test_symmetry_clipping_and_clear_winner(bootstrap_rmse_difference):
    truth = rng.integers(1, 6, 800).astype(float)
    a = truth + rng.normal(0, 1.2, 800)
    b = truth + rng.normal(0, 0.4, 800)
    low, high = bootstrap_rmse_difference(truth, a, b, (1.0, 5.0), n_boot=400, seed=3)
    assert low > 0, "a much worse model must give an interval above 0"
    back = bootstrap_rmse_difference(truth, b, a, (1.0, 5.0), n_boot=400, seed=3)
    assert np.allclose(back, (-high, -low))
    clipped = bootstrap_rmse_difference(truth, np.clip(a, 1, 5), b, (1.0, 5.0), n_boot=400,
                                        seed=3)
    assert np.allclose(clipped, (low, high)), "predictions must be clipped"
    assert high - low < 0.2

# %% eval-ex-errors wrapper
def clipped_errors(y_true, y_pred, rating_scale):
    from recsys_lib import metrics
    return (metrics.rmse(y_true, y_pred, rating_scale), metrics.mae(y_true, y_pred, rating_scale))

# %% eval-ex-precision wrapper
def precision_recall_at_k(users, y_true, y_pred, k=10, threshold=4.0):
    from recsys_lib import metrics
    ref = metrics.ranking_metrics(users, y_true, y_pred, k=k, threshold=threshold)
    return ref[f"precision@{k}"], ref[f"recall@{k}"]
