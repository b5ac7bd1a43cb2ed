"""The cache folder: where datasets are cached (``$RECSYS_DATA_DIR``, else the user cache
folder, else a folder in TMPDIR when HOME is missing or read-only), where the mirror is, and
the lock that lets one process at a time check and repair a dataset's folder: a process that
waits for another's lock says whom it waits for, and gives up after ``$RECSYS_LOCK_TIMEOUT``
seconds."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import math
import os
import re
import tempfile
import time
import warnings
from pathlib import Path

with warnings.catch_warnings():  # as in cache.py: pooch's tqdm.auto import warns in Jupyter
    warnings.filterwarnings("ignore", message="IProgress not found")
    import pooch

from .checks import check_output_path
from .errors import DataUnavailableError

log = logging.getLogger("recsys_lib.cache")

DATA_DIR_ENV = "RECSYS_DATA_DIR"
MIRROR_ENV = "RECSYS_DATA_MIRROR"
LOCK_TIMEOUT_ENV = "RECSYS_LOCK_TIMEOUT"
STOPPED_WAIT = 10.0  # seconds: a stopped holder cannot finish until someone resumes it
DEFAULT_LOCK_TIMEOUT = 600.0  # seconds: a mirror copy takes seconds, a slow download minutes
LOCK_NAME = ".lock"  # beside the dataset folder: .ml-100k.lock
#: what pooch's temporary downloads are called (tempfile.NamedTemporaryFile in the cache)
TEMPORARY_NAME = re.compile(r"^tmp[a-z0-9_]{8}$")


def _usable_folder(folder: Path) -> bool:
    """Whether ``folder`` exists or can be made, and can be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (OSError, RuntimeError):
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def data_dir() -> Path:
    """The cache directory: ``$RECSYS_DATA_DIR``, else the user cache folder, else (a missing
    or read-only HOME) ``recsys_lib-cache-UID`` in the temporary folder, said once on the log.
    A folder the user named is used as named: its problems are reported where it is used."""
    named = os.environ.get(DATA_DIR_ENV)
    if named:
        # ~user of no one, a name too long or a loop of links: one error naming the setting
        return check_output_path(named, f"cache folder ${DATA_DIR_ENV}", DataUnavailableError)
    default = Path(pooch.os_cache("recsys_lib"))
    if _usable_folder(default):
        return default
    fallback = Path(tempfile.gettempdir()) / f"recsys_lib-cache-{os.getuid()}"
    if fallback not in _FALLBACK_SAID:
        _FALLBACK_SAID.add(fallback)
        log.info("the user cache folder %s cannot be written (HOME read-only or missing); "
                 "caching datasets in %s (set $%s to choose)", default, fallback, DATA_DIR_ENV)
    return fallback


_FALLBACK_SAID: set = set()


def expand_path(text: str, label: str, error: type = DataUnavailableError) -> Path:
    """``text`` with ``~`` or ``~user`` expanded; ``error`` naming ``label`` when the user
    does not exist (``Path.expanduser`` raises RuntimeError)."""
    try:
        return Path(text).expanduser()
    except RuntimeError:
        raise error(f"{label} {text!r}: no such user's home folder "
                    f"({text.split('/')[0]})") from None


def mirror_dir() -> Path | None:
    """The mirror directory named by ``$RECSYS_DATA_MIRROR``, or None."""
    value = os.environ.get(MIRROR_ENV)
    return expand_path(value, f"${MIRROR_ENV}") if value else None


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
        _wait_for_lock(fd, lock, cache)
        writable = os.access(cache, os.W_OK | os.X_OK)
        if writable:
            _clean_temporaries(cache)
        yield writable
    finally:
        os.close(fd)


def lock_timeout() -> float:
    """Seconds to wait for another process's lock on a dataset's cache folder
    (``$RECSYS_LOCK_TIMEOUT``, default :data:`DEFAULT_LOCK_TIMEOUT`)."""
    text = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_LOCK_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise DataUnavailableError(f"${LOCK_TIMEOUT_ENV}={text!r} must be a number of "
                                   "seconds, 0 or more")
    return value


def _holder(lock: Path) -> str:
    """Who holds ``lock``, from the process id its holder wrote into it: 'process N', with
    '(stopped)' when that process is stopped (SIGSTOP, Ctrl-Z)."""
    try:
        pid = int(lock.read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return "another process"
    try:
        state = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        state = ""
    return f"process {pid}" + (" (stopped)" if state in ("T", "t") else "")


def _wait_for_lock(fd: int, lock: Path, cache: Path) -> None:
    """Take the exclusive lock on ``fd``; while another process holds it, say so once (who
    holds it, for how long we wait) and give up with DataUnavailableError after
    :func:`lock_timeout` seconds, or after :data:`STOPPED_WAIT` seconds (at most) while the
    holder is stopped: it cannot finish until resumed. The holder's process id is written
    into the lock file."""
    limit, started, said = lock_timeout(), time.monotonic(), False
    stopped_since = None
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            pass
        now, holder = time.monotonic(), _holder(lock)
        stopped = holder.endswith("(stopped)")
        stopped_since = (stopped_since or now) if stopped else None
        gave_up = (limit if now - started >= limit else
                   min(limit, STOPPED_WAIT) if stopped and now - stopped_since >= STOPPED_WAIT
                   else None)
        if gave_up is not None:
            raise DataUnavailableError(
                f"gave up after {gave_up:g} s waiting for the lock {lock} on the cache folder "
                f"{cache}, held by {holder}; end or resume that process, or set "
                f"${LOCK_TIMEOUT_ENV} to wait longer")
        if not said:
            said = True
            log.info("waiting for %s, which holds the lock %s on %s (giving up after %g s, "
                     "or %g s while it is stopped; $%s)", holder, lock, cache, limit,
                     min(limit, STOPPED_WAIT), LOCK_TIMEOUT_ENV)
        time.sleep(0.2)
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)


cache_lock = _cache_lock  # the lock, for data.py's generated (synthetic) datasets
