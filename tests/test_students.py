"""The student path: JupyterLab serves the chapters as notebooks, the generated Colab notebooks
match their sources, carry no MyST, and run from an empty folder with injected parameters."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ROOT / "notebooks"
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.md"))
# every chapter executed as Colab would run it, with small settings injected (papermill);
# the book build itself trains live and checks the records
QUICK = {"TRAIN": False, "CHECK_RECORD": False}
STUDENT_RUNS = {
    "01_data": {},
    "02_evaluation": {},
    "03_svd_baselines": {},
    "04_neighbourhood": {},
    "05_svdpp": {},
    "06_embedding_mf": {},
    "07_autorec": {"TRAIN": False},
    "08_sparse_fc": QUICK,
    "09_glocal_k": QUICK,
    "10_leaderboard": {"TRAIN": False, "N_RESAMPLES": 200},
    "11_blend": {},
    "12_topn": {"DATASETS": ["ml-100k"]},
    "13_scale_memory": {},
    "14_spark_als": {},
    "15_minibatch_ddp": {"LIVE_EPOCHS": 2, "DDP_EPOCHS": 1},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_jupyterlab_serves_a_chapter_as_a_notebook(tmp_path):
    pytest.importorskip("jupyterlab")
    port, token = free_port(), "book-test"
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.token={token}",
               f"--ServerApp.root_dir={ROOT}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path)})
    url = (f"http://127.0.0.1:{port}/api/contents/notebooks/09_glocal_k.md"
           f"?type=notebook&content=1&token={token}")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    model = json.load(response)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert model["type"] == "notebook"
    cells = model["content"]["cells"]
    assert any(c["cell_type"] == "code" for c in cells)
    assert any("GLocal-K" in c["source"] for c in cells if c["cell_type"] == "markdown")


def test_generated_notebooks_match_their_sources():
    result = subprocess.run([sys.executable, str(ROOT / "book" / "make_notebooks.py"),
                             "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert sorted(p.stem for p in GENERATED.glob("[0-9][0-9]_*.ipynb")) == \
        [p.stem for p in CHAPTERS]


@pytest.mark.parametrize("chapter", [p.stem for p in CHAPTERS])
def test_generated_notebook_reads_in_plain_jupyter(chapter):
    notebook = nbformat.read(GENERATED / f"{chapter}.ipynb", as_version=4)
    nbformat.validate(notebook)
    first = notebook.cells[0]
    assert first.cell_type == "code" and "find_spec(\"recsys_lib\")" in first.source
    markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    leftovers = re.findall(r"\{[a-z-]+\}`|^`{3,}\{[\w-]+\}|^:{3,}\{[\w-]+\}", markdown,
                           flags=re.M)
    assert not leftovers, leftovers[:5]
    solutions = re.findall(r"^(?:`{3,}|:{3,})\{solution(?:-start)?\}",
                           (GENERATED / f"{chapter}.md").read_text(), flags=re.M)
    assert markdown.count("<details>") == len(solutions)  # every solution folded, none run
    assert "../" not in markdown
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    assert "../" not in code


@pytest.mark.parametrize("chapter", [p.stem for p in CHAPTERS])
def test_generated_notebook_runs_from_an_empty_folder(chapter, tmp_path):
    papermill = pytest.importorskip("papermill")
    assert chapter in STUDENT_RUNS, f"give {chapter} its (small) settings in STUDENT_RUNS"
    source = GENERATED / f"{chapter}.ipynb"
    cells = nbformat.read(source, as_version=4).cells
    names = "\n".join(c.source for c in cells if "parameters" in c.metadata.get("tags", []))
    missing = [n for n in STUDENT_RUNS[chapter] if not re.search(rf"^{n} *=", names, re.M)]
    assert not missing, f"{chapter} has no parameter {missing}"  # papermill would ignore it
    papermill.execute_notebook(str(source), str(tmp_path / f"{chapter}.ipynb"),
                               parameters=STUDENT_RUNS[chapter], cwd=str(tmp_path),
                               kernel_name="python3", progress_bar=False)
    assert not any(p.suffix == ".jsonl" for p in tmp_path.rglob("*"))  # nothing written here
