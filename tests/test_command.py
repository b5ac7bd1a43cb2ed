"""Every user mistake on the command line is one ``error:`` line and exit status 2.

Parameters are parsed against their declared type (booleans: true/false/yes/no/1/0 only) and
range; seeds are range-checked; repeated and conflicting flags are named. The sweep over every
registered model lives with the parameter declarations; here a handful of models, in-process
(fast) and through a real subprocess (no traceback reaches the terminal)."""

from __future__ import annotations

import pytest

from recsys_lib.cli import main
from recsys_lib.command import normalise_argv, parse_params, parse_train_command
from recsys_lib.errors import InvalidParameterError, UsageError
from recsys_lib.models import create_model, get_model_class

from _cli import assert_user_error, cli

TRAIN = ["train", "baseline", "--dataset", "ml-100k", "--split", "u1"]


def _one_error_line(capsys) -> str:
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert out == ""  # refused before training
    return lines[0]


@pytest.mark.parametrize("text, value", [
    ("false", False), ("False", False), ("no", False), ("0", False),
    ("true", True), ("yes", True), ("1", True), ("none", None),
])
def test_boolean_words(text, value):
    assert parse_params("mf", [("sigmoid_range", text)]) == {"sigmoid_range": value}


@pytest.mark.parametrize("model, pair, fragment", [
    ("mf", "sigmoid_range=maybe", "sigmoid_range must be true or false"),
    ("mf", "sigmoid_range=2", "sigmoid_range must be true or false"),
    ("baseline", "reg_item=1e400", "reg_item must be a finite number"),
    ("baseline", "reg_item=nan", "reg_item must be a finite number"),
    ("baseline", "reg_item=-inf", "reg_item must be a finite number"),
    ("baseline", "reg_item=abc", "reg_item must be"),
    ("baseline", "n_epochs=2.5", "n_epochs must be an integer"),
    ("baseline", "n_epochs=true", "n_epochs must be an integer"),
    ("baseline", "alpha=1", "has no parameter 'alpha'"),
    ("global-mean", "k=5", "it takes none but --seed"),
    ("surprise-svd", "n_factors=50", "its Surprise options are set from Python"),
    ("sparse-fc", "protocol=paper", "has no parameter 'protocol'"),
    ("i-autorec", "default_rating=3", "has no parameter 'default_rating'"),
    ("knn-pearson", "k=ten", "k must be an integer"),
    ("biased-mf-sgd", "lr=nan", "lr must be a finite number"),
    ("baseline", "seed=3", "set the seed with --seed"),
])
def test_bad_parameter_values_are_one_line(model, pair, fragment, capsys):
    assert main(["train", model, "--dataset", "ml-100k", "--param", pair]) == 2
    assert fragment in _one_error_line(capsys)


@pytest.mark.parametrize("model, pair, fragment", [
    ("baseline", "n_epochs=-5", "n_epochs must be an integer >= 1"),
    ("baseline", "n_epochs=0", "n_epochs must be an integer >= 1"),
    ("mf", "range_margin=-3", "range_margin must be"),
    ("knn-pearson", "k=0", "k must be an integer >= 1"),
    ("biased-mf-sgd", "lr=-0.1", "lr must be"),
])
def test_out_of_range_values_are_refused_by_the_declarations(model, pair, fragment, capsys):
    if not hasattr(get_model_class(model), "PARAMS"):
        pytest.skip(f"{model} declares no PARAMS yet; ranges come from the declarations")
    assert main(["train", model, "--dataset", "ml-100k", "--param", pair]) == 2
    assert fragment in _one_error_line(capsys)


@pytest.mark.parametrize("device", ["cuda", "cuda:7", "mps"])
def test_a_device_this_machine_lacks_is_one_line_before_training(device, capsys,
                                                                  monkeypatch):
    """Seven GPUs are never present; CUDA and MPS are faked away where a machine has them.
    The same check holds for the Python API, where the model is made."""
    import torch

    if device != "cuda:7":
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert main(["train", "mf", "--dataset", "ml-100k", "--param", f"device={device}"]) == 2
    assert f"device='{device}' cannot run here: this machine has" in _one_error_line(capsys)
    with pytest.raises(InvalidParameterError, match="cannot run here"):
        create_model("mf", device=device)
    assert create_model("mf", device="cpu").get_params()["device"] == "cpu"


