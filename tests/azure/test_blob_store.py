"""The Azure Blob store against the shared contract on Azurite, plus its own rules.

Azurite 3.35.0 does not implement blob versioning (its README lists "Blob Versions" as not
supported; verified: Commit Block List answers no x-ms-version-id, List Blobs with
include=versions returns only the current blob and `versionid=` is ignored). So the contract runs
with `versioned = False` here, and the version paths are exercised against the real SDK through
a transport that answers in the Blob service's REST shape (test_blob_versions.py).
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import threading

import pytest
from azure.storage.blob import BlobServiceClient
from controller_backup.errors import AccessDenied, PreconditionFailed, SettingsError, StoreError
from controller_backup.stores import IfMatch, SizedSource, StoreOptions, open_store
from controller_backup.stores.azure_blob import AzureBlobStore, parse_blob_url

from tests.fixtures.azure import ACCOUNT, ACCOUNT_KEY, Azurite
from tests.stores.contract import StoreContract, _get, _put


class TestAzureBlobStore(StoreContract):
    # Azurite keeps no blob versions (see the module docstring); ETag conditions are fully tested.
    versioned = False
    # so its blobs carry no version id, which is how the store reads versioning: off
    versioning_expected = False

    @pytest.fixture
    def store(self, azurite_env: Azurite) -> AzureBlobStore:
        container = azurite_env.new_container()
        store = open_store(f"azblob://{ACCOUNT}/{container}/controllers/prod/backup.enc")
        assert isinstance(store, AzureBlobStore)
        return store


@pytest.fixture
def small_blocks(azurite_env: Azurite) -> AzureBlobStore:
    container = azurite_env.new_container()
    return AzureBlobStore.from_url(
        f"azblob://{ACCOUNT}/{container}/b.enc", StoreOptions(), block_size=64 * 1024, max_concurrency=3
    )


def test_url_forms_map_to_account_container_blob() -> None:
    assert parse_blob_url("azblob://acct01/backups/a/b.enc") == ("acct01", "backups", "a/b.enc")
    assert parse_blob_url("https://acct01.blob.core.windows.net/backups/b.enc") == (
        "acct01",
        "backups",
        "b.enc",
    )
    for bad in (
        "azblob://acct01/backups",
        "azblob://Bad_Account/backups/b",
        "azblob://acct01/Bad_Container/b",
        "https://acct01.blob.core.windows.net/backups/b.enc?sv=2024&sig=abc",
        "https://example.com/backups/b",
    ):
        with pytest.raises(SettingsError):
            parse_blob_url(bad)


def test_sas_in_url_is_refused_without_echoing_it() -> None:
    with pytest.raises(SettingsError) as info:
        parse_blob_url("https://acct01.blob.core.windows.net/c01/b.enc?sv=2024&sig=SECRETSIG")
    assert "SECRETSIG" not in str(info.value)


def test_connection_string_account_must_match_url(azurite_env: Azurite) -> None:
    with pytest.raises(SettingsError, match="devstoreaccount1"):
        AzureBlobStore.from_url("azblob://otheraccount/backups/b.enc", StoreOptions())


def test_https_form_with_connection_string(azurite_env: Azurite) -> None:
    container = azurite_env.new_container()
    store = open_store(f"https://{ACCOUNT}.blob.core.windows.net/{container}/x.enc")
    _put(store, b"https form" * 50)
    assert _get(store)[0] == b"https form" * 50
    assert store.url == f"azblob://{ACCOUNT}/{container}/x.enc"


def test_blocks_are_staged_and_committed_once(small_blocks: AzureBlobStore) -> None:
    data = os.urandom(64 * 1024 * 5 + 123)
    _put(small_blocks, data)
    blocks = small_blocks._client.get_block_list("committed")[0]
    assert len(blocks) == 6
    ids = [base64.b64decode(b.id).decode() for b in blocks]
    assert [i.rsplit("-", 1)[1] for i in ids] == [f"{n:08d}" for n in range(6)]
    assert len({i.rsplit("-", 1)[0] for i in ids}) == 1  # one upload token
    assert _get(small_blocks)[0] == data


def test_every_block_carries_its_md5(small_blocks: AzureBlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[object] = []
    real = small_blocks._client.stage_block

    def spy(block_id: str, data: bytes, length: int | None = None, **kwargs: object) -> object:
        seen.append(kwargs.get("validate_content"))
        return real(block_id, data, length, **kwargs)

    monkeypatch.setattr(small_blocks._client, "stage_block", spy)
    _put(small_blocks, os.urandom(64 * 1024 * 3))
    assert seen == ["md5"] * 3


def test_failed_block_leaves_previous_object(
    small_blocks: AzureBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = _put(small_blocks, b"good" * 40000)
    real = small_blocks._client.stage_block
    calls = {"n": 0}

    def flaky(block_id: str, data: bytes, length: int | None = None, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("connection reset by peer")
        return real(block_id, data, length, **kwargs)

    monkeypatch.setattr(small_blocks._client, "stage_block", flaky)
    with pytest.raises(StoreError, match="stage block failed"):
        _put(small_blocks, os.urandom(64 * 1024 * 4))
    body, info = _get(small_blocks)
    assert body == b"good" * 40000 and info.etag == good.etag


def test_slower_concurrent_backup_cannot_overwrite_newer(small_blocks: AzureBlobStore) -> None:
    """Two writers read the same ETag; the one that commits second loses and changes nothing."""
    base = _put(small_blocks, b"base" * 1000)
    gate = threading.Event()
    real = small_blocks._client.stage_block
    errors: list[BaseException] = []

    def slow(block_id: str, data: bytes, length: int | None = None, **kwargs: object) -> object:
        result = real(block_id, data, length, **kwargs)
        gate.wait(10)
        return result

    slow_store = AzureBlobStore.from_url(small_blocks.url, StoreOptions(), block_size=64 * 1024)
    slow_store._client.stage_block = slow  # type: ignore[method-assign]

    def slow_backup() -> None:
        try:
            _put(slow_store, b"slow" * 30000, precondition=IfMatch(base.etag))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=slow_backup)
    thread.start()
    newer = _put(small_blocks, b"newer" * 30000, precondition=IfMatch(base.etag))
    gate.set()
    thread.join(30)
    assert len(errors) == 1 and isinstance(errors[0], PreconditionFailed), errors
    body, info = _get(small_blocks)
    assert body == b"newer" * 30000 and info.etag == newer.etag


def test_metadata_names_must_be_identifiers(small_blocks: AzureBlobStore) -> None:
    with pytest.raises(StoreError, match="controller-version"):
        small_blocks.put(SizedSource.of(b"x" * 10), {"controller-version": "7.1"})
    assert small_blocks.head() is None


def test_missing_container_is_a_store_error(azurite_env: Azurite) -> None:
    store = AzureBlobStore.from_url(f"azblob://{ACCOUNT}/no-such-container/b.enc", StoreOptions())
    with pytest.raises(StoreError, match="no-such-container") as info:
        _put(store, b"x" * 100)
    assert type(info.value) is StoreError
    # a missing container is a misconfiguration, loud on every call (not an empty location)
    for call in (store.head, store.versions, lambda: store.download(io.BytesIO())):
        with pytest.raises(StoreError, match="ContainerNotFound") as info:
            call()
        assert type(info.value) is StoreError


def test_wrong_key_is_access_denied_and_no_key_in_message(
    azurite: Azurite, caplog: pytest.LogCaptureFixture
) -> None:
    wrong_key = base64.b64encode(b"w" * 64).decode()
    cs = azurite.connection_string.replace(ACCOUNT_KEY, wrong_key)
    store = AzureBlobStore.from_url(
        f"azblob://{ACCOUNT}/whatever/b.enc", StoreOptions(), connection_string=cs
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AccessDenied) as info:
        _put(store, b"x" * 100)
    assert wrong_key not in str(info.value)
    assert "Storage Blob Data Contributor" in str(info.value)
    assert wrong_key not in caplog.text


def test_sas_in_sdk_error_text_is_removed(azurite: Azurite) -> None:
    """The SDK's messages can quote a request URL; its query (a SAS) never reaches ours."""
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    store = AzureBlobStore(ACCOUNT, "c01", "b.enc", service)
    exc = StoreError("unused")
    from azure.core.exceptions import HttpResponseError

    exc2 = HttpResponseError(
        message="Server failed: https://a.blob.core.windows.net/c/b?sv=2024-01-01&sig=TOPSECRETSIG%3D&se=x"
    )
    err = store._error(exc2, "download")
    assert "TOPSECRETSIG" not in str(err) and "sig=" not in str(err)
    assert "https://a.blob.core.windows.net/c/b?<redacted>" in str(err)
    assert exc.code == "store"


