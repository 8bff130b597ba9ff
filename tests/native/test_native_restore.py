"""The native restore sequence, as Aviatrix's own HA tools run it, against emulated controllers.

Each test ends by comparing the replacement's configuration with the original's byte for byte
(the emulators' `export_sha256`), which a real controller could not offer but the emulator can.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from controller_backup.backup import run_backup
from controller_backup.controller import connector
from controller_backup.controller.native import NativeDriver
from controller_backup.errors import (
    AuthError,
    BackupError,
    ControllerError,
    IntegrityError,
    RefusedError,
)
from controller_backup.progress import SILENT
from controller_backup.restore import run_restore
from controller_backup.results import JobResult
from controller_backup.settings import Settings
from controller_backup.stores import IfMatch, SizedSource, open_store
from controller_backup.targets import configured_target, operator_target
from controller_emulator import Emulator

from tests.fixtures.controller import CONTROLLER_PASSWORD

from .conftest import (
    ORIGINAL_IP,
    REPLACEMENT_IP,
    Destination,
    blank_for,
    native_settings,
    original_for,
)
from .helpers import actions, config_file, head, read


def _restore(settings: Settings, blank: Emulator, **kwargs: Any) -> JobResult:
    return run_restore(settings, target=operator_target(settings, blank.url, REPLACEMENT_IP), **kwargs)


def _assert_restored(original: Emulator, replacement: Emulator) -> None:
    assert replacement.export_sha256() == original.export_sha256()
    assert replacement.state.version == original.state.version
    assert replacement.state.check_credentials("admin", CONTROLLER_PASSWORD)


def _count_calls(emu: Emulator, name: str, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    calls: list[object] = []
    original = getattr(emu.state, name)

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(emu.state, name, counting)
    return calls


def test_full_sequence_on_every_store(destination: Destination) -> None:
    """Backup, then a blank replacement of an older build ends with the original configuration."""
    with original_for(destination) as original, blank_for(destination, version="8.0.1-1000.900") as blank:
        settings = native_settings(destination, original)
        stored = run_backup(settings)
        result = _restore(settings, blank, idempotency_key="i-0123456789abcdef0")
        assert result.status == "ok" and result.details["verified"] is True
        _assert_restored(original, blank)  # upgraded to the backup's version after its set-up
        assert actions(blank, "upgrade") == 1
        # Azure's restore carries its service principal: no account is created there
        assert actions(blank, "setup_account_profile") == (0 if destination.cloud == "azure" else 1)
        assert actions(blank, "restore_cloudx_config") == 1
        # the restore put the stored bytes where the controller reads them, under the old IP ...
        placed, _ = read(config_file(destination.bucket_url, ORIGINAL_IP))
        assert hashlib.sha256(placed).hexdigest() == stored.sha256
        # ... and ended with a fresh backup named after the new IP, stored as the one object
        fresh = result.details["fresh_backup"]
        assert head(config_file(destination.bucket_url, REPLACEMENT_IP)) is not None
        latest = head(settings.backup_url)
        assert latest is not None and latest.metadata["sha256"] == fresh["sha256"] != stored.sha256
        assert latest.metadata["controller_private_ip"] == REPLACEMENT_IP
        # a repeated event is a no-op
        again = _restore(settings, blank, idempotency_key="i-0123456789abcdef0")
        assert again.status == "already-restored" and actions(blank, "restore_cloudx_config") == 1


def test_the_daily_backup_follows_the_replacement(
    local: Destination, original: Emulator, blank: Emulator
) -> None:
    """CONTROLLER_PRIVATE_IP still names the old controller: the recorded new IP is watched too."""
    settings = native_settings(local, original)
    run_backup(settings)
    _restore(settings, blank)
    original.stop()
    after = run_backup(settings.for_controller(blank.url))
    assert after.details["mode"] == "native"
    assert (
        head(settings.backup_url).metadata["native_file"] == f"CloudN_{REPLACEMENT_IP}_save_cloudx_config.enc"
    )  # type: ignore[union-attr]


class _Dies(NativeDriver):
    """A driver whose invocation is killed right after one step (a Lambda timing out)."""

    after = ""

    def prepare_target(self, backup_version: Any, journal: Any) -> None:
        super().prepare_target(backup_version, journal)
        if self.after == "setup":
            raise KeyboardInterrupt

    def import_(self, source: Any, backup: Any, progress: Any = SILENT) -> dict[str, str]:
        details = super().import_(source, backup, progress)
        if self.after == "restore":
            raise KeyboardInterrupt
        return details

    def verify_restored(self, backup: Any) -> None:
        super().verify_restored(backup)
        if self.after == "verify":
            raise KeyboardInterrupt

    def export(self, dest: Any, progress: Any = SILENT, *, stored: Any) -> Any:
        if self.after == "backup":
            raise KeyboardInterrupt
        return super().export(dest, progress, stored=stored)


_Driver = TypeVar("_Driver", bound=NativeDriver)


def _replacement_driver(driver_class: type[_Driver], settings: Settings, blank: Emulator) -> _Driver:
    """A driver of `driver_class` for the blank replacement, restoring the original's backup."""
    target = settings.for_controller(blank.url)
    return driver_class(
        connector(target),
        target,
        username="admin",
        password=REPLACEMENT_IP,
        private_ip=REPLACEMENT_IP,
        source_ip=ORIGINAL_IP,
    )


