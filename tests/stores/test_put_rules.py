"""The rules every store keeps the same way (stores/base.py), checked on all four on real servers:
one precondition rule, a source that must hold exactly the declared size, version ids of the
store's own format."""

from __future__ import annotations

import io
import time
from typing import NoReturn

import pytest
from controller_backup.errors import BadRequest, StoreError

from tests.stores.contract import _get, _meta, _put
from tests.stores.locations import Location, location

__all__ = ["location"]

MIB = 1024 * 1024


class _Untouchable:
    """A source that fails the test if the store so much as looks at it."""

    def __getattr__(self, name: str) -> NoReturn:
        raise AssertionError(f"the store used the source ({name}) before refusing the call")


def test_if_match_with_if_absent_is_a_value_error_before_any_io(location: Location) -> None:
    store = location.open()
    with pytest.raises(ValueError, match="if_match and if_absent exclude each other"):
        store.put(_Untouchable(), 10, _meta(b"x" * 10), if_match="anything", if_absent=True)  # type: ignore[arg-type]
    assert store.head() is None
    if location.kind == "local":
        assert not location.local_path.parent.exists(), "the local store created folders first"


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("declared", "held"),
    [(1000, 5), (12 * MIB, MIB)],  # a single request, and a multipart/chunked one cut short
    ids=["small", "multipart"],
)
def test_short_source_fails_fast_and_stores_nothing(location: Location, declared: int, held: int) -> None:
    store = location.open()
    good = _put(store, b"good" * 100)
    before = [info.to_dict() for info in store.versions()]
    started = time.monotonic()
    with pytest.raises(StoreError, match=f"declared size {declared} bytes, but the source holds {held}"):
        store.put(io.BytesIO(b"s" * held), declared, _meta(b"s" * held))
    assert time.monotonic() - started < 10
    body, info = _get(store)
    assert body == b"good" * 100 and info.etag == good.etag
    assert [info.to_dict() for info in store.versions()] == before


def test_long_source_is_refused_rather_than_stored_truncated(location: Location) -> None:
    """More bytes than declared: storing the first `size` would keep an object whose recorded
    sha256 (of what the caller meant to store) describes other bytes. Refused, nothing stored."""
    store = location.open()
    data = b"L" * 2000
    with pytest.raises(StoreError, match="declared size 1000 bytes, but the source holds 2000"):
        store.put(io.BytesIO(data), 1000, _meta(data))
    assert store.head() is None
    assert store.versions() == []


def test_a_source_read_from_its_current_position_is_measured_from_there(location: Location) -> None:
    """The size rule counts the bytes from where the source stands, as every SDK reads them."""
    store = location.open()
    source = io.BytesIO(b"header" + b"D" * 500)
    source.seek(6)
    store.put(source, 500, _meta(b"D" * 500))
    assert _get(store)[0] == b"D" * 500


#: per store: ids that cannot be its version ids; "" and a traversal are refused by every store
_BAD_IDS = {
    "local": ["../../other/.x.tar.versions/20260101T000000000000Z-0a1b2c", "20260101T000000Z", "CURRENT"],
    "s3": ["a b", "id?versionId=other", "x&y", "#frag", "x" * 1025, "ver\nsion"],
    "azblob": ["2026-11-25", "2026-11-25T00:00:02Z", "../x", "2026-11-25T00:00:02.3333333Z&comp=list"],
    "gs": ["-1", "0", "1.5", "0x10", "007", str(2**63), "../1", "1 "],
}


def test_version_ids_not_of_the_store_format_are_bad_requests(location: Location) -> None:
    store = location.open()
    _put(store, b"v" * 100)
    kind_name = {"local": "local store", "s3": "S3", "azblob": "Azure Blob", "gs": "Cloud Storage"}
    problem = f"is not a valid {kind_name[location.kind]} version id"
    for bad in ["", *_BAD_IDS[location.kind]]:
        with pytest.raises(BadRequest, match=problem):
            store.head(bad)
        with pytest.raises(BadRequest, match=problem):
            store.download(io.BytesIO(), bad)