def test_download_writes_ranges_in_order_into_a_hashing_spool(small_blocks: AzureBlobStore) -> None:
    """The core hashes a download as it is written: ranges must arrive in order, never by seek."""
    from controller_backup.spool import HashingSpool

    data = os.urandom(4 * 1024 * 1024 * 3 + 4321)  # four ranges, fetched in parallel
    _put(small_blocks, data)
    with HashingSpool() as spool:
        info = small_blocks.download(spool.stream)
        assert spool.size == len(data) == info.size
        assert spool.sha256 == hashlib.sha256(data).hexdigest()


def test_download_pinned_to_the_first_etag(
    small_blocks: AzureBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An overwrite in the middle of a download fails it instead of mixing two versions."""
    _put(small_blocks, os.urandom(4 * 1024 * 1024 * 2 + 10))
    other = AzureBlobStore.from_url(small_blocks.url, StoreOptions())
    real = small_blocks._client.download_blob
    calls = {"n": 0}

    def overwrite_after_first(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 2:
            _put(other, b"newer" * 1000)
        return real(*args, **kwargs)

    monkeypatch.setattr(small_blocks._client, "download_blob", overwrite_after_first)
    small_blocks.max_concurrency = 1
    with pytest.raises(PreconditionFailed):
        small_blocks.download(io.BytesIO())
