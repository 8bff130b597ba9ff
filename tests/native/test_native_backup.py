"""Native backup: the controller writes its own file, and it lands as the one checked object."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import time
from typing import NoReturn

import pytest
from controller_backup import __version__
from controller_backup.backup import run_backup
from controller_backup.controller import open_driver
from controller_backup.errors import ControllerTimeout, InvalidExport, SettingsError
from controller_backup.inspection import backup_status, verify_backup
from controller_backup.settings import Settings
from controller_backup.spool import HashingSpool
from controller_backup.stores import METADATA_KEYS, open_store
from controller_emulator import Emulator

from .conftest import ACCOUNT, ORIGINAL_IP, Destination, native_settings, original_for
from .helpers import actions, config_file, head, read, version_file


def test_backup_on_every_store_lands_as_the_one_checked_object(destination: Destination) -> None:
    with original_for(destination) as original:
        settings = native_settings(destination, original)
        result = run_backup(settings)
        body, info = read(settings.backup_url)
        controllers_file, _ = read(config_file(destination.bucket_url, ORIGINAL_IP))
        version_text, _ = read(version_file(destination.bucket_url, ORIGINAL_IP))
        # the object is exactly the file the controller wrote, described by the same metadata
        assert body == controllers_file
        assert result.sha256 == hashlib.sha256(body).hexdigest() == info.metadata["sha256"]
        assert set(METADATA_KEYS) <= set(info.metadata)
        assert info.metadata["size"] == str(len(body)) == str(result.size)
        assert info.metadata["controller_version"] == "8.0.1-1000.1000" == result.controller_version
        assert version_text == b"8.0.1-1000.1000"  # the form the controller reports, as it wrote it
        assert info.metadata["tool_version"] == __version__
        assert info.metadata["native_file"] == f"CloudN_{ORIGINAL_IP}_save_cloudx_config.enc"
        assert info.metadata["controller_private_ip"] == ORIGINAL_IP
        assert info.metadata["native_accounts"] == str(len(original.state.records.accounts))
        # an encrypted file, stored as the controller's own kind with the version file it came with
        assert result.details["kind"] == info.metadata["kind"] == "native"
        assert result.details["mode"] == "native"
        assert info.metadata["native_version"] == "8.0.1-1000.1000"
        assert original.export_bytes() not in body
        # the controller was configured with this cloud's parameters
        config = original.native.config
        assert config is not None and config["acct_name"] == ACCOUNT and config["multiple_bkup"] == "true"
        expected = dict(settings.native_bucket.params)
        assert {key: config[key] for key in expected} == expected
        assert actions(original, "enable_cloudn_backup_config") == 1
        assert actions(original, "disable_cloudn_backup_config") == 0


def test_each_backup_waits_for_a_new_file(original: Emulator, settings: Settings) -> None:
    first = run_backup(settings)
    second = run_backup(settings)
    assert first.sha256 != second.sha256  # every controller backup is freshly encrypted
    assert read(settings.backup_url)[0] == read(config_file(str(settings.native_bucket_url), ORIGINAL_IP))[0]
    assert original.native.backups_written == 2


def test_controller_that_ignores_now_is_disabled_and_enabled(original: Emulator, settings: Settings) -> None:
    original.faults.backup_ignores_now = True
    first = run_backup(settings)  # enabling a disabled backup writes one even here
    assert actions(original, "disable_cloudn_backup_config") == 0
    started = time.monotonic()
    second = run_backup(settings)
    assert actions(original, "disable_cloudn_backup_config") == 1
    assert actions(original, "enable_cloudn_backup_config") == 3
    assert first.sha256 != second.sha256
    # it first gave now=true its grace (a third of NATIVE_BACKUP_WAIT), then fell back
    assert time.monotonic() - started >= settings.native_backup_wait / 3 - 0.1


def test_v1_controller_gets_v1_parameter_names(local: Destination) -> None:
    with original_for(local, api="v1") as original:
        result = run_backup(native_settings(local, original))
        assert result.status == "ok"
        config = original.native.config
        assert config is not None and config["acct_name"] == ACCOUNT and config["multiple_bkup"] == "true"
        api_calls = [(path, action) for _, path, action in original.requests if action]
        assert ("/v1/api", "enable_cloudn_backup_config") in api_calls
        assert all(path == "/v1/api" for path, _ in api_calls)


def test_no_new_file_is_a_timeout_and_the_backup_survives(local: Destination, tmp_path: object) -> None:
    with original_for(local) as original:
        settings = native_settings(local, original)
        good = run_backup(settings)
        # the controller loses the right to write its bucket: it writes nowhere we can see
        original.native.bucket_root = str(local.bucket_root) + "-elsewhere"
        quick = dataclasses.replace(settings, native_backup_wait=1.5)
        started = time.monotonic()
        with pytest.raises(ControllerTimeout, match="NATIVE_BACKUP_WAIT"):
            run_backup(quick)
        assert time.monotonic() - started < 5
        assert head(settings.backup_url).metadata["sha256"] == good.sha256  # type: ignore[union-attr]


def test_controller_backing_up_elsewhere_is_refused(original: Emulator, settings: Settings) -> None:
    """No option re-points the controller's own backups: the settings (or the controller) are wrong."""
    driver_settings = dataclasses.replace(
        settings, native_bucket_url=str(settings.native_bucket_url) + "-other"
    )
    run_backup(driver_settings)  # the controller now backs up to another bucket
    with pytest.raises(SettingsError, match="refusing to re-point"):
        run_backup(settings)
    assert actions(original, "enable_cloudn_backup_config") == 1


