"""Descriptive statistics of datasets and splits, and the small protocol helpers of the
evaluation chapter.

Dataset side: :func:`describe_ratings` and :func:`summary_table` (users, items, ratings,
density, scale, mean), :func:`counts_per` (ratings per user or per item), :func:`top_share` and
:func:`gini` (how concentrated those counts are), :func:`value_counts` (the rating
distribution), :func:`ratings_per_period` and :func:`first_session_share` (activity over time)
and :func:`split_table`.

Protocol side (fitting and scoring live in :mod:`recsys_lib.training`: ``fit``, ``evaluate``,
``score``): :func:`sweep` (one :func:`recsys_lib.training.run` per configuration and split),
:func:`select` (choose a configuration on one column, report another),
:func:`cheapest_within` (the cheapest configuration whose score is close enough to the best),
:func:`expected_best_of_n` (the expected minimum of ``n`` scores drawn from a list) and
:func:`split_half_selection` (choose on one half of the test ratings, check on the other).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .data import DATASETS, fetch, get_dataset
from .metrics import rmse
from .splits import Split
from .training import run

# --------------------------------------------------------------------------------------------
# Datasets


def describe_ratings(ratings: pd.DataFrame, rating_scale: tuple[float, float]) -> dict:
    """Counts and moments of one ratings frame (columns user, item, rating).

    ``users`` and ``items`` count distinct ids *with at least one rating*; ``density`` is
    ratings / (users x items) over that observed index space and ``sparsity`` is 1 - density.
    """
    if len(ratings) == 0:
        raise ValueError("no ratings to describe")
    n_users = int(ratings["user"].nunique())
    n_items = int(ratings["item"].nunique())
    values = ratings["rating"].to_numpy(dtype=np.float64)
    density = len(ratings) / (n_users * n_items)
    return {"users": n_users, "items": n_items, "ratings": len(ratings),
            "density": density, "sparsity": 1.0 - density,
            "scale": f"{rating_scale[0]:g} to {rating_scale[1]:g}",
            "distinct values": int(np.unique(values).size),
            "min": float(values.min()), "max": float(values.max()),
            "mean": float(values.mean()), "std": float(values.std()),
            "timestamps": "timestamp" in ratings.columns}


def load_all(names: Iterable[str] | None = None) -> dict[str, pd.DataFrame]:
    """The ratings of several registered datasets (all of them by default), keyed by name.

    Each frame carries the name of the source it was read from in ``frame.attrs["source"]``.
    """
    frames = {}
    for name in (list(DATASETS) if names is None else names):
        fetched = fetch(name)
        frame = fetched.read()
        frame.attrs["source"] = fetched.source.label
        frames[name] = frame
    return frames


def summary_table(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per dataset: :func:`describe_ratings` plus the registry's title and scale."""
    rows = []
    for name, frame in frames.items():
        spec = get_dataset(name)
        rows.append({"dataset": name, "title": spec.title,
                     **describe_ratings(frame, spec.rating_scale),
                     "source": frame.attrs.get("source", "")})
    return pd.DataFrame(rows).set_index("dataset")


def counts_per(ratings: pd.DataFrame, column: str) -> pd.Series:
    """Number of ratings of each user (``column="user"``) or item, largest first."""
    if column not in ("user", "item"):
        raise ValueError(f"count ratings per 'user' or 'item', not {column!r}")
    return ratings[column].value_counts(sort=True, ascending=False)


