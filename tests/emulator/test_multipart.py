"""The streaming body reader and multipart parser, fed in awkward pieces."""

from __future__ import annotations

import io
import os
from email.message import Message
from pathlib import Path

import pytest
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
        preamble=b"ignored preamble\r\n",
        epilogue=b"ignored epilogue",
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


def test_a_part_without_form_data_disposition_is_refused(tmp_path: Path) -> None:
    body = f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nhello\r\n--{BOUNDARY}--\r\n".encode()
    with pytest.raises(MultipartError):
        parse_multipart(io.BytesIO(body), BOUNDARY, str(tmp_path))


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
