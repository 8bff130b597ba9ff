"""Checks that an export is a whole configuration archive before it may replace a backup.

A controller (or a proxy in front of it) can answer HTTP 200 with an error envelope, a login
page, nothing at all, or half an archive. Length checks catch only some of these; this module
looks at the bytes themselves. A tar archive is walked header by header without reading member
data, so even 1 GiB costs a few thousand small reads: every header checksum must hold, every
member must fit, and the end-of-archive blocks must be there (a truncated tar has none). A gzip
stream is decompressed to its end. Other binary formats (a real controller's encrypted `.enc`)
are opaque: only the sniff and the declared length protect them.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass
from typing import Any, BinaryIO

from controller_backup.errors import InvalidExport

_BLOCK = 512
_MANIFEST = "manifest.json"
_MANIFEST_MAX = 1024 * 1024
_SNIFF = 4096
#: an encrypted controller backup is never this small; a shorter unknown blob is a fragment
_MIN_OPAQUE = 1024


@dataclass(frozen=True)
class ArchiveSummary:
    """What the checks found: the format, its member count and the manifest if there is one."""

    kind: str
    members: int
    manifest: dict[str, Any] | None = None

    @property
    def blank(self) -> bool:
        """True when the archive says it came from a controller that was never set up."""
        return self.manifest is not None and self.manifest.get("initialized") is False


def sniff_problem(head: bytes) -> str | None:
    """Why the first bytes of an export cannot be an archive, or None."""
    if not head:
        return "the export is empty"
    text = head.lstrip()[:_SNIFF]
    if text[:1] in (b"{", b"["):
        try:
            answer = json.loads(head.decode("utf-8", "replace"))
        except ValueError:
            return "the export is JSON text, not an archive"
        reason = answer.get("reason") if isinstance(answer, dict) else None
        return f"the export is an error envelope: {str(reason)[:200]}" if reason else "the export is JSON"
    lowered = text[:256].lower()
    if lowered.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")) or b"<html" in lowered:
        return "the export is an HTML page (a proxy or login page?), not an archive"
    return None


def inspect_archive(stream: BinaryIO, size: int) -> ArchiveSummary:
    """Check `size` bytes of `stream` (seekable) as an archive; raise InvalidExport if not whole."""
    stream.seek(0)
    head = stream.read(_SNIFF)
    problem = sniff_problem(head)
    if problem:
        raise InvalidExport(problem)
    if head[257:262] == b"ustar":
        return _walk_tar(stream, size)
    if head[:2] == b"\x1f\x8b":
        return _check_gzip(stream)
    if size < _MIN_OPAQUE:
        raise InvalidExport(f"the export is {size} bytes of an unknown format: too small to be an archive")
    return ArchiveSummary(kind="opaque", members=0)


def _octal(field: bytes) -> int:
    if field[:1] and field[0] & 0x80:  # GNU base-256 for sizes >= 8 GiB
        return int.from_bytes(field[1:], "big")
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


#: a checksum field as tar writers write it: octal digits padded by spaces, ended by NUL/space
_CHECKSUM_FIELD = re.compile(rb"^ *[0-7]{1,8}[ \x00]*$")


def _header_checksum_ok(header: bytes) -> bool:
    field = header[148:156]
    if not _CHECKSUM_FIELD.match(field):
        return False  # int() would also take tabs and other whitespace a flipped bit can produce
    recorded = int(field.strip(b" \x00"), 8)
    unsigned = sum(header[:148]) + 8 * 32 + sum(header[156:])
    signed = sum(b - 256 if b > 127 else b for b in header[:148] + header[156:]) + 8 * 32
    return recorded in (unsigned, signed)


def _walk_tar(stream: BinaryIO, size: int) -> ArchiveSummary:
    offset, members = 0, 0
    manifest: dict[str, Any] | None = None
    while True:
        if offset + _BLOCK > size:
            raise InvalidExport(f"the archive is truncated: it ends at byte {size} inside a tar header")
        stream.seek(offset)
        header = stream.read(_BLOCK)
        if header == bytes(_BLOCK):
            stream.seek(offset + _BLOCK)
            if stream.read(_BLOCK) != bytes(_BLOCK):
                raise InvalidExport("the archive is truncated: its end-of-archive marker is incomplete")
            return ArchiveSummary(kind="tar", members=members, manifest=manifest)
        if not _header_checksum_ok(header):
            raise InvalidExport(f"the archive is corrupt: bad tar header checksum at byte {offset}")
        try:
            member_size = _octal(header[124:136])
        except ValueError:
            raise InvalidExport(f"the archive is corrupt: bad member size at byte {offset}") from None
        data_end = offset + _BLOCK + member_size
        if data_end > size:
            raise InvalidExport(
                f"the archive is truncated: a member needs bytes up to {data_end}, the export has {size}"
            )
        name = header[:100].split(b"\0", 1)[0].decode("utf-8", "replace")
        typeflag = header[156:157]
        if typeflag in (b"0", b"\0", b"7"):
            members += 1
            if name == _MANIFEST and member_size <= _MANIFEST_MAX:
                manifest = _read_manifest(stream, member_size)
        offset += _BLOCK + -(-member_size // _BLOCK) * _BLOCK


def _read_manifest(stream: BinaryIO, member_size: int) -> dict[str, Any]:
    try:
        manifest = json.loads(stream.read(member_size))
    except ValueError:
        raise InvalidExport("the archive's manifest.json is not valid JSON") from None
    if not isinstance(manifest, dict):
        raise InvalidExport("the archive's manifest.json is not an object")
    return manifest


def _check_gzip(stream: BinaryIO) -> ArchiveSummary:
    stream.seek(0)
    inflater = zlib.decompressobj(wbits=31)
    try:
        while chunk := stream.read(1024 * 1024):
            inflater.decompress(chunk, 0)
            if inflater.eof:
                break
    except zlib.error:
        raise InvalidExport("the archive is corrupt: invalid gzip data") from None
    if not inflater.eof:
        raise InvalidExport("the archive is truncated: the gzip stream does not end")
    return ArchiveSummary(kind="gzip", members=1)
