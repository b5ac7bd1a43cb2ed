"""The record ledger: appending runs to a record file and running them again.

A record file is JSON Lines: one finished run per line (the summary printed by
``python -m recsys_lib train ...`` plus ``command``, ``recorded_on`` and ``machine``).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path


def machine_facts() -> dict:
    facts = {"cpus": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
             "python": platform.python_version()}
    try:
        import torch

        facts["torch"] = torch.__version__
        facts["device"] = "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        pass
    return facts


def append_record(path: str | Path, command: list[str], summary: dict) -> None:
    """Add ``summary`` to the record file, replacing an earlier line with the same command."""
    path = Path(path)
    entry = {**summary, "command": command, "recorded_on": datetime.date.today().isoformat(),
             "machine": machine_facts()}
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    lines = [line for line in lines if line.get("command") != command] + [entry]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("".join(json.dumps(line, default=float) + "\n" for line in lines))
    tmp.replace(path)  # atomic: a crash never leaves a half-written record file


def rerun(path: str | Path) -> None:
    """Run every command recorded in ``path`` again (each rewrites its own line)."""
    path = Path(path)
    for entry in [json.loads(line) for line in path.read_text().splitlines() if line.strip()]:
        command = [sys.executable, "-m", "recsys_lib", *entry["command"]]
        print("+", shlex.join(command), file=sys.stderr)
        subprocess.run(command, check=True)
