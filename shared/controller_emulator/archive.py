"""The configuration archive: a deterministic, uncompressed POSIX ustar stream.

Generated as a stream with a length known up front, so the server can send `Content-Length`
and a 1 GiB archive never sits in memory. The layout is chosen so that a cut anywhere leaves a
stream without its end-of-archive marker: the archive's own structure reveals truncation.

Layout: `manifest.json`, `config/{accounts,gateways,tunnels,vpn_users}.json`, then
`config/blob-NNNN.bin` padding members (at most 64 MiB each) that fill the archive exactly to the
target (rounded up to a multiple of 10240 bytes, tar's record size), then two zero blocks.
"""

from __future__ import annotations

import json
import os
import random
import tarfile
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import IO, Any

from .records import Records

FORMAT = "controller-backup-emulator/1"
MTIME = 1_700_000_000
BLOCK = tarfile.BLOCKSIZE
RECORD = tarfile.RECORDSIZE
CHUNK = 1 << 20
BLOB_CAP = 64 << 20
MIN_SIZE = 1 << 10
MAX_SIZE = 1 << 30
MANIFEST_NAME = "manifest.json"
CONFIG_KINDS = ("accounts", "gateways", "tunnels", "vpn_users")
CONFIG_NAMES = tuple(f"config/{kind}.json" for kind in CONFIG_KINDS)
_BLOB_PREFIX, _BLOB_SUFFIX = "config/blob-", ".bin"
#: generous bounds for the JSON members an import may carry; they keep validation's memory bounded
_MAX_MANIFEST = 1 << 20
_MAX_CONFIG_MEMBER = 64 << 20


class InvalidArchive(ValueError):
    """The bytes are not a complete archive of this format."""


@dataclass(frozen=True)
class ArchiveSpec:
    """Everything the generated archive's bytes depend on."""

    name: str
    version: str
    initialized: bool
    seed: int
    #: target size in bytes; 0 means no padding (a blank controller's small archive)
    size: int
    records: Records = field(default_factory=Records)


@dataclass(frozen=True)
class ArchiveContents:
    """What validation learned from an archive: its manifest and its configuration lists."""

    manifest: dict[str, Any]
    records: Records


@dataclass(frozen=True)
class _Layout:
    json_members: list[tuple[str, bytes]]
    blob_sizes: list[int]
    trailer: int

    @property
    def length(self) -> int:
        json_part = sum(BLOCK + _padded(len(data)) for _, data in self.json_members)
        return json_part + sum(BLOCK + size for size in self.blob_sizes) + self.trailer


def manifest_for(spec: ArchiveSpec) -> dict[str, Any]:
    """The manifest object of the archive `spec` describes."""
    return {
        "format": FORMAT,
        "controller": spec.name,
        "version": spec.version,
        "initialized": spec.initialized,
        "counts": spec.records.counts(),
        "seed": spec.seed,
    }


def archive_length(spec: ArchiveSpec) -> int:
    """The exact byte length `iter_archive(spec)` will produce, without generating it."""
    return _layout(spec).length


def iter_archive(spec: ArchiveSpec) -> Generator[bytes, None, None]:
    """The archive as chunks of at most 1 MiB."""
    layout = _layout(spec)
    for name, data in layout.json_members:
        yield _header(name, len(data))
        for start in range(0, len(data), CHUNK):
            yield data[start : start + CHUNK]
        if len(data) % BLOCK:
            yield bytes(BLOCK - len(data) % BLOCK)
    for index, size in enumerate(layout.blob_sizes):
        yield _header(_blob_name(index), size)
        # One generator per member, keyed by seed and index: any member can be regenerated alone.
        rng = random.Random(f"{FORMAT}/blob/{spec.seed}/{index}")
        for start in range(0, size, CHUNK):
            yield rng.randbytes(min(CHUNK, size - start))
    yield bytes(layout.trailer)


def read_manifest(source: str | os.PathLike[str] | IO[bytes]) -> dict[str, Any]:
    """The manifest of an archive (a path or a binary file object), reading only its first member."""
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as handle:
            return read_manifest(handle)
    name, size = _read_header(source)
    if name != MANIFEST_NAME:
        raise InvalidArchive(f"first member is {name!r}, not {MANIFEST_NAME}")
    return _parse_manifest(_read_member(source, size, _MAX_MANIFEST))


