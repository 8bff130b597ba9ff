"""Invariant 4: no password, CID or API token in any log line, error or result.

Runs backups and restores (good and failing) with every logger at DEBUG, records every CID and
token the emulators hand out, and searches everything the product emitted for them.
"""

from __future__ import annotations

import json
import logging

import pytest
from controller_backup.errors import BackupError
from controller_backup.restore import run_restore
from controller_backup.settings import Settings
from controller_backup.targets import operator_target
from controller_emulator import Emulator, EmulatorConfig

from tests.fixtures.controller import BLANK_PRIVATE_IP, CONTROLLER_PASSWORD

from .helpers import assert_no_secret_emitted, backup, driver_for


def test_no_secret_in_logs_errors_or_results(
    controller: Emulator,
    blank_controller: Emulator,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    outputs: list[str] = []
    caplog.set_level(logging.DEBUG)

    # Short sessions force re-logins (more CIDs); faults force retries and their log lines.
    controller.faults.fail_next_5xx = 1
    outputs.append(json.dumps(backup(settings).to_dict()))
    outputs.append(
        json.dumps(
            run_restore(
                settings, target=operator_target(settings, blank_controller.url, BLANK_PRIVATE_IP)
            ).to_dict()
        )
    )
    for fault in ("export_error_envelope", "truncate_export"):
        setattr(controller.faults, fault, True)
        with pytest.raises(BackupError) as caught:
            backup(settings)
        outputs += [str(caught.value), json.dumps(caught.value.to_dict())]
        setattr(controller.faults, fault, False)
    with pytest.raises(BackupError) as caught:
        backup(settings, driver=driver_for(settings, password=CONTROLLER_PASSWORD + "-wrong"))
    outputs.append(str(caught.value))
    with Emulator(EmulatorConfig(password=CONTROLLER_PASSWORD, cid_lifetime=0.3, latency=0.2)) as short:
        outputs.append(json.dumps(backup(settings.for_controller(short.url), allow_shrink=True).to_dict()))
        issued = controller.state.issued + blank_controller.state.issued + short.state.issued

    assert len(issued) >= 6, "the test must have seen CIDs and tokens to search for"
    secrets = [CONTROLLER_PASSWORD, BLANK_PRIVATE_IP, *issued]
    assert_no_secret_emitted(secrets, outputs, caplog.records, caplog.text, capsys.readouterr().err)