def test_a_blank_controller_is_never_backed_up(local: Destination, blank: Emulator) -> None:
    from .conftest import REPLACEMENT_IP

    settings = native_settings(local, blank, CONTROLLER_PRIVATE_IP=REPLACEMENT_IP)
    settings = dataclasses.replace(settings, username="admin")
    from controller_backup.controller import open_driver

    driver = open_driver(settings, password=REPLACEMENT_IP)
    with pytest.raises(InvalidExport, match="not been set up"):
        run_backup(settings, driver=driver)
    assert actions(blank, "enable_cloudn_backup_config") == 0
    assert head(settings.backup_url) is None


def test_the_stored_pair_verifies_as_native(original: Emulator, settings: Settings) -> None:
    run_backup(settings)
    store = open_store(settings.backup_url)
    assert verify_backup(store)["kind"] == "native"
    assert backup_status(store).kind == "native"


@pytest.mark.parametrize(
    ("fault", "value", "problem"),
    [
        (
            "native_skips_version_file",
            True,
            f"wrote a new CloudN_{ORIGINAL_IP}_save_cloudx_config.enc but did not rewrite "
            f"CloudN_{ORIGINAL_IP}_save_cloudx_version.txt beside it",
        ),
        (
            "native_version_text",
            "UserConnect-7.1.1794",
            f"CloudN_{ORIGINAL_IP}_save_cloudx_version.txt says version 7.1.1794, but the controller runs "
            "8.0.1-1000.1000",
        ),
        (
            "native_version_text",
            "<html><body>Access Denied</body></html>",
            f"CloudN_{ORIGINAL_IP}_save_cloudx_version.txt does not hold a controller version",
        ),
        ("native_version_text", "", "does not hold a controller version"),
    ],
    ids=["no-version-file", "other-version", "unreadable-version", "empty-version"],
)
def test_a_backup_file_without_its_matching_version_file_is_refused(
    original: Emulator, settings: Settings, fault: str, value: object, problem: str
) -> None:
    good = run_backup(settings)
    setattr(original.faults, fault, value)
    quick = dataclasses.replace(settings, native_backup_wait=1.5)
    with pytest.raises(InvalidExport, match=re.escape(problem)):
        run_backup(quick)
    original.native.wait_idle()
    assert original.native.backups_written == 2  # the controller did write a new backup file
    stored = head(settings.backup_url)
    assert stored is not None and stored.metadata["sha256"] == good.sha256
    assert len(open_store(settings.backup_url).versions()) == 1


def test_the_driver_watches_the_address_the_job_read_and_opens_no_store_of_ours(
    local: Destination, original: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CONTROLLER_PRIVATE_IP still names an old controller; only the stored backup the job read
    records this one's address. The driver takes that backup from the job (`stored`): it never
    opens the backup store itself, so it cannot read another object than the job writes over."""
    run_backup(native_settings(local, original))  # the stored backup records ORIGINAL_IP
    elsewhere = native_settings(local, original, CONTROLLER_PRIVATE_IP="10.1.0.99", NATIVE_BACKUP_WAIT="2")
    stored = head(elsewhere.backup_url)
    assert stored is not None and stored.metadata["controller_private_ip"] == ORIGINAL_IP
    driver = open_driver(elsewhere)
    driver.wait_until_ready(10)

    def no_store(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError("the driver opened the backup store")

    monkeypatch.setattr(Settings, "backup_store", no_store)
    with HashingSpool() as spool:
        export = driver.export(spool.stream, stored=stored)
        assert export.metadata["controller_private_ip"] == ORIGINAL_IP and spool.size == export.size
    only_configured = r"no new CloudN_10\.1\.0\.99_save_cloudx_config\.enc into"
    with HashingSpool() as spool, pytest.raises(ControllerTimeout, match=only_configured):
        driver.export(spool.stream, stored=None)  # nothing read: the configured address alone
