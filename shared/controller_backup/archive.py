"""What may become the stored backup: a whole archive of the export API, or the controller's own pair.

A controller (or a proxy in front of it) can answer HTTP 200 with an error envelope, a login page,
a text page, nothing at all, or half an archive. A sniff for the failures we know misses the ones
we do not (an HTML page behind a long comment, a plain-text page), so an export is stored for what
it *is*, never for what it is not:

- export mode stores a tar archive (`tar`) or a gzip stream of one (`tar+gzip`), the formats the
  export API produces. Every tar header checksum must hold, every member must fit, and the
  end-of-archive blocks must be there (a truncated tar has none). A gzip stream is inflated to its
  end (its CRC and length checked) and the tar inside walked on the way.
- native mode stores the controller's encrypted file (`native`), whose content nobody outside the
  controller can check: its bytes must only not be text (a page, an envelope). What vouches for
  it is the version file the controller writes beside it, which must parse and name the
  controller's version.

The checks run on the bytes as they arrive (`ArchiveWalk`, fed by the spool that keeps them, next
to its sha256), so a 256 MiB export is never read back to be checked: when the last byte has
landed the walk has its verdict, whatever the kind turns out to be. The walk is a push parser
over blocks of any size, holding at most a header, the manifest and one inflated chunk.

The kind is recorded in the stored object's metadata (`kind`); verify and restore check the bytes
against it (`inspect_stored`). Nothing else is ever stored: there is no "unknown format" pass.
"""

from __future__ import annotations

import codecs
import json
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
#: the most inflated bytes one step of the gzip walk holds: a small gzip may inflate to gigabytes
_CHUNK = 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_MANIFEST = "manifest.json"
_MANIFEST_MAX = 1024 * 1024
_SNIFF = 4096
#: a piece of the stream as the walks pass it on: a view, so that no slice copies it
_Piece = bytes | memoryview
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


class ArchiveWalk:
    """The checks of this module, fed an export's (or a stored object's) bytes as they arrive.

    `update` takes the bytes in order, in pieces of any size, and never raises: what is wrong is
    kept until the verdict (`inspect_archive`, `inspect_native`, `inspect_stored`), asked for once
    the last byte is in, so a transfer's own failure is still the one reported. `restart` forgets
    everything, for a transfer that starts again. The first 4 KiB are kept (`head`): they decide
    the kind and describe what is no archive.
    """

    size: int
    _head: bytearray
    _layer: _TarWalk | _GzipWalk | None
    _sniffed: bool

    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        """Forget every byte: the transfer starts again from its first."""
        self.size = 0
        self._head = bytearray()
        self._layer = None
        self._sniffed = False

    def update(self, data: bytes) -> None:
        """Take the next bytes of the stream."""
        self.size += len(data)
        view = memoryview(data)  # slices of it copy nothing: a piece may be a megabyte
        if not self._sniffed:
            rest = _gather_head(self._head, view)
            if rest is None:
                return
            self._sniff()
            view = rest
        if self._layer is not None and view:
            self._layer.update(view)

    @property
    def head(self) -> bytes:
        """The first bytes (up to 4 KiB): what the stream looks like."""
        return bytes(self._head)

    def _sniff(self) -> None:
        """Decide the kind from the head, and walk the head as its first bytes."""
        self._sniffed = True
        if _is_tar(self._head):
            self._layer = _TarWalk(KIND_TAR, "archive")
        elif self._head[:2] == _GZIP_MAGIC:
            self._layer = _GzipWalk()
        if self._layer is not None:
            self._layer.update(bytes(self._head))

    def finish(self) -> ArchiveSummary | None:
        """Once every byte is in: the summary of a whole tar or tar+gzip, InvalidExport for one
        that is not whole, None for bytes that begin as neither."""
        if not self._sniffed:
            self._sniff()
        return None if self._layer is None else self._layer.finish()


def inspect_archive(walk: ArchiveWalk) -> ArchiveSummary:
    """The bytes `walk` took must be a whole tar or tar+gzip; InvalidExport if not."""
    if walk.size == 0:
        raise InvalidExport("the export is empty")
    summary = walk.finish()
    if summary is None:
        raise InvalidExport(
            f"the export is {describe(walk.head, walk.size)}, not a tar archive or a gzip of one"
        )
    return summary


