"""Copies through the Cloud Functions: the primary on fake-gcs-server, copies on moto's S3 and
Azurite (docs/design.md, invariant 10)."""

from __future__ import annotations

from typing import Any

import pytest
from controller_emulator import Emulator
from google.cloud import storage

from tests.fixtures.azure import ACCOUNT, Azurite
from tests.fixtures.controller import BLANK_PRIVATE_IP

from .conftest import create_app


def test_a_backup_with_copies_survives_the_primarys_deletion(
    function_env: dict[str, str],
    controller: Emulator,
    blank_controller: Emulator,
    s3_url: str,
    azurite_env: Azurite,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blob = f"azblob://{ACCOUNT}/{azurite_env.new_container()}/controller/backup.tar"
    monkeypatch.setenv("BACKUP_COPY_URLS", f"{s3_url},{blob}")
    backed_up = create_app("backup_http").test_client().post("/", json={})
    assert backed_up.status_code == 200, backed_up.get_data(as_text=True)
    result: dict[str, Any] = backed_up.get_json()
    assert result["status"] == "ok" and [c["status"] for c in result["copies"]] == ["ok", "ok"]
    # the primary is deleted: the restore reads a copy, verified
    bucket, _, key = function_env["BACKUP_URL"].removeprefix("gs://").partition("/")
    storage.Client(project="test-project").bucket(bucket).blob(key).delete()
    body = {"controller_url": blank_controller.url, "private_ip": BLANK_PRIVATE_IP}
    response = create_app("restore_http").test_client().post("/", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    restored = response.get_json()
    assert restored["status"] == "ok" and restored["verified"] is True
    assert restored["source"] in (s3_url, blob) and restored["sha256"] == result["sha256"]
    assert blank_controller.export_sha256() == controller.export_sha256()
