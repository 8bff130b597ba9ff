"""The archive checks: whole archives pass, anything else is refused with a reason."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

import pytest
from controller_backup.archive import inspect_archive, sniff_problem
from controller_backup.emulator import ArchiveSpec, iter_archive
from controller_backup.emulator.records import Records, generate_records
from controller_backup.errors import InvalidExport
from hypothesis import given, settings
from hypothesis import strategies as st


def _archive(size: int = 20 * 1024, blank: bool = False) -> bytes:
    records = Records() if blank else generate_records(3)
    spec = ArchiveSpec(
        name="c",
        version="7.1.1794",
        initialized=not blank,
        seed=3,
        size=0 if blank else size,
        records=records,
    )
    return b"".join(iter_archive(spec))


def _check(data: bytes):  # type: ignore[no-untyped-def]
    return inspect_archive(io.BytesIO(data), len(data))


def test_emulator_archive_is_a_whole_tar_with_a_manifest() -> None:
    summary = _check(_archive())
    assert summary.kind == "tar" and summary.members >= 5
    assert summary.manifest is not None and summary.manifest["initialized"] is True
    assert not summary.blank


def test_blank_archive_is_recognised() -> None:
    assert _check(_archive(blank=True)).blank


def test_any_tarfile_archive_passes() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("config.json")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"{}   "))
    assert _check(buf.getvalue()).members == 1


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (json.dumps({"return": False, "reason": "disk full"}).encode(), "error envelope: disk full"),
        (b"<!DOCTYPE html><html><body>Sign in</body></html>", "HTML"),
        (b"  <html>proxy</html>", "HTML"),
    ],
)
def test_sniff_refuses_non_archives(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidExport, match=reason):
        _check(data)


def test_gzip_complete_and_truncated() -> None:
    data = gzip.compress(b"x" * 100_000)
    assert _check(data).kind == "gzip"
    with pytest.raises(InvalidExport, match="truncated"):
        _check(data[: len(data) // 2])


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_every_truncation_of_a_tar_is_refused(data: st.DataObject) -> None:
    whole = _archive()
    # Cut anywhere before the end-of-archive marker: tar padding after it is not content.
    end_marker = whole.rfind(b"}") + 1  # inside the last JSON member at the latest
    cut = data.draw(st.integers(min_value=0, max_value=max(end_marker, 1)))
    with pytest.raises(InvalidExport):
        _check(whole[:cut])


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes_never_crash_the_checker(data: bytes) -> None:
    try:
        _check(data)
    except InvalidExport as exc:
        assert exc.message


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=511), st.integers(min_value=1, max_value=255))
def test_a_flipped_header_byte_is_caught(offset: int, flip: int) -> None:
    if 154 <= offset < 156 or 257 <= offset < 263:
        # The checksum field's terminators are covered by no checksum; a changed format magic
        # makes the bytes an unknown (opaque) format, guarded only by length and hash.
        return
    whole = bytearray(_archive())
    whole[offset] ^= flip
    try:
        summary = _check(bytes(whole))
    except InvalidExport:
        return
    # Only bytes outside the checksummed header may change unnoticed: none are, in a header.
    raise AssertionError(f"corrupt header byte {offset} passed as {summary}")


def test_sniff_problem_passes_binary() -> None:
    assert sniff_problem(b"\x00\x01binary") is None
