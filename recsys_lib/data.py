"""Dataset registry, hash-checked downloads and loaders.

Every dataset is a :class:`DatasetSpec`: where its files come from (the publisher's URL and a
path inside an optional local mirror), their SHA-256 hashes, a licence note and a reader that
turns the files into a ratings DataFrame with columns ``user``, ``item``, ``rating`` and, where
the source has one, ``timestamp``.

Files are fetched with pooch into a cache directory (``RECSYS_DATA_DIR``, default the user cache
folder). When ``RECSYS_DATA_MIRROR`` names a directory laid out like the project's shared
dataset folder, files are copied from there before the network is tried; either way pooch checks
the hash before the file enters the cache, so a bad copy never lands there.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import logging
import os
import re
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import warnings

import numpy as np
import pandas as pd

with warnings.catch_warnings():
    # pooch imports tqdm.auto, which warns "IProgress not found" inside a Jupyter kernel
    # without ipywidgets; the library never shows a notebook progress bar, so keep it quiet.
    warnings.filterwarnings("ignore", message="IProgress not found")
    import pooch

from .errors import (
    DataIntegrityError,
    DataUnavailableError,
    InvalidRatingsError,
    UnknownNameError,
)

log = logging.getLogger(__name__)
pooch.get_logger().setLevel(logging.WARNING)  # recsys_lib logs its own, shorter messages

DATA_DIR_ENV = "RECSYS_DATA_DIR"
MIRROR_ENV = "RECSYS_DATA_MIRROR"
TIMEOUT_ENV = "RECSYS_FETCH_TIMEOUT"
DEFAULT_TIMEOUT = 30.0  # seconds without an answer before a download is given up
NETWORK_RETRIES = 2
LOCK_NAME = ".lock"  # beside the dataset folder: .ml-100k.lock
#: what pooch's temporary downloads are called (tempfile.NamedTemporaryFile in the cache)
TEMPORARY_NAME = re.compile(r"^tmp[a-z0-9_]{8}$")


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: its cache name, hash, size in bytes, mirror path and URL."""

    name: str
    sha256: str
    size: int
    mirror_path: str
    url: str | None = None  # None: the file is only available from a mirror


@dataclass(frozen=True)
class Source:
    """One way to obtain a dataset: a set of files and a reader turning them into ratings."""

    label: str
    files: tuple[RemoteFile, ...]
    reader: Callable[[dict[str, Path]], pd.DataFrame]


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


def get_dataset(name: str) -> DatasetSpec:
    """The registered spec called ``name``; :class:`UnknownNameError` lists the known names."""
    try:
        return DATASETS[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown dataset {name!r}; known datasets: {', '.join(sorted(DATASETS))}") from None


# --------------------------------------------------------------------------------------------
# Fetching


def data_dir() -> Path:
    """The cache directory: ``$RECSYS_DATA_DIR`` or the user cache folder."""
    return Path(os.environ.get(DATA_DIR_ENV) or pooch.os_cache("recsys_lib")).expanduser()


def mirror_dir() -> Path | None:
    """The mirror directory named by ``$RECSYS_DATA_MIRROR``, or None."""
    value = os.environ.get(MIRROR_ENV)
    return Path(value).expanduser() if value else None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _CheckedDownload:
    """Wraps a pooch downloader and records the size and hash of what it wrote.

    Pooch checks the hash and deletes a bad download; this wrapper keeps the facts needed to
    say what was wrong with it (actual hash, truncated size).
    """

    def __init__(self, inner: Callable) -> None:
        self.inner = inner
        self.last_size: int | None = None
        self.last_sha256: str | None = None

    def __call__(self, url, output_file, pooch_obj, check_only=False):
        self.inner(url, output_file, pooch_obj)
        self.last_size = Path(output_file).stat().st_size
        self.last_sha256 = sha256_of(Path(output_file))


def _copy_from(source_path: Path) -> Callable:
    def copy(url, output_file, pooch_obj):
        shutil.copyfile(source_path, output_file)
    return copy


def fetch_timeout() -> float:
    """Seconds to wait for an answer from a server: ``$RECSYS_FETCH_TIMEOUT`` or 30."""
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value > 0 and np.isfinite(value)):
        raise DataUnavailableError(f"${TIMEOUT_ENV} must be a positive number of seconds, "
                                   f"got {text!r}")
    return value