def _dying_driver(settings: Settings, blank: Emulator, after: str) -> NativeDriver:
    driver = _replacement_driver(_Dies, settings, blank)
    driver.after = after
    return driver


@pytest.mark.parametrize(
    ("after", "resumed_from", "restores"),
    [
        # (killed after, the last step recorded as finished, restore_cloudx_config calls in all)
        ("setup", "upgraded", 1),  # set up, at the backup's version; the account is made again if missing
        ("restore", "import_sent", 2),  # applied but not recorded: restoring the same file again is safe
        ("verify", "imported", 1),
        ("backup", "verified", 1),
    ],
)
def test_interrupted_restore_resumes_where_it_stopped(
    original: Emulator,
    blank: Emulator,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    after: str,
    resumed_from: str,
    restores: int,
) -> None:
    run_backup(settings)
    setups = _count_calls(blank, "run_setup", monkeypatch)
    target = settings.for_controller(blank.url)
    with pytest.raises(KeyboardInterrupt):
        run_restore(target, driver=_dying_driver(settings, blank, after), idempotency_key="i-resume")
    assert blank.state.initialized  # set up: a plain second run would now refuse it
    # Without the key nothing says this is ours to finish: a set-up target is refused, and once our
    # backup is in it (its users are the original's) a fresh login fails: the configured password
    # is not tried on a target that is not CONTROLLER_URL.
    expected = RefusedError if after == "setup" else AuthError
    with pytest.raises(expected):
        _restore(settings, blank)
    result = _restore(settings, blank, idempotency_key="i-resume")
    assert result.status == "ok" and result.details["resumed_from"] == resumed_from
    _assert_restored(original, blank)
    assert len(setups) == 1  # initial_setup never ran twice
    assert actions(blank, "setup_account_profile") == 1
    assert actions(blank, "restore_cloudx_config") == restores


def test_time_limit_stops_cleanly_then_the_next_invocation_finishes(
    original: Emulator, blank: Emulator, settings: Settings
) -> None:
    """initial_setup restarts the controller for longer than the invocation may run."""
    run_backup(settings)
    blank.faults.setup_reboot = 4.0
    blank.faults.setup_drop = True
    short = dataclasses.replace(settings, restore_time_limit=2.0)
    started = time.monotonic()
    with pytest.raises(BackupError) as caught:
        _restore(short, blank, idempotency_key="i-slow")
    assert caught.value.transient, caught.value  # the platform retries it
    assert time.monotonic() - started < 2.0 + 3.0
    assert blank.state.initialized and actions(blank, "restore_cloudx_config") == 0
    while time.monotonic() < blank.faults.not_ready_until:
        time.sleep(0.1)
    result = _restore(settings, blank, idempotency_key="i-slow")
    assert result.status == "ok" and result.details["resumed_from"] == "started"
    _assert_restored(original, blank)


def test_dropped_connections_during_setup_and_restore_are_checked_again(
    original: Emulator, blank: Emulator, settings: Settings
) -> None:
    run_backup(settings)
    blank.reboot(1.0)  # still booting when the event arrives
    blank.faults.setup_drop = True
    blank.faults.setup_reboot = 0.5
    blank.faults.restore_drop = True
    assert _restore(settings, blank).status == "ok"
    _assert_restored(original, blank)
    assert actions(blank, "restore_cloudx_config") == 1


