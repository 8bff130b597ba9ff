"""The Cloud Functions source zip, built by scripts/package.py: main.py, the allow-listed core and the
GCP lock as requirements.txt; reproducible; and a scheduled backup run from the unpacked zip with
its requirements.txt installed as Cloud Build installs it (here: the hashed lock, for the
runtime's platform and Python), against fake-gcs-server and the Secret Manager stand-in."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from controller_emulator import Emulator

from tests.packaging.helpers import assert_contents, package, run_in_bundle, unpack

from .conftest import load_event

BUNDLE = package.BUNDLES["gcp"]


@pytest.fixture(scope="module")
def source_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return package.build(BUNDLE, tmp_path_factory.mktemp("dist") / "source.zip")


def test_the_zip_holds_main_the_listed_core_and_the_lock(source_zip: Path) -> None:
    names = assert_contents(source_zip, BUNDLE)
    assert [n for n in names if not n.startswith("controller_backup/")] == ["main.py", "requirements.txt"]


def test_built_with_copies_to_s3_the_zip_holds_the_s3_store_and_ships_the_copies_lock(tmp_path: Path) -> None:
    """Cloud Build installs requirements.txt: with `--copies-to s3` it is the copies lock (boto3
    with the GCP packages, every pin hashed), and stores/s3.py goes in beside the core."""
    bundle = BUNDLE.with_copies(["s3"])
    names = assert_contents(package.build(bundle, tmp_path / "source.zip"), bundle)
    assert "controller_backup/stores/s3.py" in names and "controller_backup/stores/azure_blob.py" not in names
    assert "boto3==" in bundle.lock.read_text() and bundle.lock.name == "requirements-copies.lock"


def test_a_zip_over_its_platforms_limit_stops_the_build_and_is_not_left(tmp_path: Path) -> None:
    """The limits are checked on the built zip (here a tiny one set on the fast GCP build)."""
    tight = dataclasses.replace(BUNDLE, max_unpacked=100_000)
    with pytest.raises(SystemExit, match=r"source.zip: 0\.\d MiB unpacked, over the gcp limit of 0 MiB"):
        package.build(tight, tmp_path / "source.zip")
    assert list(tmp_path.iterdir()) == []


def test_the_zip_is_reproducible(source_zip: Path, tmp_path: Path) -> None:
    assert package.build(BUNDLE, tmp_path / "again.zip").read_bytes() == source_zip.read_bytes()


def test_a_scheduled_backup_runs_from_the_unpacked_zip_and_its_requirements(
    source_zip: Path, tmp_path: Path, controller: Emulator, function_env: dict[str, str]
) -> None:
    workspace = unpack(source_zip, tmp_path / "workspace")
    deps = tmp_path / "site-packages"
    package.install_lock(workspace / "requirements.txt", deps, BUNDLE.python_version)
    call = load_event("scheduler_backup_request.json")
    code = f"""
import functions_framework
client = functions_framework.create_app("backup_http", {str(workspace / "main.py")!r}).test_client()
call = {call!r}
response = client.post("/", json=call["body"], headers=call["headers"])
result = {{"status": response.status_code, "body": response.get_json()}}
"""
    report = run_in_bundle(BUNDLE, [workspace, deps], code)
    result = report["result"]
    assert result["status"] == 200, result["body"]
    assert result["body"]["sha256"] == controller.export_sha256()
    assert result["body"]["object"] == function_env["BACKUP_URL"]
    assert function_env["CONTROLLER_PASSWORD"].startswith("gcp-sm:")
