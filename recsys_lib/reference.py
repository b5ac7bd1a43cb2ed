"""Reference facts written down once: the datasets' counts and the published figures.

The chapters, the tests and the docs read these tables instead of repeating the numbers.
"""

from __future__ import annotations

from .errors import SyntheticDatasetError

#: the name prefix of the synthetic stand-ins (recsys_lib/synthetic.py)
SYNTHETIC_PREFIX = "synthetic-"

#: (users, items, ratings) of the MovieLens releases the synthetic stand-ins copy. Source:
#: the GroupLens README files of each release (ml-1m/README, ml-10M100K/README.html,
#: ml-20m/README.txt, ml-25m/README.txt); ML-1M is also checked against its file here.
MOVIELENS_SHAPES = {
    "ml-1m": (6_040, 3_706, 1_000_209),
    "ml-10m": (69_878, 10_677, 10_000_054),
    "ml-20m": (138_493, 26_744, 20_000_263),
    "ml-25m": (162_541, 59_047, 25_000_095),
}

#: (users, items, ratings) of each dataset, as the data manifest records them (Douban is a
#: 3,000 x 3,000 matrix in which one user has no rating)
DATASET_COUNTS = {
    "ml-100k": (943, 1_682, 100_000),
    "ml-1m": (6_040, 3_706, 1_000_209),
    "douban": (2_999, 3_000, 136_891),
    "jester": (24_983, 100, 1_810_455),
    "amazon-electronics": (47_141, 3_529, 50_698),
}

#: (n_train, n_test, n_users, n_items, n_test_unseen, train_users, train_items) of each split.
#: Train/test sizes, index spaces and the u1 figures are those of the data manifest and the
#: papers; the other unseen and coverage counts were recorded when chapter 1 was written.
SPLIT_COUNTS = {
    ("ml-100k", "u1"): (80_000, 20_000, 943, 1_682, 32, 943, 1_650),
    ("ml-100k", "u2"): (80_000, 20_000, 943, 1_682, 36, 943, 1_648),
    ("ml-100k", "u3"): (80_000, 20_000, 943, 1_682, 36, 943, 1_650),
    ("ml-100k", "u4"): (80_000, 20_000, 943, 1_682, 27, 943, 1_660),
    ("ml-100k", "u5"): (80_000, 20_000, 943, 1_682, 36, 943, 1_650),
    ("ml-100k", "ua"): (90_570, 9_430, 943, 1_682, 2, 943, 1_680),
    ("ml-100k", "ub"): (90_570, 9_430, 943, 1_682, 7, 943, 1_675),
    ("ml-1m", "random-90-10"): (900_189, 100_020, 6_040, 3_706, 13, 6_040, 3_695),
    ("douban", "monti"): (123_202, 13_689, 3_000, 3_000, 0, 2_999, 3_000),
    ("jester", "random-90-10"): (1_629_410, 181_045, 24_983, 100, 0, 24_983, 100),
    ("amazon-electronics", "random-90-10"): (45_629, 5_069, 47_141, 3_529, 4_576, 42_605,
                                             3_397),
}
SPLIT_COUNT_COLUMNS = ("n_train", "n_test", "n_users", "n_items", "n_test_unseen",
                       "train_users", "train_items")

#: the papers' own test RMSEs: (model, dataset) -> (figure, source)
PUBLISHED = {
    ("glocal-k", "ml-100k"): (0.890, "Han et al., CIKM 2021, Table 1"),
    ("glocal-k", "ml-1m"): (0.822, "Han et al., CIKM 2021, Table 1"),
    ("glocal-k", "douban"): (0.721, "Han et al., CIKM 2021, Table 1"),
    ("sparse-fc", "ml-100k"): (0.895, "Muller et al., ICML 2018; Han et al., CIKM 2021, Table 1"),
    ("sparse-fc", "ml-1m"): (0.824, "Muller et al., ICML 2018"),
    ("sparse-fc", "douban"): (0.730, "Han et al., CIKM 2021, Table 1"),
    ("i-autorec", "ml-1m"): (0.831, "Sedhain et al., WWW 2015, Table 1"),
    ("u-autorec", "ml-1m"): (0.874, "Sedhain et al., WWW 2015, Table 1"),
    ("surprise-svd", "ml-100k"): (0.951, "measured on u1 with scikit-surprise 1.1.5"),
    ("surprise-svdpp", "ml-100k"): (0.933, "measured on u1 with scikit-surprise 1.1.5"),
    ("surprise-knnbaseline", "ml-100k"): (0.936, "measured on u1 with scikit-surprise 1.1.5"),
    ("surprise-baseline", "ml-100k"): (0.960, "measured on u1 with scikit-surprise 1.1.5"),
}


def refuse_synthetic(dataset: str) -> None:
    """Raise :class:`SyntheticDatasetError` for a synthetic dataset: its RMSEs never stand
    beside a published figure."""
    if dataset.startswith(SYNTHETIC_PREFIX):
        raise SyntheticDatasetError(
            f"{dataset} is synthetic: its RMSEs are not comparable with published figures, "
            "so none is shown beside them")


def published(model: str, dataset: str) -> float:
    """The published test RMSE of ``model`` on ``dataset`` (KeyError when there is none,
    :class:`SyntheticDatasetError` for a synthetic dataset)."""
    refuse_synthetic(dataset)
    return PUBLISHED[(model, dataset)][0]

#: the blend's targets (Results part): split -> (target, best published RMSE without side
#: information, its source)
BLEND_TARGETS = {
    ("ml-100k", "u1"): (0.885, 0.889, "GLocal-K, Han et al., CIKM 2021 (README 0.8889)"),
    ("douban", "monti"): (0.720, 0.721, "GLocal-K, Han et al., CIKM 2021 (README 0.7208); "
                                        "IGMC 0.721"),
    ("ml-1m", "random-90-10"): (0.818, 0.822, "GLocal-K, Han et al., CIKM 2021 (README "
                                              "0.8227)"),
}

#: figures to aim for beyond ML-1M (chapter 13): (dataset, model) -> (test RMSE, source).
#: Real data only: a synthetic stand-in's RMSE is never set beside these.
SCALE_ANCHORS = {  # Rendle, Zhang and Koren 2019, "On the Difficulty of Evaluating
    # Baselines", ML-10M random 90:10; the Netflix Prize rules (10% below Cinematch's RMSE on
    # the quiz set); Zhou, Wilkinson, Schreiber and Pan 2008, ALS-WR on Netflix
    ("ml-10m", "SGD MF, tuned"): (0.7720, "Rendle et al. 2019"),
    ("ml-10m", "Bayesian MF"): (0.7633, "Rendle et al. 2019"),
    ("ml-10m", "Bayesian timeSVD++ flipped"): (0.7485, "Rendle et al. 2019"),
    ("ml-10m", "ALS-WR"): (0.7830, "Rendle et al. 2019"),
    ("ml-10m", "I-AutoRec"): (0.782, "Rendle et al. 2019"),
    ("ml-10m", "Sparse FC"): (0.769, "Rendle et al. 2019"),
    ("netflix", "Netflix Prize target"): (0.8563, "Netflix Prize rules"),
    ("netflix", "ALS-WR, 1000 factors"): (0.8985, "Zhou et al. 2008"),
}
