"""Copies through the Lambda handlers, on three emulated clouds at once: the primary on moto's S3,
copies on Azurite and fake-gcs-server (docs/design.md, invariant 10)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from controller_backup.errors import BadRequest
from controller_emulator import Emulator

from functions.aws import backup_handler, restore_handler
from tests.fixtures.azure import ACCOUNT, Azurite
from tests.fixtures.controller import BLANK_PRIVATE_IP

from .conftest import FakeLambdaContext, emf_metrics, load_event

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def test_a_copy_down_degrades_catches_up_and_survives_the_primarys_deletion(
    controller: Emulator,
    blank_controller: Emulator,
    lambda_env: dict[str, str],
    lambda_context: FakeLambdaContext,
    azurite_env: Azurite,
    gcs_client: Any,
    aws_env: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    blob = f"azblob://{ACCOUNT}/{azurite_env.new_container()}/controller/backup.tar"
    bucket = f"dr-{uuid.uuid4().hex[:12]}"  # not created yet: that copy is down tonight
    gcs = f"gs://{bucket}/controller/backup.tar"
    monkeypatch.setenv("BACKUP_COPY_URLS", f"{blob}, {gcs}")
    # night 1: the primary and the blob copy are stored; the GCS copy fails alone
    with caplog.at_level(logging.INFO):
        first = backup_handler.handler(load_event("scheduler_backup.json"), lambda_context)
    assert first["status"] == "degraded" and first["sha256"] == controller.export_sha256()
    assert [(c["url"], c["status"]) for c in first["copies"]] == [(blob, "ok"), (gcs, "failed")]
    assert first["copies"][1]["error"]["code"] in ("not-found", "store")
    assert any(
        r.getMessage().startswith("backup copy failed [") and gcs in r.getMessage() for r in caplog.records
    )
    metrics = emf_metrics(capsys.readouterr().out)
    assert metrics["CopyFailed"] == [1.0] and metrics["BackupSucceeded"] == [1.0]
    # night 2: the bucket is back; the primary and the blob are unchanged, the GCS copy catches up
    gcs_client.create_bucket(bucket)
    second = backup_handler.handler(load_event("scheduler_backup.json"), lambda_context)
    assert second["status"] == "unchanged"
    assert [c["status"] for c in second["copies"]] == ["unchanged", "ok"]
    assert emf_metrics(capsys.readouterr().out)["CopyFailed"] == [0.0]
    # the primary is deleted: the restore brings the configuration back from a copy, verified
    bucket_name, _, key = lambda_env["BACKUP_URL"].removeprefix("s3://").partition("/")
    aws_env.client("s3").delete_object(Bucket=bucket_name, Key=key)
    event = load_event("invoke_restore.json", **{"https://controller.example.com": blank_controller.url})
    result = restore_handler.handler(event, lambda_context)
    assert result["status"] == "ok" and result["verified"] is True
    assert result["source"] in (blob, gcs) and result["sha256"] == first["sha256"]
    assert blank_controller.export_sha256() == controller.export_sha256()
    assert f"restoring from the copy {result['source']}" in caplog.text


def test_a_restore_request_reads_only_configured_destinations(
    lambda_env: dict[str, str], lambda_context: FakeLambdaContext, blank_controller: Emulator
) -> None:
    event = {
        "action": "restore",
        "controller_url": blank_controller.url,
        "private_ip": BLANK_PRIVATE_IP,
        "from": "s3://evil/b.tar",
    }
    with pytest.raises(BadRequest, match="not one of the configured destinations") as refused:
        restore_handler.handler(event, lambda_context)
    assert "evil" not in refused.value.message
    assert not blank_controller.requests


def test_a_keyed_restore_whose_primary_bucket_is_gone_keeps_its_marker_beside_a_copy(
    controller: Emulator,
    blank_controller: Emulator,
    lambda_env: dict[str, str],
    lambda_context: FakeLambdaContext,
    gcs_client: Any,
    aws_env: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The primary's bucket is deleted. S3 answers a read there as it answers a missing object
    (404), so it is the restore marker's first write that fails: the marker goes beside the copy
    the restore reads, and the same key again finds it there."""
    s3 = aws_env.client("s3")
    primary = f"gone-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=primary)
    copy_bucket = f"dr-{uuid.uuid4().hex[:12]}"
    gcs_client.create_bucket(copy_bucket)
    copy = f"gs://{copy_bucket}/controller/backup.tar"
    monkeypatch.setenv("BACKUP_URL", f"s3://{primary}/controller/backup.tar")
    monkeypatch.setenv("BACKUP_COPY_URLS", copy)
    stored = backup_handler.handler(load_event("scheduler_backup.json"), lambda_context)
    assert stored["status"] == "ok"
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=primary):
        for version in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=primary, Key=version["Key"], VersionId=version["VersionId"])
    s3.delete_bucket(Bucket=primary)
    event = {
        "action": "restore",
        "controller_url": blank_controller.url,
        "private_ip": BLANK_PRIVATE_IP,
        "idempotency_key": "ticket-11",
    }
    result = restore_handler.handler(event, lambda_context)
    assert result["status"] == "ok" and result["source"] == copy and result["verified"] is True
    markers = list(gcs_client.list_blobs(copy_bucket, prefix="controller/backup.tar.restores/"))
    assert [blob.metadata["status"] for blob in markers] == ["done"]
    assert restore_handler.handler(event, lambda_context)["status"] == "already-restored"
    assert blank_controller.export_sha256() == controller.export_sha256()
