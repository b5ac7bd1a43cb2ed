"""Training a recorded run again, and the one rule for "does it reproduce its record".

:func:`reproduce` retrains one record line or row; :func:`rerun` retrains every line of a
record file and writes each back; :func:`recsys_lib.study.rerun_study` retrains a study run.
Every chapter, test and rerun then compares live with recorded by :func:`agreement`.

A record (a line of a record file, see :mod:`recsys_lib.ledger`) keeps its figures and the
fingerprint of the machine that made them (:mod:`recsys_lib.machine`). A live run of the same
command is held to it by the first rule that applies:

* **same machine**: every fingerprint fact is known and equal. The code, seed and arithmetic
  are the same, so the figure must be the same: within :data:`SAME_MACHINE` relative, which
  for a figure computed from float32 predictions means bitwise the same predictions.
* **float64**: the model computes in float64 throughout (``RatingModel.float64``). Another
  CPU or BLAS adds its sums in another order and changes only the last digits: within
  :data:`FLOAT64` relative.
* **within noise**: another (or an unknown) fingerprint and float32 arithmetic. Training that
  runs hundreds of optimiser steps amplifies one sum added in another order into a drift
  like a change of seed, only smaller. The live figure must lie within :data:`NOISE_SDS`
  standard deviations of the figure over the recorded seeds of the same model, dataset, split
  and parameters, and never closer than :data:`NOISE_FLOOR` is demanded.
"""

from __future__ import annotations

import json
import math
import textwrap
from dataclasses import dataclass

import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .children import run_child, stop_on_signals
from .command import parse_params, parse_train_command
from .errors import MissingDependencyError, RecordFileError, RecsysError
from .ledger import append_record, check_record_target, parse_lines, read_text, real_target
from .outputs import print_line
from .machine import compare_fingerprints, machine_facts, recorded_machine
from .models import get_model_class
from .records import collect_records, results_dir
from .torch_utils import device_missing, torch_threads
from .training import run

#: relative bound on the same machine (float64 sums of the same float32 predictions agree)
SAME_MACHINE = 1e-12
#: relative bound for a float64 model on another machine
FLOAT64 = 1e-9
#: the noise rule's bound, in standard deviations of the recorded seeds
NOISE_SDS = 2.0
#: the least the noise rule allows (RMSE units). Measured drifts between machines: Sparse FC
#: and GLocal-K 0.0007-0.0009 on ML-100K u1; U-AutoRec 0.0012 on ML-1M between one and two
#: threads. A model whose seeds agree (one that draws no random numbers) still drifts.
NOISE_FLOOR = 0.002


class NotReproducedError(RecsysError, AssertionError):
    """A live run fell outside the bound its record allows (the message gives both)."""


@dataclass(frozen=True)
class Agreement:
    """How a live figure compares with its record: the rule that applied, the difference
    (live - recorded) and the bound it had to meet."""

    key: str
    live: float
    recorded: float
    rule: str           # "same machine", "float64" or "within noise"
    bound: float        # the largest |difference| allowed
    measure: str        # the difference in the rule's own units
    differs_in: tuple   # fingerprint facts that differ between the two machines
    unknown: tuple      # fingerprint facts either machine did not record

    @property
    def difference(self) -> float:
        return self.live - self.recorded

    @property
    def holds(self) -> bool:
        return abs(self.difference) <= self.bound

    def __str__(self) -> str:
        """Three short lines at most: the verdict and figures, the difference in the rule's
        units, and what the fingerprints say."""
        verdict = self.rule if self.holds else f"NOT reproduced ({self.rule} rule)"
        lines = [f"{verdict}: {self.key} {self.live:.6f} live, {self.recorded:.6f} recorded",
                 f"  {self.measure}"]
        if self.differs_in:
            lines.append(f"  the machines differ in {', '.join(self.differs_in)}")
        if self.unknown:
            lines.append(f"  not recorded: {', '.join(self.unknown)}")
        return "\n".join(textwrap.fill(line, 86, subsequent_indent="    ") for line in lines)

    def check(self) -> Agreement:
        """The agreement itself when it holds; NotReproducedError (saying why) otherwise."""
        if not self.holds:
            raise NotReproducedError(str(self))
        return self