def inspect_native(
    walk: ArchiveWalk,
    version_text: str | None,
    controller_version: ControllerVersion,
    *,
    version_name: str = "the version file",
) -> ArchiveSummary:
    """Check the controller's own backup file, as `walk` took it, and the version file written with it.

    The file is encrypted, so only its outside is checked (present, not a page or other text);
    the version file must be there, parse, and name `controller_version`.
    """
    head = walk.head
    if not head or walk.size == 0:
        raise InvalidExport("the controller's backup file is empty")
    if _looks_like_text(head):
        raise InvalidExport(
            f"the controller's backup file is {describe(head, walk.size)}, not an encrypted backup"
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


def inspect_stored(walk: ArchiveWalk, metadata: Mapping[str, str]) -> ArchiveSummary:
    """A stored object's bytes, as `walk` took them, must be the kind its metadata records;
    InvalidExport if they are not."""
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
            walk, metadata.get("native_version", recorded), version, version_name="its version file"
        )
    summary = inspect_archive(walk)
    if kind is not None and summary.kind != kind:
        raise InvalidExport(f"the stored object records kind {kind!r} but holds a {summary.kind} archive")
    return summary


def describe(head: bytes, size: int) -> str:
    """What bytes that are no archive look like, for the error that refuses them."""
    text = head.lstrip()
    if text[:1] in (b"{", b"[") and _looks_like_text(head):
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


def _gather_head(head: bytearray, view: memoryview) -> memoryview | None:
    """Add the start of `view` to `head` until it holds the first 4 KiB, which decide what a
    stream is; then the rest of `view`, still to be walked (None while the head is short)."""
    taken = _SNIFF - len(head)
    head += view[:taken]
    return None if len(head) < _SNIFF else view[taken:]


def _is_tar(head: bytes | bytearray) -> bool:
    return head[257:262] == b"ustar"


def _octal(field: bytes) -> int:
    if field[:1] and field[0] & 0x80:  # GNU base-256 for sizes >= 8 GiB
        return int.from_bytes(field[1:], "big")
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


#: a checksum field as tar writers write it: octal digits padded by spaces, ended by NUL/space
_CHECKSUM_FIELD = re.compile(rb"^ *[0-7]{1,8}[ \x00]*$")
_HIGH_BYTES = bytes(range(128, 256))


def _header_checksum_ok(header: bytes) -> bool:
    field = header[148:156]
    if not _CHECKSUM_FIELD.match(field):
        return False  # int() would also take tabs and other whitespace a flipped bit can produce
    recorded = int(field.strip(b" \x00"), 8)
    covered = header[:148] + header[156:]
    unsigned = sum(covered) + 8 * 32
    # old writers summed signed chars: each byte over 127 counts 256 less
    high = len(covered) - len(covered.translate(None, _HIGH_BYTES))
    return recorded in (unsigned, unsigned - 256 * high)


#: what the tar walk is taking in: a header, the second end block, the manifest's data (each
#: gathered whole), or member data and padding (counted, never kept)
_HEADER, _END, _MANIFEST_DATA, _SKIP, _DONE = "header", "end", "manifest", "skip", "done"


class _TarWalk:
    """Every header and the end-of-archive blocks of a tar, fed in pieces of any size."""

    def __init__(self, kind: str, where: str) -> None:
        self._kind, self._where = kind, where
        #: bytes taken so far
        self.offset = 0
        self._members = 0
        self._manifest: dict[str, Any] | None = None
        self._state = _HEADER
        #: bytes the state still wants: gathered in `_pending`, or skipped
        self._wanted = _BLOCK
        self._pending = bytearray()
        #: the member being taken: its header's offset, its size, its name
        self._member = (0, 0, "")
        self.failure: InvalidExport | None = None

    def update(self, data: _Piece) -> None:
        view = memoryview(data)
        at, end = 0, len(view)
        while at < end and self.failure is None and self._state != _DONE:
            step = min(self._wanted, end - at)
            if self._state != _SKIP:
                self._pending += view[at : at + step]
            at += step
            self.offset += step
            self._wanted -= step
            if self._wanted == 0:
                self._taken()

    def _taken(self) -> None:
        """The current state has all it wanted: act on it and move on."""
        gathered = bytes(self._pending)
        self._pending.clear()
        if self._state == _HEADER:
            self._header(gathered)
        elif self._state == _END:
            if gathered != _ZERO_BLOCK:
                self._truncated("its end-of-archive marker is incomplete")
            self._state = _DONE
        elif self._state == _MANIFEST_DATA:
            try:
                self._manifest = _parse_manifest(gathered)
            except InvalidExport as exc:
                self.failure = exc
            self._skip(_padding(self._member[1]))
        else:
            self._expect(_HEADER, _BLOCK)

    def _header(self, header: bytes) -> None:
        offset = self.offset - _BLOCK
        if header == _ZERO_BLOCK:
            self._expect(_END, _BLOCK)
            return
        if not _header_checksum_ok(header):
            self._corrupt(f"bad tar header checksum at byte {offset}")
            return
        try:
            size = _octal(header[124:136])
        except ValueError:
            self._corrupt(f"bad member size at byte {offset}")
            return
        name = header[:100].split(b"\0", 1)[0].decode("utf-8", "replace")
        self._member = (offset, size, name)
        if header[156:157] in (b"0", b"\0", b"7"):
            self._members += 1
            if name == _MANIFEST and size <= _MANIFEST_MAX:
                self._expect(_MANIFEST_DATA, size)
                if size == 0:
                    self._taken()
                return
        self._skip(size + _padding(size))

    def _skip(self, amount: int) -> None:
        self._expect(_SKIP, amount)
        if amount == 0:
            self._expect(_HEADER, _BLOCK)

    def _expect(self, state: str, amount: int) -> None:
        self._state, self._wanted = state, amount

    def _corrupt(self, what: str) -> None:
        self.failure = InvalidExport(f"the {self._where} is corrupt: {what}")

    def _truncated(self, what: str) -> None:
        self.failure = InvalidExport(f"the {self._where} is truncated: {what}")

    def finish(self) -> ArchiveSummary:
        """The verdict once the stream has ended: the summary, or why the tar is not whole."""
        if self.failure is None and self._state != _DONE:
            if self._state == _HEADER:
                self._truncated(
                    f"it ends at byte {self.offset} inside a tar header (no end-of-archive marker)"
                )
            elif self._state == _END:
                self._truncated("its end-of-archive marker is incomplete")
            else:
                offset, size, name = self._member
                self._truncated(
                    f"member {name[:80]!r} needs bytes up to {offset + _BLOCK + size}, "
                    f"the {self._where} ends at {self.offset}"
                )
        if self.failure is not None:
            raise self.failure
        return ArchiveSummary(kind=self._kind, members=self._members, manifest=self._manifest)


