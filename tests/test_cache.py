"""The data cache in every state it can meet (recsys_lib/cache.py): wrong file types, real
permissions (capabilities dropped for root), concurrent repair, orphaned temporaries, an
oversized mirror file and a stalled server."""

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

import pandas as pd
import pytest

from recsys_lib import cache, data
from recsys_lib.data import DatasetSpec, RemoteFile, Source
from recsys_lib.errors import (
    DataIntegrityError,
    DataUnavailableError,
)

from _cli import assert_user_error, child_env, setpriv


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


def test_a_mirror_setting_that_names_a_file_is_explained(tmp_path, monkeypatch):
    not_a_folder = tmp_path / "mirror.txt"
    not_a_folder.write_text("a file", encoding="utf-8")
    monkeypatch.setenv(data.MIRROR_ENV, str(not_a_folder))
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "cache"))
    with pytest.raises(DataUnavailableError, match=r"mirror .*mirror.txt \(\$RECSYS_DATA_MIRROR\)"
                       r" is not a folder"):
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
    env = dict(child_env(), RECSYS_DATA_DIR=str(cache))
    return subprocess.run([*prefix, sys.executable, "-m", "recsys_lib", "fetch", "ml-100k"],
                          capture_output=True, text=True, env=env, timeout=120)


def _mirror_zip():
    path = data.mirror_dir() / "movielens" / "ml-100k.zip" if data.mirror_dir() else None
    if path is None or not path.is_file():
        pytest.skip("needs the ml-100k mirror ($RECSYS_DATA_MIRROR)")
    return path


def _no_override() -> list[str]:
    return setpriv() if os.geteuid() == 0 else []


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


def test_a_lock_held_by_a_stopped_process_is_named_and_given_up(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import os, signal, sys\nfrom pathlib import Path\n"
         "from recsys_lib import cache\n"
         "with cache.cache_lock(Path(sys.argv[1])):\n"
         "    print('held', flush=True)\n    os.kill(os.getpid(), signal.SIGSTOP)\n",
         str(tmp_path / "cache" / "ml-100k")],
        stdout=subprocess.PIPE, text=True, env=child_env())
    try:
        assert holder.stdout.readline() == "held\n"
        env = dict(child_env(), RECSYS_DATA_DIR=str(tmp_path / "cache"),
                   RECSYS_LOCK_TIMEOUT="1")
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "recsys_lib", "train", "baseline",
                                 "--dataset", "ml-100k", "--split", "u1"],
                                capture_output=True, text=True, env=env, timeout=60)
        assert time.monotonic() - started < 30
        assert f"waiting for process {holder.pid} (stopped)" in result.stderr
        assert_user_error(result, "gave up after 1 s", f"process {holder.pid} (stopped)",
                          "RECSYS_LOCK_TIMEOUT")
        assert result.stdout == ""  # nothing trained
        env.pop("RECSYS_LOCK_TIMEOUT")  # the default: a stopped holder is given 10 s
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "recsys_lib", "fetch", "ml-100k"],
                                capture_output=True, text=True, env=env, timeout=120)
        assert time.monotonic() - started < 60
        assert_user_error(result, "gave up after 10 s", f"process {holder.pid} (stopped)")
    finally:
        holder.kill()
        holder.wait()


def test_a_bad_lock_timeout_setting_is_named(monkeypatch):
    monkeypatch.setenv(cache.LOCK_TIMEOUT_ENV, "soon")
    with pytest.raises(DataUnavailableError, match="RECSYS_LOCK_TIMEOUT='soon'"):
        cache.lock_timeout()


def test_the_readme_run_works_under_a_read_only_home_and_lc_all_c(tmp_path):
    """README's first run with HOME read-only (Surprise's import made ~/.surprise_data, the
    cache went to ~/.cache) and in the C locale: it trains, caching in the temporary folder."""
    _mirror_zip()
    home, temporary = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    temporary.mkdir()
    home.chmod(0o555)
    env = {key: value for key, value in child_env().items()
           if key not in (data.DATA_DIR_ENV, "SURPRISE_DATA_FOLDER", "XDG_CACHE_HOME")}
    env.update(HOME=str(home), TMPDIR=str(temporary), LC_ALL="C", LANG="C", PYTHONUTF8="0",
               PYTHONIOENCODING="")
    try:
        result = subprocess.run([*_no_override(), sys.executable, "-m", "recsys_lib", "train",
                                 "baseline", "--dataset", "ml-100k", "--split", "u1", "--seed",
                                 "0", "--record", str(tmp_path / "run.jsonl")],
                                capture_output=True, text=True, env=env, timeout=120)
    finally:
        home.chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert '"rmse"' in result.stdout.splitlines()[-1]
    assert "caching datasets in" in result.stderr
    assert list(home.iterdir()) == []  # nothing made in HOME
    assert (temporary / f"recsys_lib-cache-{os.getuid()}" / "ml-100k" / "ml-100k.zip").is_file()
    assert (tmp_path / "run.jsonl").read_text(encoding="utf-8").count("\n") == 1


def test_a_copy_cut_short_by_a_file_size_limit_is_one_line_and_leaves_nothing(tmp_path):
    """A full disk or a file-size limit while the mirror copy is written: one error line
    saying nothing was written, and the cache holds no partial file."""
    from _cli import assert_user_error, child_env

    env = {**child_env(), "RECSYS_DATA_DIR": str(tmp_path / "cache")}
    result = subprocess.run(["prlimit", "--fsize=100000", sys.executable, "-m", "recsys_lib",
                             "train", "global-mean", "--dataset", "ml-100k"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert_user_error(result, "cannot copy", "file-size limit", "nothing was written")
    assert not list((tmp_path / "cache").rglob("*.zip"))
    assert not [p for p in (tmp_path / "cache").rglob("*")
                if p.is_file() and p.stat().st_size and not p.name.endswith(".lock")]


def test_a_cache_folder_setting_that_names_no_folder_is_one_error(tmp_path):
    """A name over 255 bytes was an OSError traceback; a loop of links and ~nosuchuser are
    named with the setting."""
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    for folder, reason in ((str(tmp_path / ("c" * 300)), "300 bytes long"),
                           (str(tmp_path / "a"), "loop of symbolic links"),
                           ("~nosuchuser_r2/cache", "names no user")):
        result = _fetch_cli(folder)
        assert_user_error(result, "RECSYS_DATA_DIR", reason)
