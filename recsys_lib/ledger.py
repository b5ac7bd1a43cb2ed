"""The record ledger: appending runs to a record file and running them again.

A record file is JSON Lines: one finished run per line (the summary printed by
``python -m recsys_lib train ...`` plus ``command``, ``recorded_on`` and ``machine``).
Blank lines are allowed; any other line that is not one JSON object makes the file damaged,
and every reader and writer here refuses it with the file name and line number.

How a record is written (:func:`append_record`):

* under an exclusive ``flock`` on the record file itself (re-taken if another process
  replaced the file while we waited), so concurrent appenders never lose a line;
* a new command as one complete line appended with a single write (old bytes untouched);
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
import functools
import glob
import json
import math
import os
import platform
import re
import shlex
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from .errors import RecordFileError


def machine_facts() -> dict:
    """CPU count, 1-minute load, Python and (when installed) torch version, device and
    intra-op thread count.

    torch is not imported just for this: when a run did not load it, its version is read
    from the package metadata and no device is reported (the run used none).
    """
    facts = {"cpus": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
             "python": platform.python_version()}
    torch = sys.modules.get("torch")
    if torch is not None:
        facts["torch"] = torch.__version__
        facts["device"] = "cuda" if torch.cuda.is_available() else "cpu"
        facts["torch_threads"] = torch.get_num_threads()  # float32 sums depend on it
    elif _installed_torch() is not None:
        facts["torch"] = _installed_torch()
    return facts


@functools.lru_cache(maxsize=1)
def _installed_torch() -> str | None:
    """torch's version from the package metadata (read once: ~2 ms), None if absent."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torch")
    except PackageNotFoundError:
        return None


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


def _parse_lines(path: Path, text: str) -> list[tuple[int, str, dict]]:
    """(line number, raw line, entry) of every non-blank line; RecordFileError otherwise."""
    entries = []
    for number, line in enumerate(text.split("\n"), start=1):
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


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except IsADirectoryError:
        raise RecordFileError(f"{path} is a directory, not a record file") from None
    except UnicodeDecodeError as exc:
        raise RecordFileError(f"{path} is not a text record file ({exc.reason} at byte "
                              f"{exc.start})") from None
    except OSError as exc:
        raise RecordFileError(f"cannot read the record file {path}: "
                              f"{exc.strerror or exc}") from None


def read_entries(path: str | Path) -> list[dict]:
    """The runs of a record file, one dict per non-blank line, in file order.

    Raises RecordFileError naming the file and line number for a line that is not a JSON
    object, and naming the file when it is missing, a directory or unreadable.
    """
    path = Path(path)
    return [entry for _, _, entry in _parse_lines(path, _read_text(path))]


# --------------------------------------------------------------------------------------------
# Writing


def _target(path: str | Path) -> Path:
    """The file a write to ``path`` lands in: a symbolic link is followed to its target."""
    return Path(os.path.realpath(Path(path).expanduser()))


def check_record_target(path: str | Path) -> Path:
    """Refuse, before any training, a record target that could not take the run.

    Returns the real file written (links followed). RecordFileError names the file for a
    directory, a non-regular file, a read-only file, a folder that cannot be created or
    written, and (with the line number) a damaged existing file.
    """
    target = writable_target(path)
    if target.exists():
        _parse_lines(target, _read_text(target))
    return target


def writable_target(path: str | Path, what: str = "record file") -> Path:
    """The real file a write to ``path`` lands in (links followed), refused with one
    RecordFileError naming ``what`` (``"record file"``, ``"--json file"``, ...) when it is a
    directory or not a regular file, when it is read-only (never replaced, even by root),
    or when its nearest existing folder is not a directory that can be written."""
    given = Path(path)
    target = _target(given)
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
    """A descriptor of ``target`` (created if missing) holding an exclusive lock on the
    file now at that path (re-opened when another writer renamed a new file over it)."""
    while True:
        fd = os.open(target, os.O_RDONLY | os.O_CREAT, 0o666)
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


