"""Backup against the emulator over real HTTP: every check that guards the last good backup.

Each refusal test first stores a good backup, then proves the bad export left it untouched
(docs/design.md, invariant 1).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from controller_backup import __version__
from controller_backup.controller import ExportApiDriver
from controller_backup.errors import (
    AuthError,
    BackupError,
    ControllerTimeout,
    InvalidExport,
    NotReadyError,
    PreconditionFailed,
    RefusedError,
)
from controller_backup.inspection import backup_status, verify_backup
from controller_backup.progress import SILENT
from controller_backup.settings import Settings
from controller_backup.stores import METADATA_KEYS, IfAbsent, SizedSource, open_store
from controller_backup.targets import operator_target
from controller_emulator import Emulator, EmulatorConfig

from tests.fixtures.controller import BLANK_PRIVATE_IP, CONTROLLER_PASSWORD

from .helpers import (
    FaultAtExport,
    actions,
    backup,
    change_configuration,
    driver_for,
    fast,
    head,
    restore,
    stored,
)


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
    assert info.metadata["kind"] == "tar" == result.details["kind"]
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


#: answers issue 10 found stored as backups, each at least half the 64 KiB stored backup, so the
#: shrink rule lets them through: only the check that an export is an archive can refuse them
_NOISE = random.Random(10)
_NOT_ARCHIVES = {
    "html-after-a-long-comment": (
        "text/html; charset=utf-8",
        b"<!-- "
        + b"rendered by the portal; " * 20
        + b"-->\n"
        + b"<html><body>Sign in</body></html>\n" * 1200,
        "HTML page",
    ),
    "text-plain": ("text/plain", b"The controller is being upgraded; try again later.\n" * 800, "of text"),
    "gzip-of-no-tar": ("application/gzip", gzip.compress(_NOISE.randbytes(40_000)), "gzip data holding"),
    "binary": ("application/octet-stream", _NOISE.randbytes(48 * 1024), "unknown binary format"),
}


@pytest.mark.parametrize("page", sorted(_NOT_ARCHIVES))
def test_an_export_that_is_no_archive_is_refused_and_the_backup_survives(
    controller: Emulator, settings: Settings, good_backup: bytes, page: str
) -> None:
    content_type, body, problem = _NOT_ARCHIVES[page]
    assert len(body) >= len(good_backup) / 2
    controller.faults.export_page = (content_type, body)
    with pytest.raises(InvalidExport, match=f"the export is .*{problem}") as caught:
        backup(settings)
    assert "under 50%" not in caught.value.message


def test_a_tar_cut_mid_member_with_a_matching_length_is_refused(
    controller: Emulator, settings: Settings, good_backup: bytes
) -> None:
    cut = good_backup[: len(good_backup) * 3 // 4]
    controller.faults.export_page = ("application/x-tar", cut)
    with pytest.raises(InvalidExport, match=r"the archive is truncated: member 'config/blob-.*' needs bytes"):
        backup(settings)


def test_a_small_text_page_is_not_stored_into_an_empty_store(
    controller: Emulator, settings: Settings
) -> None:
    controller.faults.export_page = ("text/plain", (b"maintenance in progress, retry later\n" * 80)[:2700])
    with pytest.raises(InvalidExport, match="the export is 2700 bytes of text, not a tar archive"):
        backup(settings)
    assert head(settings) is None


def test_a_gzip_of_the_archive_is_stored_as_tar_gzip(controller: Emulator, settings: Settings) -> None:
    compressed = gzip.compress(controller.export_bytes())
    controller.faults.export_page = ("application/gzip", compressed)
    result = backup(settings)
    body, info = stored(settings)
    assert body == compressed and result.details["kind"] == info.metadata["kind"] == "tar+gzip"
    verified = verify_backup(open_store(settings.backup_url))
    assert verified["kind"] == "tar+gzip" and verified["members"] >= 5
    assert backup_status(open_store(settings.backup_url)).kind == "tar+gzip"


@pytest.mark.parametrize("kind", [None, "opaque", "tar"])
def test_a_stored_object_that_is_no_archive_fails_verify_and_restore(
    blank_controller: Emulator, settings: Settings, kind: str | None
) -> None:
    """What the old tool stored as "opaque" (here, a text page) is refused before any controller."""
    page = b"The controller is being upgraded; try again later.\n" * 800
    metadata = {
        "sha256": hashlib.sha256(page).hexdigest(),
        "size": str(len(page)),
        "controller_version": "8.0.1-1000.1000",
        "exported_at": datetime.now(UTC).isoformat(),
    } | ({"kind": kind} if kind else {})
    store = open_store(settings.backup_url)
    store.put(SizedSource.of(page), metadata, precondition=IfAbsent())
    problem = "kind 'opaque', which is none" if kind == "opaque" else "the export is .* of text"
    with pytest.raises(InvalidExport, match=problem):
        verify_backup(store)
    with pytest.raises(InvalidExport, match=problem):
        restore(
            settings, target=operator_target(settings, blank_controller.url, BLANK_PRIVATE_IP), dry_run=True
        )
    assert blank_controller.requests == []


def test_export_dropped_midway_is_retried_then_refused(
    controller: Emulator, settings: Settings, good_backup: bytes
) -> None:
    controller.faults.drop_export_midway = True
    started = time.monotonic()
    with pytest.raises(ControllerTimeout, match="export_config: gave up after"):
        backup(settings, driver=driver_for(settings, deadline=1.0))
    assert time.monotonic() - started < 3.0
    assert actions(controller, "export_config") > 1 + 2  # the good backup, then tries until the deadline


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


def test_shrunken_export_is_refused_unless_allowed(tmp_path: object, settings: Settings) -> None:
    """The shrink rule is a refusal (exit 10) that names the one option lifting it."""
    with Emulator(EmulatorConfig(archive_size=400 * 1024, password=CONTROLLER_PASSWORD)) as big:
        backup(settings.for_controller(big.url))
    large, _ = stored(settings)
    lifted_by = r"under 50%.*\(--allow-shrink, or allow_shrink in a request"
    with pytest.raises(RefusedError, match=lifted_by) as caught:
        backup(settings)
    assert caught.value.exit_code == 10 and caught.value.override == "allow_shrink"
    assert stored(settings)[0] == large
    result = backup(settings, allow_shrink=True)
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
            "CONTROLLER_ALLOW_HTTP": "true",
        }
    )
    assert backup(lenient).size < 400 * 1024 / 2


def test_a_newer_backup_landing_meanwhile_is_not_overwritten(
    controller: Emulator, settings: Settings
) -> None:
    backup(settings)

    class SlowDriver(ExportApiDriver):
        """While this export runs, another backup lands in the store."""

        def export(self, dest, progress=SILENT, *, stored):  # type: ignore[no-untyped-def]
            change_configuration(controller)  # or both would find the configuration unchanged
            backup(settings)
            return super().export(dest, progress, stored=stored)

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


def test_a_controller_answering_503_is_waited_for_within_the_ready_timeout(
    controller: Emulator, settings: Settings
) -> None:
    controller.faults.fail_next_5xx = 1000
    started = time.monotonic()
    # Any status but 200/404 from get_api_token means "not ready yet" (as Aviatrix's own client reads it)
    with pytest.raises(NotReadyError, match="get_api_token: HTTP 503"):
        backup(dataclasses.replace(settings, ready_timeout=1.5))
    assert 1.5 <= time.monotonic() - started < 4.0
    assert head(settings) is None


def test_call_retries_outlast_a_count_of_tries(controller: Emulator, settings: Settings) -> None:
    """Twenty dropped connections in a row, mid-backup: five quick tries (the old bound) gave up."""

    def drop_twenty() -> None:
        controller.faults.drop_next = 20

    driver = FaultAtExport(driver_for(settings, base_delay=0.01, max_delay=0.05).client, drop_twenty)
    result = backup(settings, driver=driver)
    assert result.sha256 == controller.export_sha256()
    assert controller.faults.drop_next == 0


def test_bad_password_is_never_retried(controller: Emulator, settings: Settings) -> None:
    with pytest.raises(AuthError):
        backup(settings, driver=driver_for(settings, password="wrong-password"))
    assert actions(controller, "login") == 1
    assert head(settings) is None


def test_booting_controller_is_waited_out_within_the_ready_timeout(
    controller: Emulator, settings: Settings
) -> None:
    """The backup waits for readiness by CONTROLLER_READY_TIMEOUT (10 s here), as a restore does,
    whatever the bound of a single call's retries (three quick tries here)."""
    controller.reboot(1.2)
    started = time.monotonic()
    result = backup(settings, driver=driver_for(settings, attempts=3, base_delay=0.05, max_delay=0.1))
    assert result.sha256 == controller.export_sha256()
    assert time.monotonic() - started >= 1.2


