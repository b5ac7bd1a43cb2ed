"""Data at the door, metrics and predict inputs, and the cache in every state it can meet:
bad ratings through the public API, NaN truths, a test part with nothing to rank, index
arrays of the wrong kind, wrong file types, real permissions (capabilities dropped for root),
concurrent repair, orphaned temporaries, an oversized mirror file and a stalled server."""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import zipfile

import numpy as np
import pandas as pd
import pytest

from recsys_lib import cache, data
from recsys_lib.data import DatasetSpec, RemoteFile, Source
from recsys_lib.errors import (
    DataIntegrityError,
    DataUnavailableError,
    InvalidIndexError,
    InvalidRatingsError,
)
from recsys_lib.metrics import mae, ranking_metrics, rmse
from recsys_lib.models import create_model
from recsys_lib.splits import split_from_frames
from recsys_lib.training import score

from test_reliability_ledger import _env, _setpriv, assert_user_error

GOOD = pd.DataFrame({"user": [1, 1, 2, 3], "item": [10, 11, 10, 12],
                     "rating": [4.0, 5.0, 3.0, 2.0]})
TEST = pd.DataFrame({"user": [2, 3], "item": [11, 10], "rating": [1.0, 5.0]})


def _split(train=GOOD, test=TEST, scale=(1.0, 5.0)):
    return split_from_frames("toy", "t", train, test, scale)


def _with(frame, column, row, value):
    frame = frame.copy()
    frame[column] = frame[column].astype(object) if isinstance(value, str) or value is None \
        else frame[column]
    frame.loc[row, column] = value
    return frame


# --------------------------------------------------------------------------------------------
# Ratings at the door

@pytest.mark.parametrize("train, test, scale, pattern", [
    (_with(GOOD, "rating", 1, np.nan), TEST, (1, 5), r"train part\): 1 ratings are off .*1 NaN"),
    (_with(GOOD, "rating", 0, np.inf), TEST, (1, 5), r"1 ratings are off .*1 infinite"),
    (GOOD, _with(TEST, "rating", 0, 6.0), (1, 5), r"test part\): 1 ratings are off the "
                                                   r"declared scale \[1, 5\]"),
    (GOOD, _with(TEST, "rating", 1, -1.0), (1, 5), r"1 ratings are off .*1 outside"),
    (GOOD, TEST, (5, 1), r"rating scale \(5, 1\) must be .* low < high"),
    (GOOD, TEST, (1, float("nan")), r"must be two finite numbers"),
    (_with(GOOD, "user", 2, "u2"), TEST, (1, 5), r"user ids mix types \(3 number, 1 text\); "
                                                  r"1 rows differ"),
    (_with(GOOD, "user", 0, np.nan), TEST, (1, 5), r"1 of 4 rows have no user id"),
    (_with(GOOD, "item", 3, None), TEST, (1, 5), r"1 of 4 rows have no item id"),
    (GOOD.drop(columns="rating"), TEST, (1, 5), r"lack the columns \['rating'\]"),
    (GOOD, TEST.rename(columns={"item": "movie"}), (1, 5), r"lack the columns \['item'\]"),
    (_with(GOOD, "rating", 2, "four"), TEST, (1, 5), r"1 ratings are not numbers"),
    (GOOD, TEST.assign(user=["2", "3"]), (1, 5), r"user ids are text in one part"),
])
def test_bad_ratings_are_refused_with_rows_counted(train, test, scale, pattern):
    with pytest.raises(InvalidRatingsError, match=pattern):
        _split(train, test, scale)


def test_good_ratings_still_make_a_split():
    split = _split()
    assert (len(split.train), len(split.test), split.n_users, split.n_items) == (4, 2, 3, 3)
    text_ids = _split(GOOD.assign(user=GOOD["user"].map("u{}".format)),
                      TEST.assign(user=TEST["user"].map("u{}".format)))
    assert list(text_ids.user_ids) == ["u1", "u2", "u3"]


