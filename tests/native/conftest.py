"""Native-mode fixtures: an original controller, a blank replacement, and the bucket they write to.

`destination` is the controller's bucket and our stored object, on a local folder (standing in
for an AWS, Azure or GCP bucket) or on the real emulators of each cloud (moto, Azurite,
fake-gcs-server, from tests/fixtures). The emulated controllers write their `CloudN_...` files
through the same stores the product reads them with.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from controller_backup.native_bucket import CLOUD_TYPES
from controller_backup.settings import Settings
from controller_emulator import Emulator, EmulatorConfig

from tests.fixtures.controller import CONTROLLER_PASSWORD

ORIGINAL_IP = "10.1.0.10"
REPLACEMENT_IP = "10.1.0.20"
ACCOUNT = "ctrl-backup-acct"
ARM_SECRET = "Arm-Client-Secret-0123456789"
GCP_CREDENTIALS = '{"type": "service_account", "private_key": "Gcp-Private-Key-0123456789"}'
#: fast, still realistic: files land, restores run and controllers restart after a short while
FAST_NATIVE = {"native_backup_delay": 0.05, "native_restore_delay": 0.05, "native_restore_reboot": 0.3}


@dataclass
class Destination:
    """Where the controller writes its backups, and where our one stored object lives."""

    name: str
    cloud: str
    bucket_url: str
    backup_url: str
    #: the emulators' local stand-in for buckets (None: the real cloud emulators)
    bucket_root: str | None
    env: dict[str, str] = field(default_factory=dict)


#: what the emulators' local stand-in bucket looks like per cloud type (Azure: storage/container)
_AZURE_CLOUDS = {"azure", "azure-gov", "azure-china"}


def _cloud_env(cloud: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("TEST_CONTROLLER_PASSWORD", CONTROLLER_PASSWORD)
    if cloud in ("aws", "aws-gov", "aws-china"):
        return {"NATIVE_AWS_ACCOUNT_NUMBER": "123456789012"}
    if cloud == "oci":
        return {"NATIVE_REGION": "us-ashburn-1"}
    if cloud in _AZURE_CLOUDS:
        monkeypatch.setenv("TEST_ARM_SECRET", ARM_SECRET)
        return {
            "NATIVE_REGION": "West Europe",
            "NATIVE_ARM_SUBSCRIPTION_ID": "11111111-2222-3333-4444-555555555555",
            "NATIVE_ARM_DIRECTORY_ID": "66666666-7777-8888-9999-000000000000",
            "NATIVE_ARM_CLIENT_ID": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            "NATIVE_ARM_CLIENT_SECRET": "env:TEST_ARM_SECRET",
        }
    monkeypatch.setenv("TEST_GCP_CREDENTIALS", GCP_CREDENTIALS)
    return {"NATIVE_GCP_PROJECT_ID": "ctrl-project-1", "NATIVE_GCP_CREDENTIALS": "env:TEST_GCP_CREDENTIALS"}


def local_destination(tmp_path: Path, cloud: str, monkeypatch: pytest.MonkeyPatch) -> Destination:
    root = tmp_path / "buckets"
    folder = root / ("ctrlstorage/backups" if cloud in _AZURE_CLOUDS else "ctrl-backups")
    return Destination(
        name=f"local-{cloud}",
        cloud=cloud,
        bucket_url=folder.as_uri(),
        backup_url=(tmp_path / "store" / "controller.enc").as_uri(),
        bucket_root=str(root),
        env=_cloud_env(cloud, monkeypatch),
    )


def cloud_destination(
    request: pytest.FixtureRequest, kind: str, monkeypatch: pytest.MonkeyPatch
) -> Destination:
    if kind == "s3":
        server = request.getfixturevalue("aws_env")
        bucket = f"ctrl-{uuid.uuid4().hex[:12]}"
        s3 = server.client("s3")
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        return Destination(
            "s3", "aws", f"s3://{bucket}", f"s3://{bucket}/store/controller.enc", None,
            _cloud_env("aws", monkeypatch),
        )  # fmt: skip
    if kind == "azblob":
        azurite = request.getfixturevalue("azurite_env")
        files, store = azurite.new_container(), azurite.new_container()
        account = "devstoreaccount1"
        return Destination(
            "azblob",
            "azure",
            f"azblob://{account}/{files}",
            f"azblob://{account}/{store}/controller.enc",
            None,
            _cloud_env("azure", monkeypatch),
        )
    bucket = request.getfixturevalue("gcs_bucket")
    return Destination(
        "gs", "gcp", f"gs://{bucket}", f"gs://{bucket}/store/controller.enc", None,
        _cloud_env("gcp", monkeypatch),
    )  # fmt: skip


@pytest.fixture(params=["local-aws", "local-azure", "local-gcp", "s3", "azblob", "gs"])
def destination(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Destination:
    """Every store the product supports, each as the controller's bucket and as our store."""
    kind: str = request.param
    if kind.startswith("local-"):
        return local_destination(tmp_path, kind.removeprefix("local-"), monkeypatch)
    return cloud_destination(request, kind, monkeypatch)


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Destination:
    """The controller's bucket as a local folder (an AWS bucket's stand-in)."""
    return local_destination(tmp_path, "aws", monkeypatch)


