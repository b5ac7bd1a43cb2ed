"""Dataset registry, hash-checked fetching (HTTP, mirror, cache) and bad-input errors."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _serving import serve_directory

from recsys_lib import cache, data
from recsys_lib.data import DatasetSpec, RemoteFile, Source
from recsys_lib.errors import (
    DataIntegrityError,
    DataUnavailableError,
    InvalidRatingsError,
    UnknownNameError,
)

RATINGS_CSV = b"user,item,rating\n1,10,4\n1,11,5\n2,10,3\n"


def _zip_bytes(member: str, payload: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, payload)
    return buffer.getvalue()


GOOD_ZIP = _zip_bytes("ratings.csv", RATINGS_CSV)
GOOD_SHA = hashlib.sha256(GOOD_ZIP).hexdigest()


def _read_small(paths):
    with zipfile.ZipFile(paths["small.zip"]) as archive:
        return pd.read_csv(io.BytesIO(archive.read("ratings.csv")))


def small_spec(url: str | None, scale=(1.0, 5.0), reader=_read_small) -> DatasetSpec:
    remote = RemoteFile("small.zip", GOOD_SHA, len(GOOD_ZIP), "small/small.zip", url)
    return DatasetSpec("small-test", "a small test dataset", "http://127.0.0.1/", "test only",
                       scale, (Source("test zip", (remote,), reader),))


@pytest.fixture
def http_server(tmp_path):
    """Serves a good zip, a corrupted copy (same size, one byte changed) and a truncated copy."""
    served = tmp_path / "served"
    served.mkdir()
    (served / "small.zip").write_bytes(GOOD_ZIP)
    corrupted = bytearray(GOOD_ZIP)
    corrupted[len(corrupted) // 2] ^= 0xFF
    (served / "corrupted.zip").write_bytes(bytes(corrupted))
    (served / "truncated.zip").write_bytes(GOOD_ZIP[: len(GOOD_ZIP) // 2])
    with serve_directory(served) as url:
        yield url


@pytest.fixture
def no_mirror(monkeypatch):
    monkeypatch.delenv(data.MIRROR_ENV, raising=False)
    monkeypatch.setattr(cache, "NETWORK_RETRIES", 0)


def _closed_port_url() -> str:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/small.zip"


def test_registry_has_the_five_datasets():
    """Five real datasets (the synthetic stand-ins: tests/test_synthetic.py)."""
    assert sorted(data.real_datasets()) == ["amazon-electronics", "douban", "jester",
                                            "ml-100k", "ml-1m"]
    for spec in data.DATASETS.values():
        assert spec.licence and spec.homepage
        for source in spec.sources:
            for remote in source.files:
                assert len(remote.sha256) == 64 and remote.size > 0


def test_unknown_dataset_names_the_known_ones():
    with pytest.raises(UnknownNameError, match="unknown dataset 'ml-10m'.*ml-100k"):
        data.get_dataset("ml-10m")


def test_download_over_http_is_hash_checked_and_cached(http_server, tmp_cache, no_mirror):
    spec = small_spec(f"{http_server}/small.zip")
    fetched = data.fetch(spec)
    assert fetched.paths["small.zip"] == tmp_cache / "small-test" / "small.zip"
    assert fetched.read()["rating"].tolist() == [4, 5, 3]
    # A second fetch uses the cache: it works with the server gone.
    assert data.fetch(small_spec(_closed_port_url())).paths == fetched.paths


def _cache_is_clean(cache: Path) -> bool:
    folder = cache / "small-test"
    return not folder.exists() or not any(folder.iterdir())


def test_corrupted_download_is_rejected_and_nothing_cached(http_server, tmp_cache, no_mirror):
    spec = small_spec(f"{http_server}/corrupted.zip")
    with pytest.raises(DataIntegrityError) as error:
        data.fetch(spec)
    corrupted = bytearray(GOOD_ZIP)
    corrupted[len(corrupted) // 2] ^= 0xFF
    message = str(error.value)
    assert f"expected {GOOD_SHA}, got {hashlib.sha256(corrupted).hexdigest()}" in message
    assert "truncated" not in message  # same size, different bytes
    assert _cache_is_clean(tmp_cache)


def test_truncated_download_is_reported_as_truncated(http_server, tmp_cache, no_mirror):
    with pytest.raises(DataIntegrityError, match="truncated") as error:
        data.fetch(small_spec(f"{http_server}/truncated.zip"))
    truncated_sha = hashlib.sha256(GOOD_ZIP[: len(GOOD_ZIP) // 2]).hexdigest()
    assert truncated_sha in str(error.value) and GOOD_SHA in str(error.value)
    assert _cache_is_clean(tmp_cache)


def test_corrupt_cached_file_is_removed_and_fetched_again(http_server, tmp_cache, no_mirror):
    target = tmp_cache / "small-test" / "small.zip"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not the data")
    fetched = data.fetch(small_spec(f"{http_server}/small.zip"))
    assert fetched.paths["small.zip"].read_bytes() == GOOD_ZIP


def test_corrupt_cached_file_without_any_source_is_removed(tmp_cache, no_mirror):
    target = tmp_cache / "small-test" / "small.zip"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not the data")
    with pytest.raises(DataUnavailableError):
        data.fetch(small_spec(_closed_port_url()))
    assert not target.exists()


def test_mirror_is_used_before_the_network(tmp_path, tmp_cache, monkeypatch):
    mirror = tmp_path / "mirror"
    (mirror / "small").mkdir(parents=True)
    (mirror / "small" / "small.zip").write_bytes(GOOD_ZIP)
    monkeypatch.setenv(data.MIRROR_ENV, str(mirror))
    fetched = data.fetch(small_spec(_closed_port_url()))  # the network would fail
    assert fetched.paths["small.zip"].read_bytes() == GOOD_ZIP


def test_mirror_copy_with_wrong_hash_is_rejected(tmp_path, tmp_cache, monkeypatch):
    mirror = tmp_path / "mirror"
    (mirror / "small").mkdir(parents=True)
    (mirror / "small" / "small.zip").write_bytes(GOOD_ZIP[:-10])
    monkeypatch.setenv(data.MIRROR_ENV, str(mirror))
    with pytest.raises(DataIntegrityError, match=f"expected {GOOD_SHA}.*truncated"):
        data.fetch(small_spec(_closed_port_url()))
    assert _cache_is_clean(tmp_cache)


def test_mirror_without_the_file_and_no_network(tmp_path, tmp_cache, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setenv(data.MIRROR_ENV, str(mirror))
    monkeypatch.setattr(cache, "NETWORK_RETRIES", 0)
    with pytest.raises(DataUnavailableError, match=r"mirror .* has no small/small\.zip") as error:
        data.fetch(small_spec(_closed_port_url()))
    assert "download of test zip failed" in str(error.value)


def test_mirror_only_file_without_mirror_says_so(tmp_cache, no_mirror):
    with pytest.raises(DataUnavailableError, match="mirror only, no download URL"):
        data.fetch(small_spec(None))


def test_truncated_zip_in_cache_gives_a_clear_error(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(GOOD_ZIP[:40])
    with pytest.raises(DataIntegrityError, match="not a readable zip archive"):
        data._zip_member(bad, "ratings.csv")


@pytest.mark.parametrize("bad_rating", [6.0, 0.0, float("nan")])
def test_ratings_off_the_scale_are_rejected(tmp_path, tmp_cache, monkeypatch, bad_rating):
    mirror = tmp_path / "mirror"
    (mirror / "small").mkdir(parents=True)
    (mirror / "small" / "small.zip").write_bytes(GOOD_ZIP)
    monkeypatch.setenv(data.MIRROR_ENV, str(mirror))

    def reader(paths):
        frame = _read_small(paths).astype({"rating": float})
        frame.loc[1, "rating"] = bad_rating
        return frame

    with pytest.raises(InvalidRatingsError, match=r"1 ratings are off the declared scale \[1, 5\]"):
        data.fetch(small_spec(None, reader=reader)).read()


def test_empty_ratings_file_is_rejected(tmp_path, tmp_cache, monkeypatch):
    mirror = tmp_path / "mirror"
    (mirror / "small").mkdir(parents=True)
    (mirror / "small" / "small.zip").write_bytes(GOOD_ZIP)
    monkeypatch.setenv(data.MIRROR_ENV, str(mirror))
    spec = small_spec(None, reader=lambda paths: _read_small(paths).iloc[:0])
    with pytest.raises(InvalidRatingsError, match="holds no ratings"):
        data.fetch(spec).read()


# Real datasets (the mirror in CI, the publisher's URL elsewhere).

def test_real_datasets_load_with_their_documented_counts():
    from recsys_lib.reference import DATASET_COUNTS

    for name, (n_users, n_items, n_ratings) in DATASET_COUNTS.items():
        ratings = data.load_ratings(name)
        assert (len(ratings), ratings["user"].nunique(), ratings["item"].nunique()) == \
            (n_ratings, n_users, n_items), name
        low, high = data.get_dataset(name).rating_scale
        assert ratings["rating"].between(low, high).all()
    amazon = data.load_ratings("amazon-electronics")
    assert "0132793040" in set(amazon["item"])  # ASINs keep their leading zeros


def test_cache_state_reports_mirror_and_cache(tmp_cache, monkeypatch):
    spec = data.get_dataset("ml-100k")
    mirror = data.mirror_dir()
    monkeypatch.delenv(data.MIRROR_ENV, raising=False)
    assert data.cache_state(spec) == "not cached"
    if mirror is None:
        pytest.skip("no mirror configured")
    monkeypatch.setenv(data.MIRROR_ENV, str(mirror))
    assert data.cache_state(spec).startswith("in mirror")
    data.fetch(spec)
    assert data.cache_state(spec).startswith("cached")


def test_ml1m_loader_without_timestamps_keeps_file_order():
    ratings = data.load_ratings("ml-1m")
    assert list(ratings.columns) == ["user", "item", "rating"]
    # The first and last lines of ratings.dat (published) in file order.
    assert ratings.iloc[0][["user", "item", "rating"]].tolist() == [1, 1193, 5]
    assert ratings.iloc[-5:][["item", "rating"]].to_numpy().tolist() == \
        [[1091, 1], [1094, 5], [562, 5], [1096, 4], [1097, 4]]
    assert np.all(ratings["user"].iloc[-5:] == 6040)
