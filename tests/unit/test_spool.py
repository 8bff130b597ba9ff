"""The hashing spool: its hash always describes exactly the bytes it holds."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest
from controller_backup.archive import ArchiveWalk, inspect_archive
from controller_backup.errors import InvalidExport
from controller_backup.spool import HashingSink, HashingSpool


def test_hash_and_size_follow_the_writes() -> None:
    with HashingSpool() as spool:
        spool.write(b"abc")
        spool.write(b"def")
        assert spool.sha256 == hashlib.sha256(b"abcdef").hexdigest() and spool.size == 6
        assert spool.rewind().read() == b"abcdef"


def test_restarted_download_restarts_the_hash() -> None:
    with HashingSpool() as spool:
        spool.write(b"partial")
        spool.seek(0)
        spool.truncate()
        spool.write(b"whole")
        assert spool.sha256 == hashlib.sha256(b"whole").hexdigest()
        assert spool.rewind().read() == b"whole"


def test_out_of_order_writes_are_refused() -> None:
    """Parallel downloaders that seek would make the running hash describe other bytes."""
    with HashingSpool() as spool:
        assert not spool.seekable()  # so SDK downloaders write in order
        spool.write(b"x" * 10)
        spool.seek(2)
        with pytest.raises(ValueError, match="in order"):
            spool.write(b"y")
        spool.seek(0, os.SEEK_END)
        spool.rewind()
        assert spool.seekable()


def test_spool_file_is_removed_on_close() -> None:
    spool = HashingSpool()
    path = spool.path
    assert os.path.exists(path)
    spool.close()
    assert not os.path.exists(path)


def test_sink_hashes_without_keeping() -> None:
    sink = HashingSink()
    sink.write(b"first")
    sink.seek(0)
    sink.truncate()
    sink.write(b"second")
    assert sink.sha256 == hashlib.sha256(b"second").hexdigest() and sink.size == 6
    with pytest.raises(ValueError):
        sink.seek(3)


def test_existing_file_is_hashed_in_place_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "version.data"
    path.write_bytes(b"stored bytes" * 1000)
    with HashingSpool(existing=str(path)) as spool:
        assert spool.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert spool.size == path.stat().st_size and spool.seekable()
        assert spool.rewind().read(12) == b"stored bytes"
    assert path.exists()


def test_hash_of_many_small_and_mixed_writes() -> None:
    """The digest follows every write, whatever its size."""
    pieces = [os.urandom(n) for n in (1, 7000, 1024 * 1024, 3, 2 * 1024 * 1024 + 5, 65536)]
    with HashingSpool() as spool:
        for piece in pieces:
            spool.write(piece)
        assert spool.sha256 == hashlib.sha256(b"".join(pieces)).hexdigest()


def test_bytearray_writes_are_copied_before_hashing() -> None:
    buffer = bytearray(b"a" * 100)
    with HashingSpool() as spool:
        spool.write(buffer)  # type: ignore[arg-type]
        buffer[:] = b"b" * 100  # the writer reuses its buffer, as SDK readers do
        assert spool.sha256 == hashlib.sha256(b"a" * 100).hexdigest()


def _tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        member = tarfile.TarInfo("config.json")
        member.size = 3000
        archive.addfile(member, io.BytesIO(b"x" * 3000))
    return buffer.getvalue()


def test_the_walk_sees_what_the_hash_sees_and_restarts_with_it() -> None:
    """A download that starts again must not leave the walk judging the first try's bytes."""
    walk = ArchiveWalk()
    with HashingSpool(walk=walk) as spool:
        spool.write(b"<html>a proxy's page")
        with pytest.raises(InvalidExport, match="HTML page"):
            inspect_archive(walk)
        spool.seek(0)
        spool.truncate()
        data = _tar()
        for at in range(0, len(data), 1000):
            spool.write(data[at : at + 1000])
        assert inspect_archive(walk).members == 1 and walk.size == spool.size == len(data)


def test_an_existing_file_is_walked_in_the_pass_that_hashes_it(tmp_path: Path) -> None:
    path = tmp_path / "version.data"
    path.write_bytes(_tar())
    walk = ArchiveWalk()
    with HashingSpool(existing=str(path), walk=walk) as spool:
        assert spool.tell() == 0  # nothing read it after that pass
        assert inspect_archive(walk).kind == "tar" and walk.size == spool.size