def original_for(dest: Destination, **changes: object) -> Emulator:
    """(Not started yet) a set-up controller with a configuration and its backup's access account."""
    own = {
        "seed": 21,
        "name": "controller-original",
        "password": CONTROLLER_PASSWORD,
        "private_ip": ORIGINAL_IP,
    }
    emu = _emulator(dest, {**own, **changes})
    emu.state.add_account({"account_name": ACCOUNT, "cloud_type": CLOUD_TYPES[dest.cloud]})
    return emu


def blank_for(dest: Destination, **changes: object) -> Emulator:
    """(Not started yet) a fresh replacement: initial setup not run, admin / its private IP."""
    own = {"seed": 22, "name": "controller-replacement", "blank": True, "private_ip": REPLACEMENT_IP}
    return _emulator(dest, {**own, **changes})


def _emulator(dest: Destination, values: dict[str, object]) -> Emulator:
    """A small configuration whose native files go to `dest`, with short native-mode waits."""
    config = {"archive_size": 64 * 1024, "bucket_root": dest.bucket_root, **FAST_NATIVE, **values}
    return Emulator(EmulatorConfig(**config))  # type: ignore[arg-type]


def native_env(dest: Destination, controller: Emulator, **env: str) -> dict[str, str]:
    """A native-mode deployment's environment against `controller`; `env` adds or overrides."""
    return {
        "CONTROLLER_URL": controller.url,
        "CONTROLLER_ALLOW_HTTP": "true",
        "CONTROLLER_PASSWORD": "env:TEST_CONTROLLER_PASSWORD",
        "BACKUP_URL": dest.backup_url,
        "CONTROLLER_TIMEOUT": "5",
        "NATIVE_CLOUD_TYPE": dest.cloud,
        "NATIVE_ACCOUNT_NAME": ACCOUNT,
        "NATIVE_BUCKET_URL": dest.bucket_url,
        "CONTROLLER_PRIVATE_IP": ORIGINAL_IP,
        "NATIVE_BACKUP_WAIT": "6",
        **dest.env,
        **env,
    }


def native_settings(dest: Destination, controller: Emulator, **env: str) -> Settings:
    """The settings of `native_env`, with retries patient enough for a controller that restarts."""
    patient = {
        "CONTROLLER_READY_TIMEOUT": "15",
        "CONTROLLER_RETRY_ATTEMPTS": "6",
        "CONTROLLER_RETRY_SECONDS": "8",
    }
    return Settings.from_env(native_env(dest, controller, **(patient | env)))


@pytest.fixture
def original(local: Destination) -> Iterator[Emulator]:
    with original_for(local) as emu:
        yield emu


@pytest.fixture
def blank(local: Destination) -> Iterator[Emulator]:
    with blank_for(local) as emu:
        yield emu


@pytest.fixture
def settings(local: Destination, original: Emulator) -> Settings:
    return native_settings(local, original)
