"""environment.yml (conda, Binder) and pyproject.toml must declare the same dependencies."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[1]


def _normalise(requirement: str) -> str:
    requirement = requirement.replace(" ", "").lower()
    return re.sub(r"^([a-z0-9_.\-]+)=(\d)", r"\1==\2", requirement)  # conda's "=" pin


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = set(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared |= set(extra)
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    listed = set()
    for entry in environment:
        if isinstance(entry, dict):
            listed |= {item for item in entry["pip"] if not item.startswith("-e")}
        elif not entry.startswith(("python=", "pip", "openjdk=")):  # openjdk: no Python
            listed.add(entry)
    assert {_normalise(r) for r in listed} == {_normalise(r) for r in declared}


def test_torch_range_admits_the_pinned_cpu_build():
    from packaging.specifiers import SpecifierSet

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    torch_spec = next(r for r in project["dependencies"] if r.startswith("torch"))
    assert "2.13.0" in SpecifierSet(torch_spec.removeprefix("torch"))
    assert 'pip install --quiet "torch==2.13.0"' in (ROOT / "Makefile").read_text()


def test_the_wheel_carries_the_results_plan_table(tmp_path):
    """A non-editable install (Colab's ``pip install``) needs recsys_lib/plan.toml."""
    import shutil
    import subprocess
    import sys
    import zipfile

    source = tmp_path / "source"  # a copy: the build leaves build/ beside its sources
    shutil.copytree(ROOT / "recsys_lib", source / "recsys_lib",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--wheel-dir", str(tmp_path), str(source)],
                   check=True, capture_output=True)
    wheel = next(tmp_path.glob("recsys_lib-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "recsys_lib/plan.toml" in names
    assert "recsys_lib/synthetic_calibration.json" in names  # the stand-ins need it


def test_make_sends_caches_to_the_temporary_folder_under_a_read_only_home(tmp_path):
    """README's set-up under a read-only HOME: pip's, Jupyter's, IPython's and matplotlib's
    folders go to TMPDIR (pip failed building pyspark's wheel in ~/.cache); a writable HOME
    keeps its defaults."""
    import os
    import subprocess
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from _cli import setpriv

    names = ("PIP_CACHE_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR", "MPLCONFIGDIR",
             "XDG_CACHE_HOME")
    show = "show: ; @echo " + " ".join(f"$${name}" for name in names)
    home = tmp_path / "home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if key not in names}
    env.update(TMPDIR=str(tmp_path), LC_ALL="C")
    prefix = setpriv() if os.geteuid() == 0 else []

    def shown(mode: int) -> list[str]:
        home.chmod(mode)
        try:
            done = subprocess.run([*prefix, "make", "--no-print-directory", "-s", "-C",
                                   str(ROOT), "--eval", show, "show"], capture_output=True,
                                  text=True, env={**env, "HOME": str(home)}, check=True)
        finally:
            home.chmod(0o755)
        return done.stdout.split()

    folders = shown(0o555)
    assert len(folders) == len(names)
    assert all(folder.startswith(f"{tmp_path}/recsys_lib-home-") for folder in folders)
    assert shown(0o755) == []  # a writable HOME: nothing set
    assert list(home.iterdir()) == []
