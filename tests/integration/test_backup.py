"""Backup against the emulator over real HTTP: every check that guards the last good backup.

Each refusal test first stores a good backup, then proves the bad export left it untouched
(docs/design.md, invariant 1).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime

import pytest
from controller_backup import __version__
from controller_backup.controller import ExportApiDriver
from controller_backup.emulator import Emulator, EmulatorConfig
from controller_backup.errors import (
    AuthError,
    BackupError,
    ControllerTimeout,
    InvalidExport,
    NotReadyError,
    PreconditionFailed,
)
from controller_backup.settings import Settings
from controller_backup.stores import METADATA_KEYS, open_store

from tests.fixtures.controller import CONTROLLER_PASSWORD

from .helpers import actions, backup, driver_for, fast, head, stored


def test_backup_stores_the_export_with_self_describing_metadata(
    controller: Emulator, settings: Settings
) -> None:
    result = backup(settings)
    body, info = stored(settings)
    assert body == controller.export_bytes()
    assert result.sha256 == hashlib.sha256(body).hexdigest() == info.metadata["sha256"]
    assert set(METADATA_KEYS) <= set(info.metadata)
    assert info.metadata["size"] == str(len(body)) == str(result.size)
    assert info.metadata["controller_version"] == "8.0.1-1000.1000" == result.controller_version
    assert info.metadata["controller"] == controller.url
    assert info.metadata["tool_version"] == __version__
    assert datetime.fromisoformat(info.metadata["exported_at"]).tzinfo is not None
    assert result.to_dict()["status"] == "ok" and result.version_id == info.version_id


@pytest.fixture
def good_backup(settings: Settings) -> Iterator[bytes]:
    """A good backup already stored; the test then proves it survives."""
    backup(settings)
    before, _ = stored(settings)
    yield before
    after, _ = stored(settings)
    assert after == before, "the last good backup was replaced"
    assert len(open_store(settings.backup_url).versions()) == 1


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("export_error_envelope", "error envelope"),
        ("export_html", "HTML page"),
        ("export_empty", "empty"),
        ("truncate_export", "truncated"),
    ],
)
def test_bad_export_is_refused_and_the_backup_survives(
    controller: Emulator, settings: Settings, good_backup: bytes, fault: str, message: str
) -> None:
    setattr(controller.faults, fault, True)
    with pytest.raises(BackupError, match=message) as caught:
        backup(settings)
    assert caught.value.code in ("invalid-export", "controller")
    assert not caught.value.transient
    assert actions(controller, "export_config") == 2  # the good backup, then one try: never retried


def test_export_dropped_midway_is_retried_then_refused(
    controller: Emulator, settings: Settings, good_backup: bytes
) -> None:
    controller.faults.drop_export_midway = True
    with pytest.raises(ControllerTimeout):
        backup(settings)
    assert actions(controller, "export_config") == 1 + 6  # the good backup, then every try


def test_blank_controller_export_is_refused(
    blank_controller: Emulator, settings: Settings, good_backup: bytes
) -> None:
    blank = settings.for_controller(blank_controller.url)
    with pytest.raises(InvalidExport, match="not been set up"):
        backup(blank, driver=driver_for(blank, password="10.0.0.10"))


def test_blank_archive_is_refused_even_if_setup_check_says_done(
    settings: Settings, good_backup: bytes
) -> None:
    """A controller that claims to be set up but exports an empty configuration."""

    class LyingDriver(ExportApiDriver):
        def is_set_up(self) -> bool:
            return True

    with Emulator(EmulatorConfig(blank=True, private_ip="10.9.9.9")) as blank:
        target = settings.for_controller(blank.url)
        driver = LyingDriver(driver_for(target, password="10.9.9.9").client)
        with pytest.raises(InvalidExport, match="no configuration"):
            backup(target, driver=driver)


def test_shrunken_export_is_refused_unless_forced(tmp_path: object, settings: Settings) -> None:
    with Emulator(EmulatorConfig(archive_size=400 * 1024, password=CONTROLLER_PASSWORD)) as big:
        backup(settings.for_controller(big.url))
    large, _ = stored(settings)
    with pytest.raises(InvalidExport, match="under 50%"):
        backup(settings)
    assert stored(settings)[0] == large
    result = backup(settings, force=True)
    assert result.size < len(large) / 2
    assert stored(settings)[0] != large


def test_shrink_ratio_is_a_setting(settings: Settings) -> None:
    with Emulator(EmulatorConfig(archive_size=400 * 1024, password=CONTROLLER_PASSWORD)) as big:
        backup(settings.for_controller(big.url))
    lenient = Settings.from_env(
        {
            "CONTROLLER_URL": settings.controller_url,
            "CONTROLLER_PASSWORD": settings.password_ref,
            "BACKUP_URL": settings.backup_url,
            "BACKUP_MIN_SIZE_RATIO": "0.1",
            "CONTROLLER_BACKUP_MODE": "export",
        }
    )
    assert backup(lenient).size < 400 * 1024 / 2


def test_a_newer_backup_landing_meanwhile_is_not_overwritten(
    controller: Emulator, settings: Settings
) -> None:
    backup(settings)

    class SlowDriver(ExportApiDriver):
        """While this export runs, another backup lands in the store."""

        def export(self, dest, progress=None):  # type: ignore[no-untyped-def]
            backup(settings)
            return super().export(dest, progress)

    winner_versions = len(open_store(settings.backup_url).versions())
    with pytest.raises(PreconditionFailed):
        backup(settings, driver=SlowDriver(driver_for(settings).client))
    versions = open_store(settings.backup_url).versions()
    assert len(versions) == winner_versions + 1  # only the concurrent writer's version was added


def test_transient_5xx_and_drops_are_retried(controller: Emulator, settings: Settings) -> None:
    controller.faults.fail_next_5xx = 2
    controller.faults.drop_next = 2
    result = backup(settings)
    assert result.sha256 == controller.export_sha256()


def test_retries_are_bounded_in_count(controller: Emulator, settings: Settings) -> None:
    controller.faults.fail_next_5xx = 1000
    # Any status but 200/404 from get_api_token means "not ready yet" (as Aviatrix's own client reads it)
    with pytest.raises(NotReadyError, match="get_api_token: HTTP 503"):
        backup(settings, driver=driver_for(settings, attempts=3))
    assert len(controller.requests) == 3
    assert head(settings) is None


def test_retries_are_bounded_in_time(controller: Emulator, settings: Settings) -> None:
    import time

    controller.faults.fail_next_5xx = 1000
    started = time.monotonic()
    with pytest.raises(NotReadyError):
        backup(
            settings, driver=driver_for(settings, attempts=1000, base_delay=0.2, max_delay=0.2, deadline=1.5)
        )
    assert time.monotonic() - started < 3.0


def test_bad_password_is_never_retried(controller: Emulator, settings: Settings) -> None:
    with pytest.raises(AuthError):
        backup(settings, driver=driver_for(settings, password="wrong-password"))
    assert actions(controller, "login") == 1
    assert head(settings) is None


def test_booting_controller_is_waited_out(controller: Emulator, settings: Settings) -> None:
    controller.reboot(1.0)
    result = backup(settings, driver=driver_for(settings, attempts=50, base_delay=0.1, max_delay=0.2))
    assert result.sha256 == controller.export_sha256()


def test_controller_that_stays_down_is_not_ready(controller: Emulator, settings: Settings) -> None:
    controller.reboot(60)
    with pytest.raises((NotReadyError, ControllerTimeout)) as caught:
        backup(settings, driver=driver_for(settings, attempts=4, base_delay=0.05, deadline=1.0))
    assert caught.value.transient
    assert head(settings) is None


def test_expired_session_logs_in_again_once(settings: Settings) -> None:
    cfg = EmulatorConfig(password=CONTROLLER_PASSWORD, cid_lifetime=0.4, latency=0.25)
    with Emulator(cfg) as emu:
        result = backup(settings.for_controller(emu.url))
        assert result.sha256 == emu.export_sha256()
        assert actions(emu, "login") >= 2


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_both_api_versions(api: str, settings: Settings) -> None:
    with Emulator(EmulatorConfig(password=CONTROLLER_PASSWORD, api=api)) as emu:
        driver = driver_for(settings.for_controller(emu.url))
        backup(settings.for_controller(emu.url), driver=driver)
        assert driver.client.api_version == api


def test_text_json_content_type_is_accepted(settings: Settings) -> None:
    with Emulator(EmulatorConfig(password=CONTROLLER_PASSWORD, text_json=True)) as emu:
        assert backup(settings.for_controller(emu.url)).sha256 == emu.export_sha256()


def test_slow_controller_times_out(settings: Settings) -> None:
    import dataclasses

    with Emulator(EmulatorConfig(password=CONTROLLER_PASSWORD, latency=1.5)) as emu:
        target = dataclasses.replace(settings.for_controller(emu.url), request_timeout=0.3)
        with pytest.raises(ControllerTimeout):
            backup(target, driver=driver_for(target, attempts=2))


def test_settings_retry_knobs_reach_the_client(controller: Emulator, settings: Settings) -> None:
    controller.faults.fail_next_5xx = 1000
    with pytest.raises(NotReadyError):
        from controller_backup.backup import run_backup

        run_backup(fast(settings, retry_attempts=2))
    assert len(controller.requests) == 2


def test_failure_is_logged_once_with_its_code(
    controller: Emulator, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    controller.faults.export_html = True
    with pytest.raises(InvalidExport) as caught:
        backup(settings)
    failures = [r for r in caplog.records if r.levelname == "ERROR" and "backup failed" in r.getMessage()]
    assert len(failures) == 1
    assert f"[{caught.value.code}]" in failures[0].getMessage()
    assert "stored backup was not changed" in failures[0].getMessage()


def test_a_stored_backup_logs_the_line_the_azure_alert_counts(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """infra/terraform/azure/monitoring.tf counts `backup stored ` lines: the one success signal."""
    import logging

    with caplog.at_level(logging.INFO, logger="controller_backup"):
        backup(settings)
    assert sum(record.getMessage().startswith("backup stored ") for record in caplog.records) == 1
