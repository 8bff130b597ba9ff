"""What the controller decides to answer, apart from how the HTTP layer puts it on the wire."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Envelope:
    """The JSON envelope `{"return", "results", "reason"}`, always with HTTP 200."""

    body: dict[str, Any]


@dataclass(frozen=True)
class Page:
    """A non-API answer: a 404, a proxy's 503 or login page."""

    status: int
    content_type: str
    body: bytes


@dataclass
class Download:
    """A streamed archive. `length` is the declared Content-Length; `cut_after` closes the
    connection after that many body bytes (a transfer that dies midway)."""

    length: int
    chunks: Generator[bytes, None, None]
    headers: dict[str, str] = field(default_factory=dict)
    cut_after: int | None = None


@dataclass(frozen=True)
class Drop:
    """Close the connection without a word, as a crashing or rebooting controller does."""


Answer = Envelope | Page | Download | Drop


def ok(results: object, **extra: object) -> Envelope:
    return Envelope({"return": True, "results": results, **extra})


def fail(reason: str) -> Envelope:
    return Envelope({"return": False, "reason": reason})


def html_page(status: int, title: str, text: str) -> Page:
    body = (
        f"<!DOCTYPE html><html><head><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>{text}</p></body></html>"
    )
    return Page(status, "text/html; charset=utf-8", body.encode())
