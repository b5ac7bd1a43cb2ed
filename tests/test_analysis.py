"""Bootstrap intervals, support buckets and the top-N protocols (cross-checked with ranx)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_lib.analysis import (bootstrap_rmse, paired_bootstrap, rmse_by_support,
                                 support_buckets)
from recsys_lib.errors import InvalidParameterError
from recsys_lib.metrics import rmse
from recsys_lib.splits import split_from_frames
from recsys_lib.topn import MostPopular, full_ranking, koren_ranks, recall_curve


def test_bootstrap_of_identical_models_is_zero_and_not_real():
    rng = np.random.default_rng(1)
    y = rng.integers(1, 6, 500).astype(float)
    pred = y + rng.normal(0, 1, y.size)
    out = paired_bootstrap(y, pred, pred, (1, 5), n_resamples=200)
    assert out["difference"] == 0 and out["low"] == 0 and out["high"] == 0
    assert not out["real"]


def test_bootstrap_finds_a_real_gap_and_is_seeded():
    rng = np.random.default_rng(2)
    y = rng.integers(1, 6, 3000).astype(float)
    good, bad = y + rng.normal(0, 0.8, y.size), y + rng.normal(0, 1.0, y.size)
    out = paired_bootstrap(y, good, bad, (1, 5), n_resamples=300, seed=5)
    assert out["difference"] == pytest.approx(rmse(y, good, (1, 5)) - rmse(y, bad, (1, 5)))
    assert out["real"] and out["low"] <= out["difference"] <= out["high"] < 0
    assert paired_bootstrap(y, good, bad, (1, 5), n_resamples=300, seed=5) == out
    with pytest.raises(ValueError):
        paired_bootstrap(y, good, bad[:-1], (1, 5))


def test_support_buckets_label_counts():
    labels = support_buckets(np.array([0, 1, 5, 6, 20, 21, 250]))
    assert list(labels) == ["0", "1-5", "1-5", "6-20", "6-20", "21-50", "201+"]


def test_rmse_by_support_covers_every_test_rating(tiny_split):
    rng = np.random.default_rng(0)
    pred = {"noisy": tiny_split.test.ratings + rng.normal(0, 0.5, len(tiny_split.test)),
            "exact": tiny_split.test.ratings.astype(float)}
    table = rmse_by_support(tiny_split, pred, side="item", edges=(0, 1, 6, 11))
    assert table["test ratings"].sum() == len(tiny_split.test)
    assert (table["exact"] == 0).all() and (table["noisy"] > 0).all()


@pytest.fixture
def ranking_split():
    """40 users x 60 items with a hidden taste; 5-star test ratings exist for most users."""
    rng = np.random.default_rng(3)
    taste = rng.normal(size=(40, 60))
    rows = [(u, i, float(np.clip(np.round(3 + 1.5 * taste[u, i]), 1, 5)))
            for u in range(40) for i in range(60) if rng.random() < 0.3]
    frame = pd.DataFrame(rows, columns=["user", "item", "rating"])
    test = rng.random(len(frame)) < 0.25
    split = split_from_frames("rank", "toy", frame[~test], frame[test], (1.0, 5.0))
    return split, taste


class Oracle:
    def __init__(self, split, taste):
        self.taste = taste[np.ix_(np.searchsorted(np.arange(40), split.user_ids),
                                  np.searchsorted(np.arange(60), split.item_ids))]

    def predict(self, users, items):
        return self.taste[users, items]


class Constant:
    def predict(self, users, items):
        return np.full(len(users), 3.0)


def test_koren_ranks_separate_an_oracle_from_a_constant(ranking_split):
    split, taste = ranking_split
    oracle = koren_ranks(Oracle(split, taste), split, n_random=10, seed=0)
    constant = koren_ranks(Constant(), split, n_random=10, seed=0)
    assert len(oracle) == int((split.test.ratings == 5).sum()) > 0
    assert (constant == 10).all()  # ties count against the model
    # a 5-star item sits in the top tail of its user's taste: the oracle ranks it high
    assert oracle.mean() < 2.5 and recall_curve(constant, 5).max() == 0
    assert np.array_equal(oracle, koren_ranks(Oracle(split, taste), split, n_random=10,
                                              seed=0))
    assert (np.diff(recall_curve(oracle, 10)) >= 0).all()
    popular = koren_ranks(MostPopular().fit(split), split, n_random=10, seed=0)
    assert popular.min() >= 0 and popular.max() <= 10


def test_full_ranking_agrees_with_ranx(ranking_split):
    ranx = pytest.importorskip("ranx")
    split, _ = ranking_split
    rng = np.random.default_rng(4)
    scores = rng.random((split.n_users, split.n_items))

    class Random:
        def predict(self, users, items):
            return scores[users, items]

    ours = full_ranking(Random(), split, k=10, threshold=4.0)
    trained = set(zip(split.train.users, split.train.items))
    qrels, run = {}, {}
    for user, item, rating in zip(split.test.users, split.test.items, split.test.ratings):
        if rating >= 4.0:
            qrels.setdefault(f"u{user}", {})[f"i{item}"] = 1
    for user in range(split.n_users):
        if f"u{user}" in qrels:
            run[f"u{user}"] = {f"i{item}": float(scores[user, item])
                               for item in range(split.n_items) if (user, item) not in trained}
    theirs = ranx.evaluate(ranx.Qrels(qrels), ranx.Run(run), ["recall@10", "ndcg@10"])
    assert ours["users"] == len(qrels)
    assert ours["recall@10"] == pytest.approx(theirs["recall@10"], abs=1e-9)
    assert ours["ndcg@10"] == pytest.approx(theirs["ndcg@10"], abs=1e-9)


def test_fwls_recovers_support_dependent_weights_and_beats_each_model():
    from recsys_lib.blend import FWLS, choose_reg

    rng = np.random.default_rng(7)
    n = 4000
    truth = rng.normal(3.5, 1.0, n)
    support = rng.random(n)  # model 0 is good for heavy users, model 1 for light ones
    features = np.column_stack([np.ones(n), support])
    p0 = truth + rng.normal(0, 0.2 + 0.8 * (1 - support))
    p1 = truth + rng.normal(0, 0.2 + 0.8 * support)
    preds = np.column_stack([p0, p1])
    reg = choose_reg(preds, truth, features)
    blend = FWLS(reg).fit(preds[:3000], truth[:3000], features[:3000])
    out = blend.predict(preds[3000:], features[3000:])
    best_single = min(np.sqrt(np.mean((p - truth[3000:]) ** 2)) for p in preds[3000:].T)
    assert np.sqrt(np.mean((out - truth[3000:]) ** 2)) < best_single - 0.05
    assert blend.weights_[0, 1] > 0 > blend.weights_[1, 1]  # weight follows support
    with pytest.raises(ValueError):
        FWLS(float("nan"))


def test_resampling_settings_and_bad_counts_are_named():
    """n_resamples=0 was numpy's 'need at least one array to concatenate', level=2 its
    quantile range, and a negative count landed silently in the open top bucket."""
    y, pred = np.array([1.0, 2, 3, 4, 5]), np.array([1.5, 2, 3, 4, 4.5])
    for settings, words in (({"n_resamples": 0}, "n_resamples must be an integer >= 1"),
                            ({"level": 2}, "level must be a finite number > 0 and < 1"),
                            ({"seed": -1}, "seed must be an integer >= 0")):
        for bootstrap in (lambda: bootstrap_rmse(y, pred, (1, 5), **settings),
                          lambda: paired_bootstrap(y, pred, y, (1, 5), **settings)):
            with pytest.raises(InvalidParameterError, match=words):
                bootstrap()
    with pytest.raises(ValueError, match="groups for 5 test ratings"):
        bootstrap_rmse(y, pred, (1, 5), groups=[0, 1])
    with pytest.raises(ValueError, match="counts must be whole numbers, 0 or more"):
        support_buckets(np.array([-1, 3]))
    with pytest.raises(ValueError, match="edges must rise strictly from 0"):
        support_buckets(np.array([1, 3]), edges=(5, 1))
