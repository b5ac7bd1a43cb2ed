"""The data cache: hash-checked copies of dataset files, from the cache, the mirror or the
publisher's URL.

Files are fetched with pooch into a cache directory (``RECSYS_DATA_DIR``, default the user cache
folder). When ``RECSYS_DATA_MIRROR`` names a directory laid out like the project's shared
dataset folder, files are copied from there before the network is tried; either way pooch checks
the hash before the file enters the cache, so a bad copy never lands there. One process at a
time checks and repairs a dataset's folder (a lock file beside it); temporary files left by a
killed fetch are removed; a download that stalls is given up after ``RECSYS_FETCH_TIMEOUT``
seconds.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import math
import os
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import requests

with warnings.catch_warnings():
    # pooch imports tqdm.auto, which warns "IProgress not found" inside a Jupyter kernel
    # without ipywidgets; the library never shows a notebook progress bar, so keep it quiet.
    warnings.filterwarnings("ignore", message="IProgress not found")
    import pooch

from .cache_folder import (  # noqa: F401  (the folder and its lock, used here and by data.py)
    DATA_DIR_ENV, LOCK_TIMEOUT_ENV, MIRROR_ENV, _cache_lock, cache_lock, data_dir, lock_timeout,
    mirror_dir)
from .errors import DataIntegrityError, DataUnavailableError

log = logging.getLogger(__name__)
pooch.get_logger().setLevel(logging.WARNING)  # recsys_lib logs its own, shorter messages

TIMEOUT_ENV = "RECSYS_FETCH_TIMEOUT"
DEFAULT_TIMEOUT = 30.0  # seconds without an answer before a download is given up
NETWORK_RETRIES = 2


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
    if not (value > 0 and math.isfinite(value)):
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




def fetch_files(name: str, sources, *, progressbar: bool = False
                ) -> tuple[Source, dict[str, Path]]:
    """Make the files of one of ``sources`` available in the cache folder ``name``, verified;
    returns the source and its local paths.

    Order: a valid cached copy of any source; the mirror (``$RECSYS_DATA_MIRROR``); the
    publisher's URL. Raises :class:`DataIntegrityError` for a copy with the wrong hash and
    :class:`DataUnavailableError` (listing what was tried) when no source can be obtained.
    """
    cache = data_dir() / name
    with _cache_lock(cache) as writable:  # one process at a time checks and repairs
        return _fetch_locked(name, sources, cache, writable, progressbar)


def _fetch_locked(name: str, sources, cache: Path, writable: bool, progressbar: bool
                  ) -> tuple[Source, dict[str, Path]]:
    for source in sources:
        if all(_valid_cached(cache, remote) for remote in source.files):
            return source, {f.name: cache / f.name for f in source.files}
    if not writable:
        raise _unwritable(cache)

    tried: list[str] = []
    mirror = mirror_dir()
    if mirror is None:
        tried.append(f"no mirror (${MIRROR_ENV} is not set)")
    elif not mirror.is_dir():
        tried.append(f"mirror {mirror} (${MIRROR_ENV}) is not a folder")
    else:
        for source in sources:
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
                except OSError as exc:  # a full disk or a file-size limit too
                    raise DataUnavailableError(
                        f"cannot copy {origin} into {cache}: {write_failure(exc)}") from None
            return source, paths

    for source in sources:
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
        except OSError as exc:  # a full disk or a file-size limit too
            raise DataUnavailableError(f"cannot write the download into {cache}: "
                                       f"{write_failure(exc)}") from None
        return source, paths
    raise DataUnavailableError(f"dataset {name!r} is not available: " + "; ".join(tried))


def write_failure(exc: OSError) -> str:
    """Why a copy into the cache failed, and that it left nothing there (pooch writes to a
    temporary file it removes, and moves it into place only when whole and verified)."""
    reason = {errno.ENOSPC: "no space left on the device",
              errno.EFBIG: "the file would exceed the file-size limit",
              errno.EDQUOT: "the disk quota is exceeded"}.get(exc.errno, exc.strerror or str(exc))
    return f"{reason}; nothing was written to the cache"


def cache_state(name: str, sources) -> str:
    """A short description of where a dataset's files are (without hashing or copying)."""
    cache = data_dir() / name
    for source in sources:
        if all((cache / f.name).is_file() for f in source.files):
            return f"cached ({source.label})"
    mirror = mirror_dir()
    if mirror is not None:
        for source in sources:
            if all((mirror / f.mirror_path).is_file() for f in source.files):
                return f"in mirror ({source.label})"
    return "not cached"