def test_validate_ratings_counts_rows_too():
    spec = DatasetSpec("toy", "toy", "", "", (1.0, 5.0), ())
    bad = GOOD.assign(rating=[4.0, np.nan, np.nan, 9.0])
    with pytest.raises(InvalidRatingsError, match=r"3 ratings are off .*2 NaN, 0 infinite, 1 "):
        data.validate_ratings(bad, spec)


# --------------------------------------------------------------------------------------------
# Metrics

@pytest.mark.parametrize("metric", [rmse, mae])
def test_metrics_refuse_nan_truth(metric):
    with pytest.raises(InvalidRatingsError, match="1 of 3 true ratings are NaN or infinite"):
        metric([4.0, np.nan, 3.0], [4.0, 4.0, 3.0], (1, 5))


def test_ranking_metrics_refuse_nan_truth():
    with pytest.raises(InvalidRatingsError, match="true ratings are NaN"):
        ranking_metrics([0, 0], [np.nan, 5.0], [1.0, 2.0])


def test_reversed_scale_is_refused_by_the_metrics():
    with pytest.raises(InvalidRatingsError, match="low < high"):
        rmse([1.0, 5.0], [1.0, 5.0], (5, 1))


def test_no_relevant_item_leaves_rmse_and_reports_null_rankings():
    low = TEST.assign(rating=[1.0, 3.0])
    split = _split(GOOD, low)
    scores = score(split, np.array([2.0, 3.0]))
    assert scores["rmse"] == pytest.approx(np.sqrt(0.5))
    assert scores["precision@10"] is None and scores["ndcg@10"] is None
    assert (scores["ranked_users"], scores["unranked_users"]) == (0, 2)


def test_users_without_relevant_items_are_counted():
    scores = ranking_metrics([0, 0, 1], [5.0, 1.0, 2.0], [4.0, 1.0, 3.0], k=1)
    assert (scores["ranked_users"], scores["unranked_users"]) == (1, 1)
    assert scores["precision@1"] == 1.0


# --------------------------------------------------------------------------------------------
# predict: one check of index arrays for every model

MODELS = ["global-mean", "baseline", "svd-truncated"]


@pytest.fixture(scope="module")
def fitted():
    """Cheap models fitted on a seeded 30-user, 20-item split."""
    rng = np.random.default_rng(0)
    users, items = (a.ravel() for a in np.meshgrid(np.arange(30), np.arange(20), indexing="ij"))
    frame = pd.DataFrame({"user": users, "item": items,
                          "rating": rng.integers(1, 6, users.size).astype(float)})
    test_rows = rng.random(len(frame)) < 0.2
    split = split_from_frames("tiny", "t", frame[~test_rows], frame[test_rows], (1.0, 5.0))
    return {name: create_model(name).fit(split) for name in MODELS}


@pytest.mark.parametrize("users, items, pattern", [
    (np.zeros((2, 2), dtype=int), np.zeros((2, 2), dtype=int), r"user indices must be a 1-D"),
    ([0.0, 1.5], [0, 1], r"user indices must be whole numbers; 1 are not"),
    ([0, 1], [np.nan, 1.0], r"item indices must be whole numbers; 1 are NaN"),
    ([True, False], [0, 1], r"user indices must be integers, got booleans"),
    (["0", "1"], [0, 1], r"user indices must be integers, got dtype <U1"),
    ([0, 1], [0], r"users has shape \(2,\) but items has shape \(1,\)"),
    ([0, 99], [0, 1], r"user indices must lie in \[0, 30\)"),
])
def test_every_model_refuses_bad_indices_the_same_way(fitted, users, items, pattern):
    messages = set()
    for name, model in fitted.items():
        with pytest.raises(InvalidIndexError, match=pattern) as error:
            model.predict(users, items)
        messages.add(str(error.value))
    assert len(messages) == 1


