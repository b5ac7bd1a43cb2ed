"""Dataset registry, hash-checked downloads and loaders.

Every dataset is a :class:`DatasetSpec`: where its files come from (the publisher's URL and a
path inside an optional local mirror), their SHA-256 hashes, a licence note and a reader that
turns the files into a ratings DataFrame with columns ``user``, ``item``, ``rating`` and, where
the source has one, ``timestamp``.

The files are fetched and verified by :mod:`recsys_lib.cache` (the cache, then the mirror
``RECSYS_DATA_MIRROR``, then the publisher's URL, always through the hash check).
"""

from __future__ import annotations

import io
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import cache, synthetic
from .cache import (  # noqa: F401  (the data API: where files are, and how long to wait)
    DATA_DIR_ENV, MIRROR_ENV, TIMEOUT_ENV, RemoteFile, Source, data_dir, fetch_files,
    fetch_timeout, mirror_dir, sha256_of)
from .errors import (DataIntegrityError, DataUnavailableError, InvalidRatingsError,
                     UnknownNameError)
from .checks import check_ratings_frame


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset. ``sources`` are tried in order (first the preferred one)."""

    name: str
    title: str
    homepage: str
    licence: str
    rating_scale: tuple[float, float]
    sources: tuple[Source, ...]
    notes: str = ""
    synthetic: bool = False  # generated here from a seed (recsys_lib/synthetic.py)


@dataclass(frozen=True)
class FetchedDataset:
    """The verified local files of a dataset and the source they belong to."""

    spec: DatasetSpec
    source: Source
    paths: dict[str, Path]

    def read(self) -> pd.DataFrame:
        """Read and validate the ratings (columns user, item, rating[, timestamp])."""
        ratings = self.source.reader(self.paths)
        validate_ratings(ratings, self.spec)
        return ratings


# --------------------------------------------------------------------------------------------
# Readers


def _zip_member(path: Path, member: str) -> bytes:
    """Bytes of one member of a zip archive, with a clear error for a damaged archive."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.read(member)
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
        raise DataIntegrityError(f"{path} is not a readable zip archive ({exc}); "
                                 "delete it and fetch the dataset again") from exc
    except KeyError as exc:
        raise DataIntegrityError(f"{path} has no member {member!r}") from exc


def _read_tab_ratings(raw: bytes, separator: bytes, with_timestamp: bool) -> pd.DataFrame:
    columns = ["user", "item", "rating"] + (["timestamp"] if with_timestamp else [])
    text = raw.replace(separator, b"\t") if separator != b"\t" else raw
    frame = pd.read_csv(io.BytesIO(text), sep="\t", header=None, names=columns,
                        dtype={"user": np.int64, "item": np.int64, "rating": np.float64})
    return frame


def read_ml100k_member(path: Path, member: str) -> pd.DataFrame:
    """Ratings of one ML-100K file such as ``u.data`` or ``u1.base`` (tab separated, 4 columns)."""
    return _read_tab_ratings(_zip_member(path, f"ml-100k/{member}"), b"\t", with_timestamp=True)


def _read_ml100k(paths: dict[str, Path]) -> pd.DataFrame:
    return read_ml100k_member(paths["ml-100k.zip"], "u.data")


def _read_ml1m_zip(paths: dict[str, Path]) -> pd.DataFrame:
    raw = _zip_member(paths["ml-1m.zip"], "ml-1m/ratings.dat")
    return _read_tab_ratings(raw, b"::", with_timestamp=True)


def _read_ml1m_without_timestamps(paths: dict[str, Path]) -> pd.DataFrame:
    raw = paths["ratings_without_timestamps.dat"].read_bytes()
    return _read_tab_ratings(raw, b"::", with_timestamp=False)


def read_douban_arrays(path: Path) -> dict[str, np.ndarray]:
    """The Douban MATLAB v7.3 arrays ``M``, ``Otraining``, ``Otest`` as users x items float32."""
    import h5py

    try:
        with h5py.File(path, "r") as db:
            # MATLAB stores column-major: transpose to get users x items.
            return {key: np.asarray(db[key], dtype=np.float32).T
                    for key in ("M", "Otraining", "Otest")}
    except OSError as exc:
        raise DataIntegrityError(f"{path} is not a readable MATLAB v7.3 file ({exc})") from exc


