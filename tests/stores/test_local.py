"""The local store against the shared contract, plus its own durability rules."""

from __future__ import annotations

import io
import os
import pwd
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from controller_backup.errors import AccessDenied, StoreError
from controller_backup.stores import open_store
from controller_backup.stores.local import LocalStore

from .contract import StoreContract, _get, _meta, _put


class TestLocalStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> LocalStore:
        store = open_store((tmp_path / "backups" / "controller.tar").as_uri())
        assert isinstance(store, LocalStore)
        return store


def test_plain_path_and_file_url_are_the_same_store(tmp_path: Path) -> None:
    a = open_store(str(tmp_path / "b.tar"))
    b = open_store((tmp_path / "b.tar").as_uri())
    assert a.url == b.url


def test_plain_file_is_the_newest_version(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "c.tar")
    _put(store, b"one" * 100)
    _put(store, b"two" * 100)
    assert (tmp_path / "c.tar").read_bytes() == b"two" * 100


def test_keeps_only_n_versions(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "c.tar", keep_versions=3)
    for i in range(5):
        _put(store, bytes([i]) * 100)
    versions = store.versions()
    assert len(versions) == 3
    assert _get(store, versions[-1].version_id)[0] == bytes([2]) * 100


def test_short_source_is_refused_and_previous_version_stays(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "c.tar")
    good = _put(store, b"good" * 100)
    with pytest.raises(StoreError, match="expected 1000 bytes"):
        store.put(io.BytesIO(b"short"), 1000, _meta(b"short"))
    body, info = _get(store)
    assert body == b"good" * 100 and info.etag == good.etag
    assert len(store.versions()) == 1


def test_crash_before_commit_leaves_previous_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure after the data is written but before CURRENT moves must not change the object."""
    store = LocalStore(tmp_path / "c.tar")
    _put(store, b"good" * 100)
    real = store._write_atomically
    calls = {"n": 0}

    def failing(target: Path, write: object) -> None:
        calls["n"] += 1
        if target.name == "CURRENT":
            raise OSError(28, "No space left on device")
        real(target, write)

    monkeypatch.setattr(store, "_write_atomically", failing)
    with pytest.raises(StoreError, match="No space left"):
        _put(store, b"bad" * 100)
    assert calls["n"] >= 2
    assert _get(store)[0] == b"good" * 100
    assert len(store.versions()) == 1


def test_version_file_is_the_stored_version(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "c.tar")
    first = _put(store, b"one" * 100)
    _put(store, b"two" * 100)
    path, info = store.version_file(first.version_id)
    assert path.read_bytes() == b"one" * 100 and info.version_id == first.version_id
    assert store.version_file()[0].read_bytes() == b"two" * 100


# -- the write probe ---------------------------------------------------------------------------


def _as_unprivileged(probe: Callable[[], str]) -> str:
    """Run `probe` as an identity the folder permissions bind: `nobody` when the tests run as root
    (root may write anywhere a folder's mode forbids), in a forked child; otherwise in process."""
    if os.geteuid() != 0:
        return probe()
    nobody = pwd.getpwnam("nobody")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop root, probe, report through the pipe, leave at once
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            answer = probe()
        except BaseException as exc:
            answer = f"error {type(exc).__name__}: {exc}"
        os.write(write_end, answer.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        answer = pipe.read()
    os.waitpid(pid, 0)
    return answer


def _probe(store: LocalStore) -> Callable[[], str]:
    def run() -> str:
        try:
            store.probe_write()
        except AccessDenied as exc:
            return f"denied: {exc.message}"
        return "allowed"

    return run


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder any user may traverse (pytest's tmp_path is private to its owner)."""
    path = Path(tempfile.mkdtemp(prefix="probe-"))
    path.chmod(0o755)
    yield path
    for folder in path.rglob("*"):
        if folder.is_dir():
            folder.chmod(0o755)
    shutil.rmtree(path)


def test_write_probe_follows_the_folder_permissions(shared_dir: Path) -> None:
    writable, locked = shared_dir / "writable", shared_dir / "locked"
    writable.mkdir(mode=0o777)
    writable.chmod(0o777)
    locked.mkdir()
    locked.chmod(0o555)
    assert _as_unprivileged(_probe(LocalStore(writable / "backup.tar"))) == "allowed"
    answer = _as_unprivileged(_probe(LocalStore(locked / "backup.tar")))
    assert answer == f"denied: {(locked / 'backup.tar').as_uri()}: this process may not write in {locked}"
    assert list(locked.iterdir()) == [] and list(writable.iterdir()) == []


def test_write_probe_checks_the_versions_folder_too(shared_dir: Path) -> None:
    folder = shared_dir / "backups"
    folder.mkdir()
    folder.chmod(0o777)
    store = LocalStore(folder / "backup.tar")
    _put(store, b"one" * 10)
    versions = folder / ".backup.tar.versions"
    versions.chmod(0o555)
    assert _as_unprivileged(_probe(store)).startswith(f"denied: {store.url}: this process may not write in")


def test_write_probe_of_missing_folders_asks_the_nearest_existing_one(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "not" / "yet" / "backup.tar")
    store.probe_write()
    assert not (tmp_path / "not").exists()


def test_write_probe_under_a_file_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "plain").write_bytes(b"x")
    with pytest.raises(StoreError, match="is not a folder") as caught:
        LocalStore(tmp_path / "plain" / "backup.tar").probe_write()
    assert type(caught.value) is StoreError