def _write_replacing(target: Path, text: str, mode: int) -> None:
    """Write ``text`` to a unique temporary file beside ``target``, fsync it and rename it
    over ``target`` (atomic on POSIX)."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
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


def _append_line(target: Path, text: str, line: str) -> None:
    """One complete line appended with a single write (the file's old bytes are never
    touched, so a kill or power cut can at worst lose the new line)."""
    if text and not text.endswith("\n"):
        raise RecordFileError(f"{target}, line {text.count(chr(10)) + 1}: damaged record (the "
                              "last line is incomplete); repair or remove that line")
    data = (line + "\n").encode("utf-8")
    fd = os.open(target, os.O_WRONLY | os.O_APPEND)
    try:
        written = os.write(fd, data)
        while written < len(data):  # a short write: finish the line
            written += os.write(fd, data[written:])
    finally:
        os.close(fd)


def append_record(path: str | Path, command: list[str], summary: dict) -> Path:
    """Add ``summary`` to the record file, replacing an earlier line with the same command.

    Safe across processes and against being killed (see the module docstring): a new command
    is appended as one complete line; a repeated one rewrites the file through a fsynced
    temporary and a rename. Returns the real file written. Raises RecordFileError naming the
    file when it cannot be written or is damaged.
    """
    target = writable_target(path)
    entry = {**summary, "command": list(command),
             "recorded_on": datetime.date.today().isoformat(), "machine": machine_facts()}
    line = dumps(entry)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = _locked(target)
        try:
            text = _read_text(target)
            _clean_orphans(target)
            pattern = _command_pattern(entry["command"])
            if not pattern.search(text):
                _append_line(target, text, line)
                return target
            # only the lines the pattern finds are parsed (the whole file was checked
            # before the run); blank lines are dropped
            kept = [raw for raw in text.split("\n") if raw.strip() and not (
                pattern.search(raw) and _parse_lines(target, raw)[0][2].get("command")
                == entry["command"])]
            mode = stat.S_IMODE(os.fstat(fd).st_mode)
            _write_replacing(target, "".join(raw + "\n" for raw in kept) + line + "\n", mode)
        finally:
            os.close(fd)  # releases the lock
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.ENOSPC:
            reason = "no space left on the device"
        raise RecordFileError(f"could not write the record file {target}: {reason}") from None
    return target


# --------------------------------------------------------------------------------------------
# Running a record file again


def _recorded_target(value: str, record: Path) -> bool:
    """True when a recorded ``--record VALUE`` names ``record``: absolute, or relative to the
    record file's folder or any folder above it (the repository root, typically)."""
    value_path = Path(value).expanduser()
    if value_path.is_absolute():
        return _target(value_path) == record
    return any(_target(folder / value_path) == record for folder in record.parents)


def rerun_problem(entry: dict, record: Path) -> tuple[list[str], str | None]:
    """(command to run, None) for a line ``rerun`` may run, or ([], the reason it may not).

    Only ``train`` commands run; ``--json`` is refused; ``--record`` must name the file
    itself and is dropped (the rerun writes the line back itself).
    """
    from .cli import parse_train_command

    command = entry.get("command")
    if command is None:
        return [], "no command"
    if not isinstance(command, list) or not all(isinstance(t, str) for t in command):
        return [], "the command is not a list of strings"
    if not command or command[0] != "train":
        return [], f"only train commands are rerun, not {command[:1] or 'an empty command'}"
    try:
        args = parse_train_command(command)
    except Exception as exc:  # noqa: BLE001  (any refusal of the parser is a reason)
        return [], f"not a valid train command: {exc}"
    if args.json is not None:
        return [], "--json in a record file is refused (a rerun writes only its record)"
    if args.record is not None and not _recorded_target(args.record, record):
        return [], f"--record names another file ({args.record})"
    return args.run_argv, None


def rerun(path: str | Path, out=None) -> list[tuple[int, str]]:
    """Run every ``train`` command recorded in ``path`` again and write each line back.

    Every line is attempted; a refused or failed line does not stop the later ones. The
    record file is found from any working directory (its path is resolved first). Returns
    the failures as (line number, reason); RecordFileError when the file itself is damaged.
    """
    from .records import recorded_threads
    from .torch_utils import torch_threads

    out = sys.stderr if out is None else out
    given = Path(path)
    record = check_record_target(given)
    if not record.exists():
        raise RecordFileError(f"no record file {given}")
    lines = _parse_lines(record, _read_text(record))
    failures: list[tuple[int, str]] = []
    for number, _, entry in lines:
        command, problem = rerun_problem(entry, record)
        if problem is None:
            # the thread count the line recorded (float32 sums depend on it), for the child
            # and for the machine facts written back here (torch is loaded in this process)
            threads = recorded_threads(entry)
            child = [sys.executable, "-m", "recsys_lib", *command]
            print(f"+ line {number}: OMP_NUM_THREADS={threads} {shlex.join(child)}",
                  file=out, flush=True)
            result = subprocess.run(child, stdout=subprocess.PIPE, text=True,
                                    env={**os.environ, "OMP_NUM_THREADS": str(threads)})
            last = (result.stdout.strip().splitlines() or [""])[-1]
            if result.returncode != 0:
                problem = f"exit status {result.returncode}"
            else:
                try:
                    summary = json.loads(last)
                    with torch_threads(threads):
                        append_record(record, entry["command"], summary)
                    print(last, flush=True)
                except (ValueError, RecordFileError) as exc:
                    problem = f"no record written: {exc}"
        if problem is not None:
            print(f"line {number}: not rerun: {problem}", file=out, flush=True)
            failures.append((number, problem))
    print(f"rerun {given}: {len(lines) - len(failures)} of {len(lines)} runs done", file=out)
    return failures
