"""The package's conventions hold for every registered model: glossary keys in every report,
one parameter check per model (constructor, set_params and the command line alike), a chapter
for every model, and the module layout the architecture promises."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from recsys_lib import glossary
from recsys_lib.errors import InvalidParameterError
from recsys_lib.models import MODELS, create_model, get_model_class
from recsys_lib.training import run

ROOT = Path(__file__).resolve().parents[1]

# Settings small enough that each model trains on the tiny split in about a second.
SMALL = {
    "mf": {"n_factors": 4, "n_epochs": 5}, "biased-mf": {"n_factors": 4, "n_epochs": 5},
    "i-autorec": {"n_hidden": 8, "n_epochs": 20}, "u-autorec": {"n_hidden": 8, "n_epochs": 20},
    "deep-ae": {"n_hidden": [8], "n_epochs": 5, "batch_size": 8},
    "sparse-fc": {"n_hidden": 8, "n_epochs": 2, "n_iterations": 3},
    "glocal-k": {"n_hidden": 8, "n_pretrain_epochs": 1, "n_finetune_epochs": 2,
                 "n_pretrain_iterations": 3, "n_finetune_iterations": 3},
    "asymmetric-svd": {"n_factors": 4, "n_epochs": 10},
    "spark-als": {"n_factors": 4, "reg": 0.1, "n_epochs": 2},
    "sparse-i-autorec": {"n_hidden": 8, "n_epochs": 3, "batch_size": 16},
    "biased-mf-ddp": {"n_factors": 4, "n_epochs": 3},
}
# Values every model must refuse for a parameter of each kind.
BAD = {
    "int": ["3", 1.5, True, math.nan, -1],
    "real": ["0.1", True, math.nan, math.inf, -math.inf],
    "bool": ["false", "true", 0, 1, None],
    "choice": [1, "no-such-choice", None],
    "sizes": [0, [], [4, 0], "8", [2.5]],
    "device": ["gpu", 0, "cuda:x"],
    "text": [5, True, "", " ", "no such value\n"],
}


def bad_values(param) -> list:
    values = list(BAD[param.kind])
    if param.kind in ("int", "real") and param.low is not None:
        values.append(param.low - 1)  # below the range (zero or negative sizes)
    if param.kind in ("int", "real") and param.high is not None:
        values.append(param.high + 1)
    if param.none:
        values = [v for v in values if v is not None]
    return values


CASES = [(name, pname, value) for name, cls in sorted(MODELS.items())
         for pname, param in cls.PARAMS.items() for value in bad_values(param)]


@pytest.mark.parametrize("name,param,value", CASES,
                         ids=[f"{n}-{p}-{v!r}" for n, p, v in CASES])
def test_bad_values_are_refused_by_constructor_and_set_params(name, param, value):
    with pytest.raises(InvalidParameterError, match=param):
        create_model(name, **{param: value})
    model = create_model(name)
    before = model.get_params()
    with pytest.raises(InvalidParameterError, match=param):
        model.set_params(**{param: value})
    assert model.get_params() == before  # nothing half-set


@pytest.mark.parametrize("name", sorted(MODELS) + ["most-popular"])
def test_predict_before_fit_is_one_not_fitted_error(name):
    from recsys_lib.errors import NotFittedError
    from recsys_lib.topn import MostPopular

    model = MostPopular() if name == "most-popular" else create_model(name)
    with pytest.raises(NotFittedError, match=f"{name} is not fitted: call fit"):
        model.predict(np.array([0]), np.array([0]))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_parameters_are_declared_stored_as_given_and_settable(name):
    cls = get_model_class(name)
    if "options" not in cls.param_names():  # Surprise wrappers pass options through
        assert set(cls.param_names()) == set(cls.PARAMS), name
    model = create_model(name)
    assert set(model.get_params()) >= {"seed"}
    model.set_params(seed=7)
    assert model.get_params()["seed"] == 7
    with pytest.raises(InvalidParameterError, match="no_such_parameter"):
        create_model(name, no_such_parameter=1)
    with pytest.raises(InvalidParameterError, match="no_such_parameter"):
        model.set_params(no_such_parameter=1)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_reports_use_only_glossary_keys(name, tiny_split):
    summary = run(name, "tiny", tiny_split, seed=0, params=SMALL.get(name, {}))
    assert glossary.unknown_keys(summary) == [], name
    assert np.isfinite(summary["rmse"])
    if "selected_by" in summary:
        assert summary["selected_by"] in ("validation, refit", "validation, restore", "fixed")
        assert isinstance(summary["selected_epoch"], int) and summary["selected_epoch"] >= 1
    for point in summary.get("curve", []):
        assert isinstance(point, dict) and "epoch" in point, name


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_names_an_existing_chapter(name):
    chapter = get_model_class(name).chapter
    assert (ROOT / "notebooks" / f"{chapter}.md").exists(), (name, chapter)


def test_one_family_per_file_and_no_module_over_400_lines():
    package = ROOT / "recsys_lib"
    for path in package.rglob("*.py"):
        assert len(path.read_text().splitlines()) <= 400, path
    class_names = [cls.__name__ for cls in MODELS.values()]
    assert len(class_names) == len(set(class_names))


def _names() -> dict[str, list[str]]:
    """Every parameter name of every registered model and the models that take it."""
    names: dict[str, list[str]] = {}
    for model, cls in sorted(MODELS.items()):
        for name in cls.PARAMS:
            names.setdefault(name, []).append(model)
    return names


def test_every_parameter_name_is_defined_once_in_the_glossary():
    undefined = {name: models for name, models in _names().items()
                 if glossary.hyperparameter(name) is None}
    assert not undefined, f"define these in recsys_lib/glossary.py: {undefined}"
    shared = set(glossary.HYPERPARAMETERS) & set(glossary.FAMILY_HYPERPARAMETERS)
    assert not shared, shared


@pytest.mark.parametrize("concept, pattern, names", [
    ("validation slice", r"valid|protocol|holdout", {"validation_fraction"}),
    ("unseen fallback", r"fallback|default_rating|unseen", {"fallback", "fallback_rating"}),
    ("optimiser", r"optimi", {"optimizer"}),
])
def test_one_name_per_concept(concept, pattern, names):
    """No two models spell the same concept two ways."""
    import re

    used = {name for name in _names() if re.search(pattern, name)}
    assert used <= names, f"{concept}: {sorted(used - names)} beside {sorted(names)}"


def test_a_parameter_name_has_one_kind_in_every_model():
    """A name means one kind of value everywhere (a width may also be a list of widths)."""
    for name, models in _names().items():
        kinds = {MODELS[model].PARAMS[name].kind for model in models}
        assert len(kinds - ({"int"} if "sizes" in kinds else set())) == 1, (name, kinds)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_validation_fraction_zero_means_a_fixed_length_everywhere(name):
    cls = get_model_class(name)
    if "validation_fraction" in cls.PARAMS:
        assert create_model(name, validation_fraction=0.0).validation_fraction == 0.0


@pytest.mark.parametrize("name", sorted(MODELS))
def test_per_dataset_defaults_have_one_mechanism(name):
    """DATASET_DEFAULTS, resolved by RatingModel.resolve_params, and nothing else."""
    cls = get_model_class(name)
    for old in ("DEFAULTS", "DEFAULT_REG"):
        assert not hasattr(cls, old), (name, old)
    if not cls.DATASET_DEFAULTS:
        return
    assert "*" in cls.DATASET_DEFAULTS, name
    model = create_model(name)
    for dataset, defaults in cls.DATASET_DEFAULTS.items():
        for param in defaults:
            assert cls.PARAMS[param].none and getattr(model, param) is None, (name, param)
        assert model.resolve_params(dataset) == defaults


def test_set_params_with_a_valid_value_changes_the_fit(tiny_split):
    model = create_model("baseline").set_params(n_epochs=1)
    assert model.n_epochs == 1
    model.fit(tiny_split)
    assert model.predict(np.array([0]), np.array([0])).shape == (1,)


def test_models_command_shows_module_and_chapter(capsys):
    from recsys_lib.cli import main

    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for name, cls in MODELS.items():
        row = next(line for line in lines if line.split()[0] == name)
        assert cls.__module__ in row and cls.chapter in row, row



# The package's layers, lowest first: a module imports only from its own layer or lower ones
# (lazy imports inside functions included), and no import cycle exists.
LAYERS = [
    {"errors", "glossary", "machine", "reference", "style", "display",
     "children"},  # facts, vocabulary; child processes that stop with their parent
    {"params", "checks", "cache", "cache_folder", "metrics", "torch_utils",
     "spark_runtime"},  # checks, engines
    {"data", "splits", "selection", "blend", "analysis", "topn",
     "distributed", "synthetic"},  # data and measures; the minibatch loop on one process
    # or several; the synthetic stand-in
    {"models", "failure_demos"},  # the models
    {"training", "ledger", "outputs", "predictions", "command", "describe", "protocol",
     "synthetic_calibration"},  # a run, files; the stand-in's calibration
    {"records"},  # reading the records
    {"reproduction", "plan"},  # retraining; the Results plan
    {"study"},  # the study runs of the Results part
    {"blend_protocol"},  # the blend made of them
    {"cli", "__main__"},  # the command line
]


def _imports() -> dict[str, set[str]]:
    """Each top-level module of recsys_lib (a subpackage counts as one) and the modules of
    recsys_lib it imports anywhere in its code."""
    import ast

    package = ROOT / "recsys_lib"
    graph: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package).with_suffix("").parts
        here = ["recsys_lib", *parts[:-1]]  # the package the file sits in
        found = graph.setdefault(parts[0], set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = here[:len(here) - node.level + 1] if node.level else []
                module = ".".join(base + ([node.module] if node.module else []))
                modules = [module] if node.module else \
                    [f"{module}.{alias.name}" for alias in node.names]
            else:
                continue
            for module in modules:
                names = module.split(".")
                if names[0] == "recsys_lib" and len(names) > 1:
                    found.add(names[1])
        found.discard(parts[0])
    return graph


def test_layers_never_import_upward_and_no_cycle_exists():
    layer_of = {name: index for index, layer in enumerate(LAYERS) for name in layer}
    graph = _imports()
    assert set(graph) <= set(layer_of) | {"__init__"}, \
        f"place every module in a layer: {sorted(set(graph) - set(layer_of) - {'__init__'})}"
    upward = [(low, high) for low, targets in graph.items() for high in targets
              if low != "__init__" and layer_of[high] > layer_of[low]]
    assert not upward, f"modules importing a higher layer: {upward}"
    visiting, done = [], set()

    def visit(name):
        if name in visiting:
            raise AssertionError(f"import cycle: {' -> '.join(visiting[visiting.index(name):])}"
                                 f" -> {name}")
        if name not in done:
            visiting.append(name)
            for target in graph.get(name, ()):
                visit(target)
            visiting.pop()
            done.add(name)

    for name in graph:
        visit(name)


def _unencoded_text_io(source: str) -> list[int]:
    """Lines of ``source`` that open, read or write text without ``encoding=`` (which then
    follows the locale: ASCII under LC_ALL=C)."""
    import ast

    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or any(k.arg == "encoding" for k in node.keywords):
            continue
        func = node.func
        name = getattr(func, "attr", getattr(func, "id", None))
        if name == "read_text" and not node.args or name == "write_text":
            lines.append(node.lineno)
        elif name == "open" and not (isinstance(func, ast.Attribute)
                                     and getattr(func.value, "id", "") in ("os", "io")):
            args = node.args if isinstance(func, ast.Name) else [None, *node.args]
            mode = args[1] if len(args) > 1 else next(
                (k.value for k in node.keywords if k.arg == "mode"), None)
            text = mode is None or isinstance(mode, ast.Constant) and "b" not in mode.value
            if text:
                lines.append(node.lineno)
    return lines


def test_every_text_read_and_write_names_its_encoding():
    """Under LC_ALL=C (PYTHONUTF8=0) a text file opened without encoding= is ASCII: the
    library, the book and course tools, the benchmarks and the chapters' code name UTF-8."""
    import re

    sources = {}
    for folder in ("recsys_lib", "book", "course", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            sources[str(path.relative_to(ROOT))] = path.read_text(encoding="utf-8")
    for path in (ROOT / "notebooks").glob("*.md"):
        cells = re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", path.read_text(encoding="utf-8"),
                           re.S)
        for index, cell in enumerate(cells):
            code = "\n".join(line for line in cell.splitlines()
                             if not line.startswith(("%", "!", ":")))
            sources[f"{path.relative_to(ROOT)} cell {index}"] = code
    missing = {}
    for name, source in sources.items():
        try:
            found = _unencoded_text_io(source)
        except SyntaxError:
            continue  # course/checks blocks that are not Python as a whole
        if found:
            missing[name] = found
    assert not missing, f"text I/O without encoding= (file: lines): {missing}"
