"""multipart/form-data bodies, parsed by python-multipart (the parser Starlette and FastAPI use).

Another project's parser reads what our client's encoder writes, so the two check each other. It
is a push parser: the body is fed as it arrives and each part's data comes back in pieces, which
file parts write straight to temporary files, so memory stays bounded whatever the body's size.
The rules it leaves to its caller are kept here, for requests no real client sends: every part is
form-data with a name, headers and fields are short, parts are few, the boundary is RFC 2046's
(1 to 70 characters) and the body ends with its closing boundary (the library stops quietly at the
end of its input). It allows no preamble before the first boundary; no client writes one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Protocol

from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

_READ_SIZE = 256 * 1024
_MAX_BOUNDARY = 70
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
    if not 0 < len(boundary) <= _MAX_BOUNDARY or not boundary.isascii():
        raise MultipartError("missing or bad boundary")
    reader = _FormReader(spool_dir, file_fields)
    try:
        parser = MultipartParser(boundary.encode("ascii"), reader.callbacks())
        while data := body.read(_READ_SIZE):
            parser.write(data)
        if not reader.ended:
            raise MultipartError("the body ends before the closing boundary")
    except FormParserError as exc:
        reader.discard()
        raise MultipartError(str(exc)) from exc
    except BaseException:
        reader.discard()
        raise
    return reader.form


class _FormReader:
    """The parser's callbacks: each part's headers, then its data into a field or a spool file."""

    def __init__(self, spool_dir: str, file_fields: frozenset[str]) -> None:
        self.form = MultipartForm()
        #: the closing boundary was read
        self.ended = False
        self._spool_dir = spool_dir
        self._file_fields = file_fields
        self._parts = 0
        self._headers: dict[bytes, bytes] = {}
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._header_size = 0
        #: the current part's name, and where its data goes: a field's value or a file
        self._name = ""
        self._value: bytearray | None = None
        self._file: IO[bytes] | None = None

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_data,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def discard(self) -> None:
        """Close the file being written, if any, and delete every spooled file."""
        if self._file is not None:
            self._file.close()
        self.form.discard()

    def _part_begin(self) -> None:
        self._parts += 1
        if self._parts > _MAX_PARTS:
            raise MultipartError("too many parts")
        self._headers.clear()
        self._header_size = 0

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._header_name += data[start:end]

    def _header_data(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._header_value += data[start:end]

    def _count_header(self, size: int) -> None:
        self._header_size += size
        if self._header_size > _MAX_HEADERS:
            raise MultipartError("a part's headers are too long")

    def _header_end(self) -> None:
        self._headers[bytes(self._header_name).lower()] = bytes(self._header_value).strip(b" \t")
        self._header_name.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        disposition, params = parse_options_header(self._headers.get(b"content-disposition"))
        if disposition != b"form-data":
            raise MultipartError("a part is not form-data")
        name, filename = params.get(b"name"), params.get(b"filename")
        if name is None:
            raise MultipartError("a part has no name")
        self._name = name.decode("utf-8", "replace")
        if filename is None and self._name not in self._file_fields:
            self._value = bytearray()
            return
        self._file = tempfile.NamedTemporaryFile(dir=self._spool_dir, prefix="upload-", delete=False)  # noqa: SIM115
        previous = self.form.files.pop(self._name, None)
        if previous is not None:
            previous.discard()
        # listed at once, so a failure before the part ends deletes this file too
        self.form.files[self._name] = FilePart(
            self._name, (filename or b"").decode("utf-8", "replace"), self._file.name, 0
        )

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._value is not None:
            if len(self._value) + end - start > _MAX_FIELD:
                raise MultipartError("a multipart field is too long")
            self._value += data[start:end]
        elif self._file is not None:
            self._file.write(memoryview(data)[start:end])

    def _part_end(self) -> None:
        if self._value is not None:
            self.form.fields[self._name] = self._value.decode("utf-8", "replace")
            self._value = None
        elif self._file is not None:
            self.form.files[self._name].size = self._file.tell()
            self._file.close()
            self._file = None

    def _end(self) -> None:
        self.ended = True
