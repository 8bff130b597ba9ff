"""The Lambda zip, built from the AWS lock by scripts/package.py: what it holds, that it is
reproducible, and a scheduled backup run from nothing but its contents on the runtime's Python;
built with `--copies-to gs`, the same backup also writing its copy to fake-gcs-server."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest
from controller_emulator import Emulator

from tests.packaging.helpers import assert_contents, package, run_in_bundle, unpack

from .conftest import EVENTS

BUNDLE = package.BUNDLES["aws"]
WITH_GCS = BUNDLE.with_copies(["gs"])
MiB = 2**20

#: a scheduled backup through the handler, as Lambda calls it (the probe's `result`)
SCHEDULED_BACKUP = f"""
import functions.aws.backup_handler as h
import functions.aws.restore_handler
class Context:
    function_name = "probe"; function_version = "$LATEST"; memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:probe"
    aws_request_id = "probe-request"
    def get_remaining_time_in_millis(self): return 60000
event = json.loads(open({str(EVENTS / "scheduler_backup.json")!r}).read())
result = h.handler(event, Context())
"""


def _lambda_env() -> dict[str, str]:
    """The test's environment as Lambda's, without the Powertools settings of the test process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS_")}
    return {**env, "AWS_LAMBDA_FUNCTION_NAME": "probe"}


@pytest.fixture(scope="module")
def lambda_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return package.build(BUNDLE, tmp_path_factory.mktemp("dist") / "lambda.zip")


def test_the_zip_holds_the_handlers_the_listed_core_and_the_lock(lambda_zip: Path) -> None:
    names = assert_contents(lambda_zip, BUNDLE)
    assert {
        "functions/__init__.py",
        "functions/aws/backup_handler.py",
        "functions/aws/restore_handler.py",
    } <= set(names)
    assert not [n for n in names if n.startswith("bin/")]
    models = {n.split("/")[2] for n in names if n.startswith("botocore/data/") and n.count("/") >= 3}
    assert models == set(BUNDLE.botocore_services)
    assert lambda_zip.stat().st_size < 50 * 2**20  # Lambda's limit for a direct upload


def test_the_zip_is_reproducible(lambda_zip: Path, tmp_path: Path) -> None:
    assert package.build(BUNDLE, tmp_path / "again.zip").read_bytes() == lambda_zip.read_bytes()


def test_a_scheduled_backup_runs_from_the_unpacked_zip_alone(
    lambda_zip: Path, tmp_path: Path, controller: Emulator, lambda_env: dict[str, str]
) -> None:
    """Every import in the zip's code resolves in it; the Secrets Manager password and the S3 store
    (the modules the core imports by scheme) load from it; nothing of another cloud does."""
    root = unpack(lambda_zip, tmp_path / "unpacked")
    report = run_in_bundle(BUNDLE, [root], SCHEDULED_BACKUP, env=_lambda_env())
    result = report["result"]
    assert result["status"] == "ok" and result["sha256"] == controller.export_sha256()
    assert lambda_env["CONTROLLER_PASSWORD"].startswith("aws-sm:")
    # inside Lambda the core's own log lines come out as Powertools JSON, with the correlation id
    messages = [json.loads(line) for line in report["stdout"].splitlines() if line.startswith('{"level"')]
    core = [m for m in messages if m["location"].startswith("run_backup")]
    assert core, report["stdout"][:3000]
    assert all(m["correlation_id"] == "probe-request" for m in core)  # the invocation's request id


def test_built_with_copies_to_gs_a_backup_writes_its_gcs_copy_from_the_unpacked_zip_alone(
    tmp_path: Path,
    controller: Emulator,
    lambda_env: dict[str, str],
    gcs_client: Any,
    gcs_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`package.py aws --copies-to gs`: the GCS store and the copies lock go in, within Lambda's
    limits; the backup's copy goes through them alone (fake-gcs-server: STORAGE_EMULATOR_HOST)."""
    built = package.build(WITH_GCS, tmp_path / "lambda.zip")
    names = assert_contents(built, WITH_GCS)  # the allow-list plus gcs.py; the copies lock, exactly
    assert "controller_backup/stores/gcs.py" in names
    assert "controller_backup/stores/azure_blob.py" not in names  # not asked for
    with zipfile.ZipFile(built) as archive:
        unpacked = sum(info.file_size for info in archive.infolist())
    assert built.stat().st_size < 50 * MiB and unpacked < 250 * MiB  # direct upload; unzipped
    copy_url = f"gs://{gcs_bucket}/controller/backup.tar"
    monkeypatch.setenv("BACKUP_COPY_URLS", copy_url)
    report = run_in_bundle(
        WITH_GCS, [unpack(built, tmp_path / "unpacked")], SCHEDULED_BACKUP, env=_lambda_env()
    )
    result = report["result"]
    assert result["status"] == "ok", result
    assert [(c["url"], c["status"]) for c in result["copies"]] == [(copy_url, "ok")]
    assert "google.cloud.storage" in report["modules"]  # the bundle's own SDK wrote it
    stored = gcs_client.bucket(gcs_bucket).get_blob("controller/backup.tar")
    assert hashlib.sha256(stored.download_as_bytes()).hexdigest() == controller.export_sha256()
    assert stored.metadata["sha256"] == result["sha256"] == controller.export_sha256()
