"""Canonical train/test splits with contiguous user and item indices.

A :class:`Split` holds train and test ratings as index arrays into one shared user and item
index space (built from train and test together, in sorted id order), so every model sizes its
parameters by ``n_users`` and ``n_items`` and never meets an index it cannot look up. Users or
items that occur only in the test part are *unseen in training*; each model documents how it
predicts for them.

Canonical splits:

* ``ml-100k``: ``u1`` .. ``u5``, ``ua``, ``ub`` from the archive's own files (default ``u1``).
* ``ml-1m``, ``jester``, ``amazon-electronics``: ``random-90-10``, GLocal-K's split: numpy's
  legacy generator seeded with 1234 shuffles the row numbers of the file, the first
  ``int(0.1 n)`` shuffled rows are the test set.
* ``douban``: ``monti``, the authors' ``Otraining`` / ``Otest`` masks.
* the synthetic stand-ins (``synthetic-small``, ``synthetic-ml1m``, ...): ``random-90-10``,
  made as for ML-1M from the generated file's row order.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .data import fetch, get_dataset, read_douban_arrays, read_ml100k_member
from .synthetic import SHAPES as SYNTHETIC_SHAPES
from .errors import EmptySplitError, InvalidRatingsError, UnknownNameError
from .checks import check_rating_scale, check_ratings_frame
from .params import MAX_SEED


@dataclass(frozen=True)
class Ratings:
    """Observed ratings as parallel arrays: user and item indices (int64), ratings (float32)."""

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray

    def __len__(self) -> int:
        return len(self.ratings)

    def take(self, rows: np.ndarray) -> Ratings:
        """The ratings at positions ``rows`` (an index array or boolean mask)."""
        return Ratings(self.users[rows], self.items[rows], self.ratings[rows])

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"user": self.users, "item": self.items, "rating": self.ratings})


@dataclass(frozen=True)
class Split:
    """A train/test split of one dataset in a shared contiguous index space.

    ``user_ids[u]`` and ``item_ids[i]`` give the dataset's own ids of index ``u`` and ``i``.
    """

    dataset: str
    name: str
    train: Ratings
    test: Ratings
    user_ids: np.ndarray
    item_ids: np.ndarray
    rating_scale: tuple[float, float]

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def dense(self, part: str = "train", layout: str = "items_by_users"
              ) -> tuple[np.ndarray, np.ndarray]:
        """Dense float32 ``(ratings, mask)`` of one part, shape (n_items, n_users) by default.

        ``layout="users_by_items"`` gives the transpose. The mask is 1 where a rating is
        observed: a separate mask because some scales (Jester) include 0.
        """
        ratings = {"train": self.train, "test": self.test}[part]
        shape = (self.n_items, self.n_users)
        matrix = np.zeros(shape, dtype=np.float32)
        mask = np.zeros(shape, dtype=np.float32)
        matrix[ratings.items, ratings.users] = ratings.ratings
        mask[ratings.items, ratings.users] = 1.0
        if layout == "users_by_items":
            return np.ascontiguousarray(matrix.T), np.ascontiguousarray(mask.T)
        if layout != "items_by_users":
            raise ValueError(f"unknown layout {layout!r}; use 'items_by_users' or "
                             "'users_by_items'")
        return matrix, mask

    def seen_in_train(self) -> tuple[np.ndarray, np.ndarray]:
        """Boolean arrays (n_users,), (n_items,): which users and items have a training rating."""
        users = np.zeros(self.n_users, dtype=bool)
        items = np.zeros(self.n_items, dtype=bool)
        users[self.train.users] = True
        items[self.train.items] = True
        return users, items

    def test_unseen(self) -> np.ndarray:
        """Boolean (n_test,): test ratings whose user or item has no training rating."""
        users, items = self.seen_in_train()
        return ~(users[self.test.users] & items[self.test.items])

    def with_validation(self, fraction: float = 0.1, seed: int = 0) -> Split:
        """A split whose train is this train minus a seeded random slice, and whose test is
        that slice. Use it to choose epochs or hyperparameters without touching the test set.
        """
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"validation fraction must lie in (0, 1), got {fraction}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) \
                or not 0 <= seed <= MAX_SEED:
            raise ValueError(f"validation seed must be a whole number from 0 to {MAX_SEED:,}"
                             f" (as --seed), got {seed!r}")
        order = np.random.default_rng(seed).permutation(len(self.train))
        n_validation = int(round(fraction * len(self.train)))
        held_out, kept = order[:n_validation], np.sort(order[n_validation:])
        carved = replace(self, name=validation_name(self.name, fraction, seed),
                         train=self.train.take(kept), test=self.train.take(np.sort(held_out)))
        carved.check_not_empty()
        return carved

    def subsample_train(self, ratio: float, seed: int = 0) -> Split:
        """Keep a seeded random ``ratio`` of the training ratings; the test part is unchanged."""
        if not 0.0 < ratio <= 1.0:
            raise ValueError(f"training ratio must lie in (0, 1], got {ratio}")
        if ratio == 1.0:
            return self
        order = np.random.default_rng(seed).permutation(len(self.train))
        kept = np.sort(order[: int(round(ratio * len(self.train)))])
        reduced = replace(self, name=f"{self.name}/train-{ratio:g}-seed{seed}",
                          train=self.train.take(kept))
        reduced.check_not_empty()
        return reduced

    def check_not_empty(self) -> None:
        for part in ("train", "test"):
            if len(getattr(self, part)) == 0:
                raise EmptySplitError(f"{self.dataset}/{self.name}: the {part} part is empty")

    def summary(self) -> dict:
        """Counts for reports: sizes, index space and ratings unseen in training."""
        users, items = self.seen_in_train()
        return {"dataset": self.dataset, "split": self.name, "n_train": len(self.train),
                "n_test": len(self.test), "n_users": self.n_users, "n_items": self.n_items,
                "n_test_unseen": int(self.test_unseen().sum()),
                "train_users": int(users.sum()), "train_items": int(items.sum())}


def split_from_frames(dataset: str, name: str, train: pd.DataFrame, test: pd.DataFrame,
                      rating_scale: tuple[float, float], user_ids: np.ndarray | None = None,
                      item_ids: np.ndarray | None = None) -> Split:
    """Build a :class:`Split` from two ratings frames (columns user, item, rating).

    The index space is the sorted union of ids in both parts unless ``user_ids`` / ``item_ids``
    give it explicitly. Raises EmptySplitError for an empty part and InvalidRatingsError for a
    (user, item) pair rated twice, ids outside an explicit index space, or anything
    :func:`recsys_lib.checks.check_ratings_frame` refuses (missing columns, NaN or mixed-type
    ids, NaN, infinite or off-scale ratings, a reversed scale), with the rows counted.
    """
    rating_scale = check_rating_scale(rating_scale, f"{dataset}/{name}")
    for part, frame in (("train", train), ("test", test)):
        check_ratings_frame(frame, rating_scale, f"{dataset}/{name} ({part} part)")
    for column in ("user", "item"):
        kinds = {"text" if isinstance(frame[column].iloc[0], str) else "number"
                 for frame in (train, test) if len(frame)}
        if len(kinds) > 1:
            raise InvalidRatingsError(f"{dataset}/{name}: {column} ids are text in one part "
                                      "and numbers in the other")
    both = pd.concat([train[["user", "item"]], test[["user", "item"]]], ignore_index=True)
    if user_ids is None:
        user_ids = np.sort(both["user"].unique())
    if item_ids is None:
        item_ids = np.sort(both["item"].unique())
    user_index, item_index = pd.Index(user_ids), pd.Index(item_ids)

    def to_ratings(frame: pd.DataFrame) -> Ratings:
        users = user_index.get_indexer(frame["user"]).astype(np.int64)
        items = item_index.get_indexer(frame["item"]).astype(np.int64)
        if (users < 0).any() or (items < 0).any():
            raise InvalidRatingsError(f"{dataset}/{name}: ids outside the declared index space")
        return Ratings(users, items, frame["rating"].to_numpy(dtype=np.float32))

    split = Split(dataset, name, to_ratings(train), to_ratings(test), np.asarray(user_ids),
                  np.asarray(item_ids), rating_scale)
    split.check_not_empty()
    keys = np.concatenate([split.train.users, split.test.users]) * split.n_items + \
        np.concatenate([split.train.items, split.test.items])
    if len(np.unique(keys)) != len(keys):
        raise InvalidRatingsError(f"{dataset}/{name}: some (user, item) pairs are rated twice "
                                  "(within a part or across train and test)")
    return split


def synthetic_split(n_users: int = 40, n_items: int = 30, n_ratings: int = 700,
                    test_share: float = 0.2, seed: int | None = None) -> Split:
    """A small random split with structure (user and item effects plus noise, ratings 1-5),
    for tests and exercises: ``n_ratings`` distinct (user, item) pairs, about ``test_share``
    of them in the test part. ``seed=None`` draws fresh data every call."""
    rng = np.random.default_rng(seed)
    pairs = rng.permutation(n_users * n_items)[:n_ratings]
    users, items = pairs // n_items, pairs % n_items
    truth = 3 + np.sin(users) + 0.7 * np.cos(items) + rng.normal(0, 0.5, len(pairs))
    frame = pd.DataFrame({"user": users, "item": items,
                          "rating": np.clip(np.round(truth), 1, 5)})
    test = rng.random(len(pairs)) < test_share
    return split_from_frames("synthetic", "random", frame[~test], frame[test], (1.0, 5.0))


def glocal_k_shuffle(n_rows: int, seed: int = 1234) -> np.ndarray:
    """Row order of GLocal-K's split: numpy's legacy global generator, seeded, shuffles 0..n-1."""
    order = np.arange(n_rows)
    np.random.RandomState(seed).shuffle(order)
    return order


def random_split(dataset: str, name: str, ratings: pd.DataFrame, rating_scale,
                 test_fraction: float = 0.1, seed: int = 1234) -> Split:
    """The GLocal-K style random split of ``ratings`` in file order."""
    order = glocal_k_shuffle(len(ratings), seed)
    n_test = int(test_fraction * len(ratings))
    test, train = ratings.iloc[order[:n_test]], ratings.iloc[order[n_test:]]
    return split_from_frames(dataset, name, train, test, rating_scale)


def _ml100k_split(part: str) -> Callable[[], Split]:
    def build() -> Split:
        fetched = fetch("ml-100k")
        archive = fetched.paths["ml-100k.zip"]
        train = read_ml100k_member(archive, f"{part}.base")
        test = read_ml100k_member(archive, f"{part}.test")
        return split_from_frames("ml-100k", part, train, test, fetched.spec.rating_scale)
    return build


def _random_90_10(dataset: str) -> Callable[[], Split]:
    def build() -> Split:
        fetched = fetch(dataset)
        return random_split(dataset, "random-90-10", fetched.read(), fetched.spec.rating_scale)
    return build


def _douban_monti() -> Split:
    fetched = fetch("douban")
    arrays = read_douban_arrays(fetched.paths["training_test_dataset.mat"])
    frames = []
    for mask in (arrays["Otraining"], arrays["Otest"]):
        users, items = np.nonzero(mask * arrays["M"])
        frames.append(pd.DataFrame({"user": users, "item": items,
                                    "rating": arrays["M"][users, items]}))
    n_users, n_items = arrays["M"].shape
    return split_from_frames("douban", "monti", frames[0], frames[1], fetched.spec.rating_scale,
                             user_ids=np.arange(n_users), item_ids=np.arange(n_items))


SPLITS: dict[str, dict[str, Callable[[], Split]]] = {
    "ml-100k": {part: _ml100k_split(part) for part in ("u1", "u2", "u3", "u4", "u5", "ua", "ub")},
    "ml-1m": {"random-90-10": _random_90_10("ml-1m")},
    "douban": {"monti": _douban_monti},
    "jester": {"random-90-10": _random_90_10("jester")},
    "amazon-electronics": {"random-90-10": _random_90_10("amazon-electronics")},
    **{name: {"random-90-10": _random_90_10(name)} for name in SYNTHETIC_SHAPES},
}
DEFAULT_SPLITS = {"ml-100k": "u1", "ml-1m": "random-90-10", "douban": "monti",
                  "jester": "random-90-10", "amazon-electronics": "random-90-10",
                  **{name: "random-90-10" for name in SYNTHETIC_SHAPES}}


def available_splits(dataset: str) -> list[str]:
    get_dataset(dataset)
    return list(SPLITS.get(dataset, {}))


VALIDATION_NAME = re.compile(
    r"^(?P<base>.+)/validation-(?P<fraction>[0-9.eE+-]+)-seed(?P<seed>[0-9]+)$")


def check_split_name(dataset: str, split: str) -> None:
    """UnknownNameError unless ``split`` names a split of ``dataset``: one of its canonical
    splits or a validation slice of one (its form is checked when it is loaded)."""
    get_dataset(dataset)
    carved = VALIDATION_NAME.match(split) if isinstance(split, str) else None
    if (carved["base"] if carved else split) not in SPLITS.get(dataset, {}):
        raise UnknownNameError(f"unknown split {split!r} for dataset {dataset!r}; known "
                               f"splits: {', '.join(available_splits(dataset))}")


def validation_name(base: str, fraction: float, seed: int) -> str:
    """The name of ``base``'s validation slice: the fraction written in full (the shortest
    text that reads back as the same float), so a name always loads the split it names."""
    return f"{base}/validation-{float(fraction)!r}-seed{int(seed)}"


def load_split(dataset: str, split: str | None = None) -> Split:
    """The canonical split ``split`` of ``dataset`` (its default split when None).

    A name of the form ``BASE/validation-F-seedS`` (what :meth:`Split.with_validation` calls
    its result) gives ``load_split(dataset, BASE).with_validation(F, S)``, so tuning runs on a
    validation slice can be trained and recorded from the command line.
    """
    get_dataset(dataset)
    if split is not None and not isinstance(split, str):
        raise UnknownNameError(f"a split is named by text, such as "
                               f"{DEFAULT_SPLITS[dataset]!r}; got {split!r}")
    name = split or DEFAULT_SPLITS[dataset]
    carved = VALIDATION_NAME.match(name)
    if carved:
        base = load_split(dataset, carved["base"])
        try:
            fraction = float(carved["fraction"])
            canonical = validation_name(carved["base"], fraction, int(carved["seed"]))
            if canonical != name:  # 0.10, 1e-1 or seed01 would load a split named otherwise
                raise ValueError(f"write it as {canonical!r}, the name of the split it loads")
            return base.with_validation(fraction, seed=int(carved["seed"]))
        except ValueError as error:
            raise UnknownNameError(f"split {name!r}: {error}") from None
    check_split_name(dataset, name)
    return SPLITS[dataset][name]()