class _PatientDownload:
    """pooch's HTTP downloader that says what it waits for and gives up after ``timeout``
    seconds without an answer (connect or read), without retrying a stalled server."""

    def __init__(self, progressbar: bool, timeout: float) -> None:
        self.timeout = timeout
        self.inner = pooch.HTTPDownloader(progressbar=progressbar, timeout=timeout)

    def __call__(self, url, output_file, pooch_obj, check_only=False):
        import requests

        log.info("downloading %s (waiting at most %g s for an answer; $%s)", url, self.timeout,
                 TIMEOUT_ENV)
        try:
            return self.inner(url, output_file, pooch_obj)
        except requests.Timeout:
            raise DataUnavailableError(
                f"no answer from {url} within {self.timeout:g} s (the server accepted the "
                f"connection or the network is stalled); set ${TIMEOUT_ENV} to wait longer"
            ) from None


def _mismatch_message(remote: RemoteFile, origin: str, size: int | None, sha: str | None) -> str:
    message = (f"{remote.name} from {origin}: SHA-256 mismatch, expected {remote.sha256}, "
               f"got {sha}")
    if size is not None and size != remote.size:
        kind = "truncated" if size < remote.size else "larger than expected"
        message += f"; {size:,} bytes where {remote.size:,} were expected ({kind})"
    return message + ". The bad copy was deleted; nothing was written to the cache."


def _retrieve(remote: RemoteFile, cache: Path, origin: str, downloader: Callable,
              retries: int) -> Path:
    """Copy or download ``remote`` into ``cache`` through pooch's hash check."""
    checked = _CheckedDownload(downloader)
    fetcher = pooch.create(path=cache, base_url="", retry_if_failed=retries,
                           registry={remote.name: f"sha256:{remote.sha256}"},
                           urls={remote.name: origin})
    log.info("fetching %s from %s", remote.name, origin)
    try:
        return Path(fetcher.fetch(remote.name, downloader=checked))
    except ValueError as exc:
        if checked.last_sha256 is None:
            raise
        raise DataIntegrityError(
            _mismatch_message(remote, origin, checked.last_size, checked.last_sha256)) from exc


def _valid_cached(cache: Path, remote: RemoteFile) -> bool:
    """True if the cached copy exists with the right hash; a corrupt copy is removed.

    A directory or other non-file where the file belongs, or a file that cannot be read or
    removed, is explained (DataIntegrityError) rather than touched.
    """
    path = cache / remote.name
    if not os.path.lexists(path):
        return False
    if not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file (or a broken link)"
        raise DataIntegrityError(f"the cache expects the file {remote.name} at {path}, but "
                                 f"that is {kind}; move it away and fetch again")
    try:
        actual = sha256_of(path)
    except OSError as exc:
        raise DataIntegrityError(f"cannot read the cached file {path} ({exc.strerror or exc});"
                                 " fix its permissions or delete it") from None
    if actual == remote.sha256:
        return True
    log.warning("removing corrupt cached file %s: SHA-256 %s, expected %s", path, actual,
                remote.sha256)
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise DataIntegrityError(f"the cached file {path} is corrupt (SHA-256 {actual}) and "
                                 f"cannot be removed ({exc.strerror or exc}); delete it by "
                                 "hand") from None
    return False


def _clean_temporaries(cache: Path) -> None:
    """Remove pooch temporary files left by killed fetches (call with the cache lock held)."""
    for path in cache.iterdir():
        if TEMPORARY_NAME.match(path.name) and path.is_file() and not path.is_symlink():
            with contextlib.suppress(OSError):
                path.unlink()
                log.info("removed %s, left by an interrupted fetch", path)


@contextlib.contextmanager
def _cache_lock(cache: Path):
    """Hold an exclusive lock on the dataset's cache folder; yields True, or False when the
    folder cannot be written (a read-only cache still serves files that are valid)."""
    if cache.exists() and not cache.is_dir():
        raise DataUnavailableError(f"the cache folder {cache} is not a directory; move it away "
                                   f"or set ${DATA_DIR_ENV} to another folder")
    try:
        cache.mkdir(parents=True, exist_ok=True)
        lock = cache.parent / f".{cache.name}{LOCK_NAME}"
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT):
            raise DataUnavailableError(f"cannot use the cache folder {cache}: "
                                       f"{exc.strerror or exc}") from None
        yield False
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        writable = os.access(cache, os.W_OK | os.X_OK)
        if writable:
            _clean_temporaries(cache)
        yield writable
    finally:
        os.close(fd)