def _read_douban(paths: dict[str, Path]) -> pd.DataFrame:
    matrix = read_douban_arrays(paths["training_test_dataset.mat"])["M"]
    users, items = np.nonzero(matrix)
    return pd.DataFrame({"user": users.astype(np.int64), "item": items.astype(np.int64),
                         "rating": matrix[users, items].astype(np.float64)})


JESTER_MISSING = 99.0


def _read_jester(paths: dict[str, Path]) -> pd.DataFrame:
    raw = _zip_member(paths["jester-data-1.zip"], "jester-data-1.csv")
    table = pd.read_csv(io.BytesIO(raw), header=None).to_numpy(dtype=np.float64)
    scores = table[:, 1:]  # column 0 is the number of jokes the user rated
    users, items = np.nonzero(scores != JESTER_MISSING)
    return pd.DataFrame({"user": users.astype(np.int64) + 1, "item": items.astype(np.int64) + 1,
                         "rating": scores[users, items]})


def _read_amazon(paths: dict[str, Path]) -> pd.DataFrame:
    frame = pd.read_csv(paths["ratings_Electronics_sample.csv"],
                        dtype={"UserId": str, "ItemId": str, "rating": np.float64,
                               "timestamp": np.int64})
    return frame.rename(columns={"UserId": "user", "ItemId": "item"})


# --------------------------------------------------------------------------------------------
# Registry

_GROUPLENS_LICENCE = (
    "GroupLens research licence: free for research use, no redistribution without permission, "
    "cite F. M. Harper and J. A. Konstan, ACM TiiS 5(4), 2015.")

