"""recsys_lib.predictions: saved predictions carry their run and rows, and a missing,
damaged, foreign or another run's file is refused with one RecordFileError naming it."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from recsys_lib.errors import RecordFileError
from recsys_lib.predictions import (check_predictions_target, identity_problem,
                                    load_predictions, read_predictions, run_identity,
                                    save_predictions)
from recsys_lib.splits import synthetic_split


@pytest.fixture(scope="module")
def split():
    return synthetic_split(n_users=40, n_items=30, n_ratings=600, seed=3)


def _summary(split, model="baseline", seed=0):
    return {"model": model, "dataset": split.dataset, "split": split.name, "seed": seed,
            "n_test": len(split.test.ratings), "params": {"reg": 1.0, "seed": seed}}


def _saved(tmp_path, split, name="p.npz", **summary):
    pred = np.linspace(1, 5, len(split.test.ratings))
    return save_predictions(tmp_path / name, split, pred,
                            run=run_identity(_summary(split, **summary), ["train", "x"]))


def test_saved_predictions_carry_the_identity_of_their_run(tmp_path, split):
    path = _saved(tmp_path, split)
    arrays = load_predictions(path, split, {"model": "baseline", "seed": 0})
    assert arrays["run"]["model"] == "baseline" and arrays["run"]["command"] == ["train", "x"]
    assert arrays["run"]["n_test"] == len(split.test.ratings)
    with pytest.raises(RecordFileError, match="another run's predictions.*model 'baseline'"):
        load_predictions(path, split, {"model": "svd"})
    with pytest.raises(RecordFileError, match="other params"):
        load_predictions(path, split, {"params": {"reg": 2.0, "seed": 0}})
    with pytest.raises(RecordFileError, match="seed 0, not 1"):
        load_predictions(path, split, {"seed": 1})
    with pytest.raises(RecordFileError, match="other command"):  # the same model by hand
        load_predictions(path, split, {"model": "baseline", "command": ["train", "y"]})
    # where the files went is no part of the run: a rerun names them otherwise
    saved = _saved(tmp_path, split, name="q.npz")
    moved = ["train", "x", "--predictions", "/elsewhere/q.npz", "--record", "r.jsonl"]
    assert load_predictions(saved, split, {"command": moved})["run"]["model"] == "baseline"


def test_a_file_saved_without_identity_is_refused_when_one_is_expected(tmp_path, split):
    path = tmp_path / "old.npz"
    np.savez_compressed(path, pred=np.ones(len(split.test.ratings), np.float32),
                        key=np.zeros(2, np.uint64))
    arrays = read_predictions(path)
    assert "without the identity" in identity_problem(arrays, {"model": "baseline"})


@pytest.mark.parametrize("damage", ["truncated", "text", "npy", "empty", "other", "shape",
                                    "nan"])
def test_damaged_or_foreign_files_are_one_clear_error(tmp_path, split, damage):
    path = _saved(tmp_path, split)
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[:len(data) // 2])
    elif damage == "text":
        path.write_text('{"model": "baseline"}\n')
    elif damage == "npy":
        np.save(tmp_path / "a.npy", np.arange(3))
        (tmp_path / "a.npy").rename(path)
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "other":
        np.savez(path, x=np.arange(3))
    elif damage == "shape":
        np.savez(path, pred=np.ones((2, 2)), key=np.zeros(2, np.uint64))
    else:
        with np.load(path) as stored:
            arrays = dict(stored)
        arrays["pred"][3] = np.nan
        np.savez(path, **arrays)
    with pytest.raises(RecordFileError, match=str(path)):
        load_predictions(path, split)
    with pytest.raises(RecordFileError, match="no predictions file"):
        load_predictions(tmp_path / "missing.npz", split)


def test_a_corrupt_member_is_a_clear_error(tmp_path, split):
    path = _saved(tmp_path, split)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("pred.npy")
    start = info.header_offset + 30 + len(info.filename) + 5
    data[start:start + 40] = bytes(40)  # the compressed stream damaged in place
    path.write_bytes(bytes(data))
    with pytest.raises(RecordFileError, match="damaged"):
        load_predictions(path, split)


def test_another_archive_is_never_replaced_but_damaged_predictions_may_be(tmp_path, split):
    other = tmp_path / "arrays.npz"
    np.savez(other, x=np.arange(3))
    with pytest.raises(RecordFileError, match="holds no saved predictions"):
        check_predictions_target(other)
    with pytest.raises(RecordFileError, match="holds no saved predictions"):
        _saved(tmp_path, split, name="arrays.npz")
    assert list(np.load(other)["x"]) == [0, 1, 2]
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"PK\x03\x04 cut short")
    assert load_predictions(_saved(tmp_path, split, name="broken.npz"), split)["run"]
