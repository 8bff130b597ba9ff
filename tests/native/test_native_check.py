"""The preflight check in native mode: the controller's own backup configuration and files, on
every store the product supports (local folders, moto, Azurite, fake-gcs-server)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from controller_backup.backup import run_backup
from controller_backup.check import CheckReport, run_check
from controller_backup.settings import Settings
from controller_emulator import Emulator

from tests.fixtures.controller import CONTROLLER_PASSWORD
from tests.integration.check_helpers import LINES, assert_read_only, tree

from .conftest import ACCOUNT, ARM_SECRET, GCP_CREDENTIALS, ORIGINAL_IP, Destination, original_for
from .conftest import native_env as deployment_env


def native_env(dest: Destination, controller: Emulator, **env: str) -> dict[str, str]:
    """The deployment's environment, as a check reads it: native mode said, the CA bundle given."""
    quick = {
        "CONTROLLER_RETRY_ATTEMPTS": "3",
        "CONTROLLER_RETRY_SECONDS": "5",
        "CONTROLLER_BACKUP_MODE": "native",
    }
    values = deployment_env(dest, controller, **(quick | env))
    if controller.ca_file:
        values["CONTROLLER_CA_BUNDLE"] = controller.ca_file
    return values


def verdicts(report: CheckReport, secrets: list[str]) -> dict[str, str]:
    names = [line.name for line in report.lines]
    assert names == [LINES[0], *[f"secret:{name}" for name in secrets], *LINES[2:]]
    return {line.name: line.verdict for line in report.lines}


def _secrets(dest: Destination) -> list[str]:
    return ["CONTROLLER_PASSWORD"] + {
        "aws": [],
        "azure": ["NATIVE_ARM_CLIENT_SECRET"],
        "gcp": ["NATIVE_GCP_CREDENTIALS"],
    }[dest.cloud]


def snapshot(request: pytest.FixtureRequest, dest: Destination, root: Path) -> dict[str, Any]:
    """Every object and every version in the controller's bucket and in our store, with its bytes,
    read with each cloud's SDK (not with the stores under test)."""
    if dest.bucket_root is not None:
        return tree(root)
    if dest.name == "s3":
        s3 = request.getfixturevalue("aws_env").client("s3")
        bucket = dest.bucket_url.removeprefix("s3://")
        listed = s3.list_object_versions(Bucket=bucket)
        return {
            (v["Key"], v["VersionId"], v["ETag"]): s3.get_object(
                Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"]
            )["Body"].read()
            for v in listed.get("Versions", [])
        } | {("delete-marker", m["Key"], m["VersionId"]): b"" for m in listed.get("DeleteMarkers", [])}
    if dest.name == "azblob":
        from azure.storage.blob import BlobServiceClient

        service = BlobServiceClient.from_connection_string(
            request.getfixturevalue("azurite_env").connection_string
        )
        found: dict[Any, bytes] = {}
        for url in (dest.bucket_url, dest.backup_url):
            container = service.get_container_client(url.removeprefix("azblob://").split("/")[1])
            for blob in container.list_blobs(include=["versions", "metadata"]):
                data = container.download_blob(blob.name, version_id=blob.version_id).readall()
                found[(container.container_name, blob.name, blob.version_id, blob.etag)] = data
        return found
    from google.cloud import storage

    bucket = dest.bucket_url.removeprefix("gs://")
    client = storage.Client(project="test-project")
    versions = {}
    for blob in client.list_blobs(bucket, versions="true"):
        buffer = io.BytesIO()
        client.bucket(bucket).blob(blob.name, generation=blob.generation).download_to_file(buffer)
        versions[(blob.name, blob.generation, blob.metageneration)] = buffer.getvalue()
    return versions


# -- a deployment that works -------------------------------------------------------------------


