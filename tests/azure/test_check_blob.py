"""The preflight check with our backup in Azure Blob Storage (Azurite): an identity without access."""

from __future__ import annotations

import base64
import json

import pytest
from controller_backup.check import run_check
from controller_emulator import Emulator

from tests.fixtures.azure import ACCOUNT, ACCOUNT_KEY, Azurite
from tests.integration.check_helpers import verdicts


def test_no_access_to_our_bucket_fails(
    controller_env: dict[str, str], controller: Emulator, azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Azurite refuses a wrong account key with 403, as Azure refuses an identity without access."""
    container = azurite.new_container()
    wrong_key = base64.b64encode(b"k" * 64).decode()
    monkeypatch.setenv(
        "AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string.replace(ACCOUNT_KEY, wrong_key)
    )
    report = run_check(controller_env | {"BACKUP_URL": f"azblob://{ACCOUNT}/{container}/controller.tar"})
    found = verdicts(report)
    for name in ("store-read", "store-write"):
        assert found[name] == "fail", report.line(name)
        assert "the identity needs 'Storage Blob Data Contributor'" in report.line(name).detail
    assert found["store-versioning"] == "warn"
    assert report.line("store-versioning").detail.startswith("cannot tell: ")
    assert found["login"] == "ok"  # the controller's lines do not depend on the store
    assert wrong_key not in json.dumps(report.to_dict())
    assert not report.ok
