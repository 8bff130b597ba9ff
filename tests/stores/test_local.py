"""The local store against the shared contract, plus its own durability rules."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from controller_backup.errors import StoreError
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