def test_a_working_native_deployment_is_ok_on_every_store(
    destination: Destination, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """After a first backup, every line is ok (HTTPS with a pinned certificate), and the check
    changed nothing: the controller's bucket, our object and its versions are byte-identical."""
    with original_for(destination, tls=True) as original:
        env = native_env(destination, original)
        run_backup(Settings.from_env(env))
        original.native.wait_idle()
        before = snapshot(request, destination, tmp_path)
        config, written = dict(original.native.config or {}), original.native.backups_written
        original.requests.clear()

        report = run_check(env)

        found = verdicts(report, _secrets(destination))
        expected = dict.fromkeys(found, "ok")
        if destination.name == "azblob":  # Azurite keeps no blob versions
            expected["store-versioning"] = "warn"
        assert found == expected, json.dumps(report.to_dict(), indent=1)
        assert report.ok
        params = Settings.from_env(env).native_bucket.params
        detail = report.line("native-config").detail
        assert detail.startswith("enabled: cloud_type ") and f"acct_name {ACCOUNT!r}" in detail
        assert all(repr(value) in detail for value in params.values())
        assert f"CloudN_{ORIGINAL_IP}_save_cloudx_config.enc: present" in report.line("native-file").detail
        assert (
            f"CloudN_{ORIGINAL_IP}_save_cloudx_version.txt: present"
            in report.line("native-version-file").detail
        )
        # read-only: every byte and version where it was, and only questions asked
        assert snapshot(request, destination, tmp_path) == before
        assert_read_only(original)
        assert original.native.config == config and original.native.backups_written == written


# -- misconfigured deployments -------------------------------------------------------------------


def test_a_bucket_other_than_the_controllers_fails_naming_both(
    local: Destination, original: Emulator
) -> None:
    run_backup(Settings.from_env(native_env(local, original)))
    other = str(Path(str(local.bucket_root)) / "other-backups")
    report = run_check(native_env(local, original, NATIVE_BUCKET_URL=other))
    line = report.line("native-config")
    assert line.verdict == "fail"
    assert (
        line.detail
        == "bucket_name: the controller has 'ctrl-backups', NATIVE_BUCKET_URL names 'other-backups'"
    )
    assert report.line("native-file").verdict == "warn"  # nothing there: the controller writes elsewhere
    assert "not written yet" in report.line("native-file").detail
    assert not report.ok
    assert_read_only_after_backup(original)


def test_another_account_or_cloud_type_fails_naming_both(local: Destination, original: Emulator) -> None:
    run_backup(Settings.from_env(native_env(local, original)))
    report = run_check(
        native_env(local, original, NATIVE_ACCOUNT_NAME="someone-else", NATIVE_CLOUD_TYPE="aws-gov")
    )
    detail = report.line("native-config").detail
    assert report.line("native-config").verdict == "fail"
    assert "cloud_type: the controller has 1 (aws), NATIVE_CLOUD_TYPE names 256 (aws-gov)" in detail
    assert f"acct_name: the controller has {ACCOUNT!r}, NATIVE_ACCOUNT_NAME names 'someone-else'" in detail


def test_the_controllers_backup_off_warns(local: Destination, original: Emulator) -> None:
    """A controller whose own backup was never enabled: the first backup will enable it."""
    report = run_check(native_env(local, original))
    found = verdicts(report, ["CONTROLLER_PASSWORD"])
    assert found["native-config"] == "warn"
    assert report.line("native-config").detail.startswith("the controller's own backup is off")
    assert "bucket_name 'ctrl-backups'" in report.line("native-config").detail
    assert found["native-file"] == found["native-version-file"] == found["store-read"] == "warn"
    assert found["login"] == found["setup"] == found["store-write"] == "ok"
    assert report.ok
    assert original.native.config is None, "the check enabled nothing"
    assert_read_only(original)


def test_native_secrets_are_checked_and_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    from .conftest import local_destination

    dest = local_destination(tmp_path, "azure", monkeypatch)
    with original_for(dest) as original:
        env = native_env(dest, original, CONTROLLER_PASSWORD="env:TEST_NOT_SET")
        report = run_check(env)
        found = verdicts(report, ["CONTROLLER_PASSWORD", "NATIVE_ARM_CLIENT_SECRET"])
        assert found["secret:CONTROLLER_PASSWORD"] == "fail"
        assert found["secret:NATIVE_ARM_CLIENT_SECRET"] == "ok"
        assert (
            report.line("secret:NATIVE_ARM_CLIENT_SECRET").detail == "env reference TEST_ARM_SECRET resolves"
        )
        assert found["login"] == found["native-config"] == "skip"
        text = json.dumps(report.to_dict())
        for secret in (ARM_SECRET, CONTROLLER_PASSWORD, GCP_CREDENTIALS):
            assert secret not in text
        assert original.requests == []


def test_an_unresolvable_restore_only_secret_warns_naming_whose_access_matters(
    local: Destination, original: Emulator
) -> None:
    """The check runs as the backup function; only restores read the GCP key, so a key this
    identity cannot read is a warning that points at the restore function's identity."""
    env = native_env(local, original, NATIVE_CLOUD_TYPE="gcp", NATIVE_GCP_PROJECT_ID="ctrl-project-1")
    env["NATIVE_GCP_CREDENTIALS"] = "env:TEST_NO_GCP_KEY"
    report = run_check(env)
    line = report.line("secret:NATIVE_GCP_CREDENTIALS")
    assert line.verdict == "warn" and line.detail.startswith("env reference TEST_NO_GCP_KEY does not resolve")
    assert "restore function's identity" in line.detail
    assert report.line("login").verdict == "ok"


def test_a_customer_id_reference_is_checked(
    local: Destination, original: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_CUSTOMER_ID", "aviatrix-customer-0123456789")
    report = run_check(native_env(local, original, CONTROLLER_CUSTOMER_ID="env:TEST_CUSTOMER_ID"))
    line = report.line("secret:CONTROLLER_CUSTOMER_ID")
    assert line.verdict == "ok" and line.detail == "env reference TEST_CUSTOMER_ID resolves"
    assert "aviatrix-customer-0123456789" not in json.dumps(report.to_dict())


def assert_read_only_after_backup(emu: Emulator) -> None:
    """Of the calls after the backup's, none changed anything (a check's requests are its last)."""
    actions = [action for _, _, action in emu.requests]
    last_enable = max(i for i, action in enumerate(actions) if action == "enable_cloudn_backup_config")
    check_calls = actions[last_enable + 1 :]
    assert "get_cloudn_backup_config" in check_calls
    assert not {"enable_cloudn_backup_config", "disable_cloudn_backup_config", "restore_cloudx_config"} & set(
        check_calls
    )


def test_no_access_to_the_controllers_bucket_fails(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Azurite refuses a wrong account key with 403: the controller's files cannot be read."""
    import base64

    from tests.fixtures.azure import ACCOUNT_KEY

    from .conftest import cloud_destination

    dest = cloud_destination(request, "azblob", monkeypatch)
    azurite = request.getfixturevalue("azurite_env")
    wrong_key = base64.b64encode(b"n" * 64).decode()
    monkeypatch.setenv(
        "AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string.replace(ACCOUNT_KEY, wrong_key)
    )
    with original_for(dest) as original:
        report = run_check(native_env(dest, original))
    found = verdicts(report, _secrets(dest))
    for name in ("native-file", "native-version-file"):
        assert found[name] == "fail", report.line(name)
        # the store's AccessDenied, with the role the functions' identity needs
        assert "the identity needs 'Storage Blob Data Contributor'" in report.line(name).detail
    assert found["store-read"] == found["store-write"] == "fail"
    assert found["login"] == "ok" and found["native-config"] == "warn"
    assert wrong_key not in json.dumps(report.to_dict())
