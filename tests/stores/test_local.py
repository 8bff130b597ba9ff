"""The local store against the shared contract, plus its own durability rules."""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import pwd
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from controller_backup.backup import run_backup
from controller_backup.errors import AccessDenied, BadRequest, ObjectNotFound, PreconditionFailed, StoreError
from controller_backup.inspection import fetch_backup, verify_backup
from controller_backup.settings import Settings
from controller_backup.spool import SPOOL_PREFIX, HashingSpool
from controller_backup.stores import IfAbsent, IfMatch, open_store
from controller_backup.stores.local import LocalStore, _new_version_id
from controller_emulator import Emulator

from .contract import StoreContract, _get, _put


class TestLocalStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> LocalStore:
        store = open_store((tmp_path / "backups" / "controller.tar").as_uri())
        assert isinstance(store, LocalStore)
        return store


def test_plain_path_and_file_url_are_the_same_store(tmp_path: Path) -> None:
    a = open_store(str(tmp_path / "b.tar"))
    b = open_store((tmp_path / "b.tar").as_uri())
    assert a.url == b.url


def test_plain_file_is_the_newest_version(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "c.tar")
    _put(store, b"one" * 100)
    _put(store, b"two" * 100)
    assert (tmp_path / "c.tar").read_bytes() == b"two" * 100


def test_keeps_only_n_versions(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "c.tar", keep_versions=3)
    for i in range(5):
        _put(store, bytes([i]) * 100)
    versions = store.versions()
    assert len(versions) == 3
    assert _get(store, versions[-1].version_id)[0] == bytes([2]) * 100


