"""The ObjectStore contract, run against every implementation.

A store's test module subclasses `StoreContract` and provides the `store` fixture: a fresh,
empty object location (a new key) on a real server. `versioned` says whether that store keeps
history; tests of history then assert, and are skipped with a stated reason only where the
backend itself keeps none.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from datetime import UTC, datetime, timedelta

import pytest
from controller_backup.errors import ObjectNotFound, PreconditionFailed
from controller_backup.stores import (
    METADATA_KEYS,
    IfAbsent,
    IfMatch,
    ObjectInfo,
    ObjectStore,
    Precondition,
    SizedSource,
)


def _meta(data: bytes, **extra: str) -> dict[str, str]:
    meta = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": str(len(data)),
        "controller_version": "7.1.1794",
        "exported_at": "2026-11-25T00:00:00+00:00",
        "controller": "https://controller.example",
        "tool_version": "0.1.0",
    }
    meta.update(extra)
    return meta


def _put(store: ObjectStore, data: bytes, precondition: Precondition = None) -> ObjectInfo:
    return store.put(SizedSource.of(data), _meta(data), precondition=precondition)


def _get(store: ObjectStore, version_id: str | None = None) -> tuple[bytes, ObjectInfo]:
    buf = io.BytesIO()
    info = store.download(buf, version_id)
    return buf.getvalue(), info


class _Recorded:
    """A Progress that adds up what it is told (stores may tell it from worker threads)."""

    def __init__(self) -> None:
        self.expected: list[int] = []
        self.moved = 0
        self._lock = threading.Lock()

    def expect(self, total: int) -> None:
        self.expected.append(total)

    def advance(self, amount: int) -> None:
        with self._lock:
            self.moved += amount


class StoreContract:
    versioned = True

    @pytest.fixture
    def store(self) -> ObjectStore:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def test_empty_location(self, store: ObjectStore) -> None:
        assert store.head() is None
        with pytest.raises(ObjectNotFound):
            store.download(io.BytesIO())
        assert store.versions() == []

    def test_round_trip_bytes_and_metadata(self, store: ObjectStore) -> None:
        data = os.urandom(4096)
        written = _put(store, data)
        assert written.size == len(data) and written.etag
        body, info = _get(store)
        assert body == data
        assert info.size == len(data)
        for key in METADATA_KEYS:
            assert info.metadata[key] == _meta(data)[key], key
        head = store.head()
        assert head is not None and head.etag == written.etag and head.size == len(data)
        assert dict(head.metadata) == dict(info.metadata)
        assert abs(head.last_modified - datetime.now(UTC)) < timedelta(minutes=5)

    def test_overwrite_replaces_the_one_object(self, store: ObjectStore) -> None:
        _put(store, b"first" * 300)
        second = _put(store, b"second" * 300)
        body, info = _get(store)
        assert body == b"second" * 300
        assert info.etag == second.etag

    def test_large_object_round_trip(self, store: ObjectStore) -> None:
        data = os.urandom(3 * 1024 * 1024 + 17) * 4  # 12 MiB and a bit: crosses multipart/chunk sizes
        _put(store, data)
        body, info = _get(store)
        assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
        assert info.size == len(data)

    def test_put_and_download_report_their_bytes(self, store: ObjectStore) -> None:
        """The command line's progress bars count what each store moves: the size first, then
        every byte once, whatever the store's chunks, threads or retries."""
        data = os.urandom(3 * 1024 * 1024 + 17) * 4  # several chunks or blocks in every store
        sent = _Recorded()
        store.put(SizedSource.of(data), _meta(data), progress=sent)
        assert sent.expected == [len(data)] and sent.moved == len(data)
        received = _Recorded()
        buf = io.BytesIO()
        store.download(buf, progress=received)
        assert buf.getvalue() == data
        assert received.expected == [len(data)] and received.moved == len(data)

    def test_if_match_the_current_etag_writes(self, store: ObjectStore) -> None:
        first = _put(store, b"a" * 2000)
        _put(store, b"b" * 2000, precondition=IfMatch(first.etag))
        assert _get(store)[0] == b"b" * 2000

    def test_if_match_a_changed_object_is_refused_and_changes_nothing(self, store: ObjectStore) -> None:
        first = _put(store, b"a" * 2000)
        second = _put(store, b"b" * 2000, precondition=IfMatch(first.etag))
        before = [info.to_dict() for info in store.versions()]
        with pytest.raises(PreconditionFailed):
            _put(store, b"c" * 2000, precondition=IfMatch(first.etag))
        body, info = _get(store)
        assert body == b"b" * 2000 and info.etag == second.etag
        assert [info.to_dict() for info in store.versions()] == before

    def test_if_absent_writes_the_first_object_and_is_refused_once_one_is_there(
        self, store: ObjectStore
    ) -> None:
        first = _put(store, b"x" * 1500, precondition=IfAbsent())
        with pytest.raises(PreconditionFailed):
            _put(store, b"y" * 1500, precondition=IfAbsent())
        body, info = _get(store)
        assert body == b"x" * 1500 and info.etag == first.etag
        assert [v.etag for v in store.versions()] == [first.etag]

    def test_versions_newest_first_and_readable(self, store: ObjectStore) -> None:
        if not self.versioned:
            pytest.skip(f"{type(store).__name__}'s backend keeps no versions")
        a = _put(store, b"A" * 1024)
        b = _put(store, b"B" * 1024)
        versions = store.versions()
        assert [v.version_id for v in versions[:2]] == [b.version_id, a.version_id]
        assert versions[0].is_latest and not versions[1].is_latest
        assert a.version_id is not None
        body, info = _get(store, a.version_id)
        assert body == b"A" * 1024 and info.version_id == a.version_id
        old = store.head(a.version_id)
        assert old is not None and old.metadata["sha256"] == hashlib.sha256(b"A" * 1024).hexdigest()

    def test_versions_limit_keeps_the_newest(self, store: ObjectStore) -> None:
        """`limit` bounds the answer to the newest versions, each described in full (S3 heads them)."""
        written = [_put(store, letter * 1024) for letter in (b"A", b"B", b"C")]
        newest = store.versions(limit=2)
        assert [v.version_id for v in newest] == [v.version_id for v in store.versions()[:2]]
        assert newest[0].version_id == written[-1].version_id and newest[0].is_latest
        assert newest[0].metadata["sha256"] == hashlib.sha256(b"C" * 1024).hexdigest()
        if self.versioned:
            assert [v.version_id for v in newest] == [written[2].version_id, written[1].version_id]
            assert newest[1].metadata["sha256"] == hashlib.sha256(b"B" * 1024).hexdigest()
        else:
            assert len(newest) == 1
        with pytest.raises(ValueError, match="limit"):
            store.versions(limit=0)

    def test_missing_version_is_not_found(self, store: ObjectStore) -> None:
        if not self.versioned:
            pytest.skip(f"{type(store).__name__}'s backend keeps no versions")
        _put(store, b"A" * 1024)
        with pytest.raises(ObjectNotFound):
            store.download(io.BytesIO(), self.missing_version_id)

    #: a well-formed version id that names nothing; stores override where ids have a fixed shape
    missing_version_id = "20000101T000000000000Z-000000"

    # -- the preflight's read-only probes -----------------------------------------------------

    #: what `versioning()` answers for this test's location once it holds an object
    versioning_expected: bool | None = True

    def test_versioning_answers_what_the_backend_keeps(self, store: ObjectStore) -> None:
        _put(store, b"v" * 100)
        assert store.versioning() is self.versioning_expected

    def test_write_probe_on_an_empty_location_is_allowed_and_creates_nothing(
        self, store: ObjectStore
    ) -> None:
        store.probe_write()
        assert store.head() is None
        assert store.versions() == []

    def test_write_probe_on_an_object_changes_no_byte_and_adds_no_version(self, store: ObjectStore) -> None:
        data = os.urandom(3000)
        written = _put(store, data)
        before = [info.to_dict() for info in store.versions()]
        store.probe_write()
        store.probe_write()
        body, info = _get(store)
        assert body == data
        assert info.etag == written.etag and info.version_id == written.version_id
        assert [info.to_dict() for info in store.versions()] == before
        # the object is still writable by its real etag: the probe left no lock or lease behind
        _put(store, b"after" * 10, precondition=IfMatch(written.etag))
        assert _get(store)[0] == b"after" * 10
