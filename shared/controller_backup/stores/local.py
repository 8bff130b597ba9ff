"""A local-directory store: the operator's and the tests' stand-in for a versioned bucket.

Layout for an object at `/backups/ctrl.tar`:

    /backups/ctrl.tar                       a copy of the newest version, for people and scripts
    /backups/.ctrl.tar.versions/<vid>.data  every kept version, immutable
    /backups/.ctrl.tar.versions/<vid>.json  its metadata and size
    /backups/.ctrl.tar.versions/CURRENT     the committed (newest) version id
    /backups/.ctrl.tar.versions/PUBLISHED   the version id the plain file holds
    /backups/.ctrl.tar.versions/LOCK        serialises writers, so `IfMatch` is a compare-and-swap

Each write lands in a temporary file, is fsynced and renamed into place, and only then does CURRENT
move (the commit): a crash at any point leaves the previous version whole and current. Version ids
grow with every commit, so a version file newer than CURRENT was never committed.

The plain file is published after the commit as an independent copy (never a hard link: writing
to the plain path must not alter a kept version), and PUBLISHED is written last. Readers follow
CURRENT, never the plain file. A crash between commit and publish leaves the plain file one version
behind; the next `put` (and any read that can take the lock at once) publishes it again.

A killed writer leaves temporary files, an uncommitted version or a spool file behind. Every `put`
first removes them, under the writer lock: nothing else writes version files or temporaries then,
and a spool file (written outside the lock) goes only once its owner's lock is free.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

from controller_backup.errors import (
    AccessDenied,
    ObjectNotFound,
    PreconditionFailed,
    SettingsError,
    StoreError,
)
from controller_backup.progress import SILENT, Progress
from controller_backup.spool import remove_stale_spools

from .base import IfAbsent, IfMatch, ObjectInfo, ObjectStore, StoreOptions, Upload, bad_version_id

log = logging.getLogger("controller_backup.stores.local")

_CHUNK = 1024 * 1024
DEFAULT_KEEP_VERSIONS = 10
_STAMP = "%Y%m%dT%H%M%S%fZ"
#: exactly what `_new_version_id` makes: a UTC time to the microsecond and 6 hex digits
_VERSION_ID = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{6}$")
_VERSION_FILE = re.compile(r"^(\d{8}T\d{12}Z-[0-9a-f]{6})\.(data|json)$")
#: `_write_atomically`'s temporaries (mkstemp: `.<target>.<8 chars>.tmp`), written under the lock
_TEMPORARY = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")
#: spool files of versions before spools carried a lock (`.spool-<8 chars>`): no lock tells
#: whether their writer lives, so only their age does
_UNLOCKED_SPOOL = re.compile(r"^\.spool-[A-Za-z0-9_]{8}$")
#: older than any run can last (a function stops within hours, an export takes minutes)
UNLOCKED_SPOOL_MAX_AGE = 24 * 3600


def _path_from_url(url: str) -> Path:
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise SettingsError(f"BACKUP_URL: file URL must have no host, got {parts.netloc!r}")
        return Path(unquote(parts.path))
    return Path(url)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _nearest_existing(path: Path) -> Path:
    """`path`, or its closest ancestor that exists."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _new_version_id(after: str | None = None) -> str:
    """Sortable by time, unique under concurrency, and later than `after` (the committed id).

    The last rule holds even when the clock steps back, so "newer than CURRENT" always means
    "never committed" (the cleanup relies on it).
    """
    now = datetime.now(UTC)
    if after is not None:
        now = max(now, datetime.strptime(after[:22], _STAMP).replace(tzinfo=UTC) + timedelta(microseconds=1))
    return now.strftime(_STAMP) + "-" + secrets.token_hex(3)


