"""Hand the chapters executed by the tests to the book build's execution cache.

``python book/seed_cache.py FOLDER [CACHE]`` reads every ``NN_name.ipynb`` that the nbval run
saved in FOLDER (see the root ``conftest.py``: only chapters whose every cell passed) and
stores it in the jupyter-cache at CACHE (default ``_build/.jupyter_cache``) under its chapter
``notebooks/NN_name.md``. The build then finds each chapter by the hash of its code and
executes only those it does not find. CI uses it (``make book-ci EXECUTED=FOLDER``): the tests
and the build share one execution of each chapter, from the same commit in the same run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn

ROOT = Path(__file__).resolve().parents[1]


def seed(folder: Path, cache_path: Path) -> list[str]:
    """Cache every executed chapter of ``folder``; returns their names."""
    cache = get_cache(str(cache_path))
    seeded = []
    for executed in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        chapter = ROOT / "notebooks" / f"{executed.stem}.md"
        if not chapter.exists():
            continue
        notebook = nbformat.read(executed, as_version=4)
        cache.cache_notebook_bundle(CacheBundleIn(notebook, str(chapter)),
                                    check_validity=False, overwrite=True)
        seeded.append(executed.stem)
    return seeded


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print("usage: python book/seed_cache.py FOLDER [CACHE]", file=sys.stderr)
        return 2
    folder = Path(sys.argv[1])
    cache_path = Path(sys.argv[2]) if len(sys.argv) == 3 else ROOT / "_build" / ".jupyter_cache"
    if not folder.is_dir():
        print(f"error: no folder of executed chapters at {folder}", file=sys.stderr)
        return 2
    seeded = seed(folder, cache_path)
    print(f"execution cache: {len(seeded)} chapters executed by the tests "
          f"({', '.join(seeded) or 'none'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
