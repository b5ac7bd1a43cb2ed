"""What a run writes besides its record line: its summary on standard output and in a
``--json`` file, each in one piece, and the check that two output options do not name one
file.

:func:`print_then_record` is the last step of ``train`` and ``blend``: the summary is printed
first, then every file is written (the record through :func:`recsys_lib.ledger.append_record`),
and what failed and what was kept is said in one line. Standard output that is closed or
whose reader has gone (``... | true``, ``>&-``) never costs the files their run.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

from .checks import new_file_mode
from .errors import RecordFileError, RecsysError
from .ledger import append_record, dumps, log, real_target, writable_target, write_replacing


def same_file(first: str | Path, second: str | Path) -> bool:
    """Whether two output paths land in one file: the same path once links, ``./`` and
    ``..`` are resolved, or two names (hard links) of one existing file."""
    if real_target(first) == real_target(second):
        return True
    try:
        return os.path.samefile(first, second)
    except OSError:  # either does not exist yet
        return False


def check_json_target(path: str | Path) -> Path:
    """Refuse, before a run, a ``--json`` target that could not be written (a directory, a
    read-only file, a folder that cannot be written), or an existing file that holds
    anything but one JSON summary (a record file, even of one line, a source file: never
    replaced); links are written through."""
    target = writable_target(path, "--json file")
    if target.is_file() and target.stat().st_size:
        try:
            lines = [line for line in target.read_text(encoding="utf-8").splitlines()
                     if line.strip()]
            entry = json.loads(lines[0]) if len(lines) == 1 else None
            summary = isinstance(entry, dict) and "recorded_on" not in entry
        except (OSError, ValueError):
            lines, summary = None, False
        if not summary:
            held = (f"{len(lines)} lines" if lines and len(lines) > 1 else
                    "a record line" if lines else "something else")
            raise RecordFileError(f"the --json file {path} holds {held}, not one JSON summary; "
                                  "it is never replaced (name another file)")
    return target


def write_json_line(path: str | Path, line: str) -> None:
    """Replace the file at ``path`` by ``line`` (one JSON object), atomically."""
    target = check_json_target(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else new_file_mode()
        write_replacing(target, line + "\n", mode)
    except OSError as exc:
        raise RecordFileError(f"could not write {target}: {exc.strerror or exc}") from None


def print_line(line: str) -> bool:
    """Print ``line`` on standard output; False (and standard output sent to the null
    device, so nothing fails later) when it is closed or its reader has gone away."""
    if sys.stdout is None:  # started with standard output closed
        return False
    try:
        print(line, flush=True)
        return True
    except (OSError, ValueError):  # a broken pipe, a closed or full stream
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, sys.stdout.fileno())
            os.close(null)
        except (OSError, ValueError):
            sys.stdout = None
        return False


def print_then_record(summary: dict, command: list[str], record: str | Path | None = None,
                      writes: tuple = ()) -> None:
    """The last step of ``train`` and ``blend``: print ``summary`` as one JSON line on
    standard output first (whatever then happens to the files, the run is not lost), then
    make each ``(flag, target, write)`` of ``writes`` (``write(target, line)``; a ``None``
    target is skipped) and append the run to ``record``, in that order. Every write is
    tried, even when standard output is closed; the failures are raised together as one
    RecordFileError naming their flags and what was kept. With standard output closed, a
    warning names the files that keep the run, and RecordFileError says it is lost when
    none does."""
    line = dumps(summary)
    printed = print_line(line)
    problems, kept = [], []
    steps = (*writes, ("--record", record, lambda path, _: append_record(path, command, summary)))
    for flag, target, write in steps:
        if target is not None:
            try:
                write(target, line)
                kept.append(f"{flag} {target}")
            except RecsysError as exc:
                problems.append(f"{flag}: {exc}")
    where = (f"kept: {', '.join(kept)}" if kept else "no file keeps it")
    if problems:
        raise RecordFileError("; ".join(problems) + (
            "; the summary is the last line on standard output" if printed else
            f"; standard output is closed, so the summary was not printed ({where})"))
    if not printed:
        if not kept:
            raise RecordFileError("standard output is closed, so the summary was not printed "
                                  "and no --record or --json file keeps it: the run is lost; "
                                  "run it again with standard output open")
        log.warning(f"standard output is closed, so the summary was not printed; {where}")