class LocalStore(ObjectStore):
    """One object in a local directory, with its last `keep_versions` versions."""

    def __init__(self, path: Path, keep_versions: int = DEFAULT_KEEP_VERSIONS) -> None:
        if keep_versions < 1:
            raise SettingsError("local store: keep_versions must be at least 1")
        if not path.name:
            raise SettingsError(f"BACKUP_URL: {path} names a directory, not an object")
        self.path = path.absolute()
        self.url = self.path.as_uri()
        self.keep_versions = keep_versions
        self._versions_dir = self.path.parent / f".{self.path.name}.versions"

    @classmethod
    def from_url(cls, url: str, options: StoreOptions) -> LocalStore:
        keep = DEFAULT_KEEP_VERSIONS if options.keep_versions is None else options.keep_versions
        return cls(_path_from_url(url), keep_versions=keep)

    # -- reading ---------------------------------------------------------------------------

    def _check_version_id(self, version_id: str | None) -> None:
        """A caller's version id names a file here: only the exact shape we make may pass."""
        if version_id is not None and not _VERSION_ID.match(version_id):
            raise bad_version_id(self.url, version_id, "local store", "like 20260101T000000000000Z-0a1b2c")

    def _read_id(self, name: str) -> str | None:
        try:
            value = (self._versions_dir / name).read_text().strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"{self.url}: cannot read {name}: {exc.strerror or exc}") from None
        if value and not _VERSION_ID.match(value):
            raise StoreError(f"{self.url}: {name} holds no version id; the store folder is damaged")
        return value or None

    def _current_id(self) -> str | None:
        return self._read_id("CURRENT")

    def _published_id(self) -> str | None:
        """The version the plain file holds; None when unknown (it is then published again)."""
        with contextlib.suppress(StoreError):
            return self._read_id("PUBLISHED")
        return None

    def _info(self, version_id: str, current: str | None) -> ObjectInfo:
        if current is None or version_id > current:
            # written by a run killed before its commit: not a version of the object
            raise ObjectNotFound(f"{self.url}: no version {version_id!r}")
        try:
            record = json.loads((self._versions_dir / f"{version_id}.json").read_text())
        except FileNotFoundError:
            raise ObjectNotFound(f"{self.url}: no version {version_id!r}") from None
        except (OSError, ValueError) as exc:
            raise StoreError(f"{self.url}: unreadable metadata for version {version_id!r}: {exc}") from None
        return ObjectInfo(
            url=self.url,
            size=int(record["size"]),
            etag=version_id,
            version_id=version_id,
            last_modified=datetime.fromisoformat(record["last_modified"]),
            metadata=dict(record["metadata"]),
            is_latest=version_id == current,
        )

    def _committed(self, version_id: str | None) -> tuple[str, ObjectInfo]:
        """The wanted (or current) version's id and info, after healing a stale plain file."""
        self._check_version_id(version_id)
        current = self._current_id()
        self._heal_if_unlocked(current)
        wanted = version_id or current
        if wanted is None:
            raise ObjectNotFound(f"{self.url}: no stored object")
        return wanted, self._info(wanted, current)

    def head(self, version_id: str | None = None) -> ObjectInfo | None:
        try:
            return self._committed(version_id)[1]
        except ObjectNotFound:
            return None

    def download(
        self, dest: BinaryIO, version_id: str | None = None, *, progress: Progress = SILENT
    ) -> ObjectInfo:
        wanted, info = self._committed(version_id)
        progress.expect(info.size)
        try:
            with open(self._versions_dir / f"{wanted}.data", "rb") as src:
                while chunk := src.read(_CHUNK):
                    dest.write(chunk)
                    progress.advance(len(chunk))
        except FileNotFoundError:
            raise ObjectNotFound(f"{self.url}: version {wanted!r} has no data") from None
        except OSError as exc:
            raise StoreError(f"{self.url}: read failed: {exc.strerror}") from None
        return info

    def version_file(self, version_id: str | None = None) -> tuple[Path, ObjectInfo]:
        """The immutable `.data` file holding a version: readers here need no copy of it."""
        wanted, info = self._committed(version_id)
        path = self._versions_dir / f"{wanted}.data"
        if not path.is_file():
            raise ObjectNotFound(f"{self.url}: version {wanted!r} has no data")
        return path, info

    def _versions(self, limit: int | None) -> list[ObjectInfo]:
        """The committed versions, newest first (a version file newer than CURRENT never was)."""
        current = self._current_id()
        if current is None or not self._versions_dir.is_dir():
            return []
        ids = sorted(
            (p.stem for p in self._versions_dir.glob("*.json") if _VERSION_ID.match(p.stem)), reverse=True
        )
        infos: list[ObjectInfo] = []
        for vid in ids:
            if limit is not None and len(infos) >= limit:
                break
            with contextlib.suppress(ObjectNotFound):  # uncommitted, or pruned since the listing
                infos.append(self._info(vid, current))
        return infos

    # -- probes ----------------------------------------------------------------------------

    def versioning(self) -> bool:
        """Always on: the folder keeps its last `keep_versions` versions itself."""
        return True

    def probe_write(self) -> None:
        """Ask the OS whether this process may write where `put` would, without writing there.

        `put` creates missing folders, so the nearest folder that exists is the one that decides.
        """
        for folder in (self._versions_dir, self.path.parent):
            existing = _nearest_existing(folder)
            if not existing.is_dir():
                raise StoreError(f"{self.url}: {existing} is not a folder")
            if not os.access(existing, os.W_OK | os.X_OK):
                raise AccessDenied(f"{self.url}: this process may not write in {existing}")

    # -- writing ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self, wait: bool = True) -> Iterator[bool]:
        """Hold the writer lock; with `wait=False`, yield False at once if another process has it."""
        self._versions_dir.mkdir(parents=True, exist_ok=True)
        with open(self._versions_dir / "LOCK", "a+b") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write_atomically(self, target: Path, write: Any) -> None:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def _write(self, upload: Upload) -> ObjectInfo:
        """Under the writer lock, so the precondition is a compare-and-swap with the commit."""
        upload.progress.expect(upload.source.size)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._locked():
                current = self._current_id()
                self._remove_leftovers(current)
                self._publish_if_stale(current)
                match upload.precondition:
                    case IfAbsent() if current is not None:
                        raise PreconditionFailed(f"{self.url}: an object appeared since the backup started")
                    case IfMatch(etag) if current != etag:
                        raise PreconditionFailed(f"{self.url}: the object changed since the backup started")
                return self._put_locked(
                    upload.source.stream, upload.source.size, upload.metadata, current, upload.progress
                )
        except OSError as exc:
            raise StoreError(f"{self.url}: write failed: {exc.strerror or exc}") from None

    def _put_locked(
        self,
        source: BinaryIO,
        size: int,
        metadata: Mapping[str, str],
        current: str | None,
        progress: Progress,
    ) -> ObjectInfo:
        version_id = _new_version_id(after=current)
        data_path = self._versions_dir / f"{version_id}.data"
        written = 0

        def copy(out: BinaryIO) -> None:
            nonlocal written
            while chunk := source.read(_CHUNK):
                out.write(chunk)
                written += len(chunk)
                progress.advance(len(chunk))

        meta_path = self._versions_dir / f"{version_id}.json"
        now = datetime.now(UTC)
        record = {"size": size, "last_modified": now.isoformat(), "metadata": dict(metadata)}
        try:
            if self._adopt(source, data_path):
                progress.advance(size)
            else:
                self._write_atomically(data_path, copy)
                if written != size:  # measured before the lock: the file changed since
                    raise StoreError(
                        f"{self.url}: the source changed while it was stored ({written} bytes read, "
                        f"{size} declared); nothing was stored"
                    )
            self._write_atomically(meta_path, lambda out: out.write(json.dumps(record).encode()))
            _fsync_dir(self._versions_dir)
            # The commit point: CURRENT names the new version.
            self._write_atomically(self._versions_dir / "CURRENT", lambda out: out.write(version_id.encode()))
        except BaseException:
            for orphan in (meta_path, data_path):
                with contextlib.suppress(FileNotFoundError):
                    orphan.unlink()
            raise
        _fsync_dir(self._versions_dir)
        self._publish_plain_file(version_id)
        self._prune(keep=version_id)
        return ObjectInfo(self.url, size, version_id, version_id, now, dict(metadata), True)

    @property
    def spool_directory(self) -> str:
        """The versions folder: `put` adopts a spool written there by a hard link, not a copy."""
        self._versions_dir.mkdir(parents=True, exist_ok=True)
        return str(self._versions_dir)

    def _adopt(self, source: BinaryIO, data_path: Path) -> bool:
        """Hard-link a spool file that already sits in our folder (fsynced) instead of copying.

        Only a spool read from its start: the link takes the whole file. The version then shares
        the spool's bytes, which is safe because a spool is never written after it was handed to
        `put`, and its own name goes when it closes (or with the next sweep).
        """
        path = getattr(source, "path", None)
        if not isinstance(path, str) or Path(path).parent != self._versions_dir or source.tell() != 0:
            return False
        source.flush()
        os.fsync(source.fileno())
        os.link(path, data_path)
        return True

    # -- the plain file ----------------------------------------------------------------------

    def _publish_plain_file(self, version_id: str) -> None:
        """Make `self.path` an independent copy of `version_id`, then record that in PUBLISHED.

        A copy, not a hard link: whatever is done to the plain path (an editor, `cp` over it) must
        never reach the kept version. The copy is fsynced and renamed over the plain path, so the
        plain file is always some whole version.
        """
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".publish")
        try:
            os.close(fd)
            # copyfile copies in the kernel (sendfile) where it can: no pass through user space
            shutil.copyfile(self._versions_dir / f"{version_id}.data", tmp)
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        _fsync_dir(self.path.parent)
        self._write_atomically(self._versions_dir / "PUBLISHED", lambda out: out.write(version_id.encode()))

    def _publish_if_stale(self, current: str | None) -> None:
        """Under the lock: publish CURRENT again when a crash left the plain file behind it."""
        if current is not None and self._published_id() != current:
            log.warning("%s: the plain file is not the committed version; publishing it again", self.url)
            self._publish_plain_file(current)

    def _heal_if_unlocked(self, current: str | None) -> None:
        """A read that notices a stale plain file heals it, if it may and no writer is busy.

        Best effort: a reader may lack write permission, and a writer holding the lock publishes
        anyway, so a reader never waits and never fails for this.
        """
        try:
            if current is None or self._published_id() == current:
                return
            with self._locked(wait=False) as locked:
                if locked:
                    self._publish_if_stale(self._current_id())
        except (OSError, StoreError) as exc:
            log.debug("%s: could not heal the plain file: %s", self.url, exc)

    # -- cleanup -----------------------------------------------------------------------------

    def _remove_leftovers(self, current: str | None) -> None:
        """Under the lock: delete what killed writers left in the versions folder and beside the plain file.

        Kept: the bookkeeping files, every committed version's pair, and live spool files. Unknown
        names are not ours and stay.
        """
        count = len(remove_stale_spools(str(self._versions_dir)))
        present = {entry.name: entry for entry in os.scandir(self._versions_dir)}
        doomed = [Path(entry.path) for entry in present.values() if _is_leftover(entry, present, current)]
        plain_tmp = re.compile(rf"^\.{re.escape(self.path.name)}\.[A-Za-z0-9_]{{8}}\.(publish|link)$")
        with contextlib.suppress(OSError):
            doomed += [Path(e.path) for e in os.scandir(self.path.parent) if plain_tmp.match(e.name)]
        for path in doomed:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        if count + len(doomed):
            log.info("%s: removed %d file(s) left by killed runs", self.url, count + len(doomed))

    def _prune(self, keep: str) -> None:
        ids = sorted(
            (p.stem for p in self._versions_dir.glob("*.json") if _VERSION_ID.match(p.stem)), reverse=True
        )
        for old in ids[self.keep_versions :]:
            if old == keep:
                continue
            # metadata first: a version without it is no longer listed, and its data is a leftover
            for suffix in (".json", ".data"):
                with contextlib.suppress(FileNotFoundError):
                    (self._versions_dir / f"{old}{suffix}").unlink()


def _is_leftover(entry: os.DirEntry[str], present: Mapping[str, object], current: str | None) -> bool:
    """Whether a versions-folder file is a killed writer's (the writer lock is held, so none is live).

    A version file is one if it was never committed (newer than CURRENT: ids grow with every commit)
    or lost its partner (a prune or a write cut short); a temporary always is; an unlocked spool
    file of an older release once it is older than any run.
    """
    match = _VERSION_FILE.match(entry.name)
    if match:
        vid, kind = match.groups()
        partner = f"{vid}.{'json' if kind == 'data' else 'data'}"
        return current is None or vid > current or (partner not in present and vid != current)
    if _TEMPORARY.match(entry.name):
        return True
    return bool(_UNLOCKED_SPOOL.match(entry.name)) and _age(entry) > UNLOCKED_SPOOL_MAX_AGE


def _age(entry: os.DirEntry[str]) -> float:
    try:
        return time.time() - entry.stat(follow_symlinks=False).st_mtime
    except OSError:
        return 0.0
