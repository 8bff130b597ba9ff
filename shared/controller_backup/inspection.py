"""Read-only looks at the stored backup: its status and age, and a full verification.

Operators (and alarms) need "when did the last good backup land, and is it restorable?" without
touching a controller. `verify_backup` runs exactly the checks a restore runs before it pushes:
the hash and size the object records, then its bytes as the kind it records (`archive.py`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from controller_backup.archive import ArchiveSummary, inspect_stored, stored_kind
from controller_backup.errors import IntegrityError, ObjectNotFound
from controller_backup.progress import transfer
from controller_backup.spool import HashingSpool
from controller_backup.stores import ObjectInfo, ObjectStore
from controller_backup.stores.local import LocalStore


def check_backup_bytes(info: ObjectInfo, spool: HashingSpool) -> None:
    """Invariant 2: the bytes read must be exactly the ones the backup recorded."""
    recorded = info.metadata.get("sha256")
    if not recorded:
        raise IntegrityError(f"{info.url}: the stored object has no sha256 metadata; refusing it")
    recorded_size = info.metadata.get("size", str(info.size))
    if spool.size != info.size or str(spool.size) != recorded_size:
        raise IntegrityError(f"{info.url}: read {spool.size} bytes, the object records {recorded_size}")
    if spool.sha256 != recorded:
        raise IntegrityError(f"{info.url}: sha256 of the stored bytes does not match its metadata")


@contextmanager
def fetch_checked(
    store: ObjectStore, version_id: str | None = None
) -> Iterator[tuple[HashingSpool, ObjectInfo, ArchiveSummary]]:
    """The stored bytes (newest, or `version_id`) in a hashing spool, checked against their metadata.

    A local store's version file is immutable, so it is read in place; any other store's object
    is downloaded into a temporary spool first. Either way nothing is used before the hash holds
    and the bytes are the kind the object records (a whole archive, or the controller's own file
    with its version).
    """
    if isinstance(store, LocalStore):
        path, info = store.version_file(version_id)
        spool = HashingSpool(existing=str(path))
    else:
        spool = HashingSpool()
        try:
            with transfer("download") as progress:
                info = store.download(spool.stream, version_id, progress=progress)
            spool.flush()
        except BaseException:
            spool.close()
            raise
    with spool:
        check_backup_bytes(info, spool)
        summary = inspect_stored(spool.stream, spool.size, info.metadata)
        spool.rewind()
        yield spool, info, summary


@contextmanager
def fetch_backup(
    store: ObjectStore, version_id: str | None = None
) -> Iterator[tuple[HashingSpool, ObjectInfo]]:
    """`fetch_checked` without the summary: the restore's view of a stored backup."""
    with fetch_checked(store, version_id) as (spool, info, _):
        yield spool, info


def backup_status(store: ObjectStore, now: datetime | None = None) -> dict[str, Any]:
    """The newest backup's metadata, kind and age, and how many versions the store keeps.

    `kind` is what the object records (`tar`, `tar+gzip`, `native`); None for an export stored
    before kinds were recorded, whose bytes `verify` inspects.
    """
    info = store.head()
    if info is None:
        raise ObjectNotFound(f"{store.url}: no backup stored yet")
    now = now or datetime.now(UTC)
    exported = info.metadata.get("exported_at")
    exported_at = datetime.fromisoformat(exported) if exported else info.last_modified
    return {
        "status": "ok",
        "object": store.url,
        "version_id": info.version_id,
        "kind": stored_kind(info.metadata),
        "size": info.size,
        "last_modified": info.last_modified.isoformat(),
        "age_seconds": int((now - exported_at).total_seconds()),
        "metadata": dict(info.metadata),
        "versions": len(store.versions()),
    }


def verify_backup(store: ObjectStore, version_id: str | None = None) -> dict[str, Any]:
    """Download, hash and check one stored version as its recorded kind; raise if it would not restore."""
    with fetch_checked(store, version_id) as (_, info, summary):
        pass
    return {
        "status": "ok",
        "object": store.url,
        "version_id": info.version_id,
        "size": info.size,
        "sha256": info.metadata["sha256"],
        "controller_version": info.metadata.get("controller_version"),
        "kind": summary.kind,
        "members": summary.members,
    }
