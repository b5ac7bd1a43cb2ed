"""One-off migration: every record line's ``machine`` names each fingerprint fact.

Lines recorded before the fingerprint (:data:`recsys_lib.machine.FINGERPRINT`) lack the CPU,
its vector flags, the SIMD level torch dispatched to, the numpy, scipy and BLAS versions and
often the thread count. They get each missing fact as ``null``: unknown, never guessed, so
:mod:`recsys_lib.agreement` holds them to the noise rule. Figures are untouched; running it
twice changes nothing. Usage: ``python results/migrations/2026_12_05_fingerprint.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

from recsys_lib.machine import FINGERPRINT

RESULTS = Path(__file__).resolve().parents[1]


def migrate_line(line: str) -> str:
    if not line.strip():
        return line
    entry = json.loads(line)
    machine = entry.get("machine")
    if not isinstance(machine, dict) or all(key in machine for key in FINGERPRINT):
        return line
    entry["machine"] = {**machine, **{key: None for key in FINGERPRINT if key not in machine}}
    return json.dumps(entry, allow_nan=False)


def main() -> None:
    changed = 0
    for path in sorted(RESULTS.rglob("*.jsonl")):
        text = path.read_text(encoding="utf-8")
        lines = [migrate_line(line) for line in text.split("\n")]
        new = "\n".join(lines)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed += sum(a != b for a, b in zip(text.split("\n"), lines))
    print(f"{changed} record lines now mark their unknown fingerprint facts")


if __name__ == "__main__":
    main()