def test_crash_before_commit_leaves_previous_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure after the data is written but before CURRENT moves must not change the object."""
    store = LocalStore(tmp_path / "c.tar")
    _put(store, b"good" * 100)
    real = store._write_atomically
    calls = {"n": 0}

    def failing(target: Path, write: object) -> None:
        calls["n"] += 1
        if target.name == "CURRENT":
            raise OSError(28, "No space left on device")
        real(target, write)

    monkeypatch.setattr(store, "_write_atomically", failing)
    with pytest.raises(StoreError, match="No space left"):
        _put(store, b"bad" * 100)
    assert calls["n"] >= 2
    assert _get(store)[0] == b"good" * 100
    assert len(store.versions()) == 1


def test_version_file_is_the_stored_version(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "c.tar")
    first = _put(store, b"one" * 100)
    _put(store, b"two" * 100)
    path, info = store.version_file(first.version_id)
    assert path.read_bytes() == b"one" * 100 and info.version_id == first.version_id
    assert store.version_file()[0].read_bytes() == b"two" * 100


# -- the write probe ---------------------------------------------------------------------------


def _as_unprivileged(probe: Callable[[], str]) -> str:
    """Run `probe` as an identity the folder permissions bind: `nobody` when the tests run as root
    (root may write anywhere a folder's mode forbids), in a forked child; otherwise in process."""
    if os.geteuid() != 0:
        return probe()
    nobody = pwd.getpwnam("nobody")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop root, probe, report through the pipe, leave at once
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            answer = probe()
        except BaseException as exc:
            answer = f"error {type(exc).__name__}: {exc}"
        os.write(write_end, answer.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        answer = pipe.read()
    os.waitpid(pid, 0)
    return answer


def _probe(store: LocalStore) -> Callable[[], str]:
    def run() -> str:
        try:
            store.probe_write()
        except AccessDenied as exc:
            return f"denied: {exc.message}"
        return "allowed"

    return run


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder any user may traverse (pytest's tmp_path is private to its owner)."""
    path = Path(tempfile.mkdtemp(prefix="probe-"))
    path.chmod(0o755)
    yield path
    for folder in path.rglob("*"):
        if folder.is_dir():
            folder.chmod(0o755)
    shutil.rmtree(path)


def test_write_probe_follows_the_folder_permissions(shared_dir: Path) -> None:
    writable, locked = shared_dir / "writable", shared_dir / "locked"
    writable.mkdir(mode=0o777)
    writable.chmod(0o777)
    locked.mkdir()
    locked.chmod(0o555)
    assert _as_unprivileged(_probe(LocalStore(writable / "backup.tar"))) == "allowed"
    answer = _as_unprivileged(_probe(LocalStore(locked / "backup.tar")))
    assert answer == f"denied: {(locked / 'backup.tar').as_uri()}: this process may not write in {locked}"
    assert list(locked.iterdir()) == [] and list(writable.iterdir()) == []


def test_write_probe_checks_the_versions_folder_too(shared_dir: Path) -> None:
    folder = shared_dir / "backups"
    folder.mkdir()
    folder.chmod(0o777)
    store = LocalStore(folder / "backup.tar")
    _put(store, b"one" * 10)
    versions = folder / ".backup.tar.versions"
    versions.chmod(0o555)
    assert _as_unprivileged(_probe(store)).startswith(f"denied: {store.url}: this process may not write in")


def test_write_probe_of_missing_folders_asks_the_nearest_existing_one(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "not" / "yet" / "backup.tar")
    store.probe_write()
    assert not (tmp_path / "not").exists()


def test_write_probe_under_a_file_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "plain").write_bytes(b"x")
    with pytest.raises(StoreError, match="is not a folder") as caught:
        LocalStore(tmp_path / "plain" / "backup.tar").probe_write()
    assert type(caught.value) is StoreError


# -- the plain file is a copy, never a kept version ----------------------------------------------


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tar(payload: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        member = tarfile.TarInfo("config.json")
        member.size = len(payload)
        archive.addfile(member, io.BytesIO(payload))
    return buffer.getvalue()


def _verified(store: LocalStore, version_id: str | None = None) -> bytes:
    """A version's bytes, read as a restore reads them: through the hash check."""
    with fetch_backup(store, version_id) as (spool, info):
        assert info.metadata["sha256"] == spool.sha256
        return spool.rewind().read()


@pytest.mark.parametrize("backups", [1, 2], ids=["first-backup", "later-backup"])
def test_writing_to_the_plain_file_never_alters_a_kept_version(tmp_path: Path, backups: int) -> None:
    store = LocalStore(tmp_path / "c.tar")
    kept = [_tar(os.urandom(5000)) for _ in range(backups)]  # what a backup stores: whole archives
    infos = [_put(store, data) for data in kept]
    plain = tmp_path / "c.tar"
    assert plain.read_bytes() == kept[-1]
    with open(plain, "r+b") as edit:  # an editor saving in place
        edit.write(b"EDITED" * 10)
    other = tmp_path / "other.tar"
    other.write_bytes(b"something else entirely")
    shutil.copy(other, plain)  # `cp other.tar c.tar`
    assert plain.read_bytes() == b"something else entirely"
    for data, info in zip(kept, infos, strict=True):
        assert _get(store, info.version_id)[0] == data
        assert _verified(store, info.version_id) == data
    assert _get(store)[0] == kept[-1]
    assert store.head().metadata["sha256"] == _sha(kept[-1])  # type: ignore[union-attr]


def test_after_a_backup_run_writing_to_the_plain_file_alters_no_version(
    controller: Emulator, settings: Settings
) -> None:
    """The same through the backup job, whose spool the store adopts as the version's file."""
    result = run_backup(settings)
    store = open_store(settings.backup_url)
    assert isinstance(store, LocalStore)
    with open(store.path, "r+b") as edit:
        edit.write(b"\0" * 4096)
    assert verify_backup(store, result.version_id)["sha256"] == result.sha256
    assert _sha(_get(store, result.version_id)[0]) == result.sha256 == controller.export_sha256()


def test_the_backup_job_spools_where_the_store_keeps_the_spool_as_the_version(
    controller: Emulator, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job asks the store where to spool (`spool_directory`), never its class: the stored
    version is then the export's spool file itself, not a copy of it."""
    spools: list[tuple[str, int]] = []

    class Recorded(HashingSpool):
        def close(self) -> None:
            if not self._file.closed:
                spools.append((os.path.dirname(self.path), os.fstat(self.fileno()).st_ino))
            super().close()

    monkeypatch.setattr("controller_backup.backup.HashingSpool", Recorded)
    result = run_backup(settings)
    store = open_store(settings.backup_url)
    kept = store.version_file(result.version_id)
    assert kept is not None
    assert spools == [(store.spool_directory, os.stat(kept[0]).st_ino)]


def test_plain_file_has_its_own_inode(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "c.tar")
    _put(store, b"one" * 100)
    path, _ = store.version_file()
    assert os.stat(path).st_ino != os.stat(tmp_path / "c.tar").st_ino
    assert os.stat(path).st_nlink == 1


# -- version ids ---------------------------------------------------------------------------------


def test_a_version_id_cannot_reach_another_store(tmp_path: Path) -> None:
    """`--version-id ../../other/.x.tar.versions/<id>` used to read the other store's backup."""
    mine = LocalStore(tmp_path / "mine" / "c.tar")
    theirs = LocalStore(tmp_path / "other" / "x.tar")
    _put(mine, b"mine" * 100)
    secret = _put(theirs, b"theirs" * 100)
    traversal = f"../../other/.x.tar.versions/{secret.version_id}"
    assert (mine._versions_dir / f"{traversal}.json").exists()  # the path the old code opened
    for call in (
        lambda: mine.download(io.BytesIO(), traversal),
        lambda: mine.head(traversal),
        lambda: mine.version_file(traversal),
    ):
        with pytest.raises(BadRequest, match="is not a valid local store version id"):
            call()


def test_new_version_ids_follow_the_committed_one_even_when_the_clock_steps_back() -> None:
    future = "29990101T000000000000Z-abcdef"
    later = _new_version_id(after=future)
    assert later > future and later.startswith("29990101T000000000001Z-")
    assert _new_version_id(after="20000101T000000000000Z-000000") > "2026"


# -- a crash between commit and publish ----------------------------------------------------------

_KILLED_PUT = """
import os, sys
from pathlib import Path
from controller_backup.stores import SizedSource
from controller_backup.stores.local import LocalStore

store = LocalStore(Path(sys.argv[1]))
point = sys.argv[2]
data = sys.stdin.buffer.read()
if point == "publish":  # CURRENT has moved; the plain file is not replaced yet
    store._publish_plain_file = lambda *args: os._exit(137)
elif point == "commit":  # data and metadata are written; CURRENT has not moved
    real = store._write_atomically
    def write(target, what):
        if target.name == "CURRENT":
            os._exit(137)
        real(target, what)
    store._write_atomically = write
store.put(SizedSource.of(data), {"sha256": sys.argv[3], "size": str(len(data))})
"""


def _killed_put(path: Path, data: bytes, point: str) -> None:
    """A `put` in a child process that dies (like kill -9: no cleanup runs) at `point`."""
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_PUT, str(path), point, _sha(data)],
        input=data,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 137, done.stderr.decode()


def test_readers_follow_the_commit_and_a_read_heals_the_plain_file(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "c.tar")
    old = b"old" * 1000
    _put(store, old)
    new = b"new" * 1000
    _killed_put(tmp_path / "c.tar", new, "publish")
    assert (tmp_path / "c.tar").read_bytes() == old  # one version behind
    head = store.head()
    assert head is not None and head.metadata["sha256"] == _sha(new) and head.is_latest
    assert _get(store)[0] == new
    assert [v.metadata["sha256"] for v in store.versions()] == [_sha(new), _sha(old)]
    assert (tmp_path / "c.tar").read_bytes() == new, "the read did not heal the plain file"


def test_a_busy_writer_keeps_readers_from_healing_and_the_next_put_heals(tmp_path: Path) -> None:
    """A reader never waits for the writer lock: it answers from CURRENT and leaves the plain file
    to the writer. Any put, even one refused by its precondition, publishes the commit first."""
    store = LocalStore(tmp_path / "c.tar")
    first = _put(store, b"old" * 1000)
    new = b"new" * 1000
    _killed_put(tmp_path / "c.tar", new, "publish")
    with open(store._versions_dir / "LOCK", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        started = time.monotonic()
        assert _get(store)[0] == new
        assert time.monotonic() - started < 1
        assert (tmp_path / "c.tar").read_bytes() == b"old" * 1000
        fcntl.flock(lock, fcntl.LOCK_UN)
    with pytest.raises(PreconditionFailed):
        _put(store, b"stale" * 1000, precondition=IfMatch(first.etag))
    assert (tmp_path / "c.tar").read_bytes() == new


def test_an_uncommitted_version_is_no_version_and_the_next_put_removes_it(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "c.tar")
    kept = _put(store, b"kept" * 1000)
    _killed_put(tmp_path / "c.tar", b"lost" * 1000, "commit")
    uncommitted = sorted(p.name for p in store._versions_dir.glob("*.json"))[-1].removesuffix(".json")
    assert uncommitted > str(kept.version_id)
    assert [v.version_id for v in store.versions()] == [kept.version_id]
    assert store.head(uncommitted) is None
    with pytest.raises(ObjectNotFound):
        store.download(io.BytesIO(), uncommitted)
    newer = _put(store, b"newer" * 1000)
    assert _bookkept(store) == {newer.version_id, kept.version_id}


# -- leftovers of killed runs --------------------------------------------------------------------


def _bookkept(store: LocalStore) -> set[str | None]:
    """The version ids in the versions folder, after checking it holds nothing else of ours."""
    names = {p.name for p in store._versions_dir.iterdir()}
    ids = {name.rsplit(".", 1)[0] for name in names if name.endswith((".data", ".json"))}
    assert names == {"LOCK", "CURRENT", "PUBLISHED"} | {f"{i}.{k}" for i in ids for k in ("data", "json")}
    siblings = {p.name for p in store.path.parent.iterdir()}
    assert siblings == {store.path.name, store._versions_dir.name}
    return set(ids)


def test_a_put_removes_what_killed_runs_left_and_nothing_else(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "c.tar")
    first = _put(store, b"one" * 1000)
    versions = store._versions_dir
    day_ago = time.time() - 2 * 24 * 3600
    leftovers = {
        ".CURRENT.a1b2c3d4.tmp": b"x",  # a temporary of an interrupted atomic write
        f".{first.version_id}.json.k9x8_7z6.tmp": b"{",
        "29990101T000000000000Z-abcdef.data": b"uncommitted",  # never committed (newer than CURRENT)
        "29990101T000000000000Z-abcdef.json": b"{}",
        "20000101T000000000000Z-000000.data": b"partnerless",  # its metadata was pruned
        ".spool-ab12cd34": b"old release's spool",  # unlocked spool, older than any run
    }
    for name, data in leftovers.items():
        (versions / name).write_bytes(data)
    os.utime(versions / ".spool-ab12cd34", (day_ago, day_ago))
    dead_spool = versions / f"{SPOOL_PREFIX}999999-deadbeef"
    dead_spool.write_bytes(b"a killed backup's export")
    (tmp_path / ".c.tar.0a1b2c3d.link").write_bytes(b"old release's publish temp")
    (tmp_path / ".c.tar.qwer_tyu.publish").write_bytes(b"publish temp")
    kept = {
        versions / ".spool-ef56gh78": b"an old release's spool, young: maybe live",
        versions / "notes.txt": b"not ours",
        tmp_path / "neighbour.tar": b"another object",
        tmp_path / ".neighbour.tar.0a1b2c3d.link": b"another object's temp",
    }
    for path, data in kept.items():
        path.write_bytes(data)
    with HashingSpool(str(versions)) as live:  # a backup spooling right now
        live.write(b"live export")
        second = _put(store, b"two" * 1000)
        assert Path(live.path).exists()
    for path, data in kept.items():
        assert path.read_bytes() == data
        path.unlink()
    assert _bookkept(store) == {first.version_id, second.version_id}
    assert _get(store, first.version_id)[0] == b"one" * 1000
    assert (tmp_path / "c.tar").read_bytes() == b"two" * 1000


def test_a_refused_put_still_cleans_up(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "c.tar")
    first = _put(store, b"one" * 1000)
    (store._versions_dir / ".CURRENT.a1b2c3d4.tmp").write_bytes(b"x")
    with pytest.raises(PreconditionFailed):
        _put(store, b"two" * 1000, precondition=IfAbsent())
    assert _bookkept(store) == {first.version_id}


def test_a_damaged_published_marker_only_means_publishing_again(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "c.tar")
    _put(store, b"one" * 100)
    (store._versions_dir / "PUBLISHED").write_text("not a version id")
    (tmp_path / "c.tar").write_bytes(b"scribbled over")
    with pytest.raises(PreconditionFailed):
        _put(store, b"two" * 100, precondition=IfAbsent())
    assert (tmp_path / "c.tar").read_bytes() == b"one" * 100