DATASETS: dict[str, DatasetSpec] = {}


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add a dataset to the registry (tests use this for small local datasets)."""
    DATASETS[spec.name] = spec
    return spec


register_dataset(DatasetSpec(
    name="ml-100k",
    title="MovieLens 100K",
    homepage="https://grouplens.org/datasets/movielens/100k/",
    licence=_GROUPLENS_LICENCE,
    rating_scale=(1.0, 5.0),
    sources=(Source("official zip", (RemoteFile(
        "ml-100k.zip", "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        4_924_029, "movielens/ml-100k.zip",
        "https://files.grouplens.org/datasets/movielens/ml-100k.zip"),), _read_ml100k),),
    notes="100,000 ratings 1-5 by 943 users on 1,682 movies; ships the u1..u5, ua, ub splits.",
))

register_dataset(DatasetSpec(
    name="ml-1m",
    title="MovieLens 1M",
    homepage="https://grouplens.org/datasets/movielens/1m/",
    licence=_GROUPLENS_LICENCE,
    rating_scale=(1.0, 5.0),
    sources=(
        Source("official zip", (RemoteFile(
            "ml-1m.zip", "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
            5_917_549, "movielens/ml-1m.zip",
            "https://files.grouplens.org/datasets/movielens/ml-1m.zip"),), _read_ml1m_zip),
        Source("mirror: ratings.dat without timestamps (same ratings, same line order)",
               (RemoteFile("ratings_without_timestamps.dat",
                           "2dad134c8b493373beed8d2a42e18ec2a93606fd957bd76c0bfbdef5c514b985",
                           13_553_874, "movielens/ml-1m/ratings_without_timestamps.dat"),),
               _read_ml1m_without_timestamps),
    ),
    notes="1,000,209 ratings 1-5 by 6,040 users on 3,706 movies. The mirror copy has no "
          "timestamps: do not use it for time-based splits.",
))

register_dataset(DatasetSpec(
    name="douban",
    title="Douban (Monti et al. 2017 subset)",
    homepage="https://github.com/fmonti/mgcnn",
    licence="Released with the mgcnn code of F. Monti, M. Bronstein and X. Bresson (NIPS 2017) "
            "for research; cite that paper.",
    rating_scale=(1.0, 5.0),
    sources=(Source("authors' MATLAB file", (RemoteFile(
        "training_test_dataset.mat",
        "1f4476321cbfe0f606e7e35d0695ca15447a1b0b2c811df130109b6cb9a067ae", 2_778_554,
        "douban/training_test_dataset.mat",
        "https://raw.githubusercontent.com/fmonti/mgcnn/75843411c72c1a81c9c086d21cda4ec98f1d9226"
        "/Data/douban/training_test_dataset.mat"),), _read_douban),),
    notes="3,000 x 3,000 users x items, 136,891 ratings 1-5, with the authors' train/test masks.",
))

register_dataset(DatasetSpec(
    name="jester",
    title="Jester dataset 1, part 1 (CSV export)",
    homepage="https://eigentaste.berkeley.edu/dataset/",
    licence="Free for research use; cite K. Goldberg et al., Information Retrieval 4(2), 2001. "
            "This is a third-party CSV export of jester-data-1.xls, not the publisher's archive.",
    rating_scale=(-10.0, 10.0),
    sources=(Source("CSV export of jester-data-1.xls", (RemoteFile(
        "jester-data-1.zip", "4adf783a1e03bd3be063315cb6e0a064fe63e983fd289d01b8e401a8e6c41e5f",
        3_400_621, "jester/jester-data-1.zip",
        "https://raw.githubusercontent.com/negi-soumya/eigentaste/"
        "0877aa8b2b16531cc806a77bae606ad2b8ee5122/jester-data-1.zip"),), _read_jester),),
    notes="24,983 users, 100 jokes, 1,810,455 continuous ratings in [-10, 10].",
))

register_dataset(DatasetSpec(
    name="amazon-electronics",
    title="Amazon Electronics ratings (first 50,698 rows)",
    homepage="https://jmcauley.ucsd.edu/data/amazon/",
    licence="Research use; cite J. McAuley et al., SIGIR 2015. A third-party sample: the first "
            "rows of the item-grouped ratings file, not a random sample.",
    rating_scale=(1.0, 5.0),
    sources=(Source("sample of ratings_Electronics.csv", (RemoteFile(
        "ratings_Electronics_sample.csv",
        "ff848486cfb5bb243eae20e27eb41c0fba470ce7926b9c1d6098cfde160a396e", 2_053_439,
        "amazon/ratings_Electronics_sample.csv",
        "https://raw.githubusercontent.com/tribo2003/Recommendation-System-Project/"
        "6d3c03abdf64d96de383e99a5db7bbb2a794105d/ratings_Electronics.csv"),), _read_amazon),),
    notes="50,698 ratings 1-5 by 47,141 users on 3,529 items: extremely sparse.",
))


_SYNTHETIC_NOTES = (
    "Synthetic, generated here from seed 0 by recsys_lib/synthetic.py with {0:,} users, "
    "{1:,} items and {2:,} ratings: the counts of {3}. Activity, popularity, biases and "
    "factors are calibrated on real ML-1M (recsys_lib/synthetic_calibration.json) for every "
    "shape, and ratings are whole stars 1-5 even where the real set has half stars "
    "(ML-10M, ML-20M, ML-25M), which cannot be measured here. Never compare its RMSEs with "
    "published figures.")

for _shape, _counts in synthetic.SHAPES.items():
    _copied = _shape.removeprefix(synthetic.SYNTHETIC_PREFIX)
    register_dataset(DatasetSpec(
        name=_shape,
        title=(f"Synthetic stand-in shaped like ML-{_copied[2:].upper()}"
               if _copied != "small"
               else "Synthetic stand-in, small (for tests)"),
        homepage="https://grouplens.org/datasets/movielens/ (the shapes' source)",
        licence="Generated from a seed by recsys_lib; no licence restriction. Its "
                "calibration is measured on MovieLens 1M (GroupLens research licence).",
        rating_scale=(1.0, 5.0),
        sources=(),
        notes=_SYNTHETIC_NOTES.format(*_counts, "a small set for tests" if _copied == "small"
                                      else f"ML-{_copied[2:].upper()}"),
        synthetic=True,
    ))


def real_datasets() -> list[str]:
    """The names of the registered datasets that are not synthetic, in registry order."""
    return [name for name, spec in DATASETS.items() if not spec.synthetic]


def get_dataset(name: str) -> DatasetSpec:
    """The registered spec called ``name``; :class:`UnknownNameError` lists the known names."""
    try:
        return DATASETS[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown dataset {name!r}; known datasets: {', '.join(sorted(DATASETS))}") from None


def fetch(dataset: str | DatasetSpec, *, progressbar: bool = False) -> FetchedDataset:
    """The verified local files of a dataset (:func:`recsys_lib.cache.fetch_files`): a valid
    cached copy of any source, else the mirror, else the publisher's URL."""
    spec = get_dataset(dataset) if isinstance(dataset, str) else dataset
    if spec.synthetic:
        return _generated(spec)
    source, paths = fetch_files(spec.name, spec.sources, progressbar=progressbar)
    return FetchedDataset(spec, source, paths)


