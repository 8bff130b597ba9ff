"""A failure can strike while a backup's upload is under way: on every store, the stored backup
stays untouched and nothing partial becomes visible.

On Azure the upload overlaps the export (its blocks are staged on the blob while the export still
arrives; an 18 MiB configuration, 2 MiB blocks), and Azurite lists the uncommitted blocks. S3 and
Cloud Storage send the spool at the commit (docs/design.md says why), so a failure before it must
leave no multipart upload (moto lists them) and no object beside the backup.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

import pytest
from azure.core.exceptions import ResourceNotFoundError
from controller_backup.backup_record import record_url
from controller_backup.controller import ExportApiDriver, ExportInfo
from controller_backup.errors import ControllerTimeout, InvalidExport, PreconditionFailed
from controller_backup.progress import SILENT, Progress
from controller_backup.settings import Settings
from controller_backup.stores import ObjectInfo, ObjectStore, SizedSource
from controller_backup.stores.azure_blob import AzureBlobStore
from controller_backup.stores.gcs import GcsStore
from controller_backup.stores.local import LocalStore
from controller_backup.stores.s3 import S3Store
from controller_emulator import Emulator

from tests.faults.helpers import (
    backup_env,
    check_whole_state,
    fault_controller,
    local_leftovers,
    read_whole,
    start_backup,
)
from tests.fixtures.controller import CONTROLLER_PASSWORD
from tests.integration.helpers import actions, backup, change_configuration, driver_for
from tests.stores.locations import Location, location

__all__ = ["location"]

ARCHIVE_SIZE = 18 * 1024 * 1024


@pytest.fixture
def controller() -> Iterator[Emulator]:
    with fault_controller(ARCHIVE_SIZE, seed=21) as emulator:
        yield emulator


def settings_for(controller: Emulator, location: Location, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("TEST_CONTROLLER_PASSWORD", CONTROLLER_PASSWORD)
    return Settings.from_env(
        {
            "CONTROLLER_URL": controller.url,
            "CONTROLLER_PASSWORD": "env:TEST_CONTROLLER_PASSWORD",
            "CONTROLLER_BACKUP_MODE": "export",
            "CONTROLLER_ALLOW_HTTP": "true",
            "CONTROLLER_TIMEOUT": "5",
            "BACKUP_URL": location.url,
        }
    )


def visible(store: ObjectStore) -> list[str]:
    """Every object name beside the backup that starts with its name, as a listing shows them:
    the backup and the record of its last success, nothing staged."""
    match store:
        case S3Store():
            pages = store.client.get_paginator("list_objects_v2").paginate(
                Bucket=store.bucket, Prefix=store.key
            )
            return sorted(item["Key"] for page in pages for item in page.get("Contents", []))
        case AzureBlobStore():
            return sorted(props.name for props in store._container.list_blobs(name_starts_with=store.blob))
        case GcsStore():
            return sorted(blob.name for blob in store._client.list_blobs(store._bucket, prefix=store.key))
        case LocalStore():  # its versions and a killed run's spool are in hidden folders and files
            return sorted(p.name for p in store.path.parent.iterdir() if not p.name.startswith("."))
    raise AssertionError(f"unknown store {store!r}")


def expected_names(store: ObjectStore) -> list[str]:
    name = store.url.rsplit("/", 1)[-1]
    match store:
        case S3Store():
            name = store.key
        case AzureBlobStore():
            name = store.blob
        case GcsStore():
            name = store.key
    return sorted([name, record_url(name)])


def incomplete_uploads(store: ObjectStore) -> list[str]:
    """The keys of S3's incomplete multipart uploads beside the backup (none elsewhere)."""
    if not isinstance(store, S3Store):
        return []
    answer = store.client.list_multipart_uploads(Bucket=store.bucket, Prefix=store.key)
    return [upload["Key"] for upload in answer.get("Uploads", [])]


