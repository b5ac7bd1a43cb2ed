# Checks of chapter 2's exercises. Each block is one test function of the otter notebook;
# its parameters are names the student defines. The common block starts every function.
# %% common
import numpy as np
from recsys_lib import metrics

rng = np.random.default_rng()

# %% eval-ex-errors public
def test_agrees_with_recsys_lib(clipped_errors):
    truth = rng.integers(1, 6, 200).astype(float)
    pred = rng.normal(3, 2, 200)
    got = clipped_errors(truth, pred, (1.0, 5.0))
    assert len(got) == 2
    assert np.isclose(got[0], metrics.rmse(truth, pred, (1.0, 5.0)))
    assert np.isclose(got[1], metrics.mae(truth, pred, (1.0, 5.0)))

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
def test_agrees_without_ties(precision_recall_at_k):
    users = rng.integers(0, 15, 300)
    truth = rng.integers(1, 6, 300).astype(float)
    pred = rng.normal(3, 1, 300)
    ref = metrics.ranking_metrics(users, truth, pred, k=5, threshold=4.0)
    got = precision_recall_at_k(users, truth, pred, k=5, threshold=4.0)
    assert np.allclose(got, (ref["precision@5"], ref["recall@5"]))

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
    observed = metrics.rmse(truth, a, (1, 5)) - metrics.rmse(truth, b, (1, 5))
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