def validate_archive(path: str | os.PathLike[str]) -> ArchiveContents:
    """Walk a whole archive file and return its contents, or raise InvalidArchive.

    Checks every header, the member order, that no member runs past the end, that the JSON
    parses and matches the manifest's counts, and that the end-of-archive marker is present.
    Padding members are skipped by seeking, so a 1 GiB archive validates in milliseconds.
    """
    total = os.path.getsize(path)
    if total == 0 or total % RECORD:
        raise InvalidArchive(f"length {total} is not a whole number of {RECORD}-byte tar records")
    with open(path, "rb") as handle:
        manifest = read_manifest(handle)
        lists: dict[str, list[Any]] = {}
        for kind, expected in zip(CONFIG_KINDS, CONFIG_NAMES, strict=True):
            name, size = _read_header(handle)
            if name != expected:
                raise InvalidArchive(f"member {name!r} where {expected} belongs")
            value = _parse_json(_read_member(handle, size, _MAX_CONFIG_MEMBER), name)
            if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
                raise InvalidArchive(f"{name} is not a list of records")
            if len(value) != manifest["counts"].get(kind):
                raise InvalidArchive(f"{name} holds {len(value)} records, the manifest says otherwise")
            lists[kind] = value
        _skip_blobs(handle, total)
    return ArchiveContents(manifest, Records(**lists))


def _layout(spec: ArchiveSpec) -> _Layout:
    if spec.size and not MIN_SIZE <= spec.size <= MAX_SIZE:
        raise ValueError(f"archive size {spec.size} is outside {MIN_SIZE}..{MAX_SIZE} bytes")
    manifest = json.dumps(manifest_for(spec), sort_keys=True, separators=(",", ":")).encode()
    json_members = [(MANIFEST_NAME, manifest)]
    for kind, name in zip(CONFIG_KINDS, CONFIG_NAMES, strict=True):
        records = getattr(spec.records, kind)
        json_members.append((name, json.dumps(records, sort_keys=True, indent=2).encode() + b"\n"))
    used = sum(BLOCK + _padded(len(data)) for _, data in json_members)
    end_marker = 2 * BLOCK
    minimal = _round_up(used + end_marker, RECORD)
    if not spec.size:
        return _Layout(json_members, [], minimal - used)
    free = max(_round_up(spec.size, RECORD), minimal) - used - end_marker
    # Fill every free block with padding members so the end marker sits at the very end: then
    # no prefix of the archive can pass for a complete one.
    count = -(-free // (BLOB_CAP + BLOCK))
    sizes = [BLOB_CAP] * (count - 1)
    if count:
        sizes.append(free - count * BLOCK - BLOB_CAP * (count - 1))
    return _Layout(json_members, sizes, end_marker)


def _header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = MTIME
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.type = tarfile.REGTYPE
    return info.tobuf(tarfile.USTAR_FORMAT, encoding="utf-8", errors="strict")


def _read_header(handle: IO[bytes]) -> tuple[str, int]:
    block = handle.read(BLOCK)
    if len(block) < BLOCK:
        raise InvalidArchive("archive ends inside or before a member header")
    return _parse_header(block)


def _parse_header(block: bytes) -> tuple[str, int]:
    try:
        info = tarfile.TarInfo.frombuf(block, "utf-8", "strict")
    except tarfile.HeaderError as exc:
        raise InvalidArchive(f"bad tar header: {exc}") from exc
    if info.type != tarfile.REGTYPE:
        raise InvalidArchive(f"member {info.name!r} is not a regular file")
    return info.name, info.size


def _read_member(handle: IO[bytes], size: int, limit: int) -> bytes:
    if size > limit:
        raise InvalidArchive(f"member of {size} bytes exceeds the {limit}-byte limit")
    data = handle.read(_padded(size))
    if len(data) < _padded(size):
        raise InvalidArchive("archive ends inside a member")
    return data[:size]


def _skip_blobs(handle: IO[bytes], total: int) -> None:
    index = 0
    while True:
        block = handle.read(BLOCK)
        if len(block) < BLOCK:
            raise InvalidArchive("archive has no end-of-archive marker")
        if block == bytes(BLOCK):
            break
        name, size = _parse_header(block)
        if name != _blob_name(index):
            raise InvalidArchive(f"unexpected member {name!r}")
        end = handle.tell() + _padded(size)
        if end > total:
            raise InvalidArchive(f"member {name!r} runs past the end of the archive")
        handle.seek(end)
        index += 1
    rest = handle.read()
    if len(rest) < BLOCK or rest.count(0) != len(rest):
        raise InvalidArchive("archive has no end-of-archive marker")


def _parse_manifest(data: bytes) -> dict[str, Any]:
    manifest = _parse_json(data, MANIFEST_NAME)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InvalidArchive(f"{MANIFEST_NAME} does not describe a {FORMAT} archive")
    counts = manifest.get("counts")
    if not isinstance(counts, dict) or not all(isinstance(counts.get(kind), int) for kind in CONFIG_KINDS):
        raise InvalidArchive(f"{MANIFEST_NAME} has no valid counts")
    return manifest


def _parse_json(data: bytes, name: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise InvalidArchive(f"{name} is not valid JSON") from exc


def _blob_name(index: int) -> str:
    return f"{_BLOB_PREFIX}{index:04d}{_BLOB_SUFFIX}"


def _padded(size: int) -> int:
    return _round_up(size, BLOCK)


def _round_up(value: int, unit: int) -> int:
    return -(-value // unit) * unit
