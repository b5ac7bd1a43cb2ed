# Checks of chapter 13's exercises (see course/build.py for the format).
# %% common
import numpy as np

rng = np.random.default_rng(213)  # fixed: a regrade draws the same cases


def reference_shares(counts, cap):
    """Capped shares another way: the capped items are the k largest, for the smallest k at
    which the largest of the others stays under the cap."""
    counts = np.asarray(counts, dtype=float)
    order = np.argsort(-counts, kind="stable")
    ranked = counts[order]
    for k in range(len(counts) + 1):
        rest = (1.0 - k * cap) * ranked[k:] / ranked[k:].sum() if k < len(counts) else []
        if k == len(counts) or rest[0] <= cap * (1 + 1e-12):
            shares = np.empty(len(counts))
            shares[order] = np.concatenate([np.full(k, cap), rest])
            return shares

# %% scale-ex-footprint public
def test_ml1m_footprint(footprint):
    got = footprint(6_040, 3_706, 1_000_209)
    assert got["dense"] == 4 * 6_040 * 3_706
    assert got["csr"] == 8 * 1_000_209 + 8 * 6_041

# %% scale-ex-footprint hidden
def test_any_shape(footprint):
    for _ in range(5):
        users, items = (int(n) for n in rng.integers(1, 10**6, 2))
        ratings = int(rng.integers(1, users * items // 10 + 2))
        got = footprint(users, items, ratings)
        assert int(got["dense"]) == 4 * users * items
        assert int(got["csr"]) == 8 * ratings + 8 * (users + 1)

# %% scale-ex-cap public
def test_shares_sum_to_one_and_respect_the_cap(capped_shares):
    counts = np.array([100.0, 10, 10, 5, 5, 5, 5, 5, 5, 5])
    shares = np.asarray(capped_shares(counts, 0.2))
    assert np.isclose(shares.sum(), 1) and shares.max() <= 0.2 + 1e-9
    assert np.isclose(shares[0], 0.2)
    assert np.allclose(shares[1:3] / shares[3], 2)

# %% scale-ex-cap hidden
def test_repeated_capping_on_long_tails(capped_shares):
    for _ in range(5):
        counts = np.floor(rng.lognormal(3, 1.5, 300)) + 1
        cap = float(rng.uniform(1.2, 5) / 300)
        shares = np.asarray(capped_shares(counts, cap))
        assert np.isclose(shares.sum(), 1) and shares.max() <= cap * (1 + 1e-9)
        assert np.allclose(shares, reference_shares(counts, cap), atol=1e-12)
    flat = np.asarray(capped_shares(np.ones(50), 0.5))
    assert np.allclose(flat, 0.02)

# %% scale-ex-thresholds public
def test_uniform_scores_get_the_shares(star_thresholds):
    scores = np.linspace(0, 1, 10_001)
    shares = np.array([0.1, 0.2, 0.3, 0.25, 0.15])
    cuts = np.asarray(star_thresholds(scores, shares))
    assert cuts.shape == (4,) and np.all(np.diff(cuts) > 0)
    stars = np.searchsorted(cuts, scores) + 1
    got = np.bincount(stars, minlength=6)[1:] / len(scores)
    assert np.allclose(got, shares, atol=2e-3)

# %% scale-ex-thresholds hidden
def test_any_distribution_and_histogram(star_thresholds):
    for _ in range(4):
        scores = rng.gamma(2.0, 1.5, 50_000) - rng.uniform(0, 3)
        shares = rng.dirichlet(np.ones(5) * 3)
        cuts = np.asarray(star_thresholds(scores, shares))
        stars = np.searchsorted(cuts, scores) + 1
        got = np.bincount(stars, minlength=6)[1:] / len(scores)
        assert np.allclose(got, shares, atol=1e-3), (got, shares)
