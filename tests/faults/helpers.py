"""What the fault tests share: the backup command as a child process, and checks of a store's state."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from controller_backup.backup_record import record_url
from controller_backup.spool import HashingSpool
from controller_backup.stores import ObjectInfo, ObjectStore, open_store
from controller_backup.stores.local import LocalStore
from controller_emulator import Emulator, EmulatorConfig

from tests.fixtures.controller import CONTROLLER_PASSWORD
from tests.stores.locations import Location


def fault_controller(archive_size: int, seed: int) -> Emulator:
    """The controller a fault test backs up: `archive_size` decides which upload path each store takes."""
    return Emulator(EmulatorConfig(archive_size=archive_size, seed=seed, password=CONTROLLER_PASSWORD))


def backup_env(emulator: Emulator, location: Location, spool_dir: Path) -> dict[str, str]:
    """The CLI's environment: this process's (the store emulators' settings) and the job's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTROLLER_", "BACKUP_"))}
    env.update(
        {
            "CONTROLLER_URL": emulator.url,
            "CONTROLLER_PASSWORD": "env:TEST_CONTROLLER_PASSWORD",
            "TEST_CONTROLLER_PASSWORD": CONTROLLER_PASSWORD,
            "CONTROLLER_BACKUP_MODE": "export",
            "CONTROLLER_ALLOW_HTTP": "true",
            "CONTROLLER_TIMEOUT": "10",
            "CONTROLLER_READY_TIMEOUT": "10",
            "BACKUP_URL": location.url,
            "BACKUP_SPOOL_DIR": str(spool_dir),
        }
    )
    return env


def start_backup(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`controller-backup backup --json`, as an operator or a scheduler runs it."""
    return subprocess.Popen(
        [sys.executable, "-m", "controller_backup.cli", "backup", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@dataclass(frozen=True)
class Whole:
    """A stored version that was read back whole: its bytes hash to its recorded sha256."""

    sha256: str
    info: ObjectInfo


def read_whole(store: ObjectStore, version_id: str | None = None) -> Whole:
    """Download a version and check its bytes against its metadata (as a restore does)."""
    with HashingSpool() as spool:
        info = store.download(spool.stream, version_id)
        spool.flush()
        assert spool.size == info.size == int(info.metadata["size"]), (spool.size, info)
        assert spool.sha256 == info.metadata["sha256"], f"{store.url}: stored bytes do not match their hash"
        return Whole(spool.sha256, info)


def check_whole_state(url: str, allowed: Iterable[str]) -> str:
    """The object is one of `allowed` (sha256s), whole, and so is the version before it.

    A fresh store instance each time, as the next run would open it. Returns the current sha256.
    A killed writer's last request can still land after its death (the kernel sends what the
    process had already written to the socket), so the state is read until it holds still.
    """
    allowed = set(allowed)
    store = open_store(url)
    for _ in range(20):
        current = read_whole(store)
        assert current.sha256 in allowed, f"{url}: the object is neither the old nor the new version"
        versions = store.versions()
        assert versions and versions[0].is_latest, versions
        if versions[0].metadata["sha256"] == current.sha256:
            break
        time.sleep(0.25)  # a newer whole version landed between the two reads: look again
    else:
        raise AssertionError(f"{url}: the newest version and the listing never agreed")
    if len(versions) > 1 and versions[1].version_id is not None:
        read_whole(store, versions[1].version_id)  # the version a cut-short run would have replaced
    if isinstance(store, LocalStore):
        plain = hashlib.sha256(store.path.read_bytes()).hexdigest()
        assert plain in allowed, "the local store's plain file is not a whole version"
    return current.sha256


def spool_leftovers(spool_dir: Path) -> list[str]:
    return sorted(p.name for p in spool_dir.iterdir())


def local_leftovers(store: LocalStore) -> list[str]:
    """Names in a local store's folders that no committed version or bookkeeping accounts for:
    the backup's, and those of the record of its last success beside it."""
    record = open_store(record_url(store.url))
    assert isinstance(record, LocalStore) and record.path.parent == store.path.parent
    stores = (store, record)
    stray = [name for each in stores for name in _stray_versions(each)]
    ours = {name for each in stores for name in (each.path.name, each._versions_dir.name)}
    return stray + sorted(p.name for p in store.path.parent.iterdir() if p.name not in ours)


def _stray_versions(store: LocalStore) -> list[str]:
    accounted = {"LOCK", "CURRENT", "PUBLISHED"}
    for info in store.versions():
        accounted |= {f"{info.version_id}.data", f"{info.version_id}.json"}
    if not store._versions_dir.is_dir():
        return []
    return sorted(p.name for p in store._versions_dir.iterdir() if p.name not in accounted)