def top_share(counts, fraction: float = 0.1) -> float:
    """Share of all ratings that go to the top ``fraction`` of entities (by count).

    The top group holds ``ceil(fraction * n)`` entities, so it is never empty. With equal
    counts the share is close to ``fraction``; a long tail pushes it towards 1.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction}")
    values = np.sort(np.asarray(counts, dtype=np.float64))[::-1]
    if values.size == 0 or values.sum() <= 0:
        raise ValueError("no counts to summarise")
    top = math.ceil(fraction * values.size)
    return float(values[:top].sum() / values.sum())


def gini(counts) -> float:
    """Gini coefficient of non-negative counts: 0 when all are equal, near 1 when one dominates."""
    values = np.sort(np.asarray(counts, dtype=np.float64))
    if values.size == 0 or values.sum() <= 0:
        raise ValueError("no counts to summarise")
    if (values < 0).any():
        raise ValueError("counts must be non-negative")
    n = values.size
    ranks = np.arange(1, n + 1)
    return float((2.0 * np.sum(ranks * values) / (n * values.sum())) - (n + 1.0) / n)


def long_tail_table(frames: Mapping[str, pd.DataFrame], fraction: float = 0.1) -> pd.DataFrame:
    """Per dataset: min / median / max ratings per user and per item, the share of ratings
    that goes to the top ``fraction`` of items and of users, and the items' Gini coefficient."""
    rows = []
    for name, frame in frames.items():
        per_user, per_item = counts_per(frame, "user"), counts_per(frame, "item")
        rows.append({"dataset": name,
                     "min per user": int(per_user.min()),
                     "median per user": float(per_user.median()),
                     "max per user": int(per_user.max()),
                     "min per item": int(per_item.min()),
                     "median per item": float(per_item.median()),
                     "max per item": int(per_item.max()),
                     f"top {fraction:.0%} items' share": top_share(per_item, fraction),
                     f"top {fraction:.0%} users' share": top_share(per_user, fraction),
                     "item Gini": gini(per_item)})
    return pd.DataFrame(rows).set_index("dataset")


def value_counts(ratings: pd.DataFrame) -> pd.Series:
    """How often each rating value occurs, in increasing order of value."""
    return ratings["rating"].value_counts().sort_index()


def ratings_per_period(ratings: pd.DataFrame, freq: str = "W") -> pd.Series:
    """Number of ratings per calendar period (``"W"`` weeks, ``"D"`` days, ``"MS"`` months).

    The index is the start of each period (UTC); empty periods inside the range count 0.
    Raises ValueError when the frame has no ``timestamp`` column (ML-1M from the mirror).
    """
    if "timestamp" not in ratings.columns:
        raise ValueError("these ratings have no timestamp column, so they cannot be placed "
                         "in time")
    when = pd.to_datetime(ratings["timestamp"], unit="s", utc=True)
    periods = when.dt.tz_localize(None).dt.to_period(freq)
    counts = periods.value_counts().sort_index()
    full = pd.period_range(counts.index.min(), counts.index.max(), freq=counts.index.freq)
    counts = counts.reindex(full, fill_value=0)
    counts.index = counts.index.start_time
    counts.index.name = "period start"
    return counts.rename("ratings")


def split_table(splits: Iterable[Split]) -> pd.DataFrame:
    """One row per split: :meth:`Split.summary` counts plus the test share."""
    rows = []
    for split in splits:
        row = split.summary()
        row["test share"] = row["n_test"] / (row["n_train"] + row["n_test"])
        rows.append(row)
    return pd.DataFrame(rows).set_index(["dataset", "split"])


# --------------------------------------------------------------------------------------------
# Evaluation protocol


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


def first_session_share(ratings: pd.DataFrame, hours: float = 24.0) -> dict:
    """How much rating happens in a user's first ``hours`` after their first rating.

    Returns the share of all ratings given within that window (``ratings share``) and the share
    of users who gave more than half of their ratings within it (``users mostly in it``).
    """
    if "timestamp" not in ratings.columns:
        raise ValueError("these ratings have no timestamp column")
    first = ratings.groupby("user")["timestamp"].transform("min")
    early = (ratings["timestamp"] - first) < hours * 3600.0
    per_user = early.groupby(ratings["user"]).mean()
    return {"ratings share": float(early.mean()),
            "users mostly in it": float((per_user > 0.5).mean())}
