"""Time and memory of generating the synthetic stand-ins (issue 22: ML-25M's shape in at most
5 minutes and 4 GB, streamed to disk).

Each shape is generated in its own child process, into a temporary folder that is deleted
afterwards, so that the child's peak resident memory (``ru_maxrss``) belongs to that shape
alone. One JSON line per shape is printed and, with ``--record FILE``, appended to FILE
(chapter 13 reads ``results/scale/synthetic_generation.jsonl``):

    .venv/bin/python benchmarks/synthetic_generation.py synthetic-ml10m synthetic-ml25m \
        --record results/scale/synthetic_generation.jsonl
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMITS = {"seconds": 300.0, "peak_gb": 4.0}  # the targets for ML-25M's shape

CHILD = """
import json, resource, sys, time
from pathlib import Path
from recsys_lib import synthetic
shape, folder = sys.argv[1], Path(sys.argv[2])
start = time.perf_counter()
paths = synthetic.write(shape, folder)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds,
                  "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
                  "file_gb": sum(p.stat().st_size for p in paths.values()) / 1e9,
                  "fingerprint": synthetic.fingerprint()}))
"""


def measure(shape: str) -> dict:
    """Generate ``shape`` once in a child process; its seconds, peak RSS and file size."""
    from recsys_lib.machine import machine_facts
    from recsys_lib.synthetic import SHAPES

    with tempfile.TemporaryDirectory(prefix="synthetic-") as folder:
        result = subprocess.run([sys.executable, "-c", CHILD, shape, folder],
                                capture_output=True, text=True, cwd=ROOT, check=True)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    users, items, ratings = SHAPES[shape]
    return {"dataset": shape, "users": users, "items": items, "ratings": ratings,
            "generation_seconds": figures["seconds"], "peak_gb": figures["peak_gb"],
            "file_gb": figures["file_gb"], "calibration": figures["fingerprint"],
            "command": ["benchmarks/synthetic_generation.py", shape],
            "machine": machine_facts(),
            "when": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shapes", nargs="+")
    parser.add_argument("--record", type=Path)
    args = parser.parse_args()
    for shape in args.shapes:
        row = measure(shape)
        line = json.dumps(row)
        print(line)
        if args.record:
            with open(args.record, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        if shape.endswith("ml25m"):
            within = (row["generation_seconds"] <= LIMITS["seconds"]
                      and row["peak_gb"] <= LIMITS["peak_gb"])
            print(f"{shape}: {row['generation_seconds']:.1f} s, {row['peak_gb']:.2f} GB peak "
                  f"({'within' if within else 'OVER'} the {LIMITS['seconds']:.0f} s and "
                  f"{LIMITS['peak_gb']:.0f} GB targets)", file=sys.stderr)


if __name__ == "__main__":
    main()
