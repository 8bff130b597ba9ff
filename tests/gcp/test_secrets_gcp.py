"""`gcp-sm:` references through google-cloud-secret-manager's REST transport, against a local server
speaking the Secret Manager `:access` shape."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from controller_backup import secrets
from controller_backup.errors import BackupError, SettingsError
from controller_backup.redact import redact
from controller_backup.secrets import gcp as secrets_gcp

from tests.fixtures.gcp import SecretManagerServer


@pytest.fixture
def sm(
    secret_manager_server: SecretManagerServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SecretManagerServer]:
    monkeypatch.setenv(secrets_gcp.EMULATOR_ENV, secret_manager_server.url)
    secrets_gcp.set_client(None)
    secrets.clear_cache()
    yield secret_manager_server
    secrets_gcp.set_client(None)
    secrets.clear_cache()


def test_resolves_a_version_through_the_registry(sm: SecretManagerServer) -> None:
    name = sm.add("proj-1", "controller-password", b"S3cr3t-Pa55word\n")
    assert secrets.resolve_secret(f"gcp-sm:{name}") == "S3cr3t-Pa55word"
    assert sm.requests[-1]["path"] == f"/v1/{name}:access"
    assert "S3cr3t-Pa55word" not in redact("login with S3cr3t-Pa55word")


def test_value_is_fetched_once_per_process(sm: SecretManagerServer) -> None:
    name = sm.add("proj-1", "pw", b"value-one")
    ref = f"gcp-sm:{name}"
    assert secrets.resolve_secret(ref) == "value-one"
    sm.secrets[name] = b"value-two"
    assert secrets.resolve_secret(ref) == "value-one"
    assert len(sm.requests) == 1
    secrets.clear_cache()
    assert secrets.resolve_secret(ref) == "value-two"
    assert len(sm.requests) == 2


def test_latest_and_bare_secret_names(sm: SecretManagerServer) -> None:
    sm.add("p", "pw", b"latest-value")
    assert secrets.resolve_secret("gcp-sm:projects/p/secrets/pw/versions/latest") == "latest-value"
    secrets.clear_cache()
    assert secrets.resolve_secret("gcp-sm:projects/p/secrets/pw") == "latest-value"
    assert sm.requests[-1]["path"] == "/v1/projects/p/secrets/pw/versions/latest:access"


def test_missing_secret_is_a_settings_error(sm: SecretManagerServer) -> None:
    with pytest.raises(SettingsError, match="no such secret version"):
        secrets.resolve_secret("gcp-sm:projects/p/secrets/absent/versions/3")


def test_permission_denied_names_the_role(sm: SecretManagerServer) -> None:
    name = sm.add("p", "locked", b"never-shown")
    sm.forbidden.add(name)
    with pytest.raises(SettingsError, match="secretAccessor") as info:
        secrets.resolve_secret(f"gcp-sm:{name}")
    assert "never-shown" not in str(info.value)


@pytest.mark.parametrize(
    "ref",
    [
        "gcp-sm:my-secret",
        "gcp-sm:projects/p/secrets/s/versions/",
        "gcp-sm:projects/p/secrets/s/versions/0",
        "gcp-sm:projects/p/secrets/bad name/versions/1",
    ],
)
def test_malformed_reference(sm: SecretManagerServer, ref: str) -> None:
    with pytest.raises(SettingsError, match="expected gcp-sm:projects/PROJECT"):
        secrets.resolve_secret(ref)
    assert sm.requests == []


def test_corrupted_payload_is_refused(sm: SecretManagerServer) -> None:
    """The payload's crc32c is checked: bytes that do not match their checksum are refused."""
    name = sm.add("p", "pw", b"good-value")
    sm.corrupt.add(name)
    with pytest.raises(BackupError, match="checksum mismatch") as info:
        secrets_gcp.resolve_secret_manager(name)
    assert "good-value" not in str(info.value)


def test_no_secret_in_logs_of_a_fetch(sm: SecretManagerServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    name = sm.add("p", "pw", b"Very-Secret-Value-42")
    value = secrets.resolve_secret(f"gcp-sm:{name}")
    logging.getLogger("test").info("resolved %s", value)
    assert "Very-Secret-Value-42" not in caplog.text
    assert "resolved ***" in caplog.text


def test_anonymous_rest_client_talks_to_the_endpoint(sm: SecretManagerServer) -> None:
    client = secrets_gcp.make_client(sm.url)
    assert type(client.transport).__name__.endswith("RestTransport")
    secrets_gcp.set_client(client)
    name = sm.add("p", "pw", b"abc-123")
    assert secrets_gcp.resolve_secret_manager(name) == "abc-123"
    assert sm.requests[-1]["authorization"] == ""
