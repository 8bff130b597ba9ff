"""The Azure Blob store's preflight probes: on Azurite, and where Azurite cannot answer (a denied
identity, a versioned account) through the real SDK over a transport speaking the service's REST
shape (see fakes.py)."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from azure.storage.blob import BlobServiceClient
from controller_backup.errors import AccessDenied, StoreError
from controller_backup.stores import StoreOptions
from controller_backup.stores.azure_blob import AzureBlobStore

from tests.fixtures.azure import ACCOUNT, ACCOUNT_KEY, Azurite
from tests.stores.contract import _put

from .fakes import Answer, fake_store

CLOUD_ACCOUNT = "ctlbackups01"
IMPOSSIBLE_ETAG = '"0x0000000000000000"'


def _cloud_store(handler: object) -> tuple[AzureBlobStore, list[requests.PreparedRequest]]:
    url = f"https://{CLOUD_ACCOUNT}.blob.core.windows.net/backups/controller.enc"
    return fake_store(handler, url)  # type: ignore[arg-type]


def _error(status: int, code: str, message: str) -> Answer:
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return status, {"x-ms-error-code": code, "Content-Type": "application/xml"}, body.encode()


def test_write_probe_denied_by_rbac_is_access_denied_and_sends_nothing_writable() -> None:
    def deny(request: requests.PreparedRequest) -> Answer:
        return _error(
            403,
            "AuthorizationPermissionMismatch",
            "This request is not authorized to perform this operation using this permission.",
        )

    store, seen = _cloud_store(deny)
    with pytest.raises(AccessDenied, match="Storage Blob Data Contributor"):
        store.probe_write()
    (put,) = seen
    assert put.method == "PUT" and urlsplit(put.url or "").path == "/backups/controller.enc"
    assert put.headers["If-Match"] == IMPOSSIBLE_ETAG
    assert "If-None-Match" not in put.headers
    assert put.headers["Content-Length"] == "0"


@pytest.mark.parametrize(("status", "code"), [(412, "ConditionNotMet"), (404, "BlobNotFound")])
def test_write_probe_refused_by_its_condition_means_allowed(status: int, code: str) -> None:
    store, _ = _cloud_store(lambda request: _error(status, code, "refused"))
    store.probe_write()


def test_write_probe_into_a_missing_container_is_a_store_error() -> None:
    store, _ = _cloud_store(lambda request: _error(404, "ContainerNotFound", "The container does not exist."))
    with pytest.raises(StoreError, match="ContainerNotFound") as caught:
        store.probe_write()
    assert type(caught.value) is StoreError


def test_write_probe_accepted_fails_loudly() -> None:
    created: Answer = (
        201,
        {"ETag": '"0x8DD0C1A1B2C3D4E"', "Last-Modified": "Wed, 25 Nov 2026 00:00:03 GMT"},
        b"",
    )
    store, _ = _cloud_store(lambda request: created)
    with pytest.raises(StoreError, match="ignores If-Match"):
        store.probe_write()


def _listing(*blobs: tuple[str, str | None, bool]) -> bytes:
    entries = "".join(
        f"<Blob><Name>{name}</Name>"
        + (f"<VersionId>{vid}</VersionId>" if vid else "")
        + ("<IsCurrentVersion>true</IsCurrentVersion>" if current and vid else "")
        + "<Properties><Last-Modified>Wed, 25 Nov 2026 00:00:03 GMT</Last-Modified>"
        "<Etag>0x8DD0C1A1B2C3D4E</Etag><Content-Length>10</Content-Length>"
        "<BlobType>BlockBlob</BlobType></Properties></Blob>"
        for name, vid, current in blobs
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<EnumerationResults ServiceEndpoint="https://{CLOUD_ACCOUNT}.blob.core.windows.net/" '
        f'ContainerName="backups"><Blobs>{entries}</Blobs><NextMarker /></EnumerationResults>'
    ).encode()


@pytest.mark.parametrize(
    ("blobs", "expected"),
    [
        # versioning on: the current blob and its old versions carry ids
        (
            [
                ("controller.enc", "2026-11-24T00:00:03.2222222Z", False),
                ("controller.enc", "2026-11-25T00:00:02.3333333Z", True),
            ],
            True,
        ),
        # turned off after some versions were kept: the current blob has no id
        ([("controller.enc", "2026-11-24T00:00:03.2222222Z", False), ("controller.enc", None, True)], False),
        # no blob yet (a neighbour sharing the prefix does not count): cannot tell
        ([("controller.enc.restores/vm-1.json", "2026-11-25T01:00:00.0000000Z", True)], None),
    ],
)
def test_versioning_reads_the_current_blobs_version_id(
    blobs: list[tuple[str, str | None, bool]], expected: bool | None
) -> None:
    def service(request: requests.PreparedRequest) -> Answer:
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url or "").query).items()}
        assert query["comp"] == "list" and query["prefix"] == "controller.enc"
        assert query["include"] == "versions"
        return 200, {"Content-Type": "application/xml"}, _listing(*blobs)

    store, seen = _cloud_store(service)
    assert store.versioning() is expected
    assert all(request.method == "GET" for request in seen)


# -- on Azurite ----------------------------------------------------------------------------------


def test_versioning_of_an_empty_location_on_azurite_is_unknown(azurite_env: Azurite) -> None:
    store = AzureBlobStore.from_url(f"azblob://{ACCOUNT}/{azurite_env.new_container()}/b.enc", StoreOptions())
    assert store.versioning() is None
    _put(store, b"x" * 10)
    assert store.versioning() is False  # Azurite keeps no versions


def test_probes_with_a_wrong_account_key_on_azurite_are_access_denied(azurite: Azurite) -> None:
    wrong_key = base64.b64encode(b"w" * 64).decode()
    cs = azurite.connection_string.replace(ACCOUNT_KEY, wrong_key)
    store = AzureBlobStore.from_url(
        f"azblob://{ACCOUNT}/whatever/b.enc", StoreOptions(), connection_string=cs
    )
    with pytest.raises(AccessDenied) as caught:
        store.probe_write()
    assert wrong_key not in str(caught.value)
    with pytest.raises(AccessDenied):
        store.versioning()


def test_probes_on_a_missing_container_on_azurite_are_store_errors(azurite_env: Azurite) -> None:
    store = AzureBlobStore.from_url(f"azblob://{ACCOUNT}/no-such-container/b.enc", StoreOptions())
    for probe in (store.probe_write, store.versioning):
        with pytest.raises(StoreError, match="ContainerNotFound") as caught:
            probe()
        assert type(caught.value) is StoreError
    service = BlobServiceClient.from_connection_string(azurite_env.connection_string)
    assert not service.get_container_client("no-such-container").exists()
