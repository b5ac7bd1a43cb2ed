"""The calibration of the synthetic stand-in, measured on real ML-1M.

``python -m recsys_lib.synthetic_calibration`` rewrites ``synthetic_calibration.json``:

1. the activity of every real ML-1M user and item (their rating counts in the whole file);
2. a biased matrix factorisation ``mu + b_u + b_i + p_u . q_i`` fitted by weighted-lambda
   alternating least squares (ALS-WR, :func:`fit_biased_als`) on the training part of ML-1M's
   ``random-90-10`` split: every user's and item's bias and factors;
3. two numbers chosen by bisection on synthetic ML-1M against real ML-1M (``random-90-10``
   on both): the noise added to the score, so that the baseline predictor's test RMSE is the
   real one, and a scale on the fitted factors (the penalty shrinks them), so that a plain
   rank-10 ALS-WR (:func:`plain_als_rmse`, the model Spark's MLlib fits, without Spark) gets
   the real test RMSE;
4. the thresholds that cut the noisy score into 1 to 5 stars: quantiles of the scores of
   synthetic ML-1M's own pairs at real ML-1M's rating histogram;
5. the popularity exponent (:data:`POPULARITY_EXPONENT`), set by hand to match the item Gini.

Whether the result is right is tested on the RMSE ladder with Spark itself
(``tests/test_synthetic.py``); a run takes about ten minutes on two cores.

The larger shapes (ML-10M, ML-25M) reuse this ML-1M calibration: their real files are not at
hand here, and their half stars are not reproduced.
"""

from __future__ import annotations

import json

import numpy as np
import scipy.sparse as sp

from . import synthetic
from .metrics import rmse
from .splits import Split, load_split, random_split

RANK = 50
REG = 0.05
N_ITERATIONS = 12
PROBE_RANK = 10  # the rank of the ALS-WR whose RMSE the calibration matches
#: popularity = count ** exponent: drawing without replacement flattens the head a little,
#: and this exponent gives synthetic ML-1M real ML-1M's item Gini (0.634)
POPULARITY_EXPONENT = 1.15
HEAD_SHARE = 0.5676  # ML-1M's most rated movie is rated by 3,428 of 6,040 users


def _half_step(rows, cols, targets, n_rows, other, reg, bias: bool = True) -> np.ndarray:
    """Solve every row's ridge regression of ``targets`` on ``other[col]`` (and a constant,
    with ``bias``) with penalty ``reg * n_row`` (ALS-WR); returns (n_rows, width): the
    factors, then the bias."""
    design = np.hstack([other, np.ones((len(other), 1))]) if bias else other
    width = design.shape[1]
    member = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_rows, len(other)))
    valued = sp.csr_matrix((targets, (rows, cols)), shape=(n_rows, len(other)))
    outer = np.einsum("ij,ik->ijk", design, design).reshape(len(other), -1)
    gram = (member @ outer).reshape(n_rows, width, width)
    counts = np.asarray(member.sum(axis=1)).ravel()
    gram += (reg * np.maximum(counts, 1))[:, None, None] * np.eye(width)
    rhs = valued @ design
    return np.linalg.solve(gram, rhs[:, :, None])[:, :, 0]


def fit_biased_als(split: Split, rank: int = RANK, reg: float = REG,
                   n_iterations: int = N_ITERATIONS, seed: int = 0) -> dict:
    """Biased MF by ALS-WR on ``split.train``: mean, user/item biases and factors."""
    train = split.train
    users, items = train.users, train.items
    ratings = train.ratings.astype(np.float64)
    mean = float(ratings.mean())
    rng = np.random.default_rng(seed)
    item_factors = rng.normal(0, 0.1, (split.n_items, rank))
    item_bias = np.zeros(split.n_items)
    for _ in range(n_iterations):
        solved = _half_step(users, items, ratings - mean - item_bias[items], split.n_users,
                            item_factors, reg)
        user_factors, user_bias = solved[:, :-1], solved[:, -1]
        solved = _half_step(items, users, ratings - mean - user_bias[users], split.n_items,
                            user_factors, reg)
        item_factors, item_bias = solved[:, :-1], solved[:, -1]
    return {"mean": mean, "user_bias": user_bias, "user_factors": user_factors,
            "item_bias": item_bias, "item_factors": item_factors}


def plain_als_rmse(split: Split, rank: int, reg: float = REG, n_iterations: int = 10,
                   seed: int = 0) -> float:
    """Test RMSE of plain ALS-WR x_u . y_i on the raw ratings (no mean, no biases), the
    model MLlib fits: the probe the calibration matches, without starting Spark."""
    train = split.train
    ratings = train.ratings.astype(np.float64)
    item_factors = np.random.default_rng(seed).uniform(0, 1, (split.n_items, rank))
    item_factors *= np.sqrt(ratings.mean() / rank) / 0.5
    for _ in range(n_iterations):
        user_factors = _half_step(train.users, train.items, ratings, split.n_users,
                                  item_factors, reg, bias=False)
        item_factors = _half_step(train.items, train.users, ratings, split.n_items,
                                  user_factors, reg, bias=False)
    test = split.test
    predicted = np.einsum("ij,ij->i", user_factors[test.users], item_factors[test.items])
    return rmse(test.ratings, predicted, split.rating_scale)


def predict(fit: dict, users, items) -> np.ndarray:
    return (fit["mean"] + fit["user_bias"][users] + fit["item_bias"][items]
            + np.einsum("ij,ij->i", fit["user_factors"][users], fit["item_factors"][items]))


