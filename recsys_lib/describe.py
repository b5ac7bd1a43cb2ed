"""Descriptive statistics of datasets and splits (chapter 1).

:func:`describe_ratings` and :func:`summary_table` (users, items, ratings, density, scale,
mean), :func:`counts_per` (ratings per user or per item), :func:`top_share` and :func:`gini`
(how concentrated those counts are), :func:`value_counts` (the rating distribution),
:func:`ratings_per_period` and :func:`first_session_share` (activity over time) and
:func:`split_table`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from .data import fetch, get_dataset, real_datasets
from .splits import Split


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
    """The ratings of several registered datasets (the real ones by default), keyed by name.

    Each frame carries the name of the source it was read from in ``frame.attrs["source"]``.
    """
    frames = {}
    for name in (real_datasets() if names is None else names):
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


def activity_statistics(ratings: pd.DataFrame | Split,
                        quantiles: tuple[float, ...] = (0.1, 0.5, 0.9, 0.99)) -> dict:
    """How activity and ratings are spread: counts, density, the Gini coefficient and
    quantiles of ratings per user and per item, the top item's share of users, and the share
    of each rating value (whole stars; a split counts train and test together).

    Chapter 13 compares real ML-1M with its synthetic stand-in by these figures."""
    if isinstance(ratings, Split):
        users = np.concatenate([ratings.train.users, ratings.test.users])
        items = np.concatenate([ratings.train.items, ratings.test.items])
        values = np.concatenate([ratings.train.ratings, ratings.test.ratings])
    else:
        users = pd.factorize(ratings["user"])[0]
        items = pd.factorize(ratings["item"])[0]
        values = ratings["rating"].to_numpy()
    if len(values) == 0:
        raise ValueError("no ratings to describe")
    per_user, per_item = np.bincount(users), np.bincount(items)
    per_user, per_item = per_user[per_user > 0], per_item[per_item > 0]
    row = {"users": per_user.size, "items": per_item.size, "ratings": len(values),
           "density": len(values) / (per_user.size * per_item.size),
           "user Gini": gini(per_user), "item Gini": gini(per_item),
           "min per user": int(per_user.min()),
           "top item's share of users": per_item.max() / per_user.size}
    for q in quantiles:
        row[f"per user q{q:g}"] = float(np.quantile(per_user, q))
        row[f"per item q{q:g}"] = float(np.quantile(per_item, q))
    stars = np.rint(values).astype(np.int64)
    for star in range(int(stars.min()), int(stars.max()) + 1):
        row[f"share of {star} stars"] = float(np.mean(stars == star))
    row["mean rating"] = float(np.mean(values, dtype=np.float64))
    row["rating std"] = float(np.std(values, dtype=np.float64))
    return row


def shape_statistics(shape: tuple[int, int, int]) -> dict:
    """Memory arithmetic of a (users, items, ratings) shape: the dense float32 users x items
    matrix against the ratings kept as triples (int32 user, int32 item, float32 rating) and
    as a CSR matrix (float32 values, int32 column indices, int64 row pointers), in bytes."""
    n_users, n_items, n_ratings = (int(n) for n in shape)
    return {"users": n_users, "items": n_items, "ratings": n_ratings,
            "density": n_ratings / (n_users * n_items),
            "dense bytes": 4 * n_users * n_items,
            "triples bytes": 12 * n_ratings,
            "csr bytes": 8 * n_ratings + 8 * (n_users + 1)}
