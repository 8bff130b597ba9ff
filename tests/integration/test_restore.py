"""Restore against emulators over real HTTP: safe to run twice, never a surprise (invariant 3)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from controller_backup import spool as spool_module
from controller_backup.controller import ExportApiDriver
from controller_backup.errors import IntegrityError, NotReadyError, RefusedError
from controller_backup.progress import SILENT, Progress
from controller_backup.restore import run_restore
from controller_backup.settings import Settings
from controller_backup.spool import HashingSpool
from controller_backup.stores import open_store
from controller_backup.targets import operator_target
from controller_emulator import Emulator, EmulatorConfig

from tests.fixtures.controller import BLANK_PRIVATE_IP, CONTROLLER_PASSWORD

from .helpers import actions, backup, driver_for


def _restore_into(blank: Emulator, settings: Settings, **kwargs: object):  # type: ignore[no-untyped-def]
    return run_restore(settings, target=operator_target(settings, blank.url, BLANK_PRIVATE_IP), **kwargs)  # type: ignore[arg-type]


def _is_set_up(emu: Emulator) -> bool:
    return emu.state.initialized


def test_restore_into_a_blank_replacement(
    controller: Emulator, blank_controller: Emulator, settings: Settings
) -> None:
    stored_result = backup(settings)
    result = _restore_into(blank_controller, settings)
    assert result.status == "ok" and result.details["verified"] is True
    assert blank_controller.export_sha256() == controller.export_sha256() == stored_result.sha256
    assert actions(blank_controller, "import_config") == 1
    # verified by exporting again after the import
    assert actions(blank_controller, "export_config") >= 1


def test_the_backup_is_read_once_to_be_sent_and_verified_without_a_file(
    blank_controller: Emulator, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its hash and structure were checked as its version file was hashed: the import is the
    only read after that. The re-export that verifies the import goes into a hasher, not a file."""
    stored_result = backup(settings)
    read: list[int] = []

    class Counted(HashingSpool):
        def read(self, amount: int = -1) -> bytes:
            data = super().read(amount)
            read.append(len(data))
            return data

    spools: list[str] = []
    new_spool_file = spool_module._new_spool_file

    def recorded(directory: str) -> tuple[int, str]:
        spools.append(directory)
        return new_spool_file(directory)

    verifying: list[Any] = []
    export = ExportApiDriver.export

    def watched(self: ExportApiDriver, dest: BinaryIO, progress: Progress = SILENT, **kwargs: Any) -> Any:
        verifying.append(dest)
        return export(self, dest, progress, **kwargs)

    monkeypatch.setattr("controller_backup.inspection.HashingSpool", Counted)
    monkeypatch.setattr(spool_module, "_new_spool_file", recorded)
    monkeypatch.setattr(ExportApiDriver, "export", watched)
    result = _restore_into(blank_controller, settings)
    assert result.status == "ok" and result.sha256 == stored_result.sha256
    assert sum(read) == result.size  # the import's one read
    assert spools == []  # a local version is read in place, and the re-export made no spool
    [sink] = verifying
    assert not hasattr(sink, "fileno") and sink.size == result.size  # hashed all of it, kept none


def test_tampered_backup_is_refused_before_the_controller_is_touched(
    blank_controller: Emulator, settings: Settings
) -> None:
    result = backup(settings)
    store = open_store(settings.backup_url)
    data_file = Path(store.path.parent, f".{store.path.name}.versions", f"{result.version_id}.data")  # type: ignore[attr-defined]
    raw = bytearray(data_file.read_bytes())
    raw[4000] ^= 0xFF
    data_file.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError, match="sha256"):
        _restore_into(blank_controller, settings)
    assert blank_controller.requests == []
    assert not _is_set_up(blank_controller)


@pytest.mark.parametrize(
    ("version", "which"), [("UserConnect-7.2-1804.4665", "an older"), ("8.1.0-1000.1000", "a newer")]
)
def test_version_mismatch_is_refused_unless_allowed(settings: Settings, version: str, which: str) -> None:
    """The export API cannot upgrade a controller: older and newer targets are both refused."""
    backup(settings)
    cfg = EmulatorConfig(blank=True, private_ip=BLANK_PRIVATE_IP, version=version)
    with Emulator(cfg) as other:
        with pytest.raises(RefusedError, match=rf"from version 8\.0\.1-1000\.1000, .* runs {which}"):
            _restore_into(other, settings)
        assert actions(other, "import_config") == 0
        result = _restore_into(other, settings, allow_version_mismatch=True)
        assert result.status == "ok"


def test_set_up_controller_is_refused_unless_overwriting_is_allowed(
    controller: Emulator, settings: Settings
) -> None:
    backup(settings)
    with Emulator(EmulatorConfig(seed=99, password=CONTROLLER_PASSWORD)) as other:
        before = other.export_sha256()
        with pytest.raises(RefusedError, match=r"already set up.*--overwrite-configured") as caught:
            run_restore(settings.for_controller(other.url), allow_old_backup=True, allow_shrink=True)
        assert caught.value.override == "overwrite_configured"  # the other options lift other rules
        assert other.export_sha256() == before
        run_restore(settings.for_controller(other.url), overwrite_configured=True)
        assert other.export_sha256() == controller.export_sha256()