def _same_params(params: dict) -> str:
    return json.dumps({k: v for k, v in (params or {}).items() if k not in ("seed", "device")},
                      sort_keys=True, default=float)


def seed_spread(record, runs: pd.DataFrame, key: str = "rmse") -> tuple[float | None, int]:
    """(standard deviation of ``key`` over the recorded seeds, number of seeds) of the runs
    in ``runs`` (:func:`recsys_lib.records.collect_records`) with the record's model,
    dataset, split and parameters; the last line of a seed counts. None below two seeds."""
    if runs is None or runs.empty or key not in runs:
        return None, 0
    same = runs[(runs["model"] == record["model"]) & (runs["dataset"] == record["dataset"])
                & (runs["split"] == record["split"])]
    wanted = _same_params(record.get("params"))
    same = same[[_same_params(p) == wanted for p in same["params"]]]
    values = same.drop_duplicates("seed", keep="last")[key].dropna().astype(float)
    return (float(values.std(ddof=1)) if len(values) >= 2 else None), len(values)


def agreement(live, record, runs: pd.DataFrame | None = None, key: str = "rmse",
              float64: bool | None = None) -> Agreement:
    """Compare ``live[key]`` with ``record[key]`` by the module's rule.

    ``live`` is a summary with the ``machine`` it ran on (as :func:`reproduce` returns
    it); ``record`` a record line or row. ``runs`` (all recorded runs)
    gives the seed-to-seed spread when the noise rule applies; read from ``results/`` when
    None and needed. ``float64`` says whether the figure is computed in float64 throughout
    (default: what the record's model declares).
    """
    live_value, recorded = float(live[key]), float(record[key])
    difference = live_value - recorded
    differs, unknown = map(tuple, compare_fingerprints(recorded_machine(record),
                                                     recorded_machine(live)))
    same = not differs and not unknown
    scale = max(abs(recorded), 1e-300)
    if float64 is None:
        float64 = get_model_class(record["model"]).float64
    if same or float64:
        rule, relative = ("same machine", SAME_MACHINE) if same else ("float64", FLOAT64)
        return Agreement(key, live_value, recorded, rule, relative * scale,
                         f"difference {difference:+.1e}, relative {abs(difference) / scale:.1e} "
                         f"(bound {relative:.0e} relative)", differs, unknown)
    if runs is None:
        runs = collect_records(results_dir())
    sd, seeds = seed_spread(record, runs, key)
    bound = max(NOISE_SDS * sd, NOISE_FLOOR) if sd is not None else NOISE_FLOOR
    if sd is None:
        measure = (f"difference {difference:+.4f}; bound the floor {bound:.4f} ({seeds} "
                   f"seed{'s' if seeds != 1 else ''} recorded, too few for a spread)")
    else:
        in_sds = abs(difference) / sd if sd > 0 else (0.0 if difference == 0 else math.inf)
        measure = (f"difference {difference:+.4f} = {in_sds:.1f} sd of {seeds} seeds; bound "
                   f"{NOISE_SDS:g} sd = {NOISE_SDS * sd:.4f} (floor {NOISE_FLOOR})")
    return Agreement(key, live_value, recorded, "within noise", bound, measure, differs,
                     unknown)


def agreements(live, record, keys, runs: pd.DataFrame | None = None) -> list[Agreement]:
    """:func:`agreement` for several keys; a key whose value is a list (a curve of
    recall@N) is compared element by element, as ``key[i]``."""
    out = []
    for key in keys:
        live_value, recorded = live[key], record[key]
        if isinstance(live_value, (list, tuple, np.ndarray)):
            for index, (a, b) in enumerate(zip(live_value, recorded, strict=True)):
                name = f"{key}[{index}]"
                out.append(agreement({**_plain(live), name: a}, {**_plain(record), name: b},
                                     runs, name))
        else:
            out.append(agreement(live, record, runs, key))
    return out


def _plain(entry) -> dict:
    return dict(entry.items()) if isinstance(entry, pd.Series) else dict(entry)


# --------------------------------------------------------------------------------------------
# Retraining


