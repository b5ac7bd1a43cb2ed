# Checks of chapter 12's exercises (see course/build.py for the format). Ranks are checked
# against a count by sorting (and, in a hidden check, the last line of
# recsys_lib.topn.koren_ranks), the curves against a count of the ranks below N (and, in the
# hidden checks, recsys_lib.topn.recall_curve and a cumulative count). The expected shares of the percentile plot are computed in integers
# (rank / n_random <= j / 100 exactly when 100 rank <= j n_random), so no rounding decides a
# rank that falls on a grid point.
# %% common
import numpy as np

rng = np.random.default_rng(212)  # fixed: a regrade draws the same cases
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
    column = np.asarray(ranks)[:, None]
    return (100 * column <= np.arange(101)[None, :] * n_random).mean(0)


def random_ranks(n_random, size):
    """Random ranks in 0..n_random, with the ends and ranks on grid points among them."""
    on_grid = [j * n_random // 100 for j in range(101) if (j * n_random) % 100 == 0]
    extra = rng.choice(on_grid, min(len(on_grid), 20), replace=False)
    ranks = np.concatenate([[0, n_random], extra, rng.integers(0, n_random + 1, size)])
    return rng.permutation(ranks).astype(np.int64)


def expected_ranks(scores):
    """Random items scored at least as high as column 0, counted by sorting each row."""
    rows = np.asarray(scores, dtype=float)
    n_random = rows.shape[1] - 1
    return np.array([n_random - np.searchsorted(np.sort(row[1:]), row[0], side="left")
                     for row in rows])


def ranks_of(ranks_from_scores, scores):
    got = np.asarray(ranks_from_scores(scores))
    assert got.shape == (len(scores),), "one rank per row"
    return got


def tied_scores(n, n_random):
    """Scores on a few levels, so many random items tie with the five-star item."""
    return rng.integers(1, 6, (n, 1 + n_random)).astype(float)


def curves_of(topn_curves, ranks, max_n=None):
    result = topn_curves(ranks) if max_n is None else topn_curves(ranks, max_n)
    assert len(result) == 2, "return the two arrays: (recall, precision)"
    recall, precision = (np.asarray(a, dtype=float) for a in result)
    n = 20 if max_n is None else max_n
    assert recall.shape == precision.shape == (n,), "one value per N = 1..max_n"
    return recall, precision

# %% common hidden
def expected_curves(ranks, max_n):
    """recall(N) = share of ranks below N (recall_curve, and a cumulative count) and
    precision(N) = recall(N) / N, for N = 1..max_n."""
    from recsys_lib import topn
    recall = topn.recall_curve(np.asarray(ranks), max_n)
    counted = np.cumsum(np.bincount(np.minimum(ranks, max_n), minlength=max_n + 1))
    assert np.allclose(recall, counted[:max_n] / len(ranks))
    return recall, recall / np.arange(1, max_n + 1)

def check_curves(topn_curves, ranks, max_n=None):
    recall, precision = curves_of(topn_curves, ranks, max_n)
    want_recall, want_precision = expected_curves(ranks, 20 if max_n is None else max_n)
    assert np.allclose(recall, want_recall), "recall(N) is the share of ranks below N"
    assert np.allclose(precision, want_precision), "precision(N) = recall(N) / N"

# %% topn-ex-rank public
def test_ranks_constant_and_random(ranks_from_scores):
    got = ranks_of(ranks_from_scores, np.ones((3, 11)))
    assert np.array_equal(got, [10, 10, 10]), "a constant score ranks every item last"
    scores = np.array([[0.9, 0.1, 0.5, 0.95], [0.2, 0.3, 0.1, 0.0]])
    assert np.array_equal(ranks_of(ranks_from_scores, scores), [1, 1])
    scores = rng.normal(size=(50, 101))
    assert np.array_equal(ranks_of(ranks_from_scores, scores), expected_ranks(scores))

# %% topn-ex-rank hidden
def test_ranks_ties_count_against_the_model(ranks_from_scores):
    # many ties on a few score levels, rows where the five-star item is first, last or tied
    # with every random item, and a single random item
    for n, n_random in [(200, 1000), (80, 37), (500, 10), (30, 1), (1, 250)]:
        scores = tied_scores(n, n_random)
        scores[0, 0] = 6.0  # above every random item: rank 0
        scores[-1, 0] = 0.0  # below every one: rank n_random
        if n > 2:
            scores[1] = 3.0  # all tied: rank n_random
        got = ranks_of(ranks_from_scores, scores)
        want = expected_ranks(scores)
        # the count by sorting agrees with the last line of topn.koren_ranks
        assert np.array_equal(want, (scores[:, 1:] >= scores[:, :1]).sum(1))
        assert np.array_equal(got, want), (n, n_random)

# %% topn-ex-rank hidden
def test_ranks_continuous_scores(ranks_from_scores):
    # distinct scores; some five-star items scored exactly like one random item
    for n, n_random in [(300, 1000), (40, 99), (7, 3)]:
        scores = rng.normal(size=(n, 1 + n_random))
        rows = rng.choice(n, n // 2, replace=False)
        scores[rows, 0] = scores[rows, rng.integers(1, n_random + 1, len(rows))]
        got = ranks_of(ranks_from_scores, scores)
        assert np.array_equal(got, expected_ranks(scores)), (n, n_random)

# %% topn-ex-curves public
def test_curves_small_example(topn_curves):
    recall, precision = curves_of(topn_curves, np.array([0, 1, 5, 20, 999]))
    assert np.allclose(recall[[0, 1, 4, 5, 19]], [0.2, 0.4, 0.4, 0.6, 0.6])
    assert np.allclose(precision[[0, 9, 19]], [0.2, 0.06, 0.03])
    ranks = rng.integers(0, 1001, 500)
    recall, precision = curves_of(topn_curves, ranks, 30)
    want = np.array([(ranks < n).mean() for n in range(1, 31)])  # ranks below N
    assert np.allclose(recall, want), "recall(N) is the share of ranks below N"
    assert np.allclose(precision, want / np.arange(1, 31)), "precision(N) = recall(N) / N"

# %% topn-ex-curves hidden
def test_curves_agree_with_recall_curve(topn_curves):
    recall, precision = curves_of(topn_curves, np.array([0, 1, 5, 20, 999]))
    assert np.allclose(recall[[0, 1, 4, 5, 19]], [0.2, 0.4, 0.4, 0.6, 0.6])
    assert np.allclose(precision[[0, 9, 19]], [0.2, 0.06, 0.03])
    check_curves(topn_curves, rng.integers(0, 1001, 500))

# %% topn-ex-curves hidden
def test_curves_ranks_at_each_cutoff(topn_curves):
    # ranks equal to N are not in the top N; the default max_n is 20
    for max_n in [None, 1, 5, 50, 200]:
        n = 20 if max_n is None else max_n
        ranks = np.concatenate([np.arange(n + 3), rng.integers(0, 3 * n + 5, 300),
                                rng.integers(0, 1001, 100)])
        check_curves(topn_curves, rng.permutation(ranks), max_n)

# %% topn-ex-curves hidden
def test_curves_ends(topn_curves):
    # every item first (recall 1, precision 1 / N), every item last, and a single item
    check_curves(topn_curves, np.zeros(40, dtype=np.int64), 30)
    check_curves(topn_curves, np.full(25, 1000), 10)
    for rank in rng.integers(0, 25, 5):
        check_curves(topn_curves, np.array([rank]), 20)

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

# %% topn-ex-curves wrapper
def topn_curves(ranks, max_n=20):
    import numpy as np
    from recsys_lib import topn
    recall = topn.recall_curve(np.asarray(ranks), max_n)
    return recall, recall / np.arange(1, max_n + 1)