def test_integral_floats_predict_like_integers(fitted):
    for model in fitted.values():
        np.testing.assert_array_equal(model.predict(np.array([0.0, 3.0]), np.array([1.0, 2.0])),
                                      model.predict(np.array([0, 3]), np.array([1, 2])))


# --------------------------------------------------------------------------------------------
# The cache

def _zip(payload: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("ratings.csv", payload)
    return buffer.getvalue()


SMALL = _zip(b"user,item,rating\n1,10,4\n1,11,5\n2,10,3\n")
# large enough that hashing and copying take a while: concurrent repairs overlap
LARGE = _zip(b"user,item,rating\n" + b"".join(b"%d,%d,3\n" % (u, u % 97)
                                               for u in range(600_000)))


def _spec(payload: bytes, url: str | None = None, name: str = "rel-test") -> DatasetSpec:
    remote = RemoteFile("rel.zip", hashlib.sha256(payload).hexdigest(), len(payload),
                        "rel/rel.zip", url)
    reader = lambda paths: pd.read_csv(io.BytesIO(zipfile.ZipFile(paths["rel.zip"])  # noqa
                                                  .read("ratings.csv")))
    return DatasetSpec(name, "reliability test", "", "test only", (1.0, 5.0),
                       (Source("test zip", (remote,), reader),))


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    folder = tmp_path / "mirror"
    (folder / "rel").mkdir(parents=True)
    monkeypatch.setenv(data.MIRROR_ENV, str(folder))
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "cache"))
    return folder


def test_directory_where_the_file_belongs_is_explained(mirror, tmp_path):
    (mirror / "rel" / "rel.zip").write_bytes(SMALL)
    (tmp_path / "cache" / "rel-test" / "rel.zip").mkdir(parents=True)
    with pytest.raises(DataIntegrityError, match=r"expects the file rel.zip at .* a directory"):
        data.fetch(_spec(SMALL))


def test_cache_folder_that_is_a_file_is_explained(mirror, tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "rel-test").write_text("not a folder")
    with pytest.raises(DataUnavailableError, match="is not a directory"):
        data.fetch(_spec(SMALL))


def test_orphaned_temporaries_are_cleaned(mirror, tmp_path):
    (mirror / "rel" / "rel.zip").write_bytes(SMALL)
    folder = tmp_path / "cache" / "rel-test"
    folder.mkdir(parents=True)
    orphan, kept = folder / "tmpab12cd_9", folder / "tmp-notes.txt"
    orphan.write_bytes(b"half a download")
    kept.write_text("not ours")
    data.fetch(_spec(SMALL))
    assert not orphan.exists() and kept.exists()


def test_oversized_mirror_file_is_refused_before_copying(mirror, monkeypatch, tmp_path):
    (mirror / "rel" / "rel.zip").write_bytes(SMALL * 50)

    def no_copy(*args, **kwargs):
        raise AssertionError("the mirror file was copied before its size was checked")

    monkeypatch.setattr(cache.shutil, "copyfile", no_copy)
    with pytest.raises(DataIntegrityError, match=r"not copied: .* \(larger than expected\)"):
        data.fetch(_spec(SMALL))
    assert not (tmp_path / "cache" / "rel-test" / "rel.zip").exists()


def _fetch_in_child(spec, queue, barrier):
    try:
        barrier.wait(timeout=60)  # all six meet the corrupt file at once
        data.fetch(spec)
        queue.put("ok")
    except BaseException as exc:  # noqa: BLE001  (report anything to the parent)
        queue.put(f"{type(exc).__name__}: {exc}")


