"""A local-directory store: the operator's and the tests' stand-in for a versioned bucket.

Layout for an object at `/backups/ctrl.tar`:

    /backups/ctrl.tar                       the newest version, a plain file (a hard link)
    /backups/.ctrl.tar.versions/<vid>.data  every kept version, immutable
    /backups/.ctrl.tar.versions/<vid>.json  its metadata and size
    /backups/.ctrl.tar.versions/CURRENT     the newest version id; replaced by rename last

Each write lands in a temporary file, is fsynced and renamed into place, and only then does CURRENT
move: a crash at any point leaves the previous version whole and current. A lock file serialises
writers so `if_match` is a real compare-and-swap.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
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

from .base import ObjectInfo

_CHUNK = 1024 * 1024
DEFAULT_KEEP_VERSIONS = 10


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


def _new_version_id() -> str:
    # Sortable by time, unique under concurrency.
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(3)


class LocalStore:
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
    def from_url(cls, url: str, keep_versions: int = DEFAULT_KEEP_VERSIONS, **_: Any) -> LocalStore:
        return cls(_path_from_url(url), keep_versions=keep_versions)

    # -- reading ---------------------------------------------------------------------------

    def _current_id(self) -> str | None:
        try:
            return (self._versions_dir / "CURRENT").read_text().strip() or None
        except FileNotFoundError:
            return None

    def _info(self, version_id: str, current: str | None) -> ObjectInfo:
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

    def head(self, version_id: str | None = None) -> ObjectInfo | None:
        current = self._current_id()
        wanted = version_id or current
        if wanted is None:
            return None
        try:
            return self._info(wanted, current)
        except ObjectNotFound:
            return None

    def download(self, dest: BinaryIO, version_id: str | None = None) -> ObjectInfo:
        current = self._current_id()
        wanted = version_id or current
        if wanted is None:
            raise ObjectNotFound(f"{self.url}: no stored object")
        info = self._info(wanted, current)
        try:
            with open(self._versions_dir / f"{wanted}.data", "rb") as src:
                shutil.copyfileobj(src, dest, _CHUNK)
        except FileNotFoundError:
            raise ObjectNotFound(f"{self.url}: version {wanted!r} has no data") from None
        except OSError as exc:
            raise StoreError(f"{self.url}: read failed: {exc.strerror}") from None
        return info

    def version_file(self, version_id: str | None = None) -> tuple[Path, ObjectInfo]:
        """The immutable file holding a version, for readers on this machine (no copy needed)."""
        current = self._current_id()
        wanted = version_id or current
        if wanted is None:
            raise ObjectNotFound(f"{self.url}: no stored object")
        info = self._info(wanted, current)
        path = self._versions_dir / f"{wanted}.data"
        if not path.is_file():
            raise ObjectNotFound(f"{self.url}: version {wanted!r} has no data")
        return path, info

    def versions(self) -> list[ObjectInfo]:
        current = self._current_id()
        if not self._versions_dir.is_dir():
            return []
        ids = sorted((p.stem for p in self._versions_dir.glob("*.json")), reverse=True)
        return [self._info(vid, current) for vid in ids]

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
    def _locked(self) -> Iterator[None]:
        self._versions_dir.mkdir(parents=True, exist_ok=True)
        with open(self._versions_dir / "LOCK", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
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

    def put(
        self,
        source: BinaryIO,
        size: int,
        metadata: Mapping[str, str],
        *,
        if_match: str | None = None,
        if_absent: bool = False,
    ) -> ObjectInfo:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._locked():
                current = self._current_id()
                if if_absent and current is not None:
                    raise PreconditionFailed(f"{self.url}: an object appeared since the backup started")
                if if_match is not None and current != if_match:
                    raise PreconditionFailed(f"{self.url}: the object changed since the backup started")
                return self._put_locked(source, size, metadata)
        except OSError as exc:
            raise StoreError(f"{self.url}: write failed: {exc.strerror or exc}") from None

    def _put_locked(self, source: BinaryIO, size: int, metadata: Mapping[str, str]) -> ObjectInfo:
        version_id = _new_version_id()
        data_path = self._versions_dir / f"{version_id}.data"
        written = 0

        def copy(out: BinaryIO) -> None:
            nonlocal written
            while chunk := source.read(_CHUNK):
                out.write(chunk)
                written += len(chunk)

        meta_path = self._versions_dir / f"{version_id}.json"
        now = datetime.now(UTC)
        record = {"size": size, "last_modified": now.isoformat(), "metadata": dict(metadata)}
        try:
            if not self._adopt(source, size, data_path):
                self._write_atomically(data_path, copy)
                if written != size:
                    raise StoreError(f"{self.url}: expected {size} bytes from the source, read {written}")
            self._write_atomically(meta_path, lambda out: out.write(json.dumps(record).encode()))
            _fsync_dir(self._versions_dir)
            # The commit point: CURRENT names the new version.
            self._write_atomically(self._versions_dir / "CURRENT", lambda out: out.write(version_id.encode()))
        except BaseException:
            for orphan in (data_path, meta_path):
                with contextlib.suppress(FileNotFoundError):
                    orphan.unlink()
            raise
        _fsync_dir(self._versions_dir)
        self._publish_plain_file(data_path)
        self._prune(keep=version_id)
        return ObjectInfo(self.url, size, version_id, version_id, now, dict(metadata), True)

    @property
    def spool_directory(self) -> str:
        """Where a writer should spool so that `put` can adopt the file without a copy."""
        self._versions_dir.mkdir(parents=True, exist_ok=True)
        return str(self._versions_dir)

    def _adopt(self, source: BinaryIO, size: int, data_path: Path) -> bool:
        """Hard-link a spool file that already sits in our folder (fsynced) instead of copying."""
        path = getattr(source, "path", None)
        if not isinstance(path, str) or Path(path).parent != self._versions_dir:
            return False
        if os.stat(path).st_size != size:
            raise StoreError(
                f"{self.url}: expected {size} bytes from the source, it holds {os.stat(path).st_size}"
            )
        source.flush()
        os.fsync(source.fileno())
        os.link(path, data_path)
        return True

    def _publish_plain_file(self, data_path: Path) -> None:
        """Make `self.path` the newest version, by an atomic rename of a hard link (or a copy)."""
        tmp = self.path.parent / f".{self.path.name}.{secrets.token_hex(4)}.link"
        try:
            os.link(data_path, tmp)
        except OSError:
            shutil.copyfile(data_path, tmp)
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)

    def _prune(self, keep: str) -> None:
        ids = sorted((p.stem for p in self._versions_dir.glob("*.json")), reverse=True)
        for old in ids[self.keep_versions :]:
            if old == keep:
                continue
            for suffix in (".data", ".json"):
                with contextlib.suppress(FileNotFoundError):
                    (self._versions_dir / f"{old}{suffix}").unlink()
