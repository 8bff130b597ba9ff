"""The rest of the store contract, on all four stores: the options `open_store` takes are typed and
each belongs to one kind of store, and what a store can do with files on this machine is asked of
the store itself (the jobs never test its class)."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest
from controller_backup.backup import run_backup
from controller_backup.errors import SettingsError
from controller_backup.inspection import fetch_checked
from controller_backup.settings import Settings
from controller_backup.spool import HashingSpool, spool_directory
from controller_backup.stores import (
    ObjectInfo,
    ObjectRetention,
    ObjectStore,
    SizedSource,
    StoreOptions,
    open_store,
)
from controller_backup.stores.credentials import AwsAccessKeys, AzureServicePrincipal, GoogleCredentials

from tests.stores.contract import _get, _meta, _put
from tests.stores.locations import Location, location, new_location

__all__ = ["location"]

#: the setting each option comes from, and the store kind it belongs to
OPTION_KINDS = {
    option.name: (option.metadata["setting"], option.metadata["kind"])
    for option in dataclasses.fields(StoreOptions)
}
#: a value for each option
VALUES: dict[str, object] = {
    "keep_versions": 2,
    "kms_key_id": "alias/backups",
    "s3_credentials": AwsAccessKeys("AKIAEXAMPLEDRCOPY001", "dr-copy-secret-key"),
    "azure_credentials": AzureServicePrincipal(
        "7f1e2d3c-0000-4000-8000-000000000001", "7f1e2d3c-0000-4000-8000-000000000002", "dr-client-secret"
    ),
    "gcs_credentials": GoogleCredentials("service_account", "{}"),
    "gcs_retention": ObjectRetention(30),
}


def _service_account_key() -> GoogleCredentials:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    key = {
        "type": "service_account",
        "private_key": pem,
        "client_email": "dr-writer@dr-project.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    return GoogleCredentials("service_account", json.dumps(key))


# -- typed options ---------------------------------------------------------------------------------


def test_options_are_typed_and_an_unknown_one_is_refused(location: Location) -> None:
    with pytest.raises(TypeError):
        StoreOptions(chunk_size=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        open_store(location.url, keep_versions=3)  # type: ignore[call-arg]
    assert set(VALUES) == set(OPTION_KINDS), "give each option a value (and an `applies` case below)"


def test_an_option_of_another_kind_of_store_is_refused_naming_its_setting(location: Location) -> None:
    """A dropped option would leave the operator believing it applies (a KMS key on a gs:// URL)."""
    foreign = [name for name, (_, kind) in OPTION_KINDS.items() if kind != location.kind]
    assert foreign, "every kind has options of other kinds to refuse"
    for name in foreign:
        setting = OPTION_KINDS[name][0]
        with pytest.raises(SettingsError, match=f"^{setting} applies only to .* stores, not to "):
            open_store(location.url, StoreOptions(**{name: VALUES[name]}))  # type: ignore[arg-type]
    if location.kind == "local":
        assert not location.local_path.parent.exists(), "the local store was opened regardless"


@pytest.mark.parametrize("name", sorted(OPTION_KINDS))
def test_an_option_of_the_stores_own_kind_applies(
    name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    kind = OPTION_KINDS[name][1]
    place = new_location(kind, request, tmp_path)
    if name == "keep_versions":
        store = place.open(StoreOptions(keep_versions=2))
        written = [_put(store, bytes([n]) * 100) for n in range(3)]
        assert [v.version_id for v in store.versions()] == [w.version_id for w in written[:0:-1]]
    elif name == "kms_key_id":
        aws = request.getfixturevalue("aws_env")
        key = aws.client("kms").create_key(Description="backups")["KeyMetadata"]["Arn"]
        store = place.open(StoreOptions(kms_key_id=key))
        info = _put(store, b"secret" * 100)
        bucket, _, key_name = place.url.removeprefix("s3://").partition("/")
        head = aws.client("s3").head_object(Bucket=bucket, Key=key_name, VersionId=info.version_id)
        assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key
        assert _get(store)[0] == b"secret" * 100
    elif name == "s3_credentials":
        keys = AwsAccessKeys("AKIAEXAMPLEDRCOPY001", "dr-copy-secret-key")
        store = place.open(StoreOptions(s3_credentials=keys))
        assert store.client._request_signer._credentials.access_key == keys.access_key_id  # type: ignore[attr-defined]
        _put(store, b"copied" * 100)  # moto takes any keys: these signed the write
        assert _get(store)[0] == b"copied" * 100
    elif name == "azure_credentials":
        from azure.identity import ClientSecretCredential

        store = place.open(StoreOptions(azure_credentials=VALUES[name]))  # type: ignore[arg-type]
        # the service principal's tenant, not Azurite's connection string: the account's own endpoint
        assert isinstance(store._service.credential, ClientSecretCredential)  # type: ignore[attr-defined]
        assert store._service.url.startswith(f"https://{store.account}.blob.core.windows.net")  # type: ignore[attr-defined]
    elif name == "gcs_credentials":
        from google.oauth2 import service_account

        store = place.open(StoreOptions(gcs_credentials=_service_account_key()))
        credentials = store._client._credentials  # type: ignore[attr-defined]
        assert isinstance(credentials, service_account.Credentials)
        assert credentials.service_account_email == "dr-writer@dr-project.iam.gserviceaccount.com"
    elif name == "gcs_retention":
        store = place.open(StoreOptions(gcs_retention=ObjectRetention(3, "Unlocked")))
        info = _put(store, b"kept" * 100)
        blob = store._bucket.get_blob(store.key, generation=int(info.version_id or 0))  # type: ignore[attr-defined]
        assert blob.retention.mode == "Unlocked" and blob.retention.retain_until_time is not None
    else:
        raise AssertionError(f"no case shows that {name} applies")


def test_settings_give_each_option_to_its_own_kind_of_store_only(location: Location) -> None:
    """BACKUP_KEEP_VERSIONS (always set, default 10) reaches a local folder only; BACKUP_KMS_KEY_ID
    reaches S3, and with any other store is a settings error rather than an ignored key."""
    env = {
        "CONTROLLER_URL": "https://controller.example",
        "CONTROLLER_PASSWORD": "unused",
        "CONTROLLER_BACKUP_MODE": "export",
        "BACKUP_URL": location.url,
        "BACKUP_KEEP_VERSIONS": "3",
    }
    store = Settings.from_env(env).backup_store()
    assert getattr(store, "keep_versions", None) == (3 if location.kind == "local" else None)
    with_key = Settings.from_env({**env, "BACKUP_KMS_KEY_ID": "alias/backups"})
    if location.kind == "s3":
        assert getattr(with_key.backup_store(), "kms_key_id", None) == "alias/backups"
    else:
        with pytest.raises(SettingsError, match=r"^BACKUP_KMS_KEY_ID applies only to S3 stores"):
            with_key.backup_store()


# -- capabilities ------------------------------------------------------------------------------------


def test_what_a_store_keeps_on_this_machine_is_declared(location: Location) -> None:
    """A local folder names its spool folder and its version files; every other store answers None
    (and the jobs then spool anywhere and download)."""
    store = location.open()
    first = _put(store, b"one" * 100)
    _put(store, b"two" * 100)
    if location.kind == "local":
        assert store.spool_directory is not None and Path(store.spool_directory).is_dir()
        newest = store.version_file()
        assert newest is not None and newest[0].read_bytes() == b"two" * 100
        assert newest[1] == store.head()
        older = store.version_file(first.version_id)
        assert older is not None and older[0].read_bytes() == b"one" * 100
        assert older[1].version_id == first.version_id
    else:
        assert store.spool_directory is None
        assert store.version_file() is None and store.version_file(first.version_id) is None


def test_a_version_is_checked_where_the_store_keeps_it(location: Location) -> None:
    """`fetch_checked` (verify, status, restore) reads a local version file in place, and downloads
    every other store's object into a spool of its own."""
    store = location.open()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        member = tarfile.TarInfo("config.json")
        member.size = 400
        tar.addfile(member, io.BytesIO(b"kept" * 100))
    _put(store, archive.getvalue())
    local = store.version_file()
    with fetch_checked(store) as (spool, _, summary):
        assert spool.rewind().read() == archive.getvalue() and summary.kind == "tar"
        if local is not None:
            assert spool.path == str(local[0])
        else:
            assert Path(spool.path).parent == Path(spool_directory())


def _spool_reads(monkeypatch: pytest.MonkeyPatch, where: str) -> list[str]:
    """What happens to the spools `where` makes, in order: `read` for each read that returns bytes,
    and `put` / `put done` around every store write."""
    events: list[str] = []

    class Counted(HashingSpool):
        def read(self, amount: int = -1) -> bytes:
            data = super().read(amount)
            if data:
                events.append("read")
            return data

    original_put = ObjectStore.put

    def put(self: ObjectStore, *args: Any, **kwargs: Any) -> ObjectInfo:
        events.append("put")
        try:
            return original_put(self, *args, **kwargs)
        finally:
            events.append("put done")

    monkeypatch.setattr(where, Counted)
    monkeypatch.setattr(ObjectStore, "put", put)
    return events


@pytest.mark.parametrize("compressed", [False, True], ids=["tar", "tar+gzip"])
def test_a_backup_checks_its_export_as_it_lands_and_reads_it_only_to_send_it(
    location: Location,
    controller: Any,  # the emulator behind `settings` (tests/fixtures/controller.py)
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    compressed: bool,
) -> None:
    """The archive walk and the hash run in the pass that writes the spool: nothing reads it back
    to check it. Azure sends it by range from its file as it lands (`begin_upload`, no `put`); S3
    and Cloud Storage `put` its file at the commit; a local folder takes it by a hard link."""
    if compressed:
        controller.faults.export_page = ("application/gzip", gzip.compress(controller.export_bytes()))
    events = _spool_reads(monkeypatch, "controller_backup.backup.HashingSpool")
    puts: list[str] = []
    counted_put = ObjectStore.put

    def put(self: ObjectStore, *args: Any, **kwargs: Any) -> ObjectInfo:
        puts.append(self.url)
        return counted_put(self, *args, **kwargs)

    monkeypatch.setattr(ObjectStore, "put", put)
    result = run_backup(dataclasses.replace(settings, backup_url=location.url))
    assert result.details["kind"] == ("tar+gzip" if compressed else "tar")
    assert (location.url in puts) == (location.kind != "azblob"), puts
    assert "read" not in events, events  # the spool's own stream is never read: only sent from its file
    stored = io.BytesIO()
    location.open().download(stored, result.version_id)
    assert hashlib.sha256(stored.getvalue()).hexdigest() == result.sha256


def test_a_stored_version_is_checked_in_the_pass_that_brings_it_in(
    location: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verify, status and restore get bytes whose hash and structure were checked as they were
    downloaded (or, in a local folder, as its version file was hashed): none read back first."""
    store = location.open()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        member = tarfile.TarInfo("config.json")
        member.size = 300_000
        tar.addfile(member, io.BytesIO(os.urandom(member.size)))
    _put(store, archive.getvalue())
    events = _spool_reads(monkeypatch, "controller_backup.inspection.HashingSpool")
    with fetch_checked(store) as (spool, _, summary):
        assert summary.kind == "tar+gzip" and summary.members == 1
        assert events == []
        assert spool.read() == archive.getvalue()


def test_a_spool_in_the_stores_spool_directory_is_taken_as_it_is(location: Location) -> None:
    """What the backup job does: spool where the store says, hand the spool to `put`. A local
    folder keeps that very file as the version (a hard link, no copy); the others send it."""
    store = location.open()
    data = os.urandom(300_000)
    with HashingSpool(store.spool_directory) as spool:
        spool.write(data)
        spool.rewind()
        info = store.put(SizedSource(spool.stream, spool.size), _meta(data))
        kept = store.version_file(info.version_id)
        if location.kind == "local":
            assert kept is not None and os.stat(kept[0]).st_ino == os.stat(spool.path).st_ino
        else:
            assert kept is None and Path(spool.path).parent == Path(spool_directory())
    assert _get(store)[0] == data


def test_a_spool_handed_over_from_a_later_position_stores_only_the_rest(location: Location) -> None:
    """The size rule measures from where the source stands: a local folder then copies from there
    rather than linking the whole file."""
    store = location.open()
    with HashingSpool(store.spool_directory) as spool:
        spool.write(b"header" + b"R" * 5000)
        spool.rewind().seek(6)
        store.put(SizedSource(spool.stream, 5000), _meta(b"R" * 5000))
    assert _get(store)[0] == b"R" * 5000