def staged_parts(store: ObjectStore) -> int:
    """How many parts an upload not yet committed has sent: Azure's uncommitted blocks (the other
    stores send nothing before the commit)."""
    return uncommitted_blocks(store)


def uncommitted_blocks(store: ObjectStore) -> int:
    """How many blocks are staged on an Azure blob and not committed (never part of the blob;
    the service discards them at the next commit, or after a week)."""
    if not isinstance(store, AzureBlobStore):
        return 0
    try:
        return len(store._client.get_block_list("uncommitted")[1])
    except ResourceNotFoundError:  # no block staged yet: Azurite knows no blob by that name
        return 0


def assert_nothing_staged(store: ObjectStore) -> None:
    """Beside the backup only its record is visible, and S3 keeps no multipart upload."""
    assert visible(store) == expected_names(store)
    assert incomplete_uploads(store) == []


def assert_untouched(store: ObjectStore, before: ObjectInfo) -> None:
    after = store.head()
    assert after is not None and (after.etag, after.version_id) == (before.etag, before.version_id)
    assert after.metadata["sha256"] == before.metadata["sha256"]
    assert_nothing_staged(store)


def changed_since_backup(
    controller: Emulator, location: Location, monkeypatch: pytest.MonkeyPatch
) -> tuple[Settings, ObjectStore, ObjectInfo]:
    """A first good backup (the one a failing run must leave as it is), then a new configuration
    for the next run to store: the settings, the store and the backup's head."""
    settings = settings_for(controller, location, monkeypatch)
    backup(settings)
    store = location.open()
    stored = store.head()
    assert stored is not None
    change_configuration(controller)
    return settings, store, stored


