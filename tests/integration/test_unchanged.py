"""An unchanged configuration writes no new version, and still counts as a successful backup.

A nightly identical copy would push distinct history out of retention; but the night must still
count (the record beside the backup, the restore's age rule), and a stored copy that no longer
hashes to its metadata must be replaced, not trusted because its metadata matches.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import pytest
from controller_backup.backup_record import STORED, UNCHANGED, read_record, record_url
from controller_backup.errors import RefusedError
from controller_backup.restore import run_restore
from controller_backup.settings import Settings
from controller_backup.stores import open_store
from controller_backup.stores.local import LocalStore
from controller_backup.targets import operator_target
from controller_emulator import Emulator

from tests.fixtures.controller import BLANK_PRIVATE_IP

from .helpers import backup, change_configuration, stored


def _record(settings: Settings):  # type: ignore[no-untyped-def]
    return read_record(open_store(record_url(settings.backup_url)))


def test_an_unchanged_configuration_writes_no_new_version(controller: Emulator, settings: Settings) -> None:
    first = backup(settings)
    assert first.status == "ok"
    stored_record = _record(settings)
    assert stored_record is not None and stored_record.outcome == STORED
    assert stored_record.version_id == first.version_id and stored_record.sha256 == first.sha256

    second = backup(settings)
    assert second.status == UNCHANGED
    assert second.version_id == first.version_id and second.sha256 == first.sha256
    assert len(open_store(settings.backup_url).versions()) == 1
    record = _record(settings)
    assert record is not None and record.outcome == UNCHANGED
    assert record.version_id == first.version_id
    assert record.finished_at >= stored_record.finished_at
    assert record.verified_at >= stored_record.verified_at


def test_a_changed_configuration_is_stored_as_a_new_version(controller: Emulator, settings: Settings) -> None:
    first = backup(settings)
    change_configuration(controller)
    second = backup(settings)
    assert second.status == "ok" and second.sha256 != first.sha256
    assert second.sha256 == controller.export_sha256()
    assert len(open_store(settings.backup_url).versions()) == 2
    record = _record(settings)
    assert record is not None and record.outcome == STORED and record.version_id == second.version_id


def test_a_stored_copy_that_no_longer_hashes_to_its_metadata_is_replaced(
    controller: Emulator, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    first = backup(settings)
    store = open_store(settings.backup_url)
    assert isinstance(store, LocalStore)
    path, _ = store.version_file(first.version_id)
    damaged = bytearray(path.read_bytes())
    damaged[-1] ^= 0xFF  # same size, same metadata, other bytes: bit rot under the store
    path.chmod(0o644)
    path.write_bytes(bytes(damaged))

    with caplog.at_level(logging.WARNING, logger="controller_backup"):
        second = backup(settings)
    assert second.status == "ok" and second.version_id != first.version_id
    body, _ = stored(settings)
    assert body == controller.export_bytes()
    assert any("writing it again" in r.getMessage() for r in caplog.records)


def test_an_unchanged_night_keeps_the_backup_young_enough_to_restore(
    controller: Emulator, blank_controller: Emulator, settings: Settings
) -> None:
    """The restore judges age by the last backup that found the configuration unchanged."""
    short = dataclasses.replace(settings, restore_max_backup_age=2.0)
    target = operator_target(short, blank_controller.url, BLANK_PRIVATE_IP)
    backup(short)
    time.sleep(2.5)
    with pytest.raises(RefusedError, match="older than RESTORE_MAX_BACKUP_AGE"):
        run_restore(short, target=target, dry_run=True)

    assert backup(short).status == UNCHANGED  # the night the configuration did not change
    result = run_restore(short, target=target, dry_run=True)
    assert result.status == "dry-run"


def test_a_record_that_cannot_be_written_is_named_and_the_backup_stands(
    controller: Emulator, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    record_path = Path(record_url(settings.backup_url).removeprefix("file://"))
    record_path.mkdir(parents=True)  # a folder where the record's file must go
    with caplog.at_level(logging.WARNING, logger="controller_backup"):
        result = backup(settings)
    assert result.status == "ok"
    assert result.details["record_error"]
    assert stored(settings)[0] == controller.export_bytes()
    assert any("its record" in r.getMessage() for r in caplog.records)
