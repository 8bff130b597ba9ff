"""The rules every store keeps the same way (stores/base.py), checked on all four on real servers:
one precondition, a source that must hold exactly its declared size, version ids of the store's
own format."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any, NoReturn

import pytest
from controller_backup.errors import BadRequest, PreconditionFailed, StoreError
from controller_backup.stores import IfAbsent, IfMatch, SizedSource, replacing
from controller_backup.stores.base import _SpoolFile

from tests.stores.contract import _get, _meta, _put
from tests.stores.locations import Location, location

__all__ = ["location"]

MIB = 1024 * 1024


class _Untouchable:
    """A source that fails the test if the store so much as looks at it."""

    def __getattr__(self, name: str) -> NoReturn:
        raise AssertionError(f"the store used the source ({name}) before refusing the call")


# -- one precondition ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        {"precondition": '"an etag given bare"'},
        {"precondition": (IfMatch("e"), IfAbsent())},  # "both" as one value
        {"precondition": True},
        {"if_match": "e"},  # the old keywords are gone
        {"if_absent": True},
    ],
    ids=["bare-etag", "both", "bool", "if_match", "if_absent"],
)
def test_anything_but_one_precondition_is_a_type_error_before_any_io(
    location: Location, call: dict[str, Any]
) -> None:
    store = location.open()
    with pytest.raises(TypeError, match=r"precondition|unexpected keyword"):
        store.put(SizedSource(_Untouchable(), 10), _meta(b"x" * 10), **call)  # type: ignore[arg-type]
    assert store.head() is None
    if location.kind == "local":
        assert not location.local_path.parent.exists(), "the local store created folders first"


def test_replacing_what_was_read_is_refused_once_another_writer_landed(location: Location) -> None:
    """The jobs' one form: `replacing(read)`. Read nothing, another writes first: IfAbsent is
    refused; read an object, another replaces it: IfMatch is refused. Nothing changes either time."""
    store = location.open()
    nothing = store.head()
    assert replacing(nothing) == IfAbsent()
    theirs = _put(store, b"theirs" * 100)
    with pytest.raises(PreconditionFailed):
        _put(store, b"mine" * 100, replacing(nothing))
    read = store.head()
    assert read is not None and replacing(read) == IfMatch(theirs.etag)
    newer = _put(store, b"newer" * 100)
    before = [info.to_dict() for info in store.versions()]
    with pytest.raises(PreconditionFailed):
        _put(store, b"mine" * 100, replacing(read))
    body, info = _get(store)
    assert body == b"newer" * 100 and info.etag == newer.etag
    assert [info.to_dict() for info in store.versions()] == before
    _put(store, b"mine" * 100, replacing(store.head()))
    assert _get(store)[0] == b"mine" * 100


# -- a source of exactly its size --------------------------------------------------------------------


def _refusal(url: str, declared: int, held: int) -> str:
    """The one message every store gives a source of the wrong size."""
    return f"{url}: declared size {declared} bytes, but the source holds {held}; nothing was stored"


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("declared", "held"),
    # a single request and a multipart/chunked one, each cut short and overlong
    [(1000, 5), (12 * MIB, MIB), (1000, 2000), (6 * MIB, 12 * MIB)],
    ids=["short", "short-multipart", "long", "long-multipart"],
)
@pytest.mark.parametrize("existing", [False, True], ids=["empty", "over-an-object"])
def test_a_source_not_of_its_size_is_refused_the_same_everywhere_and_stores_nothing(
    location: Location, declared: int, held: int, existing: bool
) -> None:
    """Short: an SDK told the size would wait for bytes that never come. Long: the first `size`
    would be stored, its recorded sha256 describing other bytes. Refused at once, nothing read."""
    store = location.open()
    good = _put(store, b"good" * 100) if existing else None
    before = [info.to_dict() for info in store.versions()]
    stream = io.BytesIO(b"s" * held)
    started = time.monotonic()
    with pytest.raises(StoreError) as caught:
        store.put(SizedSource(stream, declared), _meta(b"s" * held))
    assert time.monotonic() - started < 10
    assert type(caught.value) is StoreError
    assert caught.value.message == _refusal(store.url, declared, held)
    assert stream.tell() == 0, "the store read the source before refusing it"
    assert [info.to_dict() for info in store.versions()] == before
    if good is None:
        assert store.head() is None
    else:
        body, info = _get(store)
        assert body == b"good" * 100 and info.etag == good.etag


def test_a_negative_or_unmeasurable_size_is_refused(location: Location) -> None:
    store = location.open()
    with pytest.raises(StoreError, match="declared size -1 is negative"):
        store.put(SizedSource(io.BytesIO(b""), -1), _meta(b""))

    class Unseekable(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

    with pytest.raises(StoreError, match="put needs a seekable source"):
        store.put(SizedSource(Unseekable(), 10), _meta(b"x" * 10))  # type: ignore[arg-type]
    assert store.head() is None


def test_a_source_read_from_its_current_position_is_measured_from_there(location: Location) -> None:
    """The size rule counts the bytes from where the source stands, as every SDK reads them."""
    store = location.open()
    source = io.BytesIO(b"header" + b"D" * 500)
    source.seek(6)
    store.put(SizedSource(source, 500), _meta(b"D" * 500))
    assert _get(store)[0] == b"D" * 500


# -- version ids ------------------------------------------------------------------------------------

#: per store: ids that cannot be its version ids; "" and a traversal are refused by every store
_BAD_IDS = {
    "local": ["../../other/.x.tar.versions/20260101T000000000000Z-0a1b2c", "20260101T000000Z", "CURRENT"],
    "s3": ["a b", "id?versionId=other", "x&y", "#frag", "x" * 1025, "ver\nsion"],
    "azblob": ["2026-11-25", "2026-11-25T00:00:02Z", "../x", "2026-11-25T00:00:02.3333333Z&comp=list"],
    "gs": ["-1", "0", "1.5", "0x10", "007", str(2**63), "../1", "1 "],
}


def test_a_spool_is_taken_by_its_path_only_while_the_stream_covers_the_whole_file(tmp_path: Path) -> None:
    """An SDK given the path reads the file itself, from its start to its end: anything else
    (a stream past the start, a declared size short of the file's) must go as the stream."""
    path = tmp_path / "spool"
    path.write_bytes(b"x" * 10)
    with _SpoolFile(str(path)) as spool:
        assert SizedSource(spool, 10).whole_file() == str(path)
        assert SizedSource(spool, 9).whole_file() is None
        spool.seek(1)
        assert SizedSource(spool, 9).whole_file() is None
    assert SizedSource.of(b"x" * 10).whole_file() is None


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
