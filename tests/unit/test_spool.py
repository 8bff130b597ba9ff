"""The hashing spool: its hash always describes exactly the bytes it holds."""

from __future__ import annotations

import hashlib
import os

import pytest
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
