"""Invariant 4 in native mode: the ARM client secret, GCP key, passwords, CIDs and API tokens never
show in a log line, an error or a result, though the restore sends them to the controller."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from controller_backup.backup import run_backup
from controller_backup.errors import BackupError
from controller_backup.restore import run_restore
from controller_backup.targets import operator_target

from tests.fixtures.controller import CONTROLLER_PASSWORD
from tests.integration.helpers import assert_no_secret_emitted

from .conftest import (
    ARM_SECRET,
    GCP_CREDENTIALS,
    REPLACEMENT_IP,
    blank_for,
    local_destination,
    native_settings,
    original_for,
)


@pytest.mark.parametrize("cloud", ["azure", "gcp"])
def test_no_secret_in_native_logs_errors_or_results(
    cloud: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    outputs: list[str] = []
    dest = local_destination(tmp_path, cloud, monkeypatch)
    newer = "8.1.0-1000.100"
    with original_for(dest) as original, blank_for(dest) as blank, blank_for(dest, version=newer) as other:
        settings = native_settings(dest, original)
        original.faults.fail_next_5xx = 1
        outputs.append(json.dumps(run_backup(settings).to_dict()))
        restored = run_restore(settings, target=operator_target(settings, blank.url, REPLACEMENT_IP))
        outputs.append(json.dumps(restored.to_dict()))
        with pytest.raises(BackupError) as caught:  # the controller refuses the other version
            run_restore(
                settings,
                target=operator_target(settings, other.url, REPLACEMENT_IP),
                allow_version_mismatch=True,
            )
        outputs += [str(caught.value), json.dumps(caught.value.to_dict())]
        issued = original.state.issued + blank.state.issued + other.state.issued
    assert len(issued) >= 8, "the test must have seen CIDs and tokens to search for"
    secrets = [CONTROLLER_PASSWORD, ARM_SECRET, "Gcp-Private-Key-0123456789", GCP_CREDENTIALS, *issued]
    assert_no_secret_emitted(secrets, outputs, caplog.records, caplog.text, capsys.readouterr().err)
