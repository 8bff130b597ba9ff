"""Fixtures and a tiny API client for the emulator's tests (urllib3, no retries: faults must show)."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import urllib3
from controller_emulator import Emulator, EmulatorConfig

PASSWORD = "Adm1n-secret!"


@dataclass
class Client:
    """Speaks just enough of the API to drive the emulator from tests."""

    url: str
    api: str = "v2"
    ca_file: str | None = None
    token: str | None = None
    cid: str | None = None
    pool: urllib3.PoolManager = field(init=False)

    def __post_init__(self) -> None:
        context = ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None
        self.pool = urllib3.PoolManager(ssl_context=context, retries=False, timeout=30)

    @property
    def endpoint(self) -> str:
        return f"{self.url}/{self.api}/api"

    def headers(self) -> dict[str, str]:
        return {"X-Access-Key": self.token} if self.token else {}

    def get(self, **params: str) -> urllib3.BaseHTTPResponse:
        return self.pool.request("GET", self.endpoint, fields=params, headers=self.headers())

    def post(self, **params: str) -> urllib3.BaseHTTPResponse:
        return self.pool.request(
            "POST", self.endpoint, fields=params, encode_multipart=False, headers=self.headers()
        )

    def call(self, action: str, **params: str) -> dict[str, Any]:
        """POST an action (with the CID once logged in) and decode the envelope."""
        if self.cid and "CID" not in params:
            params["CID"] = self.cid
        response = self.post(action=action, **params)
        assert response.status == 200, response.data[:200]
        assert "json" in response.headers["Content-Type"]
        return dict(json.loads(response.data))

    def connect(self, username: str = "admin", password: str = PASSWORD) -> dict[str, Any]:
        """get_api_token (v2) then login; returns the login envelope."""
        if self.api == "v2":
            answer = json.loads(self.get(action="get_api_token").data)
            assert answer["return"] is True
            self.token = answer["results"]["api_token"]
        envelope = self.call("login", username=username, password=password)
        if envelope["return"]:
            self.cid = envelope["CID"]
        return envelope

    def export(self, **kwargs: Any) -> urllib3.BaseHTTPResponse:
        assert self.cid
        return self.pool.request(
            "GET",
            self.endpoint,
            fields={"action": "export_config", "CID": self.cid},
            headers=self.headers(),
            **kwargs,
        )

    def import_(self, data: bytes, filename: str = "backup.tar") -> urllib3.BaseHTTPResponse:
        assert self.cid
        return self.pool.request(
            "POST",
            self.endpoint,
            fields={
                "action": "import_config",
                "CID": self.cid,
                "file": (filename, data, "application/x-tar"),
            },
            headers=self.headers(),
        )


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(archive_size=64 * 1024, password=PASSWORD)) as emu:
        yield emu


@pytest.fixture
def client(emulator: Emulator) -> Client:
    client = Client(emulator.url)
    assert client.connect()["return"] is True
    return client


def envelope(response: urllib3.BaseHTTPResponse) -> dict[str, Any]:
    assert response.status == 200
    assert "json" in response.headers["Content-Type"]
    return dict(json.loads(response.data))