@pytest.mark.parametrize("extra, fragment", [
    (["--seed", "-1"], "seed must be"),
    (["--seed", str(2**32)], "seed must be"),
    (["--seed", "1.5"], "--seed: expected an integer"),
    (["--seed", "1", "--seed", "2"], "--seed is given twice"),
    (["--dataset", "ml-1m"], "--dataset is given twice"),
    (["--record", "a.jsonl", "--record", "b.jsonl"], "--record is given twice"),
    (["--param", "n_epochs=1", "--param", "n_epochs=2"], "--param n_epochs is given twice"),
    (["--param", "n_epochs"], "expected KEY=VALUE"),
    (["--param", "=3"], "expected KEY=VALUE"),
    (["--rec", "x.jsonl"], "unrecognized arguments: --rec"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--seed"], "expected one argument"),
])
def test_flag_mistakes_are_one_line(extra, fragment, capsys):
    assert main([*TRAIN, *extra]) == 2
    assert fragment in _one_error_line(capsys)


def test_missing_required_flag_and_subcommand(capsys):
    assert main(["train", "baseline"]) == 2
    assert "--dataset" in _one_error_line(capsys)
    assert main([]) == 2
    assert "required" in _one_error_line(capsys)
    assert main(["fetch"]) == 2
    assert "name a dataset" in _one_error_line(capsys)


def test_param_equals_form_is_normalised():
    argv = ["train", "baseline", "--dataset=ml-100k", "--param=k=5", "--seed=3"]
    assert normalise_argv(argv) == ["train", "baseline", "--dataset", "ml-100k", "--param",
                                    "k=5", "--seed", "3"]
    args = parse_train_command(argv)
    assert args.param == [("k", "5")] and args.seed == 3
    assert "--param" in args.argv


def test_parse_errors_are_recsys_errors():
    with pytest.raises(UsageError):
        parse_train_command(["train", "baseline"])
    with pytest.raises(InvalidParameterError, match="sigmoid_range"):
        parse_params("mf", [("sigmoid_range", "maybe")])


@pytest.mark.parametrize("extra, fragment", [
    (["--param", "sigmoid_range=false"], "no parameter 'sigmoid_range'"),
    (["--param", "reg_item=1e400"], "reg_item must be a finite number"),
    (["--param", "seed=3"], "set the seed with --seed"),
    (["--seed", "-1"], "seed must be"),
    (["--seed", "x"], "expected an integer"),
])
def test_through_a_real_process(extra, fragment):
    result = cli(*TRAIN, *extra)
    assert_user_error(result, fragment)
    assert result.stdout == ""


@pytest.mark.parametrize("model", ["mf", "deep-ae", "i-autorec", "sparse-fc", "glocal-k"])
def test_validation_fraction_zero_is_accepted_by_every_model(model):
    """0 means a fixed length for every model that carves a validation slice."""
    assert parse_params(model, [("validation_fraction", "0")]) == {"validation_fraction": 0.0}
    assert get_model_class(model)(validation_fraction=0.0).validation_fraction == 0.0


def test_sigmoid_range_false_reaches_the_model():
    params = parse_params("mf", [("sigmoid_range", "false")])
    model = get_model_class("mf")(**params)
    assert model.get_params()["sigmoid_range"] is False


def test_sigmoid_range_false_through_the_command_line(tmp_path):
    """The issue's case end to end: the string "false" used to switch the sigmoid on."""
    import json

    result = cli("train", "mf", "--dataset", "ml-100k", "--split", "u1", "--param",
                 "sigmoid_range=false", "--param", "n_epochs=1", "--param", "refit=no")
    assert result.returncode == 0, result.stderr
    params = json.loads(result.stdout.strip().splitlines()[-1])["params"]
    assert params["sigmoid_range"] is False and params["refit"] is False