def _store_aged(settings: Settings, days: float) -> None:
    """Rewrite the stored backup as if it had been exported `days` ago."""
    store = open_store(settings.backup_url)
    body, info = read(settings.backup_url)
    old = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")
    store.put(SizedSource.of(body), {**info.metadata, "exported_at": old}, precondition=IfMatch(info.etag))


def test_stale_backup_is_refused_unless_allowed(
    original: Emulator, blank: Emulator, settings: Settings
) -> None:
    run_backup(settings)
    _store_aged(settings, days=3.5)
    too_old = r"3 days 12 hours old, older than RESTORE_MAX_BACKUP_AGE \(3 days\).*--allow-old-backup"
    with pytest.raises(RefusedError, match=too_old):
        _restore(settings, blank, overwrite_configured=True, allow_version_mismatch=True)
    assert blank.requests == []  # refused before the controller was touched
    with pytest.raises(RefusedError):
        _restore(settings, blank, dry_run=True)
    assert _restore(settings, blank, allow_old_backup=True).status == "ok"
    _assert_restored(original, blank)


def test_max_backup_age_is_a_setting(local: Destination, original: Emulator, blank: Emulator) -> None:
    lenient = native_settings(local, original, RESTORE_MAX_BACKUP_AGE="7d")
    run_backup(lenient)
    _store_aged(lenient, days=5)
    assert _restore(lenient, blank).status == "ok"


def test_a_newer_replacement_is_refused_unless_allowed(
    original: Emulator, local: Destination, settings: Settings
) -> None:
    """An upgrade only goes forward: a replacement newer than the backup is refused after its set-up."""
    run_backup(settings)
    with blank_for(local, version="8.1.0-1000.100") as newer:
        with pytest.raises(
            RefusedError, match=r"from version 8\.0\.1-1000\.1000, .* a newer 8\.1\.0-1000\.100"
        ):
            _restore(settings, newer, idempotency_key="i-newer")
        assert actions(newer, "restore_cloudx_config") == 0 and actions(newer, "upgrade") == 0
        # allowed through, the controller itself refuses a backup of another version
        with pytest.raises(ControllerError, match="does not match"):
            # (the refused run set it up: now it is a set-up controller too)
            _restore(settings, newer, allow_version_mismatch=True, overwrite_configured=True)
        assert not newer.state.imported


def test_an_upgrade_cut_off_by_the_time_limit_is_waited_for_not_sent_again(
    original: Emulator, local: Destination, settings: Settings
) -> None:
    """The upgrade takes longer than one invocation may run: the next invocation finds the
    journal's `upgrade_sent`, waits for the version, and never sends the upgrade twice."""
    run_backup(settings)
    with blank_for(local, version="8.0.1-1000.900") as older:
        older.faults.upgrade_drop = True
        older.faults.upgrade_delay = 3.0  # the old version answers for 3 s, then a restart
        older.faults.upgrade_reboot = 0.5
        short = dataclasses.replace(settings, restore_time_limit=2.0)
        with pytest.raises(BackupError) as caught:
            _restore(short, older, idempotency_key="i-upgrade")
        assert caught.value.transient, caught.value
        assert actions(older, "upgrade") == 1 and actions(older, "restore_cloudx_config") == 0
        result = _restore(settings, older, idempotency_key="i-upgrade")
        assert result.status == "ok" and result.details["resumed_from"] == "upgrade_sent"
        assert actions(older, "upgrade") == 1
        _assert_restored(original, older)


def test_a_blank_replacement_is_not_asked_its_version_before_its_set_up(
    original: Emulator, blank: Emulator, settings: Settings
) -> None:
    run_backup(settings)
    blank.faults.version_info_needs_setup = True  # as a blank 7.2+ controller may answer
    dry = _restore(settings, blank, dry_run=True)
    assert dry.status == "dry-run" and dry.details["target_version"] is None
    assert _restore(settings, blank).status == "ok"
    _assert_restored(original, blank)


