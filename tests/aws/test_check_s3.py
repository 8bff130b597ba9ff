"""The preflight check with our backup in S3 (moto in server mode): a working deployment, and a
bucket without versioning."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from controller_backup.backup import run_backup
from controller_backup.check import run_check
from controller_backup.settings import Settings
from controller_emulator import Emulator, EmulatorConfig

from tests.fixtures.aws import MotoServer
from tests.fixtures.controller import CONTROLLER_PASSWORD
from tests.integration.check_helpers import LINES, NATIVE_LINES, assert_read_only, verdicts


@pytest.fixture
def tls_controller() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(password=CONTROLLER_PASSWORD, tls=True, seed=32)) as emu:
        yield emu


def test_a_working_deployment_into_s3_is_all_ok(
    controller_env: dict[str, str], tls_controller: Emulator, s3_url: str
) -> None:
    assert tls_controller.ca_file is not None
    env = controller_env | {
        "CONTROLLER_URL": tls_controller.url,
        "CONTROLLER_CA_BUNDLE": tls_controller.ca_file,
        "BACKUP_URL": s3_url,
    }
    run_backup(Settings.from_env(env))
    tls_controller.requests.clear()

    report = run_check(env)

    found = verdicts(report)
    expected = {name: "skip" if name in NATIVE_LINES else "ok" for name in LINES}
    assert found == expected, report.to_dict()
    assert report.line("store-versioning").detail == "on: every backup keeps the ones before it as versions"
    assert (
        report.line("store-write").detail == f"{s3_url}: this identity may write it (probed; nothing written)"
    )
    assert_read_only(tls_controller)


def test_a_bucket_without_versioning_warns(
    controller_env: dict[str, str], controller: Emulator, aws_env: MotoServer
) -> None:
    bucket = f"plain-{uuid.uuid4().hex[:12]}"
    aws_env.client("s3").create_bucket(Bucket=bucket)
    env = controller_env | {"BACKUP_URL": f"s3://{bucket}/controller.tar"}
    run_backup(Settings.from_env(env))
    report = run_check(env)
    line = report.line("store-versioning")
    assert line.verdict == "warn" and line.detail == "off: each backup would overwrite the only copy"
    assert report.line("store-read").verdict == report.line("store-write").verdict == "ok"
    assert report.ok  # a warning does not fail the check
    listed = aws_env.client("s3").list_object_versions(Bucket=bucket, Prefix="controller.tar")["Versions"]
    # the backup and the record of its success, each once: the probe added nothing
    assert sorted((v["Key"], v["VersionId"]) for v in listed) == [
        ("controller.tar", "null"),
        ("controller.tar.last-backup.json", "null"),
    ], "the probe added no object"
