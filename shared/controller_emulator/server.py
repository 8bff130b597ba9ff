"""The HTTP(S) transport: a threading server that turns API requests into controller answers.

Transport-level faults live here (latency, dropped connections, 503s, a transfer cut midway),
because they are the network's or a proxy's doing, not the controller's.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import socketserver
import ssl
import struct
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from . import answers
from .actions import Controller
from .answers import Answer, Download, Drop, Envelope, Page
from .request import ApiRequest, RequestError, read_request

log = logging.getLogger("controller_emulator")

#: bodies we read only to keep a connection usable; bigger ones just close it
_SKIPPABLE_BODY = 1 << 20

Recorder = Callable[[str, str, str], None]


class EmulatorServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that knows its controller and can cut every open connection on stop."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        controller: Controller,
        *,
        spool_dir: str,
        text_json: bool,
        record: Recorder,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.controller = controller
        self.spool_dir = spool_dir
        self.text_json = text_json
        self.record = record
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        if ssl_context is not None:
            # The handshake runs on the connection's own thread (see _Handler.setup), so one slow
            # client cannot stall the accept loop.
            self.socket = ssl_context.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False
            )

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can hang on a sandbox's DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up mid-transfer are routine here; a traceback on stderr is noise.
        log.debug("connection ended with an error", exc_info=True)

    def close_connections(self) -> None:
        """Cut every open connection, so a stopped emulator leaves no client waiting."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Apache"
    timeout = 120
    # Headers and body leave in separate writes; with Nagle on, delayed ACKs cost 40 ms a call.
    disable_nagle_algorithm = True
    server: EmulatorServer

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(self.timeout)
            self.request.do_handshake()
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the module logger records requests, without their query strings."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        server = self.server
        url = urlsplit(self.path)
        endpoint = server.controller.endpoint(url.path)
        request: ApiRequest | None = None
        #: the answer when there is no API request to put to the controller
        early = answers.html_page(404, "Not Found", "The requested URL was not found on this server.")
        try:
            if endpoint is None:
                self._skip_body()
            else:
                request = read_request(
                    self.command,
                    endpoint=endpoint,
                    query=url.query,
                    headers=self.headers,
                    rfile=self.rfile,
                    spool_dir=server.spool_dir,
                )
        except RequestError as exc:
            self.close_connection = True
            early = answers.html_page(exc.status, "Bad Request", str(exc))
        action = request.action if request is not None else ""
        server.record(self.command, url.path, action)
        log.debug("%s %s action=%s", self.command, url.path, action)
        try:
            self._send(self._decide(request, early))
        except OSError:
            self.close_connection = True  # the client hung up; nobody is left to answer
        finally:
            if request is not None:
                request.discard()

    def _decide(self, request: ApiRequest | None, early: Answer) -> Answer:
        faults = self.server.controller.faults
        if faults.latency > 0:
            time.sleep(faults.latency)
        if faults.take_drop():
            return Drop()
        if faults.take_5xx():
            return answers.html_page(
                503, "Service Unavailable", "The server is temporarily unable to service your request."
            )
        if request is None:
            return early
        try:
            return self.server.controller.respond(request)
        except Exception:
            log.exception("the emulator failed to answer %s", request.action)
            return answers.html_page(500, "Internal Server Error", "The emulator failed.")

    def _send(self, answer: Answer) -> None:
        if isinstance(answer, Envelope):
            content_type = "text/json" if self.server.text_json else "application/json"
            self._send_bytes(200, content_type, json.dumps(answer.body).encode())
        elif isinstance(answer, Page):
            self._send_bytes(answer.status, answer.content_type, answer.body)
        elif isinstance(answer, Download):
            self._send_download(answer)
        else:
            self._drop()

    def _send_bytes(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _send_download(self, download: Download) -> None:
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(download.length))
            for name, value in download.headers.items():
                self.send_header(name, value)
            self.end_headers()
            sent = 0
            for chunk in download.chunks:
                if download.cut_after is not None and sent + len(chunk) >= download.cut_after:
                    self.wfile.write(chunk[: download.cut_after - sent])
                    self.close_connection = True  # Content-Length promised more: the client sees a cut
                    return
                self.wfile.write(chunk)
                sent += len(chunk)
        finally:
            download.chunks.close()

    def _drop(self) -> None:
        """Close without answering; a zero linger turns the close into a reset, as a crash would."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def _skip_body(self) -> None:
        """Read a small unread body so the connection can go on; close instead of reading a big one."""
        length = self.headers.get("Content-Length")
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
        elif length and length.isdigit() and int(length) <= _SKIPPABLE_BODY:
            self.rfile.read(int(length))
        elif length and length != "0":
            self.close_connection = True
