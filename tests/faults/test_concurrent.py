"""Eight backups at once, each conditional on the same etag: exactly one wins, on every store.

Each writer is its own process (as concurrent function invocations are), started together once
all of them have loaded their SDK. The losers get PreconditionFailed, and the object is the
winner's whole version. Objects stay under each store's single-request size (S3's 8 MiB
multipart threshold, GCS's 8 MiB multipart limit), where the emulators enforce the condition
themselves; the multipart/resumable paths' conditions are tested per store in tests/aws and
tests/gcp (moto ignores If-Match on CompleteMultipartUpload, fake-gcs-server ignores resumable
preconditions).

S3 evaluates a conditional PutObject atomically. moto's threaded server does not: it compares the
ETag and then writes without a lock, so two requests in flight together can both pass (seen here:
two winners in about one run in ten). The S3 writers therefore reach the session's moto backend
through a second server that handles one request at a time, which makes each conditional write
atomic as S3's is; what is tested is that the store puts the condition on the very request that
makes the object visible, and maps the refusal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.faults.helpers import check_whole_state
from tests.stores.contract import _put
from tests.stores.locations import Location, location

__all__ = ["location"]

WRITERS = 8
SIZE = 2 * 1024 * 1024
WRITER = Path(__file__).with_name("writer.py")


@dataclass
class SerialS3:
    url: str
    puts: list[str] = field(default_factory=list)


@pytest.fixture
def serial_s3(moto_server: object) -> Iterator[SerialS3]:
    """The session's moto backend (module-global state) behind a server that answers one request at
    a time, each on its own connection, so a conditional write is checked and applied atomically."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class OneAtATime(MotoRequestHandler):  # type: ignore[misc]
        protocol_version = "HTTP/1.0"  # no keep-alive: one idle client cannot hold the server

    app = DomainDispatcherApplication(create_backend_app)
    state = SerialS3("")

    def counting(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["REQUEST_METHOD"] == "PUT":
            state.puts.append(environ["PATH_INFO"])
        return app(environ, start_response)

    server = make_server("127.0.0.1", 0, counting, threaded=False, request_handler=OneAtATime)
    state.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def writers() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


@pytest.mark.slow
def test_concurrent_conditional_backups_have_exactly_one_winner(
    location: Location, tmp_path: Path, writers: list[subprocess.Popen[str]], request: pytest.FixtureRequest
) -> None:
    env = dict(os.environ)
    serial: SerialS3 | None = None
    if location.kind == "s3":
        serial = request.getfixturevalue("serial_s3")
        env["AWS_ENDPOINT_URL"] = serial.url
    base = _put(location.open(), b"base" * 1000)
    files = []
    for n in range(WRITERS):
        path = tmp_path / f"backup-{n}.tar"
        path.write_bytes(bytes([n]) * 64 + os.urandom(SIZE - 64))
        files.append(path)
    for path in files:
        writers.append(
            subprocess.Popen(
                [sys.executable, str(WRITER), location.url, str(path), base.etag],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
        )
    for proc in writers:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in writers:  # go
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = [json.loads(proc.communicate(timeout=120)[0]) for proc in writers]
    winners = [result for result in results if result["won"]]
    assert len(winners) == 1, results
    assert [r["code"] for r in results if not r["won"]] == ["precondition-failed"] * (WRITERS - 1), results
    assert check_whole_state(location.url, {winners[0]["sha256"]}) == winners[0]["sha256"]
    head = location.open().head()
    assert head is not None and head.etag == winners[0]["etag"]
    if serial is not None:
        assert len(serial.puts) == WRITERS, "the S3 writers did not use the one-at-a-time server"
