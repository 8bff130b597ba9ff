"""Reads one HTTP request body, framed by Content-Length or chunked transfer encoding.

A client that streams a 1 GiB upload from a generator sends it chunked, so both framings must
be read incrementally; nothing here holds more than the caller asks for.
"""

from __future__ import annotations

from email.message import Message
from typing import Protocol

_MAX_CHUNK_LINE = 1024


class Source(Protocol):
    """The connection's buffered reader."""

    def read(self, size: int, /) -> bytes: ...

    def readline(self, size: int, /) -> bytes: ...


class BodyError(ValueError):
    """The body is malformed or ended before its declared end."""


class BodyTooLarge(BodyError):
    """The body is longer than the caller accepts."""


class BodyReader:
    """A file-like `read(n)` over exactly one request body."""

    def __init__(self, rfile: Source, headers: Message) -> None:
        self._rfile = rfile
        self._chunked = "chunked" in headers.get("Transfer-Encoding", "").lower()
        self._remaining = 0  # bytes left in the body (plain) or in the current chunk (chunked)
        self._done = False
        if not self._chunked:
            try:
                self._remaining = int(headers.get("Content-Length", "0") or "0")
            except ValueError as exc:
                raise BodyError("Content-Length is not a number") from exc
            if self._remaining < 0:
                raise BodyError("Content-Length is negative")
            self._done = self._remaining == 0

    @property
    def declared_length(self) -> int | None:
        """The Content-Length, or None for a chunked body (length unknown up front)."""
        return None if self._chunked else self._remaining

    def read(self, size: int) -> bytes:
        """Up to `size` bytes of the body; b"" once it is complete."""
        if self._done or size <= 0:
            return b""
        if self._chunked and self._remaining == 0:
            self._remaining = self._next_chunk_size()
            if self._remaining == 0:
                self._done = True
                return b""
        data = self._rfile.read(min(size, self._remaining))
        if not data:
            raise BodyError("the request body ended early")
        self._remaining -= len(data)
        if self._remaining == 0:
            if self._chunked:
                self._expect_crlf()
            else:
                self._done = True
        return data

    def read_all(self, limit: int) -> bytes:
        """The whole body, refusing one longer than `limit` bytes."""
        parts: list[bytes] = []
        total = 0
        while data := self.read(64 * 1024):
            total += len(data)
            if total > limit:
                raise BodyTooLarge(f"the request body exceeds {limit} bytes")
            parts.append(data)
        return b"".join(parts)

    def drain(self) -> None:
        """Read and discard the rest, so the connection can carry the next request."""
        while self.read(1 << 20):
            pass

    def _next_chunk_size(self) -> int:
        line = self._rfile.readline(_MAX_CHUNK_LINE)
        if not line.endswith(b"\n"):
            raise BodyError("bad chunk size line")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError as exc:
            raise BodyError("bad chunk size") from exc
        if size < 0:
            raise BodyError("bad chunk size")
        if size == 0:
            self._skip_trailers()
        return size

    def _skip_trailers(self) -> None:
        while True:
            line = self._rfile.readline(_MAX_CHUNK_LINE)
            if not line:
                raise BodyError("the chunked body ended without its final line")
            if line in (b"\r\n", b"\n"):
                return

    def _expect_crlf(self) -> None:
        if self._rfile.readline(_MAX_CHUNK_LINE) not in (b"\r\n", b"\n"):
            raise BodyError("chunk data is not followed by CRLF")