def test_set_up_controller_is_refused_unless_overwriting_is_allowed(
    local: Destination, original: Emulator, settings: Settings
) -> None:
    run_backup(settings)
    with original_for(local, seed=99, private_ip="10.1.0.99") as other:
        there = settings.for_controller(other.url)  # CONTROLLER_URL: the configured password may go there
        before = other.export_sha256()
        with pytest.raises(RefusedError, match="already set up"):
            run_restore(there, target=configured_target(there, "10.1.0.99"))
        assert other.export_sha256() == before
        result = run_restore(there, target=configured_target(there, "10.1.0.99"), overwrite_configured=True)
        assert result.status == "ok"
        assert other.export_sha256() == original.export_sha256()


def test_dry_run_changes_nothing(original: Emulator, blank: Emulator, settings: Settings) -> None:
    run_backup(settings)
    result = _restore(settings, blank, dry_run=True)
    assert result.status == "dry-run"
    assert not blank.state.initialized and blank.state.account_names() == []
    changing = {"setup_account_profile", "restore_cloudx_config", "enable_cloudn_backup_config"}
    assert not changing & {action for _, _, action in blank.requests}
    assert head(config_file(str(settings.native_bucket_url), REPLACEMENT_IP)) is None


def test_restore_the_controller_ignored_fails_verification(
    original: Emulator, blank: Emulator, settings: Settings
) -> None:
    """restore_cloudx_config answered, but nothing changed: the account count gives it away."""
    run_backup(settings)

    class Ignored(NativeDriver):
        def import_(self, source: Any, backup: Any, progress: Any = SILENT) -> dict[str, str]:
            return {}

    target = settings.for_controller(blank.url)
    driver = Ignored(
        connector(target), target, username="admin", password=REPLACEMENT_IP, private_ip=REPLACEMENT_IP
    )
    with pytest.raises(IntegrityError, match="access accounts"):
        run_restore(target, driver=driver, idempotency_key="i-ignored")
    # the marker went back before the import: the next invocation imports again and finishes
    result = _restore(settings, blank, idempotency_key="i-ignored")
    assert result.status == "ok" and result.details["resumed_from"] == "prepared"
    _assert_restored(original, blank)


def test_tampered_backup_is_refused_before_the_controller_is_touched(
    blank: Emulator, settings: Settings
) -> None:
    run_backup(settings)
    store = open_store(settings.backup_url)
    body, info = read(settings.backup_url)
    damaged = bytearray(body)
    damaged[2000] ^= 0xFF
    store.put(SizedSource.of(bytes(damaged)), dict(info.metadata), precondition=IfMatch(info.etag))
    with pytest.raises(IntegrityError, match="sha256"):
        _restore(settings, blank)
    assert blank.requests == []


class _CountedReads:
    """A stream that counts the bytes read from it (the store's size check only seeks)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        self.read_bytes += len(chunk)
        return bytes(chunk)

    def seek(self, offset: int, whence: int = 0) -> int:
        return int(self._stream.seek(offset, whence))

    def tell(self) -> int:
        return int(self._stream.tell())


@pytest.mark.parametrize("theirs", ["the-backup", "another-file"])
def test_the_verified_bytes_are_read_once_to_be_placed_and_not_at_all_when_already_there(
    original: Emulator, blank: Emulator, settings: Settings, theirs: str
) -> None:
    """The controller's own file is compared with the hash the restore verified, never with a
    second reading of the backup: when it already holds the backup nothing is read; otherwise our
    bytes are read once, as they are sent."""
    stored = run_backup(settings)  # the controller's file now holds exactly the stored backup
    if theirs == "another-file":
        body = b"the controller's own, newer backup " * 100
        open_store(config_file(str(settings.native_bucket_url), ORIGINAL_IP)).put(SizedSource.of(body), {})
    reads: list[int] = []

    class Counting(NativeDriver):
        def import_(self, source: SizedSource, backup: Any, progress: Any = SILENT) -> dict[str, str]:
            counted = _CountedReads(source.stream)
            details = super().import_(SizedSource(counted, source.size), backup, progress)  # type: ignore[arg-type]
            reads.append(counted.read_bytes)
            return details

    driver = _replacement_driver(Counting, settings, blank)
    result = run_restore(settings.for_controller(blank.url), driver=driver)
    assert result.status == "ok"
    assert reads == [0 if theirs == "the-backup" else stored.size]
    assert ("kept_controller_file" in result.details) == (theirs == "another-file")
    _assert_restored(original, blank)
