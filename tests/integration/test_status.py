"""`status` and `versions` against real store states: every verdict, its exit code and its words.

Each state is made the way it happens: a real backup from the emulator, a version file corrupted
on disk, an object whose sha256 metadata lies, a bucket without versioning (moto; Azurite keeps
none), a record of the last backup written as the backup writes it. The human view is asserted
on its real text, since that is what an operator reads.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from controller_backup import cli
from controller_backup.backup_record import UNCHANGED, BackupRecord, record_url, write_record
from controller_backup.emulator import Emulator
from controller_backup.inspection import warn_if_unversioned
from controller_backup.settings import Settings
from controller_backup.stores import ObjectInfo, open_store

from tests.fixtures.aws import MotoServer
from tests.fixtures.azure import ACCOUNT, Azurite
from tests.fixtures.controller import CONTROLLER_PASSWORD
from tests.integration.helpers import backup, run_cli, stored

VERSION = "8.0.1-1000.1000"
UNVERSIONED = "the store keeps no versions: each backup overwrites the only copy (turn versioning on)"


def _status(capsys: pytest.CaptureFixture[str], url: str, *flags: str) -> tuple[int, dict[str, str]]:
    """Exit code and the human view as label -> value (labels are padded to one column)."""
    code = cli.main(["status", "--backup-url", url, *flags])
    rows: dict[str, str] = {}
    columns = set()
    for line in capsys.readouterr().out.splitlines():
        label, value = re.split(r"\s{2,}", line, maxsplit=1)
        rows[label] = value if label != "note" else rows.get("note", "") + value + "\n"
        columns.add(len(line) - len(value))
    assert len(columns) == 1  # every value starts in one column
    return code, rows


def _status_json(capsys: pytest.CaptureFixture[str], url: str, *flags: str) -> tuple[int, dict[str, Any]]:
    code = cli.main(["status", "--json", "--backup-url", url, *flags])
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert report["exit_code"] == code
    return code, report


def _versions(capsys: pytest.CaptureFixture[str], url: str, *flags: str) -> tuple[int, list[str]]:
    code = cli.main(["versions", "--backup-url", url, *flags])
    return code, capsys.readouterr().out.splitlines()


def _age(settings: Settings, hours: float) -> ObjectInfo:
    """Store the current backup again as if it had been exported `hours` ago (a new version)."""
    body, info = stored(settings)
    old = (datetime.now(UTC) - timedelta(hours=hours)).isoformat(timespec="seconds")
    return open_store(settings.backup_url).put(
        io.BytesIO(body), len(body), {**info.metadata, "exported_at": old}
    )


def _record(settings: Settings, info: ObjectInfo, hours_ago: float, **changes: Any) -> BackupRecord:
    """Write the record of the last backup, as a backup does, `hours_ago` old."""
    when = datetime.now(UTC) - timedelta(hours=hours_ago)
    record = BackupRecord(
        outcome=UNCHANGED,
        finished_at=when,
        verified_at=when,
        version_id=info.version_id,
        sha256=info.metadata["sha256"],
        size=info.size,
        controller_version=info.metadata["controller_version"],
        trigger="schedule",
    )
    record = replace(record, **changes)
    assert write_record(open_store(record_url(settings.backup_url)), record) is None
    return record


# -- healthy ---------------------------------------------------------------------------------------


def test_healthy_after_a_real_backup(
    settings: Settings, controller: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    result = backup(settings)
    url = open_store(settings.backup_url).url
    code, rows = _status(capsys, settings.backup_url)
    assert code == 0
    assert list(rows)[:2] == ["backup", "verdict"]
    assert rows["backup"] == url
    assert re.fullmatch(
        r"healthy: the last backup finished \d+ seconds? ago; its bytes match their sha256", rows["verdict"]
    )
    assert re.match(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, \d+ seconds? ago \(alarm after 25 hours\)", rows["last backup"]
    )
    assert rows["version"] == result.version_id
    assert rows["kind"] == "tar"
    assert rows["size"] == f"{result.size / 1024:.1f} KiB ({result.size} bytes)"
    assert rows["sha256"] == result.sha256[:16]
    assert rows["controller"] == f"{controller.url}, version {VERSION}"
    assert re.fullmatch(
        r"1 kept, oldest \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(\d+ seconds? ago\)", rows["versions"]
    )
    assert rows["versioning"] == "on"
    assert rows["verified"] == "just now, by this status: sha256, size and tar structure match"

    code, report = _status_json(capsys, settings.backup_url)
    assert code == 0
    assert report["status"] == "ok" and report["verdict"] == "healthy" and report["code"] is None
    assert report["sha256"] == result.sha256 and report["size"] == result.size
    assert report["controller_version"] == VERSION and report["controller"] == controller.url
    assert report["checked"] == "bytes" and report["verified_by"] == "status"
    assert report["versions"] == 1 and report["versioning"] is True
    assert report["max_age_seconds"] == 90000 and 0 <= report["age_seconds"] < 60

    code, rows = _status(capsys, settings.backup_url, "--no-read")
    assert code == 0
    assert rows["verdict"].endswith("; its bytes were not read (--no-read)")
    assert rows["verified"].endswith("metadata only: this status did not read the bytes (--no-read)")


# -- stale ------------------------------------------------------------------------------------------


def test_stale_by_the_record_of_the_last_backup(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """The record, not the object, says when a backup last succeeded: an unchanged configuration
    writes no new version, so an old object with a fresh record is healthy, and an old record is
    stale however the object looks."""
    backup(settings)
    aged = _age(settings, hours=30)
    _record(settings, aged, hours_ago=26)
    code, rows = _status(capsys, settings.backup_url)
    assert code == 14
    assert rows["verdict"] == (
        "STALE: no successful backup in the last 25 hours (--max-age); the last one finished 26 hours ago"
    )
    assert rows["last backup"].endswith(
        ", 26 hours ago (alarm after 25 hours): unchanged (nothing new to store), trigger schedule"
    )
    code, report = _status_json(capsys, settings.backup_url)
    assert (code, report["verdict"], report["code"], report["status"]) == (14, "stale", "stale", "fail")
    assert report["last_backup_source"] == "record" and report["last_backup_outcome"] == "unchanged"

    code, rows = _status(capsys, settings.backup_url, "--max-age", "2d")
    assert code == 0 and rows["verdict"].startswith("healthy: the last backup finished 26 hours ago")
    assert "(alarm after 2 days)" in rows["last backup"]

    _record(settings, aged, hours_ago=2)
    code, rows = _status(capsys, settings.backup_url, "--no-read")
    assert code == 0
    assert rows["last backup"].endswith(
        ", 2 hours ago (alarm after 25 hours): unchanged (nothing new to store), trigger schedule"
    )
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(2 hours ago\), by the backup's read-back; "
        r"metadata only: this status did not read the bytes \(--no-read\)",
        rows["verified"],
    )


def test_a_record_of_other_bytes_is_not_believed(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    backup(settings)
    aged = _age(settings, hours=30)
    _record(settings, aged, hours_ago=0, sha256="0" * 64)
    code, rows = _status(capsys, settings.backup_url)
    assert code == 14
    assert rows["verdict"].endswith("; the last one finished 30 hours ago")
    assert rows["last backup"].endswith(", 30 hours ago (alarm after 25 hours): the object's export time")
    assert re.fullmatch(
        r"the backup record \(finished \S+\) describes other bytes \(sha256 0{16}\), "
        r"so the object's own time is used\n",
        rows["note"],
    )


def test_max_age_takes_the_forms_operators_write(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    backup(settings)
    _age(settings, hours=2)
    _record(settings, open_store(settings.backup_url).head() or pytest.fail("no object"), hours_ago=2)
    for max_age, expected, words in (
        ("90m", 14, "1 hour 30 minutes"),
        ("3h", 0, "3 hours"),
        ("3600s", 14, "1 hour"),
    ):
        code, rows = _status(capsys, settings.backup_url, "--no-read", "--max-age", max_age)
        assert code == expected, max_age
        assert f"(alarm after {words})" in rows["last backup"]


# -- missing -------------------------------------------------------------------------------------


def test_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = (tmp_path / "nothing" / "controller.tar").as_uri()
    code = cli.main(["status", "--backup-url", url])
    assert code == 8
    assert capsys.readouterr().out.splitlines() == [
        f"backup      {url}",
        "verdict     MISSING: no backup is stored there",
        "versioning  on",
    ]
    assert not (tmp_path / "nothing").exists()  # a look creates nothing
    code, report = _status_json(capsys, url)
    assert (code, report["verdict"], report["code"], report["status"]) == (8, "missing", "not-found", "fail")
    assert cli.main(["versions", "--backup-url", url]) == 8
    printed = capsys.readouterr()
    assert "no backup stored yet" in printed.out + printed.err


def test_missing_with_a_record_says_the_object_is_gone(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    backup(settings)
    _, info = stored(settings)
    gone = settings.backup_url.replace("controller.tar", "gone.tar")
    _record(replace(settings, backup_url=gone), info, hours_ago=1)
    code, rows = _status(capsys, gone)
    assert code == 8
    assert rows["verdict"] == "MISSING: no backup is stored there"
    assert rows["last backup"].endswith(
        ", 1 hour ago (alarm after 25 hours): unchanged (nothing new to store), trigger schedule"
    )
    assert re.fullmatch(
        r"the backup record says a backup finished at \S+, but the object it stored is gone\n", rows["note"]
    )


# -- unreadable -----------------------------------------------------------------------------------


def _version_file(settings: Settings) -> Path:
    _, info = stored(settings)
    store_path = Path(open_store(settings.backup_url).url.removeprefix("file://"))
    return store_path.parent / f".{store_path.name}.versions" / f"{info.version_id}.data"


def test_unreadable_when_the_stored_bytes_are_corrupted(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    backup(settings)
    with open(_version_file(settings), "r+b") as data:
        data.seek(40_000)
        byte = data.read(1)
        data.seek(40_000)
        data.write(bytes([byte[0] ^ 0xFF]))
    code, rows = _status(capsys, settings.backup_url)
    assert code == 9
    url = open_store(settings.backup_url).url
    assert rows["verdict"] == (
        f"UNREADABLE: it would not restore: {url}: sha256 of the stored bytes does not match its metadata"
    )
    assert rows["verified"].endswith("reading the bytes now failed (see the verdict)")
    assert rows["sha256"] and rows["version"]  # what the object claims, to name the version that failed
    code, report = _status_json(capsys, settings.backup_url)
    assert (code, report["verdict"], report["code"]) == (9, "unreadable", "integrity")
    # metadata alone cannot see it: why status reads the bytes unless told not to
    assert _status(capsys, settings.backup_url, "--no-read")[0] == 0


def test_unreadable_when_the_bytes_are_no_archive_or_the_metadata_lies(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    backup(settings)
    _, info = stored(settings)
    store = open_store(settings.backup_url)
    junk = bytes(range(256)) * 64
    metadata = {**info.metadata, "sha256": hashlib.sha256(junk).hexdigest(), "size": str(len(junk))}
    store.put(io.BytesIO(junk), len(junk), metadata)
    code, rows = _status(capsys, settings.backup_url)
    assert code == 9
    assert rows["verdict"] == (
        "UNREADABLE: it would not restore: the export is 16 KiB of an unknown binary format, "
        "not a tar archive or a gzip of one"
    )
    # a size the object does not have is seen without reading a byte
    store.put(io.BytesIO(junk), len(junk), {**metadata, "size": "99"})
    code, rows = _status(capsys, settings.backup_url, "--no-read")
    assert code == 9
    assert rows["verdict"] == (
        f"UNREADABLE: it would not restore: {store.url}: "
        "the object holds 16384 bytes, its metadata records 99"
    )


def test_unreadable_store_exits_8(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    backup(settings)
    current = _version_file(settings).parent / "CURRENT"
    current.write_text("not a version id")
    code, rows = _status(capsys, settings.backup_url)
    assert code == 8
    url = open_store(settings.backup_url).url
    assert rows["verdict"] == (
        f"UNREADABLE: it would not restore: {url}: CURRENT holds no version id; the store folder is damaged"
    )
    assert "the versions could not be listed" in rows["note"]
    code, report = _status_json(capsys, settings.backup_url)
    assert (code, report["verdict"], report["code"]) == (8, "unreadable", "store")


# -- versions --------------------------------------------------------------------------------------


def _history(settings: Settings, controller: Emulator) -> list[str]:
    """Three versions, oldest first: a backup, an identical copy of it, a changed configuration."""
    first = backup(settings)
    body, info = stored(settings)
    copy = open_store(settings.backup_url).put(io.BytesIO(body), len(body), info.metadata)
    controller.state.add_account({"account_name": "added-later", "cloud_type": 1})
    changed = backup(settings)
    assert changed.sha256 != first.sha256
    return [str(first.version_id), str(copy.version_id), str(changed.version_id)]


def _check_versions(capsys: pytest.CaptureFixture[str], settings: Settings, ids: list[str]) -> None:
    first, copy, changed = ids
    code, lines = _versions(capsys, settings.backup_url)
    assert code == 0
    header, *rows, count, hint = lines
    assert header.split() == ["VERSION", "ID", "STORED", "(UTC)", "SIZE", "SHA256", "CONTROLLER"]
    assert [row.split()[0] for row in rows] == [changed, copy, first]
    assert rows[0].endswith("  current") and rows[1].endswith("  unchanged")
    assert rows[2].split()[-1] == VERSION  # nothing older to compare it with
    assert count == "3 versions, newest first"
    assert hint == "restore one with: controller-backup restore --version-id VERSION_ID"
    columns = {row.index(VERSION) for row in rows}
    assert len(columns) == 1  # one column per fact

    code, lines = _versions(capsys, settings.backup_url, "--limit", "2")
    assert code == 0
    assert [row.split()[0] for row in lines[1:3]] == [changed, copy]
    assert lines[2].endswith("  unchanged")  # compared with the version it does not show
    assert lines[3] == "2 versions, newest first; older ones not shown (--limit 4 shows more)"

    assert cli.main(["versions", "--json", "--backup-url", settings.backup_url]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(v["version_id"], v["unchanged"], v["is_latest"]) for v in listed] == [
        (changed, False, True),
        (copy, True, False),
        (first, False, False),
    ]
    assert listed[1]["sha256"] == listed[2]["sha256"] and listed[0]["controller_version"] == VERSION
    # the ids are the ones restore and verify take
    assert cli.main(["verify", "--json", "--backup-url", settings.backup_url, "--version-id", first]) == 0
    assert json.loads(capsys.readouterr().out)["sha256"] == listed[2]["sha256"]


def test_versions_in_a_local_folder(
    settings: Settings, controller: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    _check_versions(capsys, settings, _history(settings, controller))
    code, rows = _status(capsys, settings.backup_url)
    assert code == 0 and rows["versions"].startswith("3 kept, oldest ")


def test_versions_limit_must_be_positive(settings: Settings) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["versions", "--backup-url", settings.backup_url, "--limit", "0"])
    assert exit_info.value.code == 2


# -- S3 (moto) ------------------------------------------------------------------------------------


@pytest.fixture
def s3_settings(settings: Settings, s3_url: str) -> Settings:
    return replace(settings, backup_url=s3_url)


def test_s3_healthy_then_stale(s3_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, rows = _status(capsys, s3_settings.backup_url)
    assert code == 8 and rows["verdict"] == "MISSING: no backup is stored there"
    result = backup(s3_settings)
    code, rows = _status(capsys, s3_settings.backup_url)
    assert code == 0 and rows["verdict"].startswith("healthy: ")
    assert rows["version"] == result.version_id and rows["sha256"] == result.sha256[:16]
    assert rows["versioning"] == "on" and rows["versions"].startswith("1 kept, oldest ")
    time.sleep(1.1)
    code, rows = _status(capsys, s3_settings.backup_url, "--max-age", "1s")
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
    code, rows = _status(capsys, s3_settings.backup_url)
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
    code, rows = _status(capsys, s3_settings.backup_url)
    assert code == 8
    assert rows["verdict"] == (
        "MISSING: no backup is stored there, but the store keeps an earlier version "
        "(see `controller-backup versions`)"
    )
    code, lines = _versions(capsys, s3_settings.backup_url)
    assert code == 0 and lines[1].split()[0] == result.version_id and not lines[1].endswith("current")


def test_s3_versions(s3_settings: Settings, controller: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    _check_versions(capsys, s3_settings, _history(s3_settings, controller))


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
    code, rows = _status(capsys, settings.backup_url)
    assert code == 15
    assert rows["verdict"] == f"UNVERSIONED: {UNVERSIONED}"
    assert rows["versioning"] == "OFF: each backup overwrites the only copy"
    assert rows["version"] == "none (the store keeps no version ids)"
    assert rows["sha256"] == result.sha256[:16]
    assert rows["verified"] == "just now, by this status: sha256, size and tar structure match"
    code, report = _status_json(capsys, settings.backup_url)
    assert (code, report["verdict"], report["code"], report["versioning"]) == (
        15,
        "unversioned",
        "unversioned",
        False,
    )

    # staleness is worse news, and wins; the view still says versioning is off
    _record(settings, _age(settings, hours=30), hours_ago=30)
    code, rows = _status(capsys, settings.backup_url)
    assert code == 14 and rows["verdict"].startswith("STALE: ")
    assert rows["versioning"] == "OFF: each backup overwrites the only copy"

    code, lines = _versions(capsys, settings.backup_url)
    assert code == 0
    assert lines[1].split()[0] == "none" and lines[1].endswith("  current")
    assert lines[2:] == ["1 version, newest first"]  # no id to restore by

    caplog.set_level(logging.WARNING, "controller_backup.inspection")
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


# -- Azure (Azurite keeps no versions) ------------------------------------------------------------


def test_azurite_is_unversioned(
    settings: Settings, azurite_env: Azurite, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"azblob://{ACCOUNT}/{azurite_env.new_container()}/controllers/prod/backup.tar"
    azure = replace(settings, backup_url=url)
    result = backup(azure)
    code, rows = _status(capsys, url)
    assert code == 15
    assert rows["verdict"] == f"UNVERSIONED: {UNVERSIONED}"
    assert rows["sha256"] == result.sha256[:16] and rows["versions"].startswith("1 kept, ")
    assert warn_if_unversioned(open_store(url)) == f"{url}: {UNVERSIONED}"


# -- as an operator runs it -----------------------------------------------------------------------


def test_exit_codes_through_a_real_process(controller_env: dict[str, str], settings: Settings) -> None:
    env = controller_env | {"TEST_CONTROLLER_PASSWORD": CONTROLLER_PASSWORD}
    missing = run_cli("status", env=env)
    assert missing.returncode == 8 and "verdict     MISSING: no backup is stored there" in missing.stdout
    assert run_cli("backup", env=env).returncode == 0
    healthy = run_cli("status", env=env)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert healthy.stdout.splitlines()[1].startswith("verdict      healthy: ")
    time.sleep(1.1)
    stale = run_cli("status", "--max-age", "1s", "--json", env=env)
    assert stale.returncode == 14 and json.loads(stale.stdout)["verdict"] == "stale"
    wrong = run_cli("status", "--max-age", "25 hours", env=env)
    assert wrong.returncode == 2 and "must be seconds or a number with s/m/h/d" in wrong.stderr
    helped = run_cli("--help")
    assert "14 status: stale" in helped.stdout and "15 status: unversioned store" in helped.stdout
    assert CONTROLLER_PASSWORD not in "".join(p.stdout + p.stderr for p in (missing, healthy, stale, wrong))
