"""Native backup, then a native restore onto a blank replacement, for every cloud type a controller
backs up to and in every version form controllers report; plus the steps only some take (BYOL's
customer id, an OCI account made by hand) and the rule that the controller's own file is kept."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from controller_backup.backup import run_backup
from controller_backup.errors import SettingsError
from controller_backup.native_bucket import CLOUD_TYPES
from controller_backup.restore import run_restore
from controller_backup.results import JobResult
from controller_backup.settings import Settings
from controller_backup.stores import SizedSource, open_store
from controller_backup.targets import operator_target

from tests.fixtures.controller import CONTROLLER_PASSWORD

from .conftest import (
    ACCOUNT,
    ORIGINAL_IP,
    REPLACEMENT_IP,
    blank_for,
    local_destination,
    native_settings,
    original_for,
)
from .helpers import actions, config_file, head, read

#: (the original's version, the older version its replacement's image comes up with, whether the
#: release pins its version at launch: then an upgrade brings it level; else initial_setup does)
VERSION_FORMS = [
    ("8.0.1-1000.1000", "8.0.1-1000.900", True),
    ("UserConnect-7.2-1804.4665", "UserConnect-7.2-1804.4600", True),
    ("UserConnect-7.1.1794", "UserConnect-7.0.1373", False),
    ("UserConnect-6.3-patch.2309", "UserConnect-6.2-patch.2000", False),
]
_AZURE = {"azure", "azure-gov", "azure-china"}


def _restore(settings: Settings, blank_url: str, **kwargs: object) -> JobResult:
    return run_restore(settings, target=operator_target(settings, blank_url, REPLACEMENT_IP), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("cloud", sorted(set(CLOUD_TYPES) - {"oci"}))
@pytest.mark.parametrize(
    ("version", "older", "pinned"), VERSION_FORMS, ids=[form[0] for form in VERSION_FORMS]
)
def test_every_cloud_type_in_every_version_form(
    cloud: str, version: str, older: str, pinned: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = local_destination(tmp_path, cloud, monkeypatch)
    with original_for(dest, version=version) as original, blank_for(dest, version=older) as blank:
        blank.faults.version_info_needs_setup = pinned  # a blank 7.2+ is never asked before set-up
        settings = native_settings(dest, original)
        stored = run_backup(settings)
        assert stored.controller_version == version.removeprefix("UserConnect-")
        result = _restore(settings, blank.url, idempotency_key="i-matrix")
        assert result.status == "ok" and result.details["verified"] is True
        assert blank.export_sha256() == original.export_sha256()
        assert blank.state.version == original.state.version
        assert blank.state.check_credentials("admin", CONTROLLER_PASSWORD)
        # up to 7.1 initial_setup brings the image to the backup's version; from 7.2 an upgrade does
        assert actions(blank, "upgrade") == (1 if pinned else 0)
        assert actions(blank, "setup_account_profile") == (0 if cloud in _AZURE else 1)
        assert actions(blank, "restore_cloudx_config") == 1
        # ... and the new controller backed itself up under its own IP, stored as the one object
        assert head(config_file(dest.bucket_url, REPLACEMENT_IP)) is not None
        latest = head(settings.backup_url)
        assert latest is not None and latest.metadata["controller_private_ip"] == REPLACEMENT_IP


def test_oci_restore_asks_for_the_account_by_hand_then_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No official client creates an OCI account from a key we could hold: the operator creates it,
    and the same event (idempotency key) resumes after the set-up it already did."""
    dest = local_destination(tmp_path, "oci", monkeypatch)
    with original_for(dest) as original, blank_for(dest) as blank:
        settings = native_settings(dest, original)
        run_backup(settings)
        assert original.native.config is not None and original.native.config["region"] == "us-ashburn-1"
        with pytest.raises(SettingsError, match=rf"cannot create an OCI access account: create '{ACCOUNT}'"):
            _restore(settings, blank.url, idempotency_key="i-oci")
        assert blank.state.initialized and actions(blank, "restore_cloudx_config") == 0
        blank.state.add_account({"account_name": ACCOUNT, "cloud_type": 16})  # by hand, in the UI
        result = _restore(settings, blank.url, idempotency_key="i-oci")
        assert result.status == "ok" and result.details["resumed_from"] == "upgraded"
        assert blank.export_sha256() == original.export_sha256()


def test_byol_customer_id_goes_in_before_the_set_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dest = local_destination(tmp_path, "aws", monkeypatch)
    monkeypatch.setenv("TEST_CUSTOMER_ID", "aviatrix-customer-0042")
    with (
        original_for(dest) as original,
        blank_for(dest, byol=True) as without,
        blank_for(dest, byol=True) as byol,
    ):
        run_backup(native_settings(dest, original))
        # without the setting, the controller refuses to restore its database
        plain = native_settings(dest, original)
        with pytest.raises(Exception, match="customer ID is not set"):
            _restore(plain, without.url)
        settings = native_settings(dest, original, CONTROLLER_CUSTOMER_ID="env:TEST_CUSTOMER_ID")
        assert _restore(settings, byol.url).status == "ok"
        assert byol.state.customer_id == "aviatrix-customer-0042"
        order = [action for _, _, action in byol.requests]
        assert order.index("setup_customer_id") < order.index("restore_cloudx_config")
        assert actions(byol, "setup_customer_id") == 1  # its order against set-up: tests/conformance
        assert byol.export_sha256() == original.export_sha256()


def test_the_controllers_own_file_is_kept_before_a_restore_overwrites_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The old controller wrote a newer backup after ours was stored: restoring ours must not
    destroy it. It is copied aside first, and the result says where."""
    dest = local_destination(tmp_path, "aws", monkeypatch)
    with original_for(dest) as original, blank_for(dest) as blank:
        settings = native_settings(dest, original)
        stored = run_backup(settings)
        theirs = b"the controller's own, newer backup " * 100
        target = config_file(dest.bucket_url, ORIGINAL_IP)
        open_store(target).put(SizedSource.of(theirs), {})
        result = _restore(settings, blank.url)
        kept = result.details["kept_controller_file"]
        assert kept.startswith(target + ".kept-")
        assert read(kept)[0] == theirs
        placed, _ = read(target)
        assert hashlib.sha256(placed).hexdigest() == stored.sha256
        assert blank.export_sha256() == original.export_sha256()


def test_our_own_file_from_an_earlier_run_is_not_copied_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = local_destination(tmp_path, "aws", monkeypatch)
    with original_for(dest) as original, blank_for(dest) as blank:
        settings = native_settings(dest, original)
        run_backup(settings)  # the controller's file and our stored object are the same bytes
        result = _restore(settings, blank.url)
        assert "kept_controller_file" not in result.details
        names = [path.name for path in Path(dest.bucket_root or "").rglob("*.kept-*")]
        assert names == []
