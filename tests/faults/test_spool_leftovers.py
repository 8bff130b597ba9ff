"""Spool files of killed processes are removed by the next run; live ones never are."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from controller_backup import spool as spool_module
from controller_backup.spool import SPOOL_PREFIX, HashingSpool, remove_stale_spools

#: a child that spools 1 MiB, says where, and waits: the parent kills it or lets it finish
_SPOOLER = """
import sys
from controller_backup.spool import HashingSpool

spool = HashingSpool(sys.argv[1])
spool.write(b"x" * (1024 * 1024))
spool.flush()
print(spool.path, flush=True)
sys.stdin.readline()
spool.close()
"""


@pytest.fixture
def spooler(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    child = subprocess.Popen(
        [sys.executable, "-c", _SPOOLER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    path = Path(child.stdout.readline().strip())
    assert path.exists() and path.name.startswith(f"{SPOOL_PREFIX}{child.pid}-")
    yield child, path
    if child.poll() is None:
        child.kill()
    child.wait(10)


def test_the_spool_of_a_killed_process_is_removed_by_the_next_spool(
    spooler: tuple[subprocess.Popen[str], Path], tmp_path: Path
) -> None:
    child, path = spooler
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    assert path.exists(), "kill -9 runs no cleanup"
    with HashingSpool(str(tmp_path)) as mine:
        assert not path.exists()
        assert [p.name for p in tmp_path.iterdir()] == [Path(mine.path).name]
    assert list(tmp_path.iterdir()) == []


def test_a_live_spool_is_never_removed(spooler: tuple[subprocess.Popen[str], Path], tmp_path: Path) -> None:
    child, path = spooler
    with HashingSpool(str(tmp_path)):
        assert remove_stale_spools(str(tmp_path)) == []
        assert path.exists() and path.stat().st_size == 1024 * 1024
    assert child.stdin is not None
    child.stdin.write("done\n")
    child.stdin.flush()
    assert child.wait(10) == 0
    assert list(tmp_path.iterdir()) == []


def test_the_spool_directory_setting_is_where_the_sweep_looks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKUP_SPOOL_DIR", str(tmp_path))
    dead = tmp_path / f"{SPOOL_PREFIX}1-abcdefgh"
    dead.write_bytes(b"left by a killed run")
    with HashingSpool() as spool:
        assert Path(spool.path).parent == tmp_path
        assert not dead.exists()


def test_only_spool_files_are_touched(tmp_path: Path) -> None:
    """Everything else in a shared temporary folder belongs to someone else."""
    others = [".spool-abcdefgh", "controller-backup-spool-1-x", "notes.txt", f"x{SPOOL_PREFIX}1-abc"]
    for name in others:
        (tmp_path / name).write_bytes(b"not ours")
    target = tmp_path.parent / f"{tmp_path.name}-target"
    target.write_bytes(b"a symlink's target")
    (tmp_path / f"{SPOOL_PREFIX}1-link").symlink_to(target)
    assert remove_stale_spools(str(tmp_path)) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*others, f"{SPOOL_PREFIX}1-link"])
    assert target.read_bytes() == b"a symlink's target"
    target.unlink()


def test_a_spool_deleted_before_its_owner_locked_it_is_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sweeper can find a new spool file in the instant before its owner locks it, see the lock
    free and delete it; the owner must notice and not write into a file without a name."""
    real = tempfile.mkstemp
    made: list[str] = []

    def swept_once(*args: object, **kwargs: object) -> tuple[int, str]:
        fd, path = real(*args, **kwargs)  # type: ignore[call-overload]
        made.append(path)
        if len(made) == 1:
            assert remove_stale_spools(str(tmp_path)) == [Path(path).name]
        return fd, path

    monkeypatch.setattr(spool_module.tempfile, "mkstemp", swept_once)
    with HashingSpool(str(tmp_path)) as spool:
        assert len(made) == 2 and spool.path == made[1]
        spool.write(b"kept")
        spool.flush()
        assert Path(spool.path).read_bytes() == b"kept"
        assert remove_stale_spools(str(tmp_path)) == []


def test_a_process_never_sweeps_its_own_open_spools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where locks belong to a process rather than to an open file (flock emulated over NFS), a
    process's probe of its own spool would get the lock: its own open spools are skipped outright,
    while a dead process's spool still goes."""
    dead = tmp_path / f"{SPOOL_PREFIX}1-deadbeef"
    dead.write_bytes(b"left by a killed run")
    with HashingSpool(str(tmp_path)) as live:
        dead.write_bytes(b"left by another killed run")
        monkeypatch.setattr(spool_module, "_try_lock", lambda fd: True)  # locks that never conflict
        assert remove_stale_spools(str(tmp_path)) == [dead.name]
        assert Path(live.path).exists()
    assert list(tmp_path.iterdir()) == []


def test_a_backup_that_fails_before_spooling_still_sweeps_dead_spools(
    spooler: tuple[subprocess.Popen[str], Path],
    tmp_path: Path,
    controller_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sweep runs at the start of every backup, not only when a spool is made."""
    from controller_backup.backup import run_backup
    from controller_backup.errors import BackupError
    from controller_backup.settings import Settings

    child, path = spooler
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    monkeypatch.setenv("BACKUP_SPOOL_DIR", str(tmp_path))
    unreachable = controller_env | {
        "CONTROLLER_URL": "http://127.0.0.1:9",  # discard port: nothing answers
        "CONTROLLER_READY_TIMEOUT": "0.5",
        "CONTROLLER_RETRY_SECONDS": "0.5",
    }
    with pytest.raises(BackupError):
        run_backup(Settings.from_env(unreachable))
    assert not path.exists()
