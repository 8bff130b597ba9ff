"""A restarting controller is waited out within the time bounds; a bad address is never waited for.

The controller here really goes away: the emulator stops listening (connection refused), comes
back on the same port, and answers "not ready" a while longer, as a controller restarting its
services does. Over real HTTP, through the backup job and the settings' own retry bounds.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from controller_backup.backup import run_backup
from controller_backup.controller import open_driver
from controller_backup.errors import ControllerError, ControllerTimeout, NotReadyError, SettingsError
from controller_backup.results import JobResult
from controller_backup.settings import Settings
from controller_emulator import Emulator

from .helpers import FaultAtExport, backup, driver_for, head, stored


@pytest.fixture
def timers() -> Iterator[list[threading.Timer]]:
    """Timers that bring a controller back; none outlives its test."""
    started: list[threading.Timer] = []
    yield started
    for timer in started:
        timer.cancel()
        if timer.is_alive():
            timer.join()


def _restart(controller: Emulator, timers: list[threading.Timer], down: float, booting: float) -> None:
    """Power the controller off now; after `down` seconds it listens again, not ready for `booting`."""
    controller.power_off()
    timer = threading.Timer(down, controller.power_on, kwargs={"booting_seconds": booting})
    timer.daemon = True
    timers.append(timer)
    timer.start()


def _timed(job: Callable[[], JobResult]) -> tuple[JobResult, float]:
    """The job's result and the seconds it took: the waits below must really have happened."""
    started = time.monotonic()
    result = job()
    return result, time.monotonic() - started


def test_a_controller_restarting_mid_backup_is_waited_out(
    controller: Emulator, settings: Settings, timers: list[threading.Timer]
) -> None:
    driver = FaultAtExport(driver_for(settings).client, lambda: _restart(controller, timers, 1.5, 1.0))
    result, took = _timed(lambda: backup(settings, driver=driver))
    assert took >= 2.5
    assert result.sha256 == controller.export_sha256() == stored(settings)[1].metadata["sha256"]


def test_a_controller_down_when_the_backup_starts_is_waited_for(
    controller: Emulator, settings: Settings, timers: list[threading.Timer]
) -> None:
    """Through the settings alone: CONTROLLER_READY_TIMEOUT (10 s here) covers the restart, which
    outlasts a single call's retries (CONTROLLER_RETRY_SECONDS, half a second here)."""
    _restart(controller, timers, 0.6, 0.3)
    result = run_backup(dataclasses.replace(settings, retry_seconds=0.5))
    assert result.sha256 == controller.export_sha256()


def test_a_controller_that_stays_down_fails_within_the_ready_timeout(
    controller: Emulator, settings: Settings
) -> None:
    controller.power_off()
    started = time.monotonic()
    with pytest.raises(NotReadyError, match="did not become ready within 1 s") as caught:
        run_backup(dataclasses.replace(settings, ready_timeout=1.0))
    assert time.monotonic() - started < 3.0
    assert caught.value.transient and head(settings) is None


def test_a_controller_that_goes_down_mid_backup_fails_within_the_retry_bound(
    controller: Emulator, settings: Settings
) -> None:
    driver = FaultAtExport(driver_for(settings, deadline=1.0).client, controller.power_off)
    started = time.monotonic()
    with pytest.raises(ControllerTimeout, match="export_config: gave up after") as caught:
        backup(settings, driver=driver)
    assert time.monotonic() - started < 3.0
    assert caught.value.transient and head(settings) is None


@pytest.mark.parametrize(
    ("url", "error", "message"),
    [
        ("http://127.0.0.1:99999", SettingsError, "'127.0.0.1:99999' is not a usable controller address"),
        ("http://127.0.0.1:8x43", SettingsError, "'127.0.0.1:8x43' is not a usable controller address"),
        ("https://127.0.0.1:0", SettingsError, "'127.0.0.1:0' is not a usable controller address"),
        ("https://controller.invalid", ControllerError, "host name controller.invalid does not resolve"),
    ],
)
def test_a_bad_address_fails_at_once_and_is_not_transient(
    settings: Settings, url: str, error: type[Exception], message: str
) -> None:
    patient = dataclasses.replace(settings, controller_url=url, ready_timeout=60.0, retry_seconds=60.0)
    started = time.monotonic()
    with pytest.raises(error, match=message) as caught:
        run_backup(patient)
    assert time.monotonic() - started < 5.0
    assert not getattr(caught.value, "transient", True)


@pytest.mark.slow
def test_a_controller_refusing_for_60_s_during_a_backup_is_waited_out(
    controller: Emulator, controller_env: dict[str, str], timers: list[threading.Timer]
) -> None:
    """Issue 10's criterion, in real time with the default retry and readiness bounds: connection
    refused for 45 s, then "not ready" answers for 15 s, starting as the export begins."""
    env = {key: value for key, value in controller_env.items() if key != "CONTROLLER_READY_TIMEOUT"}
    settings = Settings.from_env(env)
    driver = FaultAtExport(open_driver(settings).client, lambda: _restart(controller, timers, 45.0, 15.0))
    result, took = _timed(lambda: run_backup(settings, driver=driver))
    assert took >= 60.0
    assert result.sha256 == controller.export_sha256() == stored(settings)[1].metadata["sha256"]


def test_a_dropped_connection_is_named_by_host_and_port_not_by_exception_class(
    controller: Emulator, settings: Settings
) -> None:
    controller.faults.drop_next = 1000
    where = controller.url.removeprefix("http://")
    with pytest.raises(NotReadyError) as caught:
        run_backup(dataclasses.replace(settings, ready_timeout=0.5))
    message = caught.value.message
    assert f"the connection to {where} failed (" in message, message
    assert "ProtocolError" not in message and "RemoteDisconnected" not in message
