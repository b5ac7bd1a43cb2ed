"""The record ledger: reading record files and writing runs to them safely.

A record file is JSON Lines: one finished run per line (the summary printed by
``python -m recsys_lib train ...`` plus ``command``, ``recorded_on`` and ``machine``).
Blank lines are allowed; any other line that is not one JSON object makes the file damaged,
and every reader and writer here refuses it with the file name and line number. The one
exception is an *incomplete last line* (no final newline, not valid JSON): the trace of a
write cut short by a power cut or a killed process. Readers ignore it and say so; the next
record written removes it and says so. A last line that is whole but lacks its newline is
an ordinary line.

How a record is written (:func:`append_record`):

* under an exclusive ``flock`` on the record file itself (re-taken if another process
  replaced the file while we waited), so concurrent appenders never lose a line;
* a new command as one complete line appended with a single write (old bytes untouched);
  if the write fails (a full disk, a file-size limit) the file is truncated back to its old
  length, so a line is whole or absent;
* a command already in the file replaces its line: the whole file is written to a unique
  temporary name in the same folder, fsynced and renamed over the old one, so a process
  killed at any point leaves the old or the new file, never a half-written one;
* strict JSON only: NaN and infinity are written as ``null``.

Links and permissions (checked by :func:`check_record_target` before a run starts): a symbolic
link is written *through*, so the link stays a link and its target gets the new line; a
record file without any write permission bit is treated as protected and refused (even for
root), as are a directory, a folder that cannot be written and a damaged file.
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import glob
import json
import logging
import math
import os
import re
import stat
import tempfile
from pathlib import Path

import numpy as np

from .checks import check_output_path
from .errors import RecordFileError, RecsysError
from .machine import machine_facts

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------
# Strict JSON


def strict(value):
    """``value`` with numpy scalars and arrays made plain and NaN/infinity made None, so
    ``json.dumps(..., allow_nan=False)`` accepts it (strict JSON readers reject NaN)."""
    if isinstance(value, dict):
        return {str(k): strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    if isinstance(value, np.ndarray):
        return strict(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


def dumps(value) -> str:
    """One line of strict JSON for ``value`` (see :func:`strict`)."""
    return json.dumps(strict(value), allow_nan=False)


# --------------------------------------------------------------------------------------------
# Reading


def split_tail(text: str) -> tuple[str, str]:
    """(the whole lines of ``text``, an incomplete last line or ""). A last line without
    its newline that is valid JSON is whole (written by hand, or cut exactly there)."""
    if not text or text.endswith("\n"):
        return text, ""
    start = text.rfind("\n") + 1
    last = text[start:]
    if not last.strip():
        return text, ""
    try:
        json.loads(last)
        return text, ""
    except ValueError:
        return text[:start], last


def incomplete_line_note(path: Path, text: str, partial: str, action: str) -> str:
    """The message for an incomplete last line of ``path``: where, what and ``action``."""
    return (f"{path}, line {text.count(chr(10)) + 1}: an incomplete last line "
            f"({len(partial.encode('utf-8', 'replace'))} bytes, starting {partial[:30]!r}), "
            f"left by an interrupted write, {action}")


def parse_lines(path: Path, text: str) -> list[tuple[int, str, dict]]:
    """(line number, raw line, entry) of every non-blank line; RecordFileError otherwise.
    An incomplete last line (:func:`split_tail`) is skipped with a warning."""
    whole, partial = split_tail(text)
    if partial:
        log.warning(incomplete_line_note(path, whole, partial, "is ignored (the next record "
                                         "written to the file removes it)"))
    entries = []
    for number, line in enumerate(whole.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError as exc:
            raise RecordFileError(
                f"{path}, line {number}: damaged record ({exc.msg}; the line starts "
                f"{line[:40]!r}); repair or remove that line") from None
        if not isinstance(entry, dict):
            raise RecordFileError(f"{path}, line {number}: damaged record (a JSON "
                                  f"{type(entry).__name__}, not an object); repair or remove it")
        entries.append((number, line, entry))
    return entries


def read_text(path: Path) -> str:
    """The text of a record file. Bytes that are not UTF-8 in an unfinished last line (a
    write cut inside a character) are read as replacement characters; anywhere else they
    make the file refused."""
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise RecordFileError(f"{path} is a directory, not a record file") from None
    except OSError as exc:
        raise RecordFileError(f"cannot read the record file {path}: "
                              f"{exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = data.rfind(b"\n") + 1
        if not data.endswith(b"\n") and exc.start >= start:
            try:
                return data[:start].decode("utf-8") + data[start:].decode("utf-8", "replace")
            except UnicodeDecodeError as inner:
                exc = inner
        raise RecordFileError(f"{path} is not a text record file ({exc.reason} at byte "
                              f"{exc.start})") from None


def read_entries(path: str | Path) -> list[dict]:
    """The runs of a record file, one dict per non-blank line, in file order.

    Raises RecordFileError naming the file and line number for a line that is not a JSON
    object, and naming the file when it is missing, a directory or unreadable.
    """
    path = Path(path)
    return [entry for _, _, entry in parse_lines(path, read_text(path))]


# --------------------------------------------------------------------------------------------
# Writing


def real_target(path: str | Path, what: str = "record file") -> Path:
    """The file a write to ``path`` lands in: a symbolic link is followed to its target.
    RecordFileError for a path that names no file (checks.check_output_path)."""
    return Path(os.path.realpath(check_output_path(path, what, RecordFileError)))


def check_record_target(path: str | Path) -> Path:
    """Refuse, before any training, a record target that could not take the run.

    Returns the real file written (links followed). RecordFileError names the file for a
    directory, a non-regular file, a read-only file, a folder that cannot be created or
    written, and (with the line number) a damaged existing file.
    """
    target = writable_target(path)
    if target.exists():
        parse_lines(target, read_text(target))
    return target


def writable_target(path: str | Path, what: str = "record file") -> Path:
    """The real file a write to ``path`` lands in (links followed), refused with one
    RecordFileError naming ``what`` (``"record file"``, ``"--json file"``, ...) when it is a
    directory or not a regular file, when it is read-only (never replaced, even by root),
    or when its nearest existing folder is not a directory that can be written."""
    given = check_output_path(path, what, RecordFileError)
    target = real_target(given, what)
    shown = given if target == given.absolute() else f"{given} (a link to {target})"
    if target.exists():
        info = target.stat()
        if stat.S_ISDIR(info.st_mode):
            raise RecordFileError(f"the {what} {shown} is a directory, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise RecordFileError(f"the {what} {shown} is not a regular file")
        if not info.st_mode & 0o222:
            raise RecordFileError(f"the {what} {shown} is read-only; it is never replaced "
                                  "(chmod u+w it to allow)")
    existing = target.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise RecordFileError(f"cannot create the folder of the {what} {shown}: "
                              f"{existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise RecordFileError(f"cannot write the {what} {shown}: the folder {existing} "
                              "is not writable")
    return target


def _locked(target: Path) -> int:
    """A descriptor of ``target`` (created if missing, opened for appending) holding an
    exclusive lock on the file now at that path (re-opened when another writer renamed a
    new file over it)."""
    while True:
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.stat(target).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


def _clean_orphans(target: Path) -> None:
    """Remove temporary files of ``target`` left by killed writers (call under the lock:
    no live writer of ``target`` has one then)."""
    for orphan in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        try:
            orphan.unlink()
        except OSError:
            pass


def write_replacing(target: Path, data: str | bytes, mode: int) -> None:
    """Write ``data`` (text as UTF-8) to a unique temporary file beside ``target``, fsync it
    and rename it over ``target`` (atomic on POSIX)."""
    data = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _command_pattern(command: list[str]) -> re.Pattern:
    """Finds a line whose ``command`` may equal ``command`` (any JSON spacing); a match is
    confirmed by parsing, so a line is never replaced on the strength of the pattern alone."""
    tokens = r"\s*,\s*".join(re.escape(json.dumps(token)) for token in command)
    return re.compile(r'"command"\s*:\s*\[\s*' + tokens + r"\s*\]")


def _append_line(fd: int, target: Path, text: str, line: str) -> None:
    """One complete line appended with a single write to the locked ``fd``: the file's old
    bytes are never touched, and a write that fails (a full disk, a file-size limit) is
    undone by truncating the file back, so the new line is whole or absent. An incomplete
    last line is removed first, and a whole last line without its newline gets one."""
    whole, partial = split_tail(text)
    size = os.fstat(fd).st_size
    if partial:
        size = len(whole.encode("utf-8"))  # the whole lines decode exactly (read_text)
        log.warning(incomplete_line_note(target, whole, partial, "was removed"))
        os.ftruncate(fd, size)
    data = (("\n" if whole and not whole.endswith("\n") else "") + line + "\n"
            ).encode("utf-8")
    try:
        written = os.write(fd, data)
        while written < len(data):  # a short write: finish the line
            written += os.write(fd, data[written:])
    except BaseException:
        try:
            os.ftruncate(fd, size)
        except OSError:
            pass
        raise


def append_record(path: str | Path, command: list[str], summary: dict,
                  machine: dict | None = None) -> Path:
    """Add ``summary`` to the record file, replacing an earlier line with the same command;
    ``machine`` is the machine the run ran on (this process's by default).

    Safe across processes and against being killed (see the module docstring): a new command
    is appended as one complete line; a repeated one rewrites the file through a fsynced
    temporary and a rename. Returns the real file written. Raises RecordFileError naming the
    file when it cannot be written or is damaged.
    """
    target = writable_target(path)
    entry = {**summary, "command": list(command),
             "recorded_on": datetime.date.today().isoformat(),
             "machine": machine_facts() if machine is None else machine}
    line = dumps(entry)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = _locked(target)
        try:
            text = read_text(target)
            _clean_orphans(target)
            pattern = _command_pattern(entry["command"])
            if not pattern.search(split_tail(text)[0]):
                _append_line(fd, target, text, line)
                return target
            # only the lines the pattern finds are parsed (the whole file was checked
            # before the run); blank lines and an incomplete last line are dropped
            whole, partial = split_tail(text)
            if partial:
                log.warning(incomplete_line_note(target, whole, partial, "was removed"))
            kept = [raw for raw in whole.split("\n") if raw.strip() and not (
                pattern.search(raw) and parse_lines(target, raw)[0][2].get("command")
                == entry["command"])]
            mode = stat.S_IMODE(os.fstat(fd).st_mode)
            write_replacing(target, "".join(raw + "\n" for raw in kept) + line + "\n", mode)
        finally:
            os.close(fd)  # releases the lock
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.ENOSPC:
            reason = "no space left on the device"
        elif exc.errno == errno.EFBIG:
            reason = "the file would exceed the file-size limit"
        raise RecordFileError(f"could not write the record file {target}: {reason}; it is as "
                              "it was before this run") from None
    return target
