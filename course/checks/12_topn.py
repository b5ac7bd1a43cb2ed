# Checks of chapter 12's exercises (see course/build.py for the format). The expected shares
# are computed in integers (rank / n_random <= j / 100 exactly when 100 rank <= j n_random),
# so no rounding decides a rank that falls on a grid point.
# %% common
import numpy as np

rng = np.random.default_rng()
GRID = np.linspace(0, 1, 101)


def shares(result):
    """The 101 shares from the student's result: the chapter's solution returns the grid
    and the shares; the shares alone are accepted too."""
    if isinstance(result, tuple) and len(result) == 2:
        grid, result = result
        assert np.allclose(np.asarray(grid, dtype=float), GRID), \
            "the grid is np.linspace(0, 1, 101)"
    result = np.asarray(result, dtype=float)
    assert result.shape == (101,), "one share per point of np.linspace(0, 1, 101)"
    return result


def expected(ranks, n_random):
    ranks = np.asarray(ranks)
    return (100 * ranks[:, None] <= np.arange(101)[None, :] * n_random).mean(0)


def random_ranks(n_random, size):
    """Random ranks in 0..n_random, with the ends and ranks on grid points among them."""
    on_grid = [j * n_random // 100 for j in range(101) if (j * n_random) % 100 == 0]
    extra = rng.choice(on_grid, min(len(on_grid), 20), replace=False)
    ranks = np.concatenate([[0, n_random], extra, rng.integers(0, n_random + 1, size)])
    return rng.permutation(ranks).astype(np.int64)

# %% topn-ex-percentile public
def test_small_example(percentile_cdf):
    got = shares(percentile_cdf(np.array([0, 10, 500, 1000]), 1000))
    assert np.allclose(got[[0, 1, 2, 49, 50, 99, 100]],
                       [0.25, 0.5, 0.5, 0.5, 0.75, 0.75, 1.0])
    ranks = rng.integers(0, 1001, 300)
    assert np.allclose(shares(percentile_cdf(ranks, 1000)), expected(ranks, 1000))

# %% topn-ex-percentile hidden
def test_exact_shares_on_random_ranks(percentile_cdf):
    # several numbers of random items, with ranks on the grid points and at both ends
    for n_random in [1000, 500, 37, 999, 250, 123, 2000, 10]:
        ranks = random_ranks(n_random, int(rng.integers(50, 400)))
        got = shares(percentile_cdf(ranks, n_random))
        assert np.allclose(got, expected(ranks, n_random)), n_random

# %% topn-ex-percentile hidden
def test_ends_and_a_single_rank(percentile_cdf):
    got = shares(percentile_cdf(np.zeros(7, dtype=np.int64), 1000))
    assert np.allclose(got, 1.0), "rank 0 is at percentile 0, at or below every point"
    got = shares(percentile_cdf(np.full(5, 400), 400))
    assert np.allclose(got[:100], 0.0) and np.isclose(got[100], 1.0)
    for rank in rng.integers(0, 301, 10):
        got = shares(percentile_cdf(np.array([rank]), 300))
        assert np.allclose(got, expected([rank], 300)), rank
