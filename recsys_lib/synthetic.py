"""A synthetic stand-in for MovieLens: ratings of MovieLens's shape, made from a seed.

ML-10M, ML-20M and ML-25M cannot be downloaded on every machine the book runs on, so the Scale
part tests and times its models on ratings generated here. A shape names the real set's user,
item and rating counts (:data:`recsys_lib.reference.MOVIELENS_SHAPES`); the rest comes from a
*calibration* measured on real ML-1M (:mod:`recsys_lib.synthetic_calibration`, stored as
``synthetic_calibration.json`` beside this file):

* each synthetic user copies a real ML-1M user (every real user as often as the shape allows,
  the remainder drawn at random): its activity (scaled to the shape's ratings per user, never
  below MovieLens's 20), its bias and its latent factors;
* each synthetic item likewise copies a real ML-1M item: its popularity (a calibrated power
  of its count, scaled to the shape, capped at the share of users the most popular real
  movie has) and its bias and factors;
* a user's items are drawn without replacement with probability proportional to popularity,
  and every item gets at least one rating;
* a rating is the fitted model's score mu + b_u + b_i + p_u . q_i plus Gaussian noise, cut
  into 1 to 5 stars at thresholds that reproduce ML-1M's rating histogram.

Nothing of size users x items is ever built: users are generated in chunks, each chunk's
triples are appended to files on disk, and memory grows with the chunk, not with the shape.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from .reference import MOVIELENS_SHAPES, SYNTHETIC_PREFIX

CALIBRATION_FILE = Path(__file__).with_name("synthetic_calibration.json")
MIN_USER_RATINGS = 20  # MovieLens keeps only users with at least 20 ratings
CHUNK_RATINGS = 2_000_000  # about this many ratings are generated and written at a time
HEAVY_SHARE = 0.1  # a user who rates more than this share of the items: exact top-k draw
COLUMNS = (("user", np.int32), ("item", np.int32), ("rating", np.int8))

#: the synthetic shapes: name -> (users, items, ratings). ``synthetic-small`` is for tests.
SHAPES = {f"{SYNTHETIC_PREFIX}small": (600, 400, 40_000),
          **{f"{SYNTHETIC_PREFIX}{name.replace('-', '')}": counts
             for name, counts in MOVIELENS_SHAPES.items()}}


GENERATOR_VERSION = 2  # raise when a change to this file changes the ratings it makes


def fingerprint() -> str:
    """12 hex digits naming the generator version and the calibration: cached files made by
    another version or calibration are not reused."""
    digest = hashlib.sha256(CALIBRATION_FILE.read_bytes())
    digest.update(str(GENERATOR_VERSION).encode())
    return digest.hexdigest()[:12]


@lru_cache(maxsize=1)
def calibration() -> dict:
    """The stored calibration (see :mod:`recsys_lib.synthetic_calibration`) as arrays."""
    raw = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
    arrays = {key: np.asarray(raw[key], dtype=np.float64)
              for key in ("user_counts", "user_bias", "user_factors",
                          "item_counts", "item_bias", "item_factors", "thresholds")}
    return {**raw, **arrays}


@dataclass
class Population:
    """The users and items of one shape before any rating is drawn (all O(users + items))."""

    user_rows: np.ndarray    # the real ML-1M user each synthetic user copies
    user_counts: np.ndarray  # ratings per user, summing exactly to the shape's ratings
    item_rows: np.ndarray    # the real ML-1M item each synthetic item copies
    item_weights: np.ndarray  # popularity: the chance of being drawn, summing to 1
    forced_user: np.ndarray  # for each item, a user who is made to rate it


def _user_counts(rng, base: np.ndarray, n_ratings: int, n_items: int) -> np.ndarray:
    """Integer activities shaped like ``base``, at least 20, summing exactly to n_ratings."""
    ceiling = max(MIN_USER_RATINGS, int(0.62 * n_items))  # ML-1M's busiest user: 62% of items
    low, high = 0.0, 10.0 * n_ratings / base.sum() * len(base)
    for _ in range(60):  # bisection on the scale factor
        scale = (low + high) / 2
        total = np.clip(np.round(base * scale), MIN_USER_RATINGS, ceiling).sum()
        low, high = (scale, high) if total < n_ratings else (low, scale)
    counts = np.clip(np.round(base * low), MIN_USER_RATINGS, ceiling).astype(np.int64)
    while (gap := n_ratings - int(counts.sum())) != 0:  # hand out the rounding residue
        room = counts < ceiling if gap > 0 else counts > MIN_USER_RATINGS
        chosen = rng.choice(np.flatnonzero(room), size=min(abs(gap), int(room.sum())),
                            replace=False)
        counts[chosen] += 1 if gap > 0 else -1
    return counts


def _item_weights(base: np.ndarray, n_users: int, n_ratings: int, head: float) -> np.ndarray:
    """Popularity weights from ``base``, with no item expected in more than ``head`` of the
    users (repeated capping: capping one item raises everyone else's share)."""
    weights = np.maximum(base, 0.5) / np.maximum(base, 0.5).sum()
    cap = head * n_users / n_ratings
    for _ in range(50):
        over = weights > cap
        if not over.any():
            break
        spare = 1.0 - cap * over.sum()
        weights = np.where(over, cap, weights * spare / weights[~over].sum())
    return weights / weights.sum()


def _copies(rng, n_real: int, n: int) -> np.ndarray:
    """Which real row each of ``n`` synthetic rows copies: every real row equally often (in
    random order), the remainder drawn without replacement."""
    whole = np.tile(np.arange(n_real), n // n_real)
    rest = rng.choice(n_real, size=n % n_real, replace=False)
    return rng.permutation(np.concatenate([whole, rest]))


def population(shape: str, seed: int = 0, cal: dict | None = None) -> Population:
    """Draw the users and items of ``shape`` (a name of :data:`SHAPES`) from ``seed``."""
    n_users, n_items, n_ratings = SHAPES[shape]
    cal = calibration() if cal is None else cal
    rng = np.random.default_rng([seed, 0])
    user_rows = _copies(rng, len(cal["user_counts"]), n_users)
    item_rows = _copies(rng, len(cal["item_counts"]), n_items)
    counts = _user_counts(rng, cal["user_counts"][user_rows], n_ratings, n_items)
    popularity = cal["item_counts"][item_rows] ** float(cal["popularity_exponent"])
    weights = _item_weights(popularity, n_users, n_ratings, float(cal["head_share"]))
    # Every item is rated at least once: each item is given to one user, chosen in proportion
    # to activity, and counts against that user's total (moved elsewhere if over it).
    forced = np.searchsorted(np.cumsum(counts) / n_ratings, rng.random(n_items), side="right")
    forced = np.minimum(forced, n_users - 1)
    while True:
        load = np.bincount(forced, minlength=n_users)
        over = np.flatnonzero(load > counts // 2)
        if not len(over):
            break
        moving = np.flatnonzero(np.isin(forced, over))
        forced[moving] = rng.integers(0, n_users, len(moving))
    return Population(user_rows, counts, item_rows, weights, forced)


def _light_draws(rng, counts, cumulative, forced_pairs, n_items) -> tuple[np.ndarray, ...]:
    """Items for users with few ratings: draws with replacement in proportion to popularity,
    each user keeping its first ``count`` distinct items (forced ones first). That is
    sampling without replacement, with no users x items array."""
    users = np.arange(len(counts))
    factor = 1.5
    kept_users, kept_items = [], []
    while len(users):
        draws = np.ceil(counts[users] * factor).astype(np.int64) + 8
        owner = np.repeat(users, draws)
        picked = np.searchsorted(cumulative, rng.random(len(owner)), side="right")
        picked = np.minimum(picked, n_items - 1)
        mine = np.isin(forced_pairs[0], users)
        owner = np.concatenate([forced_pairs[0][mine], owner])
        picked = np.concatenate([forced_pairs[1][mine], picked])
        keys = owner * n_items + picked
        _, first = np.unique(keys, return_index=True)
        first = np.sort(first)  # draw order, users in order since owners are sorted by user
        order = np.argsort(owner[first], kind="stable")
        first = first[order]
        owner_first = owner[first]
        start = np.searchsorted(owner_first, owner_first, side="left")
        rank = np.arange(len(first)) - start
        keep = rank < counts[owner_first]
        got = np.bincount(owner_first[keep], minlength=len(counts))
        done = got[users] >= counts[users]
        done_users = users[done]
        take = keep & np.isin(owner_first, done_users)
        kept_users.append(owner_first[take])
        kept_items.append(picked[first[take]])
        users = users[~done]
        factor *= 2
    return np.concatenate(kept_users), np.concatenate(kept_items)


def _heavy_draws(rng, counts, log_weights, forced_pairs) -> tuple[np.ndarray, np.ndarray]:
    """Items for users who rate a large share of the catalogue: the ``count`` largest of
    log-popularity plus Gumbel noise (exact sampling without replacement), forced ones first."""
    users, items = [], []
    for user, count in enumerate(counts):
        keys = log_weights + rng.gumbel(size=len(log_weights))
        keys[forced_pairs[1][forced_pairs[0] == user]] = np.inf
        chosen = np.argpartition(-keys, count - 1)[:count]
        users.append(np.full(count, user))
        items.append(chosen)
    return np.concatenate(users), np.concatenate(items)


def _chunk(rng, pop: Population, lo: int, hi: int, cal: dict, cumulative, log_weights
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ratings of users lo..hi-1: (user index, item index, stars)."""
    n_items = len(pop.item_rows)
    counts = pop.user_counts[lo:hi]
    forced_items = np.flatnonzero((pop.forced_user >= lo) & (pop.forced_user < hi))
    forced_pairs = (pop.forced_user[forced_items] - lo, forced_items)
    heavy = counts > HEAVY_SHARE * n_items
    users, items = [], []
    light_users = np.flatnonzero(~heavy)
    if len(light_users):
        local = np.full(len(counts), -1)
        local[light_users] = np.arange(len(light_users))
        mine = ~heavy[forced_pairs[0]]
        pairs = (local[forced_pairs[0][mine]], forced_pairs[1][mine])
        u, i = _light_draws(rng, counts[light_users], cumulative, pairs, n_items)
        users.append(light_users[u])
        items.append(i)
    heavy_users = np.flatnonzero(heavy)
    if len(heavy_users):
        local = np.full(len(counts), -1)
        local[heavy_users] = np.arange(len(heavy_users))
        mine = heavy[forced_pairs[0]]
        pairs = (local[forced_pairs[0][mine]], forced_pairs[1][mine])
        u, i = _heavy_draws(rng, counts[heavy_users], log_weights, pairs)
        users.append(heavy_users[u])
        items.append(i)
    users, items = np.concatenate(users), np.concatenate(items)
    order = np.argsort(users, kind="stable")
    users, items = users[order] + lo, items[order]
    stars = _stars(rng, cal, pop.user_rows[users], pop.item_rows[items])
    return users, items, stars


def _stars(rng, cal: dict, user_rows: np.ndarray, item_rows: np.ndarray,
           block: int = 8_192) -> np.ndarray:
    """Stars 1-5: the calibrated score plus noise, cut at the calibrated thresholds (in
    blocks, so the gathered factor rows never exceed ``block`` ratings)."""
    noise = cal["noise"] * rng.standard_normal(len(user_rows))
    stars = np.empty(len(user_rows), dtype=np.int8)
    for lo in range(0, len(user_rows), block):
        users, items = user_rows[lo:lo + block], item_rows[lo:lo + block]
        score = (cal["mean"] + cal["user_bias"][users] + cal["item_bias"][items]
                 + np.einsum("ij,ij->i", cal["user_factors"][users],
                             cal["item_factors"][items]) + noise[lo:lo + block])
        stars[lo:lo + block] = 1 + np.searchsorted(cal["thresholds"], score)
    return stars


def generate(shape: str, seed: int = 0, chunk_ratings: int = CHUNK_RATINGS,
             cal: dict | None = None):
    """Yield the ratings of ``shape`` chunk by chunk as (users, items, stars) arrays, users and
    items 0-based; each user's ratings sit in one chunk, users in increasing order."""
    if shape not in SHAPES:
        from .errors import UnknownNameError

        raise UnknownNameError(f"unknown synthetic shape {shape!r}; known: "
                               f"{', '.join(SHAPES)}")
    cal = calibration() if cal is None else cal
    pop = population(shape, seed, cal)
    cumulative = np.cumsum(pop.item_weights)
    cumulative /= cumulative[-1]
    log_weights = np.log(pop.item_weights)
    chunk_of_user = (np.cumsum(pop.user_counts) - 1) // chunk_ratings
    edges = [0, *(np.flatnonzero(np.diff(chunk_of_user)) + 1), len(pop.user_counts)]
    for index, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        rng = np.random.default_rng([seed, 1, index])
        yield _chunk(rng, pop, lo, hi, cal, cumulative, log_weights)


def frame(shape: str, seed: int = 0, cal: dict | None = None) -> pd.DataFrame:
    """All ratings of ``shape`` in memory (user and item ids from 1), for small shapes."""
    parts = list(generate(shape, seed, cal=cal))
    return pd.DataFrame({"user": np.concatenate([p[0] for p in parts]).astype(np.int64) + 1,
                         "item": np.concatenate([p[1] for p in parts]).astype(np.int64) + 1,
                         "rating": np.concatenate([p[2] for p in parts]).astype(np.float64)})


def write(shape: str, folder: Path, seed: int = 0, chunk_ratings: int = CHUNK_RATINGS
          ) -> dict[str, Path]:
    """Generate ``shape`` into ``folder`` as three raw column files (user.bin, item.bin,
    rating.bin), streamed chunk by chunk, then renamed into place; returns their paths.

    A write that fails (a full disk, a quota, a file-size limit) removes the partial files
    and raises its ``OSError``: the folder holds all three files or none of this call's.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / f"{name}.bin" for name, _ in COLUMNS}
    temporary = {name: path.with_suffix(".bin.part") for name, path in paths.items()}
    try:
        handles = {}
        for name, path in temporary.items():
            handles[name] = open(path, "wb")
        for users, items, stars in generate(shape, seed, chunk_ratings):
            for (name, dtype), values in zip(COLUMNS, (users + 1, items + 1, stars)):
                handles[name].write(values.astype(dtype).tobytes())
        for handle in handles.values():
            handle.close()  # flushes: a full disk may show only here
    except BaseException:
        for handle in handles.values():
            try:
                handle.close()
            except OSError:
                pass  # the buffer could not be flushed: the file goes anyway
        for path in temporary.values():
            path.unlink(missing_ok=True)
        raise
    for name in paths:
        os.replace(temporary[name], paths[name])
    return paths


def read(paths: dict[str, Path]) -> pd.DataFrame:
    """The ratings written by :func:`write` (user, item, rating)."""
    columns = {name: np.fromfile(paths[f"{name}.bin"], dtype=dtype) for name, dtype in COLUMNS}
    return pd.DataFrame({"user": columns["user"].astype(np.int64),
                         "item": columns["item"].astype(np.int64),
                         "rating": columns["rating"].astype(np.float64)})


def expected_bytes(shape: str) -> int:
    """The size of the three column files of ``shape``: 9 bytes a rating."""
    return SHAPES[shape][2] * sum(np.dtype(d).itemsize for _, d in COLUMNS)