def test_a_cut_or_unwalkable_export_leaves_the_backup_and_nothing_staged(
    location: Location, controller: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, store, before = changed_since_backup(controller, location, monkeypatch)
    # cut mid-stream: every try restarts the upload, until the retries give up
    controller.faults.drop_export_midway = True
    with pytest.raises(ControllerTimeout):
        backup(settings, driver=driver_for(settings, deadline=1.0))
    assert actions(controller, "export_config") > 2
    assert_untouched(store, before)
    # whole by its length, but the archive's end is missing: refused once every byte arrived
    controller.faults.reset()
    controller.faults.truncate_export = True
    with pytest.raises(InvalidExport, match="truncated"):
        backup(settings)
    assert_untouched(store, before)


class _CutOnce(ExportApiDriver):
    """The first try of the export is cut midway; the retry (which truncates the spool) gets all
    of another configuration, so bytes of the first try in the object would show."""

    def __init__(self, settings: Settings, controller: Emulator, store: ObjectStore) -> None:
        super().__init__(driver_for(settings).client)
        self._controller, self._store = controller, store

    def export(self, dest: BinaryIO, progress: Progress = SILENT, *, stored: ObjectInfo | None) -> ExportInfo:
        controller, store, tries = self._controller, self._store, []
        faults = controller.faults

        class Retried:
            """`dest`, turning the cut off when the client starts its second try."""

            def truncate(self, size: int | None = None) -> int:
                tries.append(size)
                if len(tries) == 2:  # the retry exports another configuration, whole
                    if isinstance(store, AzureBlobStore):  # once the cut try sent a part
                        _wait_for(lambda: staged_parts(store), "a part of the cut try")
                    faults.drop_export_midway = False
                    controller.state.seed += 1  # other bytes from the very first
                return dest.truncate(size)

            def seek(self, offset: int, whence: int = 0) -> int:
                return dest.seek(offset, whence)

            def write(self, data: bytes) -> int:
                return dest.write(data)

        faults.drop_export_midway = True
        info = super().export(cast(BinaryIO, Retried()), progress, stored=stored)
        assert len(tries) == 2
        return info


def test_an_export_cut_and_retried_stores_only_the_retry(
    location: Location, controller: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parts of the cut try were sent already: the restart drops them, and the object holds the
    retry's bytes alone."""
    settings = settings_for(controller, location, monkeypatch)
    result = backup(settings, driver=_CutOnce(settings, controller, location.open()))
    assert result.status == "ok" and result.sha256 == controller.export_sha256()
    assert check_whole_state(location.url, {controller.export_sha256()})
    assert_nothing_staged(location.open())


class _WriterAtCommit(ExportApiDriver):
    """Another writer replaces the object after this export arrived, before its commit."""

    def __init__(self, settings: Settings, store: ObjectStore, data: bytes) -> None:
        super().__init__(driver_for(settings).client)
        self._store, self._data = store, data

    def export(self, dest: BinaryIO, progress: Progress = SILENT, *, stored: ObjectInfo | None) -> ExportInfo:
        info = super().export(dest, progress, stored=stored)
        metadata = {"sha256": hashlib.sha256(self._data).hexdigest(), "size": str(len(self._data))}
        self._store.put(SizedSource(io.BytesIO(self._data), len(self._data)), metadata)
        return info


def test_a_writer_landing_before_the_commit_wins_and_nothing_is_staged(
    location: Location, controller: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, store, _ = changed_since_backup(controller, location, monkeypatch)
    data = b"the other writer's backup" * 1000
    with pytest.raises(PreconditionFailed):
        backup(settings, driver=_WriterAtCommit(settings, store, data))
    current = store.head()
    assert current is not None and current.metadata["sha256"] == hashlib.sha256(data).hexdigest()
    assert check_whole_state(location.url, {hashlib.sha256(data).hexdigest()})
    assert_nothing_staged(store)


def _wait_for(condition: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout:.0f} s for {what}"
        time.sleep(0.05)


def test_a_kill_during_the_overlap_leaves_the_backup_and_nothing_visible(
    location: Location, controller: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings, store, old = changed_since_backup(controller, location, monkeypatch)
    # The export is cut midway on every try, so the run can only be exporting (and sending
    # parts) until it is killed: never committing.
    controller.faults.drop_export_midway = True
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    env = backup_env(controller, location, spool_dir) | {"CONTROLLER_RETRY_SECONDS": "60"}
    tries = actions(controller, "export_config")
    proc = start_backup(env)
    try:
        _wait_for(lambda: actions(controller, "export_config") >= tries + 2, "a second export try")
        if isinstance(store, AzureBlobStore):  # the one store whose upload overlaps the export
            _wait_for(lambda: staged_parts(store), "parts staged by the running backup")
    finally:
        proc.kill()
        proc.communicate(timeout=60)
    assert check_whole_state(location.url, {old.metadata["sha256"]}) == old.metadata["sha256"]
    # S3 and Cloud Storage send nothing before the commit (no upload was begun); Azure's blocks
    # are staged but not part of any blob
    assert_untouched(store, old)

    controller.faults.reset()
    result = backup(settings)
    assert result.status == "ok"
    assert visible(store) == expected_names(store)
    if isinstance(store, AzureBlobStore):
        assert uncommitted_blocks(store) == 0  # the commit discarded the killed run's blocks
    if isinstance(store, LocalStore):
        assert local_leftovers(store) == []  # the good run removed the killed run's spool


def test_a_damaged_copy_of_this_very_export_is_replaced(
    location: Location, controller: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upload stops once the stored object is recorded as this export; when its bytes no
    longer hash to that record, the spool is sent again, whole."""
    settings = settings_for(controller, location, monkeypatch)
    store = location.open()
    export = controller.export_bytes()
    recorded = {"sha256": hashlib.sha256(export).hexdigest(), "size": str(len(export))}
    store.put(SizedSource.of(bytes(len(export))), recorded)  # the record right, the bytes zeros
    result = backup(settings)
    assert result.status == "ok" and result.sha256 == recorded["sha256"]
    assert read_whole(location.open()).sha256 == recorded["sha256"]  # (the version before is the zeros)
    assert_nothing_staged(store)
