"""What may become the stored backup: a whole archive of the export API, or the controller's own pair.

A controller (or a proxy in front of it) can answer HTTP 200 with an error envelope, a login page,
a text page, nothing at all, or half an archive. A sniff for the failures we know misses the ones
we do not (an HTML page behind a long comment, a plain-text page), so an export is stored for what
it *is*, never for what it is not:

- export mode stores a tar archive (`tar`) or a gzip stream of one (`tar+gzip`), the formats the
  export API produces. Every tar header checksum must hold, every member must fit, and the
  end-of-archive blocks must be there (a truncated tar has none). A plain tar is walked header by
  header without reading member data, so even 1 GiB costs a few thousand small reads; a gzip
  stream is inflated to its end (its CRC and length checked) and the tar inside walked on the way.
- native mode stores the controller's encrypted file (`native`), whose content nobody outside the
  controller can check: its bytes must only not be text (a page, an envelope). What vouches for
  it is the version file the controller writes beside it, which must parse and name the
  controller's version.

The kind is recorded in the stored object's metadata (`kind`); verify and restore check the bytes
against it (`inspect_stored`). Nothing else is ever stored: there is no "unknown format" pass.
"""

from __future__ import annotations

import codecs
import gzip
import json
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from controller_backup.controller.version import ControllerVersion, parse_version
from controller_backup.errors import ControllerError, InvalidExport
from controller_backup.redact import redact

KIND_TAR = "tar"
KIND_TAR_GZIP = "tar+gzip"
KIND_NATIVE = "native"
#: what export mode stores; with native, every kind a stored object may have
EXPORT_KINDS = (KIND_TAR, KIND_TAR_GZIP)
KINDS = (*EXPORT_KINDS, KIND_NATIVE)

_BLOCK = 512
_ZERO_BLOCK = bytes(_BLOCK)
_CHUNK = 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_MANIFEST = "manifest.json"
_MANIFEST_MAX = 1024 * 1024
_SNIFF = 4096
_HTML_STARTS = (b"<!doctype", b"<html", b"<!--", b"<?xml", b"<head", b"<body", b"<title")
_TEXT_CONTROLS = frozenset("\t\n\r\f\v")
#: a version file holds one short line; anything longer is not one
VERSION_FILE_MAX = 1024


@dataclass(frozen=True)
class ArchiveSummary:
    """What the checks found: the kind, its member count and the manifest if there is one."""

    kind: str
    members: int = 0
    manifest: dict[str, Any] | None = None

    @property
    def blank(self) -> bool:
        """True when the archive says it came from a controller that was never set up."""
        return self.manifest is not None and self.manifest.get("initialized") is False


def inspect_archive(stream: BinaryIO, size: int) -> ArchiveSummary:
    """Check `size` bytes of `stream` (seekable) as a whole tar or tar+gzip; InvalidExport if not."""
    stream.seek(0)
    head = stream.read(_SNIFF)
    if not head or size == 0:
        raise InvalidExport("the export is empty")
    if _is_tar(head):
        return _walk_tar(_SeekingBlocks(stream, size), KIND_TAR, "archive")
    if head[:2] == _GZIP_MAGIC:
        return _check_gzip(stream)
    raise InvalidExport(f"the export is {describe(head, size)}, not a tar archive or a gzip of one")


def inspect_native(
    stream: BinaryIO,
    size: int,
    version_text: str | None,
    controller_version: ControllerVersion,
    *,
    version_name: str = "the version file",
) -> ArchiveSummary:
    """Check the controller's own backup file and the version file written with it.

    The file is encrypted, so only its outside is checked (present, not a page or other text);
    the version file must be there, parse, and name `controller_version`.
    """
    stream.seek(0)
    head = stream.read(_SNIFF)
    if not head or size == 0:
        raise InvalidExport("the controller's backup file is empty")
    if _looks_like_text(head):
        raise InvalidExport(
            f"the controller's backup file is {describe(head, size)}, not an encrypted backup"
        )
    check_version_file(version_text, controller_version, version_name)
    return ArchiveSummary(kind=KIND_NATIVE)


