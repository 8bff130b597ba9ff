"""What the `status` and `versions` tests share, on every store: the views as an operator reads
them, and store states made the way they happen (an aged object, a backup record, a history)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from controller_backup import cli
from controller_backup.backup_record import UNCHANGED, BackupRecord, record_url, write_record
from controller_backup.settings import Settings
from controller_backup.stores import ObjectInfo, SizedSource, open_store
from controller_emulator import Emulator

from tests.integration.helpers import backup, stored

#: the emulator's controller version
VERSION = "8.0.1-1000.1000"
UNVERSIONED = "the store keeps no versions: each backup overwrites the only copy (turn versioning on)"


def status_view(capsys: pytest.CaptureFixture[str], url: str, *flags: str) -> tuple[int, dict[str, str]]:
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


def status_json(capsys: pytest.CaptureFixture[str], url: str, *flags: str) -> tuple[int, dict[str, Any]]:
    code = cli.main(["status", "--json", "--backup-url", url, *flags])
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert report["exit_code"] == code
    return code, report


def versions_view(capsys: pytest.CaptureFixture[str], url: str, *flags: str) -> tuple[int, list[str]]:
    code = cli.main(["versions", "--backup-url", url, *flags])
    return code, capsys.readouterr().out.splitlines()


def age_backup(settings: Settings, hours: float) -> ObjectInfo:
    """Store the current backup again as if it had been exported `hours` ago (a new version)."""
    body, info = stored(settings)
    old = (datetime.now(UTC) - timedelta(hours=hours)).isoformat(timespec="seconds")
    return open_store(settings.backup_url).put(SizedSource.of(body), {**info.metadata, "exported_at": old})


def write_backup_record(
    settings: Settings, info: ObjectInfo, hours_ago: float, **changes: Any
) -> BackupRecord:
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


def make_history(settings: Settings, controller: Emulator) -> list[str]:
    """Three versions, oldest first: a backup, an identical copy of it, a changed configuration."""
    first = backup(settings)
    body, info = stored(settings)
    copy = open_store(settings.backup_url).put(SizedSource.of(body), info.metadata)
    controller.state.add_account({"account_name": "added-later", "cloud_type": 1})
    changed = backup(settings)
    assert changed.sha256 != first.sha256
    return [str(first.version_id), str(copy.version_id), str(changed.version_id)]


def check_versions_view(capsys: pytest.CaptureFixture[str], settings: Settings, ids: list[str]) -> None:
    first, copy, changed = ids
    code, lines = versions_view(capsys, settings.backup_url)
    assert code == 0
    header, *rows, count, hint = lines
    assert header.split() == ["VERSION", "ID", "STORED", "(UTC)", "SIZE", "SHA256", "CONTROLLER", "VERSION"]
    assert [row.split()[0] for row in rows] == [changed, copy, first]
    assert rows[0].endswith("  current") and rows[1].endswith("  unchanged")
    assert rows[2].split()[-1] == VERSION  # nothing older to compare it with
    assert count == "3 versions, newest first"
    assert hint == "restore one with: controller-backup restore --version-id VERSION_ID"
    columns = {row.index(VERSION) for row in rows}
    assert len(columns) == 1  # one column per fact

    code, lines = versions_view(capsys, settings.backup_url, "--limit", "2")
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
