"""The archive format: deterministic, sized as asked, readable by tarfile, self-checking."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from controller_emulator import (
    ArchiveSpec,
    InvalidArchive,
    archive_length,
    iter_archive,
    read_manifest,
)
from controller_emulator.archive import BLOB_CAP, RECORD, validate_archive
from controller_emulator.records import Records, generate_records


def spec(size: int = 64 * 1024, seed: int = 1, blank: bool = False) -> ArchiveSpec:
    records = Records() if blank else generate_records(seed)
    return ArchiveSpec("controller-a", "7.1.1794", not blank, seed, 0 if blank else size, records)


def build(archive: ArchiveSpec) -> bytes:
    return b"".join(iter_archive(archive))


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    first = hashlib.sha256(build(spec(seed=7))).hexdigest()
    assert hashlib.sha256(build(spec(seed=7))).hexdigest() == first
    assert hashlib.sha256(build(spec(seed=8))).hexdigest() != first


@pytest.mark.parametrize("size", [1024, 10240, 64 * 1024, 1_000_000, 3 * 1024 * 1024 + 1])
def test_length_is_the_smallest_record_multiple_covering_the_target(size: int) -> None:
    archive = spec(size)
    data = build(archive)
    assert len(data) == archive_length(archive)
    assert len(data) % RECORD == 0
    assert len(data) >= size
    # never more than one record over the target, except where the JSON alone needs more
    assert len(data) - size < RECORD or size < 5 * RECORD


def test_archive_length_is_computed_without_generating() -> None:
    assert archive_length(spec(1 << 30)) == 1_073_745_920  # 1 GiB rounded up to whole tar records
    with pytest.raises(ValueError, match="outside"):
        archive_length(spec((1 << 30) + 1))


def test_chunks_are_at_most_one_mebibyte() -> None:
    assert max(len(chunk) for chunk in iter_archive(spec(5 * 1024 * 1024))) <= 1 << 20


def test_tarfile_reads_members_in_order_with_fixed_metadata() -> None:
    data = build(spec(200 * 1024))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
        names = [member.name for member in members]
        assert names[:5] == [
            "manifest.json",
            "config/accounts.json",
            "config/gateways.json",
            "config/tunnels.json",
            "config/vpn_users.json",
        ]
        assert names[5:] == ["config/blob-0000.bin"]
        for member in members:
            assert (member.mtime, member.uid, member.gid, member.mode) == (1700000000, 0, 0, 0o644)
            assert (member.uname, member.gname) == ("root", "root")
        manifest_file = tar.extractfile("manifest.json")
        assert manifest_file is not None
        raw = manifest_file.read()
        gateways_file = tar.extractfile("config/gateways.json")
        assert gateways_file is not None
        gateways = json.loads(gateways_file.read())
    manifest = json.loads(raw)
    assert raw == json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    assert manifest == {
        "format": "controller-backup-emulator/1",
        "controller": "controller-a",
        "version": "7.1.1794",
        "initialized": True,
        "counts": generate_records(1).counts(),
        "seed": 1,
    }
    assert len(gateways) == manifest["counts"]["gateways"] > 0
    assert {"gw_name", "vpc_id", "vpc_region", "cloud_type"} <= set(gateways[0])


def test_blank_archive_is_small_empty_and_not_initialized() -> None:
    data = build(spec(blank=True))
    assert len(data) == RECORD
    manifest = read_manifest(io.BytesIO(data))
    assert manifest["initialized"] is False
    assert set(manifest["counts"].values()) == {0}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert not any(name.startswith("config/blob-") for name in tar.getnames())


def test_big_archives_split_padding_into_64_mib_members(tmp_path: Path) -> None:
    archive = spec(BLOB_CAP + 3 * 1024 * 1024)
    path = tmp_path / "big.tar"
    with path.open("wb") as handle:
        for chunk in iter_archive(archive):
            handle.write(chunk)
    assert path.stat().st_size == archive_length(archive)
    with tarfile.open(path) as tar:
        blobs = [member for member in tar.getmembers() if member.name.startswith("config/blob-")]
    assert [blob.name for blob in blobs] == ["config/blob-0000.bin", "config/blob-0001.bin"]
    assert blobs[0].size == BLOB_CAP
    assert validate_archive(path).manifest["counts"] == generate_records(1).counts()


def test_read_manifest_takes_a_path_or_a_file_object(tmp_path: Path) -> None:
    data = build(spec())
    path = tmp_path / "a.tar"
    path.write_bytes(data)
    assert read_manifest(path) == read_manifest(str(path)) == read_manifest(io.BytesIO(data))
    with pytest.raises(InvalidArchive):
        read_manifest(io.BytesIO(b"not a tar" * 100))


@pytest.mark.parametrize("blank", [False, True])
def test_every_truncation_is_invalid(tmp_path: Path, blank: bool) -> None:
    data = build(spec(30 * 1024, blank=blank))
    path = tmp_path / "cut.tar"
    path.write_bytes(data)
    assert validate_archive(path).manifest["initialized"] is not blank
    for cut in {len(data) // 2, len(data) - 512, len(data) - RECORD, 512, 0}:
        path.write_bytes(data[:cut])
        with pytest.raises(InvalidArchive):
            validate_archive(path)


def test_corrupted_header_or_counts_are_invalid(tmp_path: Path) -> None:
    data = bytearray(build(spec()))
    path = tmp_path / "bad.tar"
    corrupt = bytearray(data)
    corrupt[600] ^= 0xFF  # inside the manifest: JSON no longer parses
    path.write_bytes(corrupt)
    with pytest.raises(InvalidArchive):
        validate_archive(path)
    corrupt = bytearray(data)
    corrupt[1024 + 10] ^= 0x01  # a header's name: its checksum fails
    path.write_bytes(corrupt)
    with pytest.raises(InvalidArchive):
        validate_archive(path)