def _unwritable(cache: Path) -> DataUnavailableError:
    return DataUnavailableError(f"the cache folder {cache} is not writable and holds no valid "
                                f"copy; make it writable or set ${DATA_DIR_ENV} to another folder")


def _check_mirror_size(remote: RemoteFile, origin: Path) -> None:
    """Refuse a mirror file of the wrong size before copying a byte of it."""
    size = origin.stat().st_size
    if size != remote.size:
        kind = "truncated" if size < remote.size else "larger than expected"
        raise DataIntegrityError(
            f"{remote.name} from {origin}: not copied: expected {remote.sha256} of "
            f"{remote.size:,} bytes, found {size:,} bytes ({kind}); replace the mirror copy")


def fetch(dataset: str | DatasetSpec, *, progressbar: bool = False) -> FetchedDataset:
    """Make the files of a dataset available locally, verified, and say which source they are.

    Order: a valid cached copy of any source; the mirror (``$RECSYS_DATA_MIRROR``); the
    publisher's URL. Raises :class:`DataIntegrityError` for a copy with the wrong hash and
    :class:`DataUnavailableError` (listing what was tried) when no source can be obtained.
    """
    spec = get_dataset(dataset) if isinstance(dataset, str) else dataset
    cache = data_dir() / spec.name
    with _cache_lock(cache) as writable:  # one process at a time checks and repairs
        return _fetch_locked(spec, cache, writable, progressbar)


def _fetch_locked(spec: DatasetSpec, cache: Path, writable: bool, progressbar: bool
                  ) -> FetchedDataset:
    for source in spec.sources:
        if all(_valid_cached(cache, remote) for remote in source.files):
            return FetchedDataset(spec, source, {f.name: cache / f.name for f in source.files})
    if not writable:
        raise _unwritable(cache)

    tried: list[str] = []
    mirror = mirror_dir()
    if mirror is None:
        tried.append(f"no mirror (${MIRROR_ENV} is not set)")
    else:
        for source in spec.sources:
            missing = [f.mirror_path for f in source.files
                       if not (mirror / f.mirror_path).is_file()]
            if missing:
                tried.append(f"mirror {mirror} has no {', '.join(missing)}")
                continue
            paths = {}
            for f in source.files:
                origin = mirror / f.mirror_path
                try:
                    _check_mirror_size(f, origin)
                    paths[f.name] = _retrieve(f, cache, str(origin), _copy_from(origin),
                                              retries=0)
                except (PermissionError, IsADirectoryError) as exc:
                    raise DataUnavailableError(
                        f"cannot copy {origin} into {cache}: {exc.strerror or exc}") from None
            return FetchedDataset(spec, source, paths)

    import requests  # pooch's own dependency; only its exception types are used here

    for source in spec.sources:
        if any(f.url is None for f in source.files):
            tried.append(f"{source.label}: mirror only, no download URL")
            continue
        try:
            paths = {f.name: _retrieve(f, cache, f.url,
                                       _PatientDownload(progressbar, fetch_timeout()),
                                       retries=NETWORK_RETRIES)
                     for f in source.files}
        except requests.RequestException as exc:
            tried.append(f"download of {source.label} failed: {type(exc).__name__}: {exc}")
            continue
        except DataUnavailableError as exc:
            tried.append(f"download of {source.label} failed: {exc}")
            continue
        except (PermissionError, IsADirectoryError) as exc:
            raise DataUnavailableError(f"cannot write the download into {cache}: "
                                       f"{exc.strerror or exc}") from None
        return FetchedDataset(spec, source, paths)
    raise DataUnavailableError(f"dataset {spec.name!r} is not available: " + "; ".join(tried))


def load_ratings(dataset: str | DatasetSpec) -> pd.DataFrame:
    """The ratings of a dataset as a DataFrame: user, item, rating[, timestamp]."""
    return fetch(dataset).read()