def reproduce(row, same_device: bool = True) -> dict:
    """Train again the run a record describes (``row``: a line of a record file, or a row of
    :func:`recsys_lib.records.load`), with its command's model, data, seed and parameters and with the torch
    thread count it recorded (float32 sums depend on it; 2 when it recorded none), and return
    the live summary with the ``machine`` it ran on, to compare by
    :func:`agreement`.

    With ``same_device`` a model that takes ``device`` runs on the device the record names
    (a GPU adds its sums in another order, so only the recorded device can match the record);
    ``same_device=False`` lets it pick the fastest device here (a device its command names
    included). A row that is not a train
    run's record, or (with ``same_device``) a GPU record on a machine without that GPU, is
    one RecsysError saying so, before any training."""
    command = row.get("command") if hasattr(row, "get") else None
    if not (isinstance(command, (list, tuple)) and command
            and all(isinstance(word, str) for word in command)):
        raise RecordFileError(f"not the record of a run: its command is {command!r}, not the "
                              "list of words a record line keeps")
    args = parse_train_command(list(command))
    threads = usable_threads(row)[0]
    pairs = args.param if same_device else [(k, v) for k, v in args.param if k != "device"]
    params = parse_params(args.model, pairs)
    device = recorded_machine(row).get("device")
    if same_device and isinstance(device, str) and params.get("device") is None \
            and "device" in get_model_class(args.model).param_names():
        if device_missing(device):
            raise MissingDependencyError(
                f"this {args.model} run was recorded on {device}, which this machine lacks; "
                "reproduce(row, same_device=False) runs it on the device here, compared by "
                "the float32 rule of agreement()")
        params["device"] = device
    with torch_threads(threads):
        return {**run(args.model, args.dataset, args.split, seed=args.seed, params=params),
                "machine": machine_facts()}


def live_beside_recorded(rows: pd.DataFrame, runs: pd.DataFrame | None = None
                         ) -> pd.DataFrame:
    """Train every run of ``rows`` (record rows) again, here, on the fastest device, and set
    the live RMSE, the device it ran on and its :func:`agreement` with the record (rule,
    difference, whether it holds) beside the recorded RMSE."""
    runs = collect_records(results_dir()) if runs is None else runs
    out = []
    for _, row in rows.iterrows():
        live = reproduce(row, same_device=False)
        verdict = agreement(live, row, runs)
        out.append({"model": row["model"], "dataset": row["dataset"], "seed": row["seed"],
                    "recorded rmse": row["rmse"], "live rmse": live["rmse"],
                    "difference": verdict.difference, "rule": verdict.rule,
                    "holds": verdict.holds, "device": live.get("device", "cpu"),
                    "live fit seconds": live["fit_seconds"]})
    return pd.DataFrame(out)


def _record_base(value: str, record: Path) -> Path | None:
    """The folder a recorded ``--record VALUE`` is relative to when it names ``record``
    (the record file's folder or any folder above it: the repository root, typically; the
    root of the file system for an absolute path), or None when it names another file."""
    value_path = Path(value).expanduser()
    if value_path.is_absolute():
        return Path("/") if real_target(value_path) == record else None
    return next((folder for folder in record.parents
                 if real_target(folder / value_path) == record), None)


def _recorded_target(value: str, record: Path) -> bool:
    """True when a recorded ``--record VALUE`` names ``record``."""
    return _record_base(value, record) is not None


def rerun_problem(entry: dict, record: Path) -> tuple[list[str], str | None]:
    """(command to run, None) for a line ``rerun`` may run, or ([], the reason it may not).

    Only ``train`` commands run; ``--json`` is refused; ``--record`` must name the file
    itself and is dropped (the rerun writes the line back itself). ``--predictions`` must
    name a file in the record file's own folder, read from the folder ``--record`` is
    relative to (the record file's folder without one), so a rerun from any working folder
    writes the file the original run wrote, and a record line can write nowhere else; the
    command returned names it by its absolute path.
    """
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
    base = record.parent
    if args.record is not None:
        base = _record_base(args.record, record)
        if base is None:
            return [], f"--record names another file ({args.record})"
    run_argv = list(args.run_argv)
    if args.predictions is not None:
        try:
            given = Path(args.predictions).expanduser()
            target = real_target(given if given.is_absolute() else base / given,
                                 "--predictions file")
        except RecsysError as exc:
            return [], f"--predictions: {exc}"
        if target.parent != record.parent:
            return [], (f"--predictions {args.predictions} is not in the record file's folder "
                        f"{record.parent}; a rerun writes predictions only beside its record")
        if target == record:
            return [], "--predictions names the record file itself"
        index = run_argv.index("--predictions", 1)
        run_argv[index + 1] = str(target)
    return run_argv, None