def test_dry_run_changes_nothing(blank_controller: Emulator, settings: Settings) -> None:
    backup(settings)
    result = _restore_into(blank_controller, settings, dry_run=True)
    assert result.status == "dry-run"
    assert actions(blank_controller, "import_config") == 0
    assert not _is_set_up(blank_controller)


def test_dry_run_still_runs_every_check(blank_controller: Emulator, settings: Settings) -> None:
    backup(settings)
    cfg = EmulatorConfig(blank=True, private_ip=BLANK_PRIVATE_IP, version="8.0.1")
    with Emulator(cfg) as other, pytest.raises(RefusedError):
        _restore_into(other, settings, dry_run=True)


def test_restore_an_older_version(settings: Settings, blank_controller: Emulator) -> None:
    first = backup(settings)
    with Emulator(EmulatorConfig(seed=5, password=CONTROLLER_PASSWORD, archive_size=80 * 1024)) as other:
        second = backup(settings.for_controller(other.url))
    assert first.sha256 != second.sha256
    result = _restore_into(blank_controller, settings, version_id=first.version_id)
    assert result.version_id == first.version_id
    assert blank_controller.export_sha256() == first.sha256


def test_dropped_connection_during_import_is_verified_not_assumed(
    controller: Emulator, blank_controller: Emulator, settings: Settings
) -> None:
    backup(settings)
    blank_controller.faults.import_drop_after_apply = True
    result = _restore_into(blank_controller, settings)
    assert result.status == "ok"
    assert blank_controller.export_sha256() == controller.export_sha256()


def test_slow_import_is_waited_for(
    controller: Emulator, blank_controller: Emulator, settings: Settings
) -> None:
    backup(settings)
    blank_controller.faults.import_delay = 1.0
    assert _restore_into(blank_controller, settings).status == "ok"


def test_import_that_did_not_apply_fails_verification(blank_controller: Emulator, settings: Settings) -> None:
    backup(settings)

    class SilentlyIgnored(ExportApiDriver):
        def import_(self, source, backup, progress=SILENT):  # type: ignore[no-untyped-def]
            return {}  # the controller answered "ok" but kept its old configuration

    target = settings.for_controller(blank_controller.url)
    driver = SilentlyIgnored(
        driver_for(dataclasses.replace(target, username="admin"), BLANK_PRIVATE_IP).client
    )
    with pytest.raises(IntegrityError, match="does not match the backup"):
        run_restore(target, driver=driver)


def test_booting_replacement_is_waited_for(blank_controller: Emulator, settings: Settings) -> None:
    backup(settings)
    blank_controller.reboot(1.5)
    assert _restore_into(blank_controller, settings).status == "ok"


def test_replacement_that_never_boots_fails_within_the_bound(
    blank_controller: Emulator, settings: Settings
) -> None:
    import time

    backup(settings)
    blank_controller.reboot(120)
    quick = dataclasses.replace(settings, ready_timeout=1.5, retry_attempts=2, retry_seconds=1.0)
    started = time.monotonic()
    with pytest.raises(NotReadyError):
        _restore_into(blank_controller, quick)
    assert time.monotonic() - started < 10


def test_same_event_twice_restores_once(blank_controller: Emulator, settings: Settings) -> None:
    backup(settings)
    first = _restore_into(blank_controller, settings, idempotency_key="i-0abc123")
    second = _restore_into(blank_controller, settings, idempotency_key="i-0abc123")
    assert first.status == "ok" and second.status == "already-restored"
    assert second.sha256 == first.sha256
    assert actions(blank_controller, "import_config") == 1


def test_interrupted_restore_resumes_for_the_same_key(
    controller: Emulator, blank_controller: Emulator, settings: Settings
) -> None:
    """An import that applied but whose invocation died: the retry finishes instead of refusing."""
    backup(settings)

    class DiesAfterImport(ExportApiDriver):
        def import_(self, source, backup, progress=SILENT):  # type: ignore[no-untyped-def]
            super().import_(source, backup, progress)
            raise KeyboardInterrupt  # the function was stopped right after the import

    target = settings.for_controller(blank_controller.url)
    driver = DiesAfterImport(
        driver_for(dataclasses.replace(target, username="admin"), BLANK_PRIVATE_IP).client
    )
    with pytest.raises(KeyboardInterrupt):
        run_restore(target, driver=driver, idempotency_key="i-resume")
    assert _is_set_up(blank_controller)
    result = _restore_into(blank_controller, settings, idempotency_key="i-resume")
    assert result.status == "ok"
    assert blank_controller.export_sha256() == controller.export_sha256()


def test_bad_idempotency_key_is_bad_request(blank_controller: Emulator, settings: Settings) -> None:
    from controller_backup.errors import BadRequest

    backup(settings)
    with pytest.raises(BadRequest):
        _restore_into(blank_controller, settings, idempotency_key="../../etc/passwd")


def test_restore_of_missing_backup_is_not_found(blank_controller: Emulator, settings: Settings) -> None:
    from controller_backup.errors import ObjectNotFound

    with pytest.raises(ObjectNotFound):
        _restore_into(blank_controller, settings)
    assert blank_controller.requests == []
