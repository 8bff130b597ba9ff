"""Copies through the Azure functions: the primary on Azurite, copies on moto's S3 and
fake-gcs-server (docs/design.md, invariant 10)."""

from __future__ import annotations

import logging
import uuid

import pytest
from azure.storage.blob import BlobServiceClient
from controller_emulator import Emulator

from tests.fixtures.azure import Azurite
from tests.fixtures.controller import BLANK_PRIVATE_IP

from .conftest import App, call, http_request
from .test_function_app import answer


@pytest.mark.usefixtures("gcs_env")
def test_a_degraded_backup_is_200_and_the_primarys_deletion_is_survived(
    app: App, azurite_env: Azurite, blank_controller: Emulator, s3_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    functions, azure_env, controller = app.functions, app.env, app.controller
    down = f"gs://dr-{uuid.uuid4().hex[:12]}/controller/backup.tar"  # no such bucket: a copy down
    app.monkeypatch.setenv("BACKUP_COPY_URLS", f"{s3_url} {down}")
    with caplog.at_level(logging.INFO):
        status, result = answer(call(functions, "backup", http_request("http_backup.json")))
    # a success with a warning: the primary holds the backup; the failed copy has its ERROR line
    assert status == 200 and result["status"] == "degraded"
    assert [(c["url"], c["status"]) for c in result["copies"]] == [(s3_url, "ok"), (down, "failed")]
    assert any(
        r.levelno == logging.ERROR and r.getMessage().startswith("backup copy failed") for r in caplog.records
    )
    assert any(
        r.levelno == logging.WARNING and r.getMessage().startswith("backup result") for r in caplog.records
    )
    # the primary is deleted: the restore reads the S3 copy, verified
    _, container, blob = azure_env["BACKUP_URL"].removeprefix("azblob://").split("/", 2)
    service = BlobServiceClient.from_connection_string(azurite_env.connection_string)
    service.get_blob_client(container, blob).delete_blob()
    body = {"controller_url": blank_controller.url, "private_ip": BLANK_PRIVATE_IP}
    status, restored = answer(call(functions, "restore", http_request("http_restore.json", body)))
    assert status == 200, restored
    assert restored["status"] == "ok" and restored["verified"] is True and restored["source"] == s3_url
    assert blank_controller.export_sha256() == controller.export_sha256()