def check_version_file(text: str | None, controller_version: ControllerVersion, name: str) -> None:
    """The version file must exist, read as a controller version, and be the controller's."""
    if text is None:
        raise InvalidExport(f"the controller's backup file came without its version file ({name})")
    try:
        written = parse_version(text)
    except ControllerError:
        shown = text.strip()[:40]
        raise InvalidExport(f"{name} does not hold a controller version (it reads {shown!r})") from None
    if written != controller_version:
        raise InvalidExport(f"{name} says version {written}, but the controller runs {controller_version}")


def stored_kind(metadata: Mapping[str, str]) -> str | None:
    """The kind a stored object records; None when its bytes must tell (stored before kinds were).

    Native objects stored before then carry `native_file`: their version file was checked
    against `controller_version` when they were stored.
    """
    kind = metadata.get("kind")
    if kind:
        return kind
    return KIND_NATIVE if metadata.get("native_file") else None


def inspect_stored(stream: BinaryIO, size: int, metadata: Mapping[str, str]) -> ArchiveSummary:
    """Check a stored object's bytes as the kind its metadata records; InvalidExport if they are not."""
    kind = stored_kind(metadata)
    if kind is not None and kind not in KINDS:
        raise InvalidExport(f"the stored object records kind {kind!r}, which is none this tool stores")
    if kind == KIND_NATIVE:
        recorded = metadata.get("controller_version", "")
        try:
            version = parse_version(recorded)
        except ControllerError:
            raise InvalidExport("the stored native backup records no readable controller_version") from None
        return inspect_native(
            stream, size, metadata.get("native_version", recorded), version, version_name="its version file"
        )
    summary = inspect_archive(stream, size)
    if kind is not None and summary.kind != kind:
        raise InvalidExport(f"the stored object records kind {kind!r} but holds a {summary.kind} archive")
    return summary


def describe(head: bytes, size: int) -> str:
    """What bytes that are no archive look like, for the error that refuses them."""
    text = head.lstrip()
    if text[:1] in (b"{", b"["):
        try:
            answer = json.loads(head.decode("utf-8", "replace"))
        except ValueError:
            return f"{_amount(size)} of JSON text"
        reason = answer.get("reason") if isinstance(answer, dict) else None
        return f"an error envelope ({redact(str(reason))[:200]})" if reason else f"{_amount(size)} of JSON"
    lowered = text.lower()
    if lowered.startswith(_HTML_STARTS) or b"<html" in lowered or b"<body" in lowered:
        return f"an HTML page ({_amount(size)}: a proxy or login page?)"
    if _looks_like_text(head):
        return f"{_amount(size)} of text"
    return f"{_amount(size)} of an unknown binary format"


def _amount(size: int) -> str:
    return f"{size} bytes" if size < 10_000 else f"{size / 1024:.0f} KiB"


def _looks_like_text(head: bytes) -> bool:
    """True for UTF-8 without control characters: a page, an envelope, a log; never ciphertext."""
    if b"\0" in head:
        return False
    try:
        decoded = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return all(char.isprintable() or char in _TEXT_CONTROLS for char in decoded.lstrip("\ufeff"))


def _is_tar(head: bytes) -> bool:
    return head[257:262] == b"ustar"


class _Blocks(Protocol):
    """Sequential access to a tar stream: `read` returns fewer bytes only at its end."""

    offset: int

    def read(self, amount: int) -> bytes: ...

    def skip(self, amount: int) -> bool:
        """Move `amount` bytes on; False when the stream ends first."""
        ...


class _SeekingBlocks:
    """A plain tar of known size in a seekable file: member data is skipped, never read."""

    def __init__(self, stream: BinaryIO, size: int) -> None:
        self._stream, self._size, self.offset = stream, size, 0

    def read(self, amount: int) -> bytes:
        self._stream.seek(self.offset)
        data = self._stream.read(max(0, min(amount, self._size - self.offset)))
        self.offset += len(data)
        return data

    def skip(self, amount: int) -> bool:
        if self.offset + amount > self._size:
            self.offset = self._size
            return False
        self.offset += amount
        return True