def test_concurrent_repair_of_one_corrupt_file(mirror, tmp_path):
    (mirror / "rel" / "rel.zip").write_bytes(LARGE)
    spec = _spec(LARGE)
    cached = tmp_path / "cache" / "rel-test" / "rel.zip"
    context = multiprocessing.get_context("fork")
    for _ in range(3):
        cached.parent.mkdir(parents=True, exist_ok=True)
        corrupt = bytearray(LARGE)
        corrupt[1000] ^= 0xFF
        cached.write_bytes(bytes(corrupt))
        queue, barrier = context.Queue(), context.Barrier(6)
        children = [context.Process(target=_fetch_in_child, args=(spec, queue, barrier))
                    for _ in range(6)]
        for child in children:
            child.start()
        results = [queue.get(timeout=120) for _ in children]
        for child in children:
            child.join()
        assert results == ["ok"] * 6
        assert data.sha256_of(cached) == spec.sources[0].files[0].sha256


def test_stalled_server_is_reported_within_the_timeout(tmp_path, monkeypatch, caplog):
    """A server that accepts the connection and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}/rel.zip"
    monkeypatch.delenv(data.MIRROR_ENV, raising=False)
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(data.TIMEOUT_ENV, "1.5")
    caplog.set_level("INFO", logger="recsys_lib.cache")
    start = time.monotonic()
    try:
        with pytest.raises(DataUnavailableError, match=f"no answer from {url} within 1.5 s"):
            data.fetch(_spec(SMALL, url))
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        server.close()
    assert time.monotonic() - start < 6  # not retried after a stall
    assert url in caplog.text and "waiting at most 1.5 s" in caplog.text
    assert not any((tmp_path / "cache" / "rel-test").iterdir())


def test_bad_timeout_setting_is_named(monkeypatch):
    monkeypatch.setenv(data.TIMEOUT_ENV, "soon")
    with pytest.raises(DataUnavailableError, match="RECSYS_FETCH_TIMEOUT must be a positive"):
        data.fetch_timeout()


# Real permissions: root ignores file modes, so these run without the DAC capabilities.

def _fetch_cli(cache, *prefix) -> subprocess.CompletedProcess:
    env = dict(_env(), RECSYS_DATA_DIR=str(cache))
    return subprocess.run([*prefix, sys.executable, "-m", "recsys_lib", "fetch", "ml-100k"],
                          capture_output=True, text=True, env=env, timeout=120)


def _mirror_zip():
    path = data.mirror_dir() / "movielens" / "ml-100k.zip" if data.mirror_dir() else None
    if path is None or not path.is_file():
        pytest.skip("needs the ml-100k mirror ($RECSYS_DATA_MIRROR)")
    return path


def _no_override() -> list[str]:
    return _setpriv() if os.geteuid() == 0 else []


def test_unreadable_cached_file_is_explained(tmp_path):
    cached = tmp_path / "cache" / "ml-100k" / "ml-100k.zip"
    cached.parent.mkdir(parents=True)
    shutil.copyfile(_mirror_zip(), cached)
    cached.chmod(0)
    result = _fetch_cli(tmp_path / "cache", *_no_override())
    assert_user_error(result, "cannot read the cached file", str(cached))


def test_read_only_cache_folder(tmp_path):
    empty = tmp_path / "empty"
    (empty / "ml-100k").mkdir(parents=True)
    full = tmp_path / "full"
    (full / "ml-100k").mkdir(parents=True)
    shutil.copyfile(_mirror_zip(), full / "ml-100k" / "ml-100k.zip")
    for folder in (empty, full):
        (folder / "ml-100k").chmod(0o555)
        folder.chmod(0o555)
    try:
        assert_user_error(_fetch_cli(empty, *_no_override()), "is not writable")
        served = _fetch_cli(full, *_no_override())  # valid files are served read-only
        assert served.returncode == 0, served.stderr
        assert "ml-100k.zip verified" in served.stdout
    finally:
        for folder in (empty, full):
            folder.chmod(0o755)
            (folder / "ml-100k").chmod(0o755)


def test_directory_in_the_cache_through_the_cli(tmp_path):
    (tmp_path / "cache" / "ml-100k" / "ml-100k.zip").mkdir(parents=True)
    assert_user_error(_fetch_cli(tmp_path / "cache"), "is a directory")
