"""kill -9 at a random moment of a backup, on each store: the object is always one whole version,
and the next good run leaves nothing of the killed ones behind.

The backup is the real command (`python -m controller_backup.cli backup`) against the controller
emulator with a 12 MiB configuration, so every store takes its multi-request path (S3 multipart,
Azure blocks, GCS resumable) and the export is spooled first. Each run exports a different
configuration, so "old or new" is a real question. The delays come from a seeded generator: the
seed is printed (pytest -s, or in a failure's captured output) and FAULT_SEED replays it.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from controller_backup.stores import open_store
from controller_backup.stores.local import LocalStore
from controller_emulator import Emulator

from tests.faults.helpers import (
    backup_env,
    check_whole_state,
    fault_controller,
    local_leftovers,
    spool_leftovers,
    start_backup,
)
from tests.stores.locations import Location, location

__all__ = ["location"]

SEED = int(os.environ.get("FAULT_SEED", "20261125"))
KILLS = int(os.environ.get("FAULT_KILLS", "8"))
ARCHIVE_SIZE = 12 * 1024 * 1024


@pytest.fixture
def controller() -> Iterator[Emulator]:
    with fault_controller(ARCHIVE_SIZE, seed=1) as emulator:
        yield emulator


def _run_to_completion(env: dict[str, str]) -> float:
    started = time.monotonic()
    proc = start_backup(env)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, (out + err).decode(errors="replace")
    return time.monotonic() - started


@pytest.mark.slow
def test_random_kills_during_backups_leave_one_whole_version_and_no_leftovers(
    location: Location, controller: Emulator, tmp_path: Path
) -> None:
    rng = random.Random(f"{SEED}-{location.kind}")
    print(f"fault seed {SEED} (FAULT_SEED={SEED} replays it), {KILLS} kills on {location.kind}")
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    env = backup_env(controller, location, spool_dir)

    # a good run first: there is a backup to lose, and its duration spans the kill delays
    duration = _run_to_completion(env)
    committed = check_whole_state(location.url, {controller.export_sha256()})
    outcomes: list[str] = []
    for turn in range(KILLS):
        controller.state.seed = 100 + turn  # this run exports a configuration never stored before
        new = controller.export_sha256()
        delay = rng.uniform(0.25, 1.25) * duration
        proc = start_backup(env)
        time.sleep(delay)
        proc.kill()
        proc.communicate(timeout=60)
        committed = check_whole_state(location.url, {committed, new})
        outcomes.append(f"{delay:.2f}s:{'new' if committed == new else 'old'}")
    print(f"good run {duration:.2f}s; kills (delay:stored) {' '.join(outcomes)}")

    controller.state.seed = 999
    _run_to_completion(env)
    assert check_whole_state(location.url, {controller.export_sha256()}) == controller.export_sha256()
    assert spool_leftovers(spool_dir) == []
    store = open_store(location.url)
    if isinstance(store, LocalStore):
        assert local_leftovers(store) == []