def _padding(size: int) -> int:
    """The zero bytes that round a member's data up to whole blocks."""
    return -size % _BLOCK


def _parse_manifest(data: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(data)
    except ValueError:
        raise InvalidExport("the archive's manifest.json is not valid JSON") from None
    if not isinstance(manifest, dict):
        raise InvalidExport("the archive's manifest.json is not an object")
    return manifest


#: gzip header flags (RFC 1952): an extra field, a file name, a comment, a header CRC
_FEXTRA, _FNAME, _FCOMMENT, _FHCRC = 4, 8, 16, 2
#: what the gzip walk is taking in: a member's magic, its fixed header, the extra field's length,
#: the extra field, the NUL-ended name and comment, the header CRC, the deflate data, the trailer
#: (CRC-32 and length), or the zero padding after a member
_MAGIC, _FIXED, _XLEN, _EXTRA, _NAME, _COMMENT, _HCRC, _DEFLATE, _TRAILER, _ZEROS = (
    "magic",
    "fixed",
    "xlen",
    "extra",
    "name",
    "comment",
    "hcrc",
    "deflate",
    "trailer",
    "zeros",
)


class _GzipWalk:
    """A gzip stream of a tar, read as `gzip` reads it: members one after another (zero padding
    between), each inflated to its end and its CRC-32 and length checked, the tar walked on the way.
    """

    def __init__(self) -> None:
        self._state = _MAGIC
        self._wanted = len(_GZIP_MAGIC)
        self._pending = bytearray()
        self._flags = 0
        self._inflater: zlib._Decompress | None = None
        self._crc = 0
        self._length = 0
        self._head = bytearray()
        self._tar: _TarWalk | None = None
        self._failure: InvalidExport | None = None

    @property
    def failure(self) -> InvalidExport | None:
        return self._failure or (self._tar.failure if self._tar is not None else None)

    def update(self, data: _Piece) -> None:
        if self.failure is not None:
            return  # the verdict is in: inflating the rest would change nothing
        try:
            self._frame(memoryview(data))
        except zlib.error as exc:
            self._corrupt(str(exc))

    def _corrupt(self, what: str) -> None:
        if self.failure is None:
            self._failure = InvalidExport(f"the archive is corrupt: invalid gzip data ({what})")

    def _frame(self, data: memoryview) -> None:
        """Walk `data` through the members' headers, deflate data and trailers."""
        at = 0
        while at < len(data) and self.failure is None:
            if self._state == _DEFLATE:
                at = self._deflate(data, at)
            elif self._state == _ZEROS:
                rest = bytes(data[at:])
                at += len(rest) - len(rest.lstrip(b"\0"))
                if at < len(data):
                    self._expect(_MAGIC, len(_GZIP_MAGIC))
            elif self._state in (_NAME, _COMMENT):
                end = bytes(data[at:]).find(b"\0")
                at = len(data) if end < 0 else at + end + 1
                if end >= 0:
                    self._next_field()
            else:
                step = min(self._wanted, len(data) - at)
                if self._state != _EXTRA:
                    self._pending += data[at : at + step]
                at += step
                self._wanted -= step
                if self._wanted == 0:
                    self._gathered()

    def _expect(self, state: str, amount: int) -> None:
        self._state, self._wanted = state, amount

    def _gathered(self) -> None:
        """A field is whole: check it and move on to the next."""
        field = bytes(self._pending)
        self._pending.clear()
        if self._state == _MAGIC:
            if field != _GZIP_MAGIC:
                self._corrupt(f"Not a gzipped file ({field!r})")
            self._expect(_FIXED, 8)
        elif self._state == _FIXED:
            if field[0] != 8:
                self._corrupt("Unknown compression method")
            self._flags = field[1]
            self._next_field()
        elif self._state == _XLEN:
            self._expect(_EXTRA, int.from_bytes(field, "little"))
            if self._wanted == 0:
                self._next_field()
        elif self._state in (_EXTRA, _HCRC):
            self._next_field()
        else:  # the trailer
            crc, length = int.from_bytes(field[:4], "little"), int.from_bytes(field[4:], "little")
            if crc != self._crc:
                self._corrupt(f"CRC check failed {hex(crc)} != {hex(self._crc)}")
            elif length != self._length & 0xFFFFFFFF:
                self._corrupt("Incorrect length of data produced")
            self._expect(_ZEROS, 0)

    def _next_field(self) -> None:
        """The header's next field its flags announce, or the deflate data after the last."""
        for flag, state, amount in ((_FEXTRA, _XLEN, 2), (_FNAME, _NAME, 0), (_FCOMMENT, _COMMENT, 0)):
            if self._flags & flag:
                self._flags &= ~flag
                self._expect(state, amount)
                return
        if self._flags & _FHCRC:
            self._flags &= ~_FHCRC
            self._expect(_HCRC, 2)
            return
        self._inflater, self._crc, self._length = zlib.decompressobj(-zlib.MAX_WBITS), 0, 0
        self._expect(_DEFLATE, 0)

    def _deflate(self, data: memoryview, at: int) -> int:
        """Inflate from `at` in bounded pieces, walking each; return where the member's data ends."""
        inflater = self._inflater
        assert inflater is not None
        pending: _Piece = data[at:]
        while True:
            before = inflater.copy()
            try:
                out = inflater.decompress(pending, _CHUNK)
            except zlib.error:
                self._up_to_the_error(before, pending)
                raise
            self._inflated(out)
            if self.failure is not None:
                return len(data)
            pending = inflater.unconsumed_tail
            if inflater.eof or (not pending and len(out) < _CHUNK):
                break
        if not inflater.eof:
            return len(data)
        self._inflater = None
        self._expect(_TRAILER, 8)
        return len(data) - len(inflater.unused_data)

    def _up_to_the_error(self, inflater: zlib._Decompress, data: _Piece) -> None:
        """Walk what `data` inflates to before the byte zlib refuses (a call that fails yields
        nothing): a problem the tar shows first is then reported first, however the bytes came."""
        for at in range(len(data)):
            try:
                out = inflater.decompress(data[at : at + 1])
            except zlib.error:
                return
            self._inflated(out)
            if self.failure is not None:
                return

    def _inflated(self, data: bytes) -> None:
        if not data:
            return
        self._crc = zlib.crc32(data, self._crc)
        self._length += len(data)
        view = memoryview(data)
        if self._tar is None:
            rest = _gather_head(self._head, view)
            if rest is None:
                return
            self._sniff()
            view = rest
        if self._tar is not None and view:
            self._tar.update(view)

    def _sniff(self) -> None:
        head = bytes(self._head)
        if not _is_tar(head):
            self._failure = InvalidExport(
                f"the export is gzip data holding {describe(head, len(head))}, not a tar archive"
            )
            return
        self._tar = _TarWalk(KIND_TAR_GZIP, "tar archive inside the gzip")
        self._tar.update(head)

    def finish(self) -> ArchiveSummary:
        if self.failure is None and self._state == _MAGIC and self._pending:
            self._corrupt(f"Not a gzipped file ({bytes(self._pending)!r})")  # one byte after a member
        elif self.failure is None and self._state != _ZEROS:
            self._failure = InvalidExport("the archive is truncated: the gzip stream does not end")
        if self.failure is None and self._tar is None:
            self._sniff()  # the whole inflated stream was shorter than the head
        if self.failure is not None:
            raise self.failure
        assert self._tar is not None
        return self._tar.finish()