def validate_ratings(ratings: pd.DataFrame, spec: DatasetSpec) -> None:
    """Check a ratings frame against the dataset's contract; raise InvalidRatingsError."""
    check_ratings_frame(ratings, spec.rating_scale, spec.name)
    if len(ratings) == 0:
        raise InvalidRatingsError(f"{spec.name}: the ratings file holds no ratings")


def check_rating_scale(rating_scale, label: str) -> tuple[float, float]:
    """``(low, high)`` as floats when both are finite and low < high; InvalidRatingsError
    otherwise (a reversed scale would clip every prediction to the wrong end)."""
    try:
        low, high = (float(v) for v in rating_scale)
    except (TypeError, ValueError):
        raise InvalidRatingsError(f"{label}: the rating scale must be two numbers (low, high), "
                                  f"got {rating_scale!r}") from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise InvalidRatingsError(f"{label}: the rating scale ({low:g}, {high:g}) must be two "
                                  "finite numbers with low < high")
    return low, high


def _examples(frame: pd.DataFrame, bad: np.ndarray) -> list:
    return frame.loc[bad].head(3).to_dict("records")


def _check_ids(frame: pd.DataFrame, column: str, label: str) -> None:
    ids = frame[column]
    missing = ids.isna().to_numpy()
    if missing.any():
        raise InvalidRatingsError(f"{label}: {int(missing.sum())} of {len(ids)} rows have no "
                                  f"{column} id (NaN or None), for example "
                                  f"{_examples(frame, missing)}")
    if ids.dtype == bool:
        raise InvalidRatingsError(f"{label}: the {column} ids are booleans, not ids")
    if ids.dtype == object:
        kinds = ids.map(lambda v: "text" if isinstance(v, str) else
                        "number" if isinstance(v, (int, float, np.number))
                        and not isinstance(v, (bool, np.bool_)) else type(v).__name__)
        counts = kinds.value_counts()
        if len(counts) > 1:
            odd = (kinds != counts.index[0]).to_numpy()
            mix = ", ".join(f"{n} {k}" for k, n in counts.items())
            raise InvalidRatingsError(
                f"{label}: the {column} ids mix types ({mix}); {int(odd.sum())} rows differ "
                f"from the rest, for example {_examples(frame, odd)}")


def check_ratings_frame(frame: pd.DataFrame, rating_scale, label: str) -> None:
    """Check a ratings frame at the door; InvalidRatingsError counts the offending rows.

    Columns user, item, rating must exist; ids must be present (no NaN) and of one kind
    (all numbers or all text); ratings must be numbers, finite and on ``rating_scale``
    (low, high), which itself must satisfy low < high.
    """
    low, high = check_rating_scale(rating_scale, label)
    if not isinstance(frame, pd.DataFrame):
        raise InvalidRatingsError(f"{label}: ratings must be a DataFrame with columns user, "
                                  f"item, rating, got {type(frame).__name__}")
    missing = {"user", "item", "rating"} - set(frame.columns)
    if missing:
        raise InvalidRatingsError(f"{label}: ratings lack the columns {sorted(missing)}")
    for column in ("user", "item"):
        _check_ids(frame, column, label)
    raw = frame["rating"]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    not_number = np.isnan(values) & raw.notna().to_numpy()
    if not_number.any():
        raise InvalidRatingsError(f"{label}: {int(not_number.sum())} ratings are not numbers, "
                                  f"for example {_examples(frame, not_number)}")
    bad = ~((values >= low) & (values <= high))  # NaN and infinity count as bad
    if bad.any():
        n_nan, n_inf = int(np.isnan(values).sum()), int(np.isinf(values).sum())
        raise InvalidRatingsError(
            f"{label}: {int(bad.sum())} ratings are off the declared scale [{low:g}, {high:g}] "
            f"or missing ({n_nan} NaN, {n_inf} infinite, {int(bad.sum()) - n_nan - n_inf} "
            f"outside), for example {_examples(frame, bad)}")


def cache_state(spec: DatasetSpec) -> str:
    """A short description of where the dataset's files are (without hashing or copying)."""
    cache = data_dir() / spec.name
    for source in spec.sources:
        if all((cache / f.name).is_file() for f in source.files):
            return f"cached ({source.label})"
    mirror = mirror_dir()
    if mirror is not None:
        for source in spec.sources:
            if all((mirror / f.mirror_path).is_file() for f in source.files):
                return f"in mirror ({source.label})"
    return "not cached"
