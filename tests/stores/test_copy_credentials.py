"""A copy in another account or cloud, written with the credentials its BACKUP_COPY_CREDENTIALS
entry names: a service-account key against fake-gcs-server, an assumed role against moto's STS.
The key and the keys STS hands out appear in no log line and no result."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from controller_backup.destinations import open_destination
from controller_backup.settings import Settings
from controller_emulator import Emulator
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import identity_pool
from google.oauth2 import service_account

from tests.fixtures.aws import MotoServer
from tests.integration.helpers import backup


class TokenServer:
    """Google's OAuth token endpoint, as a service-account key's `token_uri` names it: it keeps
    each JWT assertion it is sent and grants a token (fake-gcs-server then accepts any)."""

    def __init__(self) -> None:
        self.assertions: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                owner.assertions += form.get("assertion", [])
                body = json.dumps({"access_token": "granted-token", "expires_in": 3600}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/token"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def token_server() -> Iterator[TokenServer]:
    server = TokenServer()
    yield server
    server.close()


def _service_account_key(token_uri: str) -> dict[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account",
        "project_id": "dr-project",
        "private_key_id": uuid.uuid4().hex,
        "private_key": pem,
        "client_email": "dr-writer@dr-project.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": token_uri,
    }


def _jwt_claims(assertion: str) -> dict[str, Any]:
    payload = assertion.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def _everything_said(caplog: pytest.LogCaptureFixture, result: dict[str, Any]) -> str:
    lines = [record.getMessage() + (record.exc_text or "") for record in caplog.records]
    return "\n".join(lines) + json.dumps(result)


def test_gcs_copy_with_a_service_account_key_from_a_secret_reference(
    settings: Settings,
    gcs_bucket: str,
    token_server: TokenServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = _service_account_key(token_server.url)
    monkeypatch.setenv("DR_GCS_KEY", json.dumps(key))
    copy = f"gs://{gcs_bucket}/controller/backup.tar"
    settings = dataclasses.replace(settings, copy_urls=(copy,), copy_credentials={copy: "env:DR_GCS_KEY"})
    with caplog.at_level(logging.DEBUG):
        result = backup(settings)
    assert result.status == "ok" and result.details["copies"][0]["status"] == "ok"
    # the copy's client acts as the key's service account, which signed the token request
    credentials = open_destination(settings, copy)._client._credentials  # type: ignore[attr-defined]
    assert isinstance(credentials, service_account.Credentials)
    assert credentials.service_account_email == key["client_email"]
    assert token_server.assertions, "the key was never used"
    assert _jwt_claims(token_server.assertions[0])["iss"] == key["client_email"]
    said = _everything_said(caplog, result.to_dict())
    pem_body = key["private_key"].splitlines()[5]
    assert pem_body not in said and key["private_key_id"] not in said


def test_s3_copy_in_another_account_by_an_assumed_role(
    settings: Settings,
    aws_env: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bucket = f"dr-{uuid.uuid4().hex[:12]}"
    s3 = aws_env.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    role_arn = aws_env.client("iam").create_role(
        RoleName=f"dr-writer-{uuid.uuid4().hex[:6]}",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    monkeypatch.setenv("DR_ROLE", json.dumps({"role_arn": role_arn, "external_id": "ext-id-7d1f9c"}))
    copy = f"s3://{bucket}/controller/backup.tar"
    settings = dataclasses.replace(settings, copy_urls=(copy,), copy_credentials={copy: "env:DR_ROLE"})
    with caplog.at_level(logging.DEBUG):
        result = backup(settings)
    assert result.status == "ok" and result.details["copies"][0]["status"] == "ok"
    stored = s3.head_object(Bucket=bucket, Key="controller/backup.tar")
    assert stored["Metadata"]["sha256"] == result.sha256
    # the copy was written with the role's temporary keys, not the function's own
    signer = open_destination(settings, copy).client._request_signer  # type: ignore[attr-defined]
    granted = signer._credentials
    assert granted.access_key != "testing" and granted.token
    said = _everything_said(caplog, result.to_dict())
    assert granted.secret_key not in said and granted.token not in said and "ext-id-7d1f9c" not in said


def test_a_copy_whose_secret_is_not_usable_fails_alone(
    settings: Settings, gcs_bucket: str, monkeypatch: pytest.MonkeyPatch, controller: Emulator
) -> None:
    """A wrong secret is the copy's failure (named, its text not shown); the primary is stored."""
    monkeypatch.setenv("DR_GCS_KEY", '{"type": "authorized_user", "refresh_token": "hunter2-refresh"}')
    copy = f"gs://{gcs_bucket}/controller/backup.tar"
    settings = dataclasses.replace(settings, copy_urls=(copy,), copy_credentials={copy: "env:DR_GCS_KEY"})
    result = backup(settings)
    assert result.status == "degraded" and result.sha256 == controller.export_sha256()
    error = result.details["copies"][0]["error"]
    assert error["code"] == "settings" and "type must be one of" in error["message"]
    assert "hunter2" not in json.dumps(result.to_dict())


def test_gcs_copy_by_workload_identity_federation(
    settings: Settings, gcs_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An external_account configuration (no key at all) becomes federated credentials; nothing
    is fetched until the copy is written."""
    config = {
        "type": "external_account",
        "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": "https://sts.googleapis.com/v1/token",
        "credential_source": {"file": str(tmp_path / "token")},
    }
    monkeypatch.setenv("DR_FEDERATION", json.dumps(config))
    copy = "gs://dr-bucket/controller/backup.tar"
    settings = dataclasses.replace(settings, copy_urls=(copy,), copy_credentials={copy: "env:DR_FEDERATION"})
    credentials = open_destination(settings, copy)._client._credentials  # type: ignore[attr-defined]
    assert isinstance(credentials, identity_pool.Credentials)
