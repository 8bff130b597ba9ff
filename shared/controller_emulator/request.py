"""Turns an HTTP request into API parameters, whichever way the client sent them.

Real controllers accept a query string (GET), a form-urlencoded or JSON body (POST), and
multipart for uploads; clients differ, so the emulator accepts them all. The body's parameters
win over the query string's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.message import Message
from urllib.parse import parse_qs

from .body import BodyError, BodyReader, BodyTooLarge, Source
from .multipart import FilePart, MultipartError, parse_multipart

#: the multipart field import_config reads its archive from
_UPLOAD_FIELD = "file"
#: bodies other than multipart carry a few parameters; anything bigger is a client bug
MAX_FORM_BODY = 1 << 20


class RequestError(ValueError):
    """The request cannot be understood; `status` is the HTTP answer it gets."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class ApiRequest:
    """One API call: its endpoint (`v1`/`v2`), parameters, access key and uploaded file parts."""

    method: str
    endpoint: str
    params: dict[str, str]
    access_key: str | None
    files: dict[str, FilePart] = field(default_factory=dict)

    @property
    def action(self) -> str:
        return self.params.get("action", "")

    @property
    def file(self) -> FilePart | None:
        """import_config's archive: the file part named `file`."""
        return self.files.get(_UPLOAD_FIELD)

    def discard(self) -> None:
        """Delete the spooled uploads, unless the controller adopted (moved) them."""
        for part in self.files.values():
            part.discard()


def read_request(
    method: str, *, endpoint: str, query: str, headers: Message, rfile: Source, spool_dir: str
) -> ApiRequest:
    """Read the whole request (the body too, so the connection stays usable)."""
    params = _flatten(parse_qs(query, keep_blank_values=True))
    try:
        body = BodyReader(rfile, headers)
        content_type = _content_type(headers)
        files: dict[str, FilePart] = {}
        if content_type.get_content_type() == "multipart/form-data":
            boundary = content_type.get_boundary() or ""
            form = parse_multipart(body, boundary, spool_dir, frozenset({_UPLOAD_FIELD}))
            files = form.files
            params.update(form.fields)
        else:
            params.update(_form_params(body.read_all(MAX_FORM_BODY), content_type.get_content_type()))
    except BodyTooLarge as exc:
        raise RequestError(413, str(exc)) from exc
    except BodyError as exc:
        raise RequestError(400, str(exc)) from exc
    except MultipartError as exc:
        raise RequestError(400, str(exc)) from exc
    return ApiRequest(method, endpoint, params, headers.get("X-Access-Key"), files)


def _content_type(headers: Message) -> Message:
    parsed = Message()
    parsed["Content-Type"] = headers.get("Content-Type", "application/x-www-form-urlencoded")
    return parsed


def _form_params(data: bytes, content_type: str) -> dict[str, str]:
    if not data.strip():
        return {}
    if content_type.endswith("json"):
        try:
            value = json.loads(data)
        except ValueError as exc:
            raise RequestError(400, "the JSON body does not parse") from exc
        if not isinstance(value, dict):
            raise RequestError(400, "the JSON body is not an object")
        return {str(key): _as_text(item) for key, item in value.items()}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestError(400, "the form body is not UTF-8") from exc
    return _flatten(parse_qs(text, keep_blank_values=True))


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def _flatten(values: dict[str, list[str]]) -> dict[str, str]:
    return {key: items[-1] for key, items in values.items()}