_GENERATED = Source("generated from seed 0 (recsys_lib/synthetic.py)", (),
                    synthetic.read)


def _synthetic_paths(spec: DatasetSpec) -> dict[str, Path]:
    folder = data_dir() / spec.name / f"seed-0-{synthetic.fingerprint()}"
    return {f"{name}.bin": folder / f"{name}.bin" for name, _ in synthetic.COLUMNS}


def _is_generated(spec: DatasetSpec) -> bool:
    """All three column files are there, each of its expected size."""
    rows = synthetic.SHAPES[spec.name][2]
    return all(path.is_file() and path.stat().st_size
               == rows * np.dtype(dtype).itemsize
               for path, (_, dtype) in zip(_synthetic_paths(spec).values(),
                                           synthetic.COLUMNS))


def _check_room(spec: DatasetSpec, folder: Path) -> None:
    """Refuse before generating when the cache's disk has less free space than the files."""
    needed = synthetic.expected_bytes(spec.name)
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise DataUnavailableError(
            f"cannot generate {spec.name} into {folder}: it needs {needed / 1e6:,.1f} MB "
            f"and the disk has {free / 1e6:,.1f} MB free; set {DATA_DIR_ENV} to a folder "
            "with more room")


def _generated(spec: DatasetSpec) -> FetchedDataset:
    """The synthetic dataset's files in the cache, generated (streamed) on first use."""
    paths = _synthetic_paths(spec)
    with cache.cache_lock(data_dir() / spec.name) as writable:  # one process generates
        if not _is_generated(spec):
            if not writable:
                raise DataUnavailableError(f"{spec.name} is not generated and the cache "
                                           f"folder {data_dir()} cannot be written")
            folder = next(iter(paths.values())).parent
            _check_room(spec, folder)
            try:
                synthetic.write(spec.name, folder, seed=0)
            except OSError as exc:  # a full disk, a quota or a file-size limit
                raise DataUnavailableError(f"cannot generate {spec.name} into {folder}: "
                                           f"{cache.write_failure(exc)}") from None
    return FetchedDataset(spec, _GENERATED, paths)


def load_ratings(dataset: str | DatasetSpec) -> pd.DataFrame:
    """The ratings of a dataset as a DataFrame: user, item, rating[, timestamp]."""
    return fetch(dataset).read()


def validate_ratings(ratings: pd.DataFrame, spec: DatasetSpec) -> None:
    """Check a ratings frame against the dataset's contract; raise InvalidRatingsError."""
    check_ratings_frame(ratings, spec.rating_scale, spec.name)
    if len(ratings) == 0:
        raise InvalidRatingsError(f"{spec.name}: the ratings file holds no ratings")


def cache_state(spec: DatasetSpec) -> str:
    """Where the dataset's files are: cached, in the mirror or not at hand."""
    if spec.synthetic:
        return ("synthetic, generated" if _is_generated(spec)
                else "synthetic, generated on first use")
    return cache.cache_state(spec.name, spec.sources)