def test_controller_that_stays_down_is_not_ready(controller: Emulator, settings: Settings) -> None:
    controller.reboot(60)
    started = time.monotonic()
    with pytest.raises(NotReadyError, match="did not become ready within 1 s") as caught:
        backup(dataclasses.replace(settings, ready_timeout=1.0))
    assert caught.value.transient
    assert time.monotonic() - started < 3.0
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
    with Emulator(EmulatorConfig(password=CONTROLLER_PASSWORD, latency=1.5)) as emu:
        target = dataclasses.replace(settings.for_controller(emu.url), request_timeout=0.3, ready_timeout=1.0)
        started = time.monotonic()
        with pytest.raises(NotReadyError, match=r"connection to 127\.0\.0\.1:\d+ failed \(timed out\)"):
            backup(target)
        assert time.monotonic() - started < 5.0


def test_retry_seconds_not_a_count_bounds_the_client(controller: Emulator, settings: Settings) -> None:
    """CONTROLLER_RETRY_SECONDS reaches the client's retries; CONTROLLER_RETRY_ATTEMPTS no longer
    ends them after a count (one try here)."""
    from controller_backup.backup import run_backup

    controller.faults.drop_export_midway = True
    started = time.monotonic()
    with pytest.raises(ControllerTimeout, match="export_config: gave up after"):
        run_backup(fast(settings, retry_attempts=1, retry_seconds=1.5))
    assert time.monotonic() - started >= 1.5
    assert actions(controller, "export_config") >= 2


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


def test_an_unchanged_backup_logs_the_line_the_azure_alert_counts(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """An unchanged night is a success too: the alert's query counts `backup unchanged` lines."""
    import logging

    backup(settings)
    with caplog.at_level(logging.INFO, logger="controller_backup"):
        assert backup(settings).status == "unchanged"
    assert sum(record.getMessage().startswith("backup unchanged") for record in caplog.records) == 1
