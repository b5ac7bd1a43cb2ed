"""Write the config of the student edition of the book (``make book-student``): the book's
``_config.yml`` with ``student_edition`` on (book/_ext/student_edition.py removes every
solution from the pages), the execution cache of ``make book`` (nothing runs again), and
the local extensions' folders made absolute (jupyter-book resolves them from the config's
folder).

    python book/student_config.py OUT_CONFIG CACHE_FOLDER
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def student_config(cache: Path) -> dict:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config["sphinx"]["config"]["student_edition"] = True
    config["execute"]["cache"] = str(cache.resolve())
    config["sphinx"]["local_extensions"] = {
        name: str((ROOT / path).resolve())
        for name, path in config["sphinx"]["local_extensions"].items()}
    return config


if __name__ == "__main__":
    out, cache = Path(sys.argv[1]), Path(sys.argv[2])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(student_config(cache), sort_keys=False), encoding="utf-8")
