"""A streaming multipart/form-data parser (the stdlib's `cgi` is gone in 3.13).

Memory stays bounded whatever the body's size: file parts are written to temporary files as
they arrive, and only a short tail (the delimiter's length) is ever held back while searching.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from email.parser import HeaderParser
from email.utils import collapse_rfc2231_value
from typing import Protocol

_READ_SIZE = 256 * 1024
_MAX_PREAMBLE = 64 * 1024
_MAX_HEADERS = 16 * 1024
_MAX_FIELD = 1 << 20
_MAX_PARTS = 64


class MultipartError(ValueError):
    """The body is not well-formed multipart/form-data."""


class Readable(Protocol):
    """Anything with `read(n)` returning b"" at the end (a BodyReader, a file)."""

    def read(self, size: int, /) -> bytes: ...


@dataclass
class FilePart:
    """An uploaded file, spooled to `path`; the receiver deletes or adopts the file."""

    name: str
    filename: str
    path: str
    size: int

    def discard(self) -> None:
        """Delete the spooled file (a no-op once it was moved elsewhere)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


@dataclass
class MultipartForm:
    """The parsed form: small text fields in memory, file parts on disk."""

    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, FilePart] = field(default_factory=dict)

    def discard(self) -> None:
        """Delete every spooled file."""
        for part in self.files.values():
            part.discard()


def parse_multipart(
    body: Readable, boundary: str, spool_dir: str, file_fields: frozenset[str] = frozenset()
) -> MultipartForm:
    """Parse the whole body; raise MultipartError (after cleaning up) if it is malformed.

    Parts with a filename go to disk, and so do parts named in `file_fields` even without one
    (`curl -F 'file=<backup.tar'` sends none), so an upload never lands in memory.
    """
    if not boundary or len(boundary) > 200:
        raise MultipartError("missing or bad boundary")
    form = MultipartForm()
    try:
        _parse(_Scanner(body, boundary.encode("latin-1")), form, spool_dir, file_fields)
    except BaseException:
        form.discard()
        raise
    return form


class _Scanner:
    """A buffer over the body that finds delimiters without holding more than one read."""

    def __init__(self, body: Readable, boundary: bytes) -> None:
        self._body = body
        # A leading CRLF makes the first delimiter look like every later one.
        self._buffer = bytearray(b"\r\n")
        self.delimiter = b"\r\n--" + boundary

    def read_until(self, marker: bytes, sink: Callable[[bytes], object], limit: int | None) -> None:
        """Pass every byte before `marker` to `sink`, then consume the marker."""
        keep = len(marker) - 1
        passed = 0
        while True:
            index = self._buffer.find(marker)
            if index >= 0:
                passed += index
                if limit is not None and passed > limit:
                    raise MultipartError("a multipart section is too long")
                sink(bytes(self._buffer[:index]))
                del self._buffer[: index + len(marker)]
                return
            if len(self._buffer) > keep:
                cut = len(self._buffer) - keep
                passed += cut
                if limit is not None and passed > limit:
                    raise MultipartError("a multipart section is too long")
                sink(bytes(self._buffer[:cut]))
                del self._buffer[:cut]
            if not self._fill():
                raise MultipartError("the body ends before the closing boundary")

    def read_exact(self, size: int) -> bytes:
        while len(self._buffer) < size:
            if not self._fill():
                raise MultipartError("the body ends before the closing boundary")
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def unread(self, data: bytes) -> None:
        self._buffer[0:0] = data

    def drain(self) -> None:
        self._buffer.clear()
        while self._body.read(_READ_SIZE):
            pass

    def _fill(self) -> bool:
        data = self._body.read(_READ_SIZE)
        self._buffer += data
        return bool(data)


def _parse(scanner: _Scanner, form: MultipartForm, spool_dir: str, file_fields: frozenset[str]) -> None:
    scanner.read_until(scanner.delimiter, _discard, _MAX_PREAMBLE)
    for _ in range(_MAX_PARTS + 1):
        tail = scanner.read_exact(2)
        if tail == b"--":
            scanner.drain()  # the epilogue carries nothing
            return
        scanner.unread(tail)
        padding = bytearray()
        scanner.read_until(b"\r\n", padding.extend, 64)
        if padding.strip(b" \t"):
            raise MultipartError("garbage after a boundary")
        scanner.unread(b"\r\n")  # so an empty header block still ends in CRLF CRLF
        raw = bytearray()
        scanner.read_until(b"\r\n\r\n", raw.extend, _MAX_HEADERS)
        name, filename = _disposition(raw.decode("utf-8", "replace").lstrip("\r\n"))
        if filename is None and name not in file_fields:
            value = bytearray()
            scanner.read_until(scanner.delimiter, value.extend, _MAX_FIELD)
            form.fields[name] = value.decode("utf-8", "replace")
        else:
            part = _spool(scanner, name, filename or "", spool_dir)
            previous = form.files.pop(name, None)
            if previous is not None:
                previous.discard()
            form.files[name] = part
    raise MultipartError("too many parts")


def _spool(scanner: _Scanner, name: str, filename: str, spool_dir: str) -> FilePart:
    handle = tempfile.NamedTemporaryFile(dir=spool_dir, prefix="upload-", delete=False)  # noqa: SIM115
    part = FilePart(name, filename, handle.name, 0)
    try:
        with handle:
            scanner.read_until(scanner.delimiter, handle.write, None)
            part.size = handle.tell()
    except BaseException:
        part.discard()
        raise
    return part


def _disposition(header_text: str) -> tuple[str, str | None]:
    headers: Message = HeaderParser().parsestr(header_text)
    if headers.get_content_disposition() != "form-data":
        raise MultipartError("a part is not form-data")
    name = headers.get_param("name", header="content-disposition")
    if name is None:
        raise MultipartError("a part has no name")
    return collapse_rfc2231_value(name), headers.get_filename()


def _discard(_: bytes) -> None:
    """A sink for bytes nobody needs (the preamble)."""