class _InflatingBlocks:
    """The tar inside a gzip stream, inflated as it is walked; member data is inflated and dropped."""

    def __init__(self, source: gzip.GzipFile, head: bytes) -> None:
        self._source, self._pending, self.offset = source, head, 0

    def read(self, amount: int) -> bytes:
        data = self._pending[:amount]
        self._pending = self._pending[amount:]
        while len(data) < amount:
            chunk = self._source.read(amount - len(data))
            if not chunk:
                break
            data += chunk
        self.offset += len(data)
        return data

    def skip(self, amount: int) -> bool:
        while amount > 0:
            chunk = self.read(min(amount, _CHUNK))
            if not chunk:
                return False
            amount -= len(chunk)
        return True


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


def _walk_tar(blocks: _Blocks, kind: str, where: str) -> ArchiveSummary:
    """Every header and the end-of-archive blocks of the tar in `blocks`; raise if one is missing."""
    members = 0
    manifest: dict[str, Any] | None = None
    while True:
        offset = blocks.offset
        header = blocks.read(_BLOCK)
        if len(header) < _BLOCK:
            raise InvalidExport(
                f"the {where} is truncated: it ends at byte {blocks.offset} inside a tar header "
                "(no end-of-archive marker)"
            )
        if header == _ZERO_BLOCK:
            if blocks.read(_BLOCK) != _ZERO_BLOCK:
                raise InvalidExport(f"the {where} is truncated: its end-of-archive marker is incomplete")
            return ArchiveSummary(kind=kind, members=members, manifest=manifest)
        if not _header_checksum_ok(header):
            raise InvalidExport(f"the {where} is corrupt: bad tar header checksum at byte {offset}")
        try:
            member_size = _octal(header[124:136])
        except ValueError:
            raise InvalidExport(f"the {where} is corrupt: bad member size at byte {offset}") from None
        name = header[:100].split(b"\0", 1)[0].decode("utf-8", "replace")
        padded = -(-member_size // _BLOCK) * _BLOCK
        if header[156:157] in (b"0", b"\0", b"7"):
            members += 1
            if name == _MANIFEST and member_size <= _MANIFEST_MAX:
                data = blocks.read(member_size)
                padded -= len(data)
                if len(data) == member_size:
                    manifest = _parse_manifest(data)
        if not blocks.skip(padded):
            end = offset + _BLOCK + member_size
            raise InvalidExport(
                f"the {where} is truncated: member {name[:80]!r} needs bytes up to {end}, "
                f"the {where} ends at {blocks.offset}"
            )


def _parse_manifest(data: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(data)
    except ValueError:
        raise InvalidExport("the archive's manifest.json is not valid JSON") from None
    if not isinstance(manifest, dict):
        raise InvalidExport("the archive's manifest.json is not an object")
    return manifest


def _check_gzip(stream: BinaryIO) -> ArchiveSummary:
    """A gzip stream of a tar: inflated to its very end, the tar walked on the way."""
    stream.seek(0)
    try:
        with gzip.GzipFile(fileobj=stream, mode="rb") as source:
            head = source.read(_SNIFF)
            if not _is_tar(head):
                raise InvalidExport(
                    f"the export is gzip data holding {describe(head, len(head))}, not a tar archive"
                )
            summary = _walk_tar(_InflatingBlocks(source, head), KIND_TAR_GZIP, "tar archive inside the gzip")
            while source.read(_CHUNK):  # the rest (tar padding): the CRC and length trailer come last
                pass
    except EOFError:
        raise InvalidExport("the archive is truncated: the gzip stream does not end") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise InvalidExport(f"the archive is corrupt: invalid gzip data ({exc})") from None
    return summary
