"""The small protocol helpers of the evaluation chapter (chapter 2).

Fitting and scoring live in :mod:`recsys_lib.training`; here: :func:`sweep` (one
:func:`recsys_lib.training.run` per configuration and split), :func:`select` (choose a
configuration on one column, report another), :func:`cheapest_within` (the cheapest
configuration whose score is close enough to the best), :func:`expected_best_of_n` (the
expected minimum of ``n`` scores drawn from a list) and :func:`split_half_selection` (choose
on one half of the test ratings, check on the other).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .metrics import rmse
from .splits import Split
from .training import run


def sweep(model_name: str, splits: Mapping[str, Split], grid: Sequence[dict], seed: int = 0
          ) -> pd.DataFrame:
    """Run ``model_name`` once per configuration of ``grid`` on each split of ``splits``.

    Every run goes through :func:`recsys_lib.training.run`. Returns one row per configuration:
    its parameters, then ``rmse <label>`` and ``mae <label>`` for each split label.
    """
    if not grid:
        raise ValueError("the grid holds no configuration")
    rows = []
    for params in grid:
        row = dict(params)
        for label, split in splits.items():
            summary = run(model_name, split.dataset, split, seed=seed, params=dict(params))
            row[f"rmse {label}"] = summary["rmse"]
            row[f"mae {label}"] = summary["mae"]
        rows.append(row)
    return pd.DataFrame(rows)


def select(table: pd.DataFrame, choose_on: str, report: str) -> dict:
    """Pick the row with the lowest ``choose_on`` and return its index and ``report`` value.

    Ties go to the first row. ``select(t, "rmse test", "rmse test")`` is the optimistic
    protocol (choose and report on the same data); ``select(t, "rmse validation",
    "rmse test")`` the sound one.
    """
    for column in (choose_on, report):
        if column not in table.columns:
            raise KeyError(f"no column {column!r}; columns are {list(table.columns)}")
    position = int(np.argmin(table[choose_on].to_numpy()))
    label = table.index[position]
    return {"row": label, "chosen on": choose_on, "reported": float(table[report].iloc[position])}


def cheapest_within(table: pd.DataFrame, score: str, cost: str | Sequence[str],
                    within: float) -> pd.Series:
    """The cheapest row of ``table`` whose ``score`` is within ``within`` of the lowest score.

    A selection rule to fix before looking at the test set: when more training (more epochs,
    more neighbours) keeps improving a validation score by less than ``within``, take the
    cheapest setting that is "as good as the best" rather than the best itself. The rows with
    ``score <= min(score) + within`` qualify; they are ordered by ``cost`` (one column, or
    several compared in turn, each ascending, a missing value counting as cheapest) and the
    first is returned, earlier rows winning ties. ``within=0`` picks among the rows with the
    lowest score, as :func:`select` does. Missing scores never qualify.
    """
    costs = [cost] if isinstance(cost, str) else list(cost)
    for column in [score, *costs]:
        if column not in table.columns:
            raise KeyError(f"no column {column!r}; columns are {list(table.columns)}")
    if not costs:
        raise ValueError("name at least one cost column")
    if not (math.isfinite(within) and within >= 0):
        raise ValueError(f"within must be a finite number >= 0, got {within}")
    scores = table[score].astype(float)
    if scores.isna().all():
        raise ValueError(f"no row has a {score!r} to choose on")
    near = table[scores <= scores.min() + within]
    return near.sort_values(costs, na_position="first", kind="stable").iloc[0]


def expected_best_of_n(scores, n: int) -> float:
    """Expected minimum of ``n`` scores drawn without replacement from ``scores``.

    Exact: with the scores sorted increasingly, the i-th smallest (1-based) is the minimum of
    a random ``n``-subset with probability C(N - i, n - 1) / C(N, n).
    """
    values = np.sort(np.asarray(scores, dtype=np.float64))
    total = values.size
    if not 1 <= n <= total:
        raise ValueError(f"n must lie in [1, {total}], got {n}")
    weights = np.array([math.comb(total - i, n - 1) for i in range(1, total + 1)], dtype=float)
    return float(np.dot(weights, values) / math.comb(total, n))


def split_half_selection(y_true, predictions: Mapping[object, np.ndarray],
                         rating_scale: tuple[float, float], n_repeats: int = 200,
                         seed: int = 0) -> pd.DataFrame:
    """How much of a winner's lead is luck: choose on one half of the test ratings, check on
    the other.

    ``predictions`` maps each candidate (a configuration, a seed) to its test predictions. Each
    repeat splits the test ratings at random into halves A and B, picks the candidate with the
    lowest RMSE on A, and records its lead over the candidates' mean RMSE on A (``lead on A``,
    what a report chosen on A would claim) and on B (``lead on B``, what survives on ratings
    the choice never saw). Leads are positive when the winner is better than average.
    """
    if len(predictions) < 2:
        raise ValueError("selection needs at least two candidates")
    truth = np.asarray(y_true, dtype=np.float64)
    names = list(predictions)
    matrix = np.stack([np.asarray(predictions[name], dtype=np.float64) for name in names])
    if matrix.shape[1] != truth.size:
        raise ValueError(f"{truth.size} true ratings but {matrix.shape[1]} predictions each")
    rng = np.random.default_rng(seed)
    half = truth.size // 2
    rows = []
    for _ in range(n_repeats):
        order = rng.permutation(truth.size)
        scores = {}
        for label, part in (("A", order[:half]), ("B", order[half:])):
            scores[label] = np.array([rmse(truth[part], row[part], rating_scale)
                                      for row in matrix])
        winner = int(np.argmin(scores["A"]))
        rows.append({"winner": names[winner],
                     "lead on A": float(scores["A"].mean() - scores["A"][winner]),
                     "lead on B": float(scores["B"].mean() - scores["B"][winner])})
    return pd.DataFrame(rows)
