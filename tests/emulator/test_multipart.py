"""The streaming body reader and multipart parser, fed in awkward pieces, and the requests the
parser refuses because no real client sends them."""

from __future__ import annotations

import io
import os
from email.message import Message
from pathlib import Path

import pytest
from controller_backup.controller.client import _MultipartBody
from controller_emulator.body import BodyError, BodyReader, BodyTooLarge
from controller_emulator.multipart import MultipartError, parse_multipart

BOUNDARY = "----emulatorBoundary7MA4YWxkTrZu0gW"


class Trickle:
    """A reader that hands out at most `step` bytes per call, to split delimiters across reads."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = io.BytesIO(data)
        self._step = step

    def read(self, size: int, /) -> bytes:
        return self._data.read(min(size, self._step))


def form(*parts: tuple[str, bytes, str | None], preamble: bytes = b"", epilogue: bytes = b"") -> bytes:
    """A body with these (name, value, filename) parts, as a real client writes one."""
    out = [preamble]
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out.append(f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n")
    out.append(f"--{BOUNDARY}--\r\n".encode() + epilogue)
    return b"".join(out)


@pytest.mark.parametrize("step", [1, 7, 70, 1 << 20])
def test_fields_and_file_survive_any_read_size(tmp_path: Path, step: int) -> None:
    # File content that nearly contains the delimiter, more than once.
    payload = (b"\r\n--" + BOUNDARY[:-1].encode() + b"X" + os.urandom(300)) * 5
    body = form(
        ("action", b"import_config", None),
        ("CID", b"abcDEF123", None),
        ("file", payload, "backup.tar"),
        epilogue=b"\r\nignored epilogue",
    )
    parsed = parse_multipart(Trickle(body, step), BOUNDARY, str(tmp_path))
    assert parsed.fields == {"action": "import_config", "CID": "abcDEF123"}
    upload = parsed.files["file"]
    assert (upload.filename, upload.size) == ("backup.tar", len(payload))
    assert Path(upload.path).read_bytes() == payload
    parsed.discard()
    assert list(tmp_path.iterdir()) == []


def test_named_upload_fields_are_spooled_even_without_a_filename(tmp_path: Path) -> None:
    body = form(("file", b"archive bytes", None), ("note", b"small", None))
    parsed = parse_multipart(io.BytesIO(body), BOUNDARY, str(tmp_path), frozenset({"file"}))
    assert parsed.fields == {"note": "small"}
    assert Path(parsed.files["file"].path).read_bytes() == b"archive bytes"
    parsed.discard()


def test_a_body_without_its_closing_boundary_is_refused_and_cleaned_up(tmp_path: Path) -> None:
    body = form(("file", b"x" * 5000, "a.tar"))
    with pytest.raises(MultipartError):
        parse_multipart(io.BytesIO(body[:3000]), BOUNDARY, str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_our_clients_encoder_is_read_back_by_the_independent_parser(tmp_path: Path) -> None:
    """The core's upload body (import_config's), parsed by another project's parser: its declared
    length, fields, file name and every byte of a file that nearly holds its delimiter."""
    source = tmp_path / "backup.tar"
    source.write_bytes((b"\r\n------controller-backup-" + os.urandom(500)) * 40)
    spool = tmp_path / "spool"
    spool.mkdir()
    with source.open("rb") as handle:
        body = _MultipartBody(
            {"action": "import_config", "CID": "cid-1"}, "file", "backup.tar", handle, source.stat().st_size
        )
        body.rewind()
        encoded = b"".join(iter(lambda: body.read(4096), b""))
    assert len(encoded) == body.length
    parsed = parse_multipart(Trickle(encoded, 999), body.boundary, str(spool))
    assert parsed.fields == {"action": "import_config", "CID": "cid-1"}
    upload = parsed.files["file"]
    assert upload.filename == "backup.tar" and Path(upload.path).read_bytes() == source.read_bytes()


def _part(headers: str, value: bytes = b"x") -> bytes:
    """A one-part body with these raw part headers."""
    return f"--{BOUNDARY}\r\n{headers}\r\n\r\n".encode() + value + f"\r\n--{BOUNDARY}--\r\n".encode()


_REFUSED = [
    pytest.param(form(("a", b"1", None), preamble=b"preamble\r\n"), BOUNDARY, id="a preamble"),
    pytest.param(_part("Content-Type: text/plain"), BOUNDARY, id="not form-data"),
    pytest.param(_part('Content-Disposition: form-data; filename="a.tar"'), BOUNDARY, id="no name"),
    pytest.param(form(*[(f"f{i}", b"v", None) for i in range(65)]), BOUNDARY, id="too many parts"),
    pytest.param(form(("note", b"x" * ((1 << 20) + 1), None)), BOUNDARY, id="a field too long"),
    pytest.param(
        # 20 KB of headers in lines short and few enough for the library's own limits
        _part(
            "\r\n".join(
                ['Content-Disposition: form-data; name="a"', *[f"X-Pad-{i}: {'p' * 4000}" for i in range(5)]]
            )
        ),
        BOUNDARY,
        id="long headers",
    ),
    pytest.param(form(("a", b"1", None)), "", id="no boundary"),
    pytest.param(
        form(("a", b"1", None)).replace(BOUNDARY.encode(), b"b" * 71), "b" * 71, id="a boundary over 70"
    ),
    pytest.param(form(("a", b"1", None)).replace(b"\r\n\r\n", b"\n\n", 1), BOUNDARY, id="bare line feeds"),
]


@pytest.mark.parametrize(("body", "boundary"), _REFUSED)
def test_what_no_client_sends_is_refused(tmp_path: Path, body: bytes, boundary: str) -> None:
    with pytest.raises(MultipartError):
        parse_multipart(io.BytesIO(body), boundary, str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_a_file_already_spooled_is_deleted_when_a_later_part_is_malformed(tmp_path: Path) -> None:
    closing = f"--{BOUNDARY}--".encode()
    body = form(("file", b"archive" * 1000, "a.tar")).replace(
        closing, f"--{BOUNDARY}\r\nContent-Type: x\r\n\r\ny\r\n".encode() + closing
    )
    with pytest.raises(MultipartError, match="not form-data"):
        parse_multipart(io.BytesIO(body), BOUNDARY, str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def headers(**values: str) -> Message:
    message = Message()
    for name, value in values.items():
        message[name.replace("_", "-")] = value
    return message


def test_chunked_body_is_decoded() -> None:
    raw = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT REQUEST"
    stream = io.BytesIO(raw)
    reader = BodyReader(stream, headers(Transfer_Encoding="chunked"))
    assert reader.declared_length is None
    assert reader.read_all(100) == b"hello world"
    assert stream.read() == b"NEXT REQUEST"  # the body's end is found exactly


def test_content_length_body_stops_at_its_length_and_detects_early_end() -> None:
    reader = BodyReader(io.BytesIO(b"abcdefXYZ"), headers(Content_Length="6"))
    assert reader.read_all(100) == b"abcdef"
    with pytest.raises(BodyError):
        BodyReader(io.BytesIO(b"abc"), headers(Content_Length="6")).read_all(100)
    with pytest.raises(BodyTooLarge):
        BodyReader(io.BytesIO(b"x" * 200), headers(Content_Length="200")).read_all(100)
