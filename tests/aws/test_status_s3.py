"""`status` and `versions` on S3 (moto server): every verdict a bucket can give, from real states.

A real backup from the emulator, an object whose sha256 metadata lies (put straight through the
S3 API), a delete marker over kept versions, and a bucket whose versioning was never turned on.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import uuid
from dataclasses import replace

import pytest
from controller_backup.inspection import warn_if_unversioned
from controller_backup.settings import Settings
from controller_backup.stores import open_store
from controller_emulator import Emulator

from tests.fixtures.aws import MotoServer
from tests.integration.helpers import backup, stored
from tests.integration.status_helpers import (
    UNVERSIONED,
    age_backup,
    check_versions_view,
    make_history,
    status_json,
    status_view,
    versions_view,
    write_backup_record,
)


@pytest.fixture
def s3_settings(settings: Settings, s3_url: str) -> Settings:
    return replace(settings, backup_url=s3_url)


def test_s3_healthy_then_stale(s3_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, rows = status_view(capsys, s3_settings.backup_url)
    assert code == 8 and rows["verdict"] == "MISSING: no backup is stored there"
    result = backup(s3_settings)
    code, rows = status_view(capsys, s3_settings.backup_url)
    assert code == 0 and rows["verdict"].startswith("healthy: ")
    assert rows["version"] == result.version_id and rows["sha256"] == result.sha256[:16]
    assert rows["versioning"] == "on" and rows["versions"].startswith("1 kept, oldest ")
    time.sleep(1.1)
    code, rows = status_view(capsys, s3_settings.backup_url, "--max-age", "1s")
    assert code == 14
    assert re.fullmatch(
        r"STALE: no successful backup in the last 1 second \(--max-age\); "
        r"the last one finished \d seconds? ago",
        rows["verdict"],
    )


def test_s3_unreadable_when_the_sha256_metadata_lies(
    s3_settings: Settings, aws_env: MotoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    backup(s3_settings)
    body, info = stored(s3_settings)
    bucket, key = s3_settings.backup_url.removeprefix("s3://").split("/", 1)
    lie = {**info.metadata, "sha256": hashlib.sha256(b"other bytes").hexdigest()}
    aws_env.client("s3").put_object(Bucket=bucket, Key=key, Body=body, Metadata=lie)
    code, rows = status_view(capsys, s3_settings.backup_url)
    assert code == 9
    assert rows["verdict"] == (
        f"UNREADABLE: it would not restore: {s3_settings.backup_url}: "
        "sha256 of the stored bytes does not match its metadata"
    )
    assert rows["versions"].startswith("2 kept, ")


def test_s3_missing_after_a_delete_points_to_the_kept_versions(
    s3_settings: Settings, aws_env: MotoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    result = backup(s3_settings)
    bucket, key = s3_settings.backup_url.removeprefix("s3://").split("/", 1)
    aws_env.client("s3").delete_object(Bucket=bucket, Key=key)  # a delete marker hides it
    code, rows = status_view(capsys, s3_settings.backup_url)
    assert code == 8
    assert rows["verdict"] == (
        "MISSING: no backup is stored there, but the store keeps an earlier version "
        "(see `controller-backup versions`)"
    )
    code, lines = versions_view(capsys, s3_settings.backup_url)
    assert code == 0 and lines[1].split()[0] == result.version_id and not lines[1].endswith("current")


def test_s3_versions(s3_settings: Settings, controller: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    check_versions_view(capsys, s3_settings, make_history(s3_settings, controller))


@pytest.fixture
def unversioned_s3_settings(settings: Settings, aws_env: MotoServer) -> Settings:
    """A bucket whose versioning was never turned on."""
    bucket = f"plain-{uuid.uuid4().hex[:12]}"
    aws_env.client("s3").create_bucket(Bucket=bucket)
    return replace(settings, backup_url=f"s3://{bucket}/controller/backup.tar")


def test_s3_unversioned_bucket(
    unversioned_s3_settings: Settings, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    settings = unversioned_s3_settings
    result = backup(settings)
    code, rows = status_view(capsys, settings.backup_url)
    assert code == 15
    assert rows["verdict"] == f"UNVERSIONED: {UNVERSIONED}"
    assert rows["versioning"] == "OFF: each backup overwrites the only copy"
    assert rows["version"] == "none (the store keeps no version ids)"
    assert rows["sha256"] == result.sha256[:16]
    assert rows["verified"] == "just now, by this status: sha256, size and tar structure match"
    code, report = status_json(capsys, settings.backup_url)
    assert (code, report["verdict"], report["code"], report["versioning"]) == (
        15,
        "unversioned",
        "unversioned",
        False,
    )

    # staleness is worse news, and wins; the view still says versioning is off
    write_backup_record(settings, age_backup(settings, hours=30), hours_ago=30)
    code, rows = status_view(capsys, settings.backup_url)
    assert code == 14 and rows["verdict"].startswith("STALE: ")
    assert rows["versioning"] == "OFF: each backup overwrites the only copy"

    code, lines = versions_view(capsys, settings.backup_url)
    assert code == 0
    assert lines[1].split()[0] == "none" and lines[1].endswith("  current")
    assert lines[2:] == ["1 version, newest first"]  # no id to restore by

    caplog.set_level(logging.WARNING, "controller_backup.inspection")
    caplog.clear()  # the backup above warned too (its own test is below)
    store = open_store(settings.backup_url)
    assert warn_if_unversioned(store) == f"{store.url}: {UNVERSIONED}"
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"{store.url}: {UNVERSIONED}"
    ]


def test_warn_if_unversioned_is_quiet_where_versions_are_kept(
    s3_settings: Settings, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    backup(s3_settings)
    caplog.set_level(logging.DEBUG, "controller_backup.inspection")
    assert warn_if_unversioned(open_store(s3_settings.backup_url)) is None
    assert warn_if_unversioned(open_store(settings.backup_url)) is None  # a local folder keeps its own
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_every_backup_into_an_unversioned_bucket_warns_and_says_so(
    unversioned_s3_settings: Settings, controller: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "controller_backup")
    for _ in range(2):  # a stored night and an unchanged one alike
        caplog.clear()
        result = backup(unversioned_s3_settings)
        warning = f"{open_store(unversioned_s3_settings.backup_url).url}: {UNVERSIONED}"
        assert result.details["warning"] == warning
        assert warning in [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert result.status == "unchanged"


def test_a_backup_into_a_versioned_bucket_carries_no_warning(
    s3_settings: Settings, controller: Emulator
) -> None:
    assert "warning" not in backup(s3_settings).details
