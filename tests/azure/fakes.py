"""Fakes at the Azure SDKs' HTTP boundary: the SDK's own RequestsTransport over a fake adapter.

Everything above the socket is the real SDK (pipelines, auth policies, retries, deserializers), so
a test proves our code against the wire shape the services document.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
import urllib3
from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import RequestsTransport
from controller_backup.stores import StoreOptions
from controller_backup.stores.azure_blob import AzureBlobStore

#: (status, headers, body) for one request
Answer = tuple[int, dict[str, str], bytes]
Handler = Callable[[requests.PreparedRequest], Answer]


class _Adapter(requests.adapters.HTTPAdapter):
    def __init__(self, handler: Handler, seen: list[requests.PreparedRequest]) -> None:
        super().__init__()
        self._handler = handler
        self._seen = seen

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self._seen.append(request)
        status, headers, body = self._handler(request)
        headers = {"Content-Length": str(len(body)), **headers}
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(body),
            headers=headers,
            status=status,
            reason=requests.status_codes._codes.get(status, ("unknown",))[0].upper(),  # type: ignore[attr-defined]
            preload_content=False,
            decode_content=False,
            request_method=request.method,
        )
        return self.build_response(request, raw)


def fake_transport(handler: Handler) -> tuple[RequestsTransport, list[requests.PreparedRequest]]:
    """A real RequestsTransport whose session answers every request with `handler`."""
    seen: list[requests.PreparedRequest] = []
    session = requests.Session()
    adapter = _Adapter(handler, seen)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return RequestsTransport(session=session, session_owner=False), seen


def fake_store(handler: Handler, url: str) -> tuple[AzureBlobStore, list[requests.PreparedRequest]]:
    """A real AzureBlobStore for an https:// blob `url` whose every request `handler` answers, no retry."""
    transport, seen = fake_transport(handler)
    store = AzureBlobStore.from_url(
        url, StoreOptions(), credential=FakeCredential(), transport=transport, retry_total=0
    )
    return store, seen


@dataclass
class FakeCredential:
    """A TokenCredential that hands out a fixed token and records what was asked."""

    token: str = "fake-aad-token-5f2c9d"
    calls: list[dict[str, Any]] = field(default_factory=list)

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls.append({"scopes": scopes, **kwargs})
        return AccessToken(self.token, int(time.time()) + 3600)

    def close(self) -> None:
        pass

    def __enter__(self) -> FakeCredential:
        return self

    def __exit__(self, *args: object) -> None:
        pass
