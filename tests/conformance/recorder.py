"""A recording HTTP server: what our client really sends, parsed by the standard library alone.

The conformance tests compare the wire with the official facts (official.py), so they must not
depend on our emulator accepting a request, nor on our own multipart encoder being read back by our
own parser: bodies are parsed here with `urllib.parse` and the `email` package, and every call is
answered from a small script of sample answers taken from the official sources.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class WireCall:
    """One request as it crossed the wire."""

    method: str
    path: str
    #: every parameter, from the query string and the body alike (form, JSON or multipart fields)
    fields: dict[str, str]
    #: multipart file parts: name -> (filename, content)
    files: dict[str, tuple[str, bytes]]
    headers: dict[str, str]

    @property
    def action(self) -> str:
        return self.fields.get("action", "")

    @property
    def access_key(self) -> str | None:
        return self.headers.get("x-access-key")


#: (status, content type, body) a script answers with
Reply = tuple[int, str, bytes]
Script = Callable[[WireCall], Reply]


def envelope(**answer: Any) -> Reply:
    return 200, "application/json", json.dumps(answer).encode()


@dataclass
class Recorder:
    """Answers every request with `script` and keeps the calls in order."""

    script: Script
    calls: list[WireCall] = field(default_factory=list)
    url: str = ""

    def of(self, action: str) -> list[WireCall]:
        return [call for call in self.calls if call.action == action]

    def only(self, action: str) -> WireCall:
        found = self.of(action)
        assert len(found) == 1, f"{action} was sent {len(found)} times"
        return found[0]


def _parse_body(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    if not body:
        return {}, {}
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json":
        loaded = json.loads(body)
        return {str(key): str(value) for key, value in loaded.items()}, {}
    if kind == "multipart/form-data":
        message = BytesParser(policy=policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        fields: dict[str, str] = {}
        files: dict[str, tuple[str, bytes]] = {}
        for part in message.iter_parts():
            name = str(part.get_param("name", header="content-disposition"))
            filename = part.get_filename()
            content = part.get_payload(decode=True) or b""
            if filename is None:
                fields[name] = content.decode()
            else:
                files[name] = (filename, content)
        return fields, files
    return {key: values[-1] for key, values in parse_qs(body.decode(), keep_blank_values=True).items()}, {}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _handle(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fields = {key: values[-1] for key, values in parse_qs(url.query, keep_blank_values=True).items()}
        body_fields, files = _parse_body(self.headers.get("Content-Type", ""), body)
        fields.update(body_fields)
        headers = {key.lower(): value for key, value in self.headers.items()}
        call = WireCall(self.command, url.path, fields, files, headers)
        self.server.recorder.calls.append(call)
        status, content_type, reply = self.server.recorder.script(call)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = _handle

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the calls are the record."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, recorder: Recorder) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.recorder = recorder


@contextmanager
def recording(script: Script) -> Iterator[Recorder]:
    recorder = Recorder(script)
    server = _Server(recorder)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