def thresholds(scores: np.ndarray, histogram: np.ndarray) -> np.ndarray:
    """The four cuts that put ``histogram``'s shares of ``scores`` in stars 1 to 5."""
    return np.quantile(scores, np.cumsum(histogram)[:-1])


def _baseline_rmse(split: Split) -> float:
    from .models import create_model

    model = create_model("baseline").fit(split)
    return rmse(split.test.ratings, model.predict(split.test.users, split.test.items),
                split.rating_scale)


def _als_rmse(split: Split) -> float:
    return plain_als_rmse(split, PROBE_RANK)


def _candidate(base: dict, scale: float, noise: float) -> dict:
    """The calibration with factors scaled by ``scale`` and ``noise``; the thresholds are
    the quantiles of the noisy scores of synthetic ML-1M's own pairs at ML-1M's histogram
    (real pairs would not do: people rate the films they expect to like, the stand-in's users
    pick films by popularity alone, so its scores sit lower)."""
    cal = {**base, "user_factors": base["user_factors"] * scale, "factor_scale": scale,
           "noise": noise, "thresholds": np.zeros(4)}
    pop = synthetic.population("synthetic-ml1m", 0, cal)
    parts = list(synthetic.generate("synthetic-ml1m", 0, cal=cal))
    users = pop.user_rows[np.concatenate([part[0] for part in parts])]
    items = pop.item_rows[np.concatenate([part[1] for part in parts])]
    scores = predict(cal, users, items)
    scores = scores + noise * np.random.default_rng(1).standard_normal(len(scores))
    return {**cal, "thresholds": thresholds(scores, np.asarray(base["histogram"]))}


def synthetic_ml1m_split(cal: dict, seed: int = 0) -> Split:
    """The random-90-10 split of synthetic ML-1M made with the calibration ``cal``."""
    ratings = synthetic.frame("synthetic-ml1m", seed, cal=cal)
    return random_split("synthetic-ml1m", "random-90-10", ratings, (1.0, 5.0))


def _noise_for(base, real, scale, target, log) -> float:
    """Bisection: the noise at which the synthetic baseline RMSE meets the real one."""
    low, high = 0.4, 1.0
    for _ in range(9):
        noise = (low + high) / 2
        got = _baseline_rmse(synthetic_ml1m_split(_candidate(base, scale, noise)))
        low, high = (noise, high) if got < target else (low, noise)
    log(f"factor scale {scale:.3f}: noise {(low + high) / 2:.4f} (baseline {got:.4f})")
    return (low + high) / 2


def calibrate(log=print) -> dict:
    """Measure the calibration on real ML-1M (a few minutes); returns the JSON's content.

    Two knobs meet two targets on the random-90-10 split: the noise sets the baseline
    predictor's RMSE, the scale of the fitted factors sets the RMSE of a plain rank-10
    ALS-WR (the fitted factors are shrunk by the penalty, so they carry too little
    structure)."""
    real = load_split("ml-1m")
    every_user = np.concatenate([real.train.users, real.test.users])
    every_item = np.concatenate([real.train.items, real.test.items])
    every_rating = np.concatenate([real.train.ratings, real.test.ratings])
    histogram = np.bincount(every_rating.astype(int), minlength=6)[1:] / len(every_rating)
    fit = fit_biased_als(real)
    base = {"source": "ml-1m random-90-10 (train part for the fit, whole file for counts)",
            "rank": RANK, "reg": REG, "head_share": HEAD_SHARE,
            "popularity_exponent": POPULARITY_EXPONENT,
            "histogram": histogram.tolist(),
            "user_counts": np.bincount(every_user, minlength=real.n_users),
            "item_counts": np.bincount(every_item, minlength=real.n_items), **fit}
    baseline_target, als_target = _baseline_rmse(real), _als_rmse(real)
    log(f"real ML-1M: baseline {baseline_target:.4f}, ALS-WR rank {PROBE_RANK} "
        f"{als_target:.4f}")
    low, high = 1.0, 3.0
    for _ in range(6):  # bisection: larger factors, lower ALS RMSE at the same baseline
        scale = (low + high) / 2
        noise = _noise_for(base, real, scale, baseline_target, log)
        got = _als_rmse(synthetic_ml1m_split(_candidate(base, scale, noise)))
        log(f"  ALS-WR rank {PROBE_RANK}: {got:.4f} (real {als_target:.4f})")
        low, high = (scale, high) if got > als_target else (low, scale)
    scale = (low + high) / 2
    return _candidate(base, scale, _noise_for(base, real, scale, baseline_target, log))


def to_json(cal: dict) -> str:
    """The calibration as JSON, array entries rounded to 3 decimals (it is package data)."""
    def plain(value):
        if isinstance(value, np.ndarray):
            return np.round(value, 3).tolist() if value.dtype.kind == "f" else value.tolist()
        return round(value, 6) if isinstance(value, float) else value

    return json.dumps({key: plain(value) for key, value in cal.items()},
                      separators=(",", ":")) + "\n"


if __name__ == "__main__":
    measured = calibrate()
    synthetic.CALIBRATION_FILE.write_text(to_json(measured), encoding="utf-8")
    print(f"wrote {synthetic.CALIBRATION_FILE}")
    for rank in (10, 50):  # the probe at both ranks of the ladder, real and synthetic
        print(f"plain ALS-WR rank {rank}: real {plain_als_rmse(load_split('ml-1m'), rank):.4f},"
              f" synthetic {plain_als_rmse(synthetic_ml1m_split(measured), rank):.4f}")