def usable_threads(entry) -> tuple[int, str | None]:
    """(the torch thread count a record line or row recorded, None), or (2, why) when its
    machine facts name no usable count (0, negative, not a whole number, unreadable)."""
    try:
        raw = recorded_machine(entry).get("torch_threads")
    except (AttributeError, TypeError, ValueError):
        raw = "unreadable machine facts"
    if raw is None:
        return 2, None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool) and math.isfinite(raw) \
            and raw == int(raw) and 1 <= raw <= 4096:
        return int(raw), None
    return 2, f"its machine names torch_threads {raw!r}, not a thread count; it runs on 2"


def _rerun_threads(entry: dict, number: int, out) -> int:
    threads, note = usable_threads(entry)
    if note:
        print(f"line {number}: {note} and is written back with them", file=out, flush=True)
    return threads


def rerun(path: str | Path, out=None) -> list[tuple[int, str]]:
    """Run every ``train`` command recorded in ``path`` again and write each line back.

    Every line is attempted; a refused or failed line does not stop the later ones. The
    record file is found from any working directory (its path is resolved first). Returns
    the failures as (line number, reason); RecordFileError when the file itself is damaged.
    """
    out = sys.stderr if out is None else out
    given = Path(path)
    record = check_record_target(given)
    if not record.exists():
        raise RecordFileError(f"no record file {given}")
    lines = parse_lines(record, read_text(record))
    failures: list[tuple[int, str]] = []
    runs = None  # every recorded run, read once if a line needs its seeds' spread
    for number, _, entry in lines:
        command, problem = rerun_problem(entry, record)
        if problem is None:
            # the thread count the line recorded (float32 sums depend on it), for the child
            # and for the machine facts written back here (torch is loaded in this process)
            threads = _rerun_threads(entry, number, out)
            child = [sys.executable, "-m", "recsys_lib", *command]
            print(f"+ line {number}: OMP_NUM_THREADS={threads} {shlex.join(child)}",
                  file=out, flush=True)
            try:
                with stop_on_signals():  # SIGTERM or SIGHUP also ends the child
                    result = run_child(child, stdout=subprocess.PIPE, text=True,
                                       env={**os.environ, "OMP_NUM_THREADS": str(threads)})
            except KeyboardInterrupt as stop:
                print(f"{stop or 'interrupted'} while rerunning line {number}, which was "
                      f"ended and keeps its old figures; the lines before it are written "
                      f"back, the later ones untouched", file=out, flush=True)
                raise
            last = (result.stdout.strip().splitlines() or [""])[-1]
            if result.returncode != 0:
                problem = f"exit status {result.returncode}"
            else:
                try:
                    summary = json.loads(last)
                    if not isinstance(summary, dict):
                        raise ValueError("its last line is not a JSON summary")
                    print_line(last)  # printed first: kept even if the write fails
                    with torch_threads(threads):
                        machine = machine_facts()
                    append_record(record, entry["command"], summary, machine)
                except (ValueError, RecordFileError) as exc:
                    problem = f"no record written: {exc}"
                else:
                    try:
                        if "rmse" in entry and "rmse" in summary:
                            if runs is None:
                                runs = collect_records(results_dir())
                            # the line's own facts, else the rerun's: one command, one run
                            known = {key: summary[key] for key in ("model", "dataset",
                                                                   "split", "params")
                                     if key in summary}
                            verdict = agreement({**summary, "machine": machine},
                                                {**known, **entry}, runs)
                            print(f"line {number}: {verdict}", file=out, flush=True)
                    except Exception as exc:  # noqa: BLE001  (the run is recorded already)
                        print(f"line {number}: rerun and recorded, but not compared with its "
                              f"old figure ({type(exc).__name__}: {exc})", file=out,
                              flush=True)
        if problem is not None:
            print(f"line {number}: not rerun: {problem}", file=out, flush=True)
            failures.append((number, problem))
    print(f"rerun {given}: {len(lines) - len(failures)} of {len(lines)} runs done", file=out)
    return failures
