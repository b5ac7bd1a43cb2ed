"""Comparing models on the same test ratings: paired bootstrap intervals on RMSE differences,
and RMSE broken down by how much training data a user or an item has.

Both work on saved test predictions (one array per model, aligned with ``split.test``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .metrics import rmse
from .params import Fraction, Int, check_seed
from .splits import Split


def _check_resampling(n_resamples: int, level: float, seed: int) -> None:
    """InvalidParameterError naming a resample count, level or seed out of range."""
    Int().check("n_resamples", n_resamples)
    Fraction().check("level", level)
    check_seed(seed)


def _clipped_squares(y_true, pred, rating_scale) -> np.ndarray:
    truth = np.asarray(y_true, dtype=np.float64)
    pred = np.clip(np.asarray(pred, dtype=np.float64), *rating_scale)
    if truth.shape != pred.shape:
        raise ValueError(f"{truth.size} true ratings but {pred.size} predictions")
    if not np.isfinite(pred).all():
        raise ValueError("predictions must be finite")
    return (truth - pred) ** 2


def _resampled_rmse(squares_by_draw, rng, n_resamples: int, groups=None) -> np.ndarray:
    """(n_resamples, columns): the RMSE of each column of ``squares_by_draw`` (n, columns)
    on resamples of its rows, or of whole groups of rows when ``groups`` (n,) is given (the
    same draw for every column, so comparisons are paired)."""
    squares = np.asarray(squares_by_draw, dtype=np.float64)
    if groups is not None:
        _, codes = np.unique(np.asarray(groups), return_inverse=True)
        sums = np.stack([np.bincount(codes, weights=col) for col in squares.T], axis=1)
        counts = np.bincount(codes).astype(np.float64)
    else:
        sums, counts = squares, np.ones(len(squares))
    n = len(counts)
    # drawn in batches so memory stays near 160 MB on ML-1M's 100,020 test ratings
    batch = max(1, 20_000_000 // n)
    out = []
    for start in range(0, n_resamples, batch):
        rows = rng.integers(0, n, size=(min(batch, n_resamples - start), n))
        out.append(np.sqrt(sums[rows].sum(1) / counts[rows].sum(1)[:, None]))
    return np.concatenate(out)


def paired_bootstrap(y_true, pred_a, pred_b, rating_scale: tuple[float, float],
                     n_resamples: int = 2000, level: float = 0.95, seed: int = 0,
                     groups=None) -> dict:
    """Paired bootstrap over test ratings of ``RMSE(a) - RMSE(b)``.

    Each resample draws the test ratings with replacement (the same draw for both models, so
    the comparison is paired) and recomputes both RMSEs; with ``groups`` (for example the
    test users, (n,)) whole groups are drawn instead, which gives wider and more honest
    intervals when a group's errors are correlated. Returns ``difference`` (on the full test
    set), ``low`` and ``high`` (the percentile interval at ``level``) and ``real``: True when
    the interval excludes 0, so a reader may believe the sign of the difference.
    """
    _check_resampling(n_resamples, level, seed)
    sq_a = _clipped_squares(y_true, pred_a, rating_scale)
    sq_b = _clipped_squares(y_true, pred_b, rating_scale)
    if sq_a.size == 0:
        raise ValueError("no test ratings to resample")
    if groups is not None and len(groups) != sq_a.size:
        raise ValueError(f"{len(groups)} groups for {sq_a.size} test ratings")
    rng = np.random.default_rng(seed)
    both = _resampled_rmse(np.column_stack([sq_a, sq_b]), rng, n_resamples, groups)
    diffs = both[:, 0] - both[:, 1]
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(diffs, [tail, 1.0 - tail])
    difference = float(np.sqrt(sq_a.mean()) - np.sqrt(sq_b.mean()))
    return {"difference": difference, "low": float(low), "high": float(high),
            "real": bool(low > 0 or high < 0), "n_resamples": n_resamples, "level": level,
            "unit": "rating" if groups is None else "group"}


def bootstrap_rmse(y_true, pred, rating_scale: tuple[float, float], n_resamples: int = 2000,
                   level: float = 0.95, seed: int = 0, groups=None) -> list[float]:
    """[low, high]: the percentile bootstrap interval at ``level`` of one model's RMSE over
    the test ratings (or over ``groups`` of them, as :func:`paired_bootstrap`)."""
    _check_resampling(n_resamples, level, seed)
    squares = _clipped_squares(y_true, pred, rating_scale)
    if squares.size == 0:
        raise ValueError("no test ratings to resample")
    if groups is not None and len(groups) != squares.size:
        raise ValueError(f"{len(groups)} groups for {squares.size} test ratings")
    values = _resampled_rmse(squares[:, None], np.random.default_rng(seed), n_resamples,
                             groups)[:, 0]
    tail = (1.0 - level) / 2.0
    return [float(v) for v in np.quantile(values, [tail, 1.0 - tail])]


def significance(y_true, predictions: dict[str, np.ndarray], order: list[str],
                 rating_scale: tuple[float, float], n_resamples: int = 2000, seed: int = 0,
                 groups=None) -> pd.DataFrame:
    """For models in ``order`` (best first): the paired bootstrap of each model against the
    first (the leader) and against the model just above it. Columns ``vs_leader``,
    ``vs_leader_low``, ``vs_leader_high``, ``vs_leader_real`` and the same for ``vs_above``
    (differences are this model's RMSE minus the other's)."""
    rows = []
    for index, name in enumerate(order):
        row = {"model": name, "rmse": rmse(y_true, predictions[name], rating_scale)}
        for key, other in (("vs_leader", order[0]),
                           ("vs_above", order[index - 1] if index else None)):
            if other is None or other == name:
                row.update({key: 0.0, f"{key}_low": 0.0, f"{key}_high": 0.0,
                            f"{key}_real": False})
                continue
            test = paired_bootstrap(y_true, predictions[name], predictions[other],
                                    rating_scale, n_resamples=n_resamples, seed=seed,
                                    groups=groups)
            row.update({key: test["difference"], f"{key}_low": test["low"],
                        f"{key}_high": test["high"], f"{key}_real": test["real"]})
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


def support_buckets(counts: np.ndarray, edges=(0, 1, 6, 21, 51, 101, 201)) -> np.ndarray:
    """Labels such as ``"6-20"`` for training-rating counts (``edges`` are the lower bounds;
    the last bucket is open, e.g. ``"201+"``); a count of 0 is ``"0"`` (cold). ValueError
    for edges that do not rise from 0, or a count that is negative or not whole."""
    edges = list(edges)
    if not edges or edges[0] != 0 or any(b <= a for a, b in zip(edges, edges[1:])):
        raise ValueError(f"edges must rise strictly from 0, got {tuple(edges)}")
    counts = np.asarray(counts)
    if counts.size and (not np.issubdtype(counts.dtype, np.integer) or counts.min() < 0):
        raise ValueError("training-rating counts must be whole numbers, 0 or more")
    labels = []
    for low, high in zip(edges, edges[1:] + [None]):
        if high is None:
            labels.append(f"{low}+")
        elif high - low == 1:
            labels.append(f"{low}")
        else:
            labels.append(f"{low}-{high - 1}")
    index = np.searchsorted(edges, counts, side="right") - 1
    return np.asarray(labels, dtype=object)[index]


def rmse_by_support(split: Split, predictions: dict[str, np.ndarray], side: str = "user",
                    edges=(0, 1, 6, 21, 51, 101, 201)) -> pd.DataFrame:
    """Test RMSE of each model per bucket of the user's (``side="user"``) or the item's
    training-rating count. Rows are buckets (with their number of test ratings), columns are
    models."""
    if side not in ("user", "item"):
        raise ValueError(f"side must be 'user' or 'item', got {side!r}")
    train_ids = split.train.users if side == "user" else split.train.items
    size = split.n_users if side == "user" else split.n_items
    test_ids = split.test.users if side == "user" else split.test.items
    counts = np.bincount(train_ids, minlength=size)[test_ids]
    buckets = support_buckets(counts, edges)
    order = [label for label in support_buckets(np.asarray(edges), edges)
             if label in set(buckets)]
    rows = []
    for label in order:
        mask = buckets == label
        row = {"bucket": label, "test ratings": int(mask.sum())}
        for name, pred in predictions.items():
            row[name] = rmse(split.test.ratings[mask], np.asarray(pred)[mask],
                             split.rating_scale)
        rows.append(row)
    return pd.DataFrame(rows).set_index("bucket")
