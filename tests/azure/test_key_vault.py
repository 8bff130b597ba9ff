"""`azure-kv:` secret references through the real Key Vault SDK, against Key Vault's REST shape.

No Key Vault emulator exists, so the SDK's own transport talks to a fake that behaves like the
service: an unauthenticated first request answers 401 with the `WWW-Authenticate` challenge naming
the tenant and resource, then the authorised `GET /secrets/{name}/{version}` answers the secret's
JSON bundle (or the service's error JSON).
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from controller_backup import secrets as registry
from controller_backup.errors import AccessDenied, SettingsError
from controller_backup.secrets.azure import parse_reference, resolve_key_vault

from .fakes import Answer, FakeCredential, fake_transport

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
PASSWORD = "Sup3r-Secret-Pa55w0rd!"
_vault_names = (f"ctlkv{n:04d}" for n in itertools.count())


def key_vault(secrets: dict[str, str], *, forbidden: bool = False):  # type: ignore[no-untyped-def]
    """A handler speaking Key Vault's challenge protocol and secret API."""

    def handle(request: requests.PreparedRequest) -> Answer:
        url = urlsplit(request.url or "")
        assert url.scheme == "https"
        assert "api-version" in parse_qs(url.query)
        if "Authorization" not in request.headers:
            challenge = (
                f'Bearer authorization="https://login.microsoftonline.com/{TENANT}", '
                'resource="https://vault.azure.net"'
            )
            return 401, {"WWW-Authenticate": challenge, "Content-Type": "application/json"}, b""
        assert request.headers["Authorization"] == "Bearer fake-aad-token-5f2c9d"
        if forbidden:
            error = {
                "error": {
                    "code": "Forbidden",
                    "message": "Caller is not authorized to perform action on resource.\r\n"
                    "If role assignments, deny assignments or role definitions were changed recently, "
                    "please observe propagation time.",
                    "innererror": {"code": "ForbiddenByRbac"},
                }
            }
            return 403, {"Content-Type": "application/json"}, json.dumps(error).encode()
        parts = url.path.strip("/").split("/")
        assert parts[0] == "secrets"
        name = parts[1]
        version = parts[2] if len(parts) > 2 and parts[2] else "4387e9f3d6e14c459867679a90fd0f79"
        if name not in secrets:
            error = {
                "error": {
                    "code": "SecretNotFound",
                    "message": f"A secret with (name/id) {name} was not found in this key vault.",
                }
            }
            return 404, {"Content-Type": "application/json"}, json.dumps(error).encode()
        bundle = {
            "value": secrets[name],
            "id": f"https://{url.hostname}/secrets/{name}/{version}",
            "attributes": {
                "enabled": True,
                "created": 1764028800,
                "updated": 1764028800,
                "recoveryLevel": "Recoverable+Purgeable",
                "recoverableDays": 90,
            },
            "tags": {},
        }
        return 200, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(bundle).encode()

    return handle


@pytest.fixture
def vault() -> str:
    # a fresh host per test: the SDK caches each host's challenge for the process
    return next(_vault_names)


@pytest.fixture
def restore_registry() -> Iterator[None]:
    yield
    registry.register_scheme("azure-kv", "controller_backup.secrets.azure:resolve_key_vault")
    registry.clear_cache()


def test_challenge_then_secret(vault: str) -> None:
    transport, seen = fake_transport(key_vault({"controller-password": PASSWORD}))
    credential = FakeCredential()
    value = resolve_key_vault(f"{vault}/controller-password", credential=credential, transport=transport)
    assert value == PASSWORD
    assert "Authorization" not in seen[0].headers  # the challenge request carries no token
    assert seen[-1].headers["Authorization"] == "Bearer fake-aad-token-5f2c9d"
    assert urlsplit(seen[-1].url or "").hostname == f"{vault}.vault.azure.net"
    assert urlsplit(seen[-1].url or "").path.rstrip("/") == "/secrets/controller-password"
    assert credential.calls[0]["scopes"] == ("https://vault.azure.net/.default",)
    assert credential.calls[0].get("tenant_id") == TENANT


def test_a_pinned_version(vault: str) -> None:
    transport, seen = fake_transport(key_vault({"controller-password": PASSWORD}))
    ref = f"{vault}/controller-password/0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    assert resolve_key_vault(ref, credential=FakeCredential(), transport=transport) == PASSWORD
    assert (
        urlsplit(seen[-1].url or "").path == "/secrets/controller-password/0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    )


def test_through_the_registry_cached_and_redacted(
    vault: str, restore_registry: None, caplog: pytest.LogCaptureFixture
) -> None:
    transport, seen = fake_transport(key_vault({"controller-password": PASSWORD}))
    registry.register_scheme(
        "azure-kv", functools.partial(resolve_key_vault, credential=FakeCredential(), transport=transport)
    )
    registry.clear_cache()
    ref = f"azure-kv:{vault}/controller-password"
    assert registry.resolve_secret(ref) == PASSWORD
    gets = len(seen)
    assert registry.resolve_secret(ref) == PASSWORD
    assert len(seen) == gets  # cached per process: no second request
    caplog.set_level(logging.INFO)
    logging.getLogger("test").info("password is %s", PASSWORD)
    assert PASSWORD not in caplog.text and "***" in caplog.text


def test_missing_secret_is_a_settings_error(vault: str) -> None:
    transport, _ = fake_transport(key_vault({}))
    with pytest.raises(SettingsError, match="no secret 'controller-password'") as info:
        resolve_key_vault(f"{vault}/controller-password", credential=FakeCredential(), transport=transport)
    assert info.value.code == "settings"


def test_forbidden_is_access_denied_with_the_role_to_grant(vault: str) -> None:
    transport, _ = fake_transport(key_vault({"controller-password": PASSWORD}, forbidden=True))
    with pytest.raises(AccessDenied, match="Key Vault Secrets User") as info:
        resolve_key_vault(f"{vault}/controller-password", credential=FakeCredential(), transport=transport)
    assert "fake-aad-token" not in str(info.value) and PASSWORD not in str(info.value)


def test_sovereign_cloud_host() -> None:
    assert parse_reference("ctlkv.vault.azure.cn/pw") == ("https://ctlkv.vault.azure.cn", "pw", None)
    assert parse_reference("CtlKv01/pw/abc123") == ("https://ctlkv01.vault.azure.net", "pw", "abc123")


@pytest.mark.parametrize(
    "ref", ["ctlkv", "ctlkv/", "ctlkv/pw/v1/extra", "x/pw", "ctl_kv/pw", "ctlkv/pass word", "ctlkv/pw/v-1"]
)
def test_malformed_references(ref: str) -> None:
    with pytest.raises(SettingsError, match="azure-kv:"):
        parse_reference(ref)
