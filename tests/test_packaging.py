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
        elif not entry.startswith(("python=", "pip")):
            listed.add(entry)
    assert {_normalise(r) for r in listed} == {_normalise(r) for r in declared}


def test_torch_range_admits_the_pinned_cpu_build():
    from packaging.specifiers import SpecifierSet

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    torch_spec = next(r for r in project["dependencies"] if r.startswith("torch"))
    assert "2.13.0" in SpecifierSet(torch_spec.removeprefix("torch"))
    assert 'pip install --quiet "torch==2.13.0"' in (ROOT / "Makefile").read_text()
