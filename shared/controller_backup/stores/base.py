"""The ObjectStore contract, and the rules every store keeps the same way, kept here once.

Why `download(dest)` rather than a `get() -> stream`: every restore must hash the whole
object before a single byte reaches the controller, so the bytes land in a spool file anyway, and
letting each SDK write that file itself keeps its own parallel, checksummed transfer machinery
(boto3's TransferManager, azure's chunked download, GCS's checksummed download).
Likewise `put` takes a seekable file and its size so SDKs can run multipart uploads and retries.

Why `begin_upload` beside `put`: a backup's bytes arrive over minutes, and a cloud store sends
them while they arrive (parts, blocks, a resumable session) instead of after; but the object may
become visible only once every check passed, so the upload is begun, fed, and then committed with
the metadata (its sha256 is known only at the end) or aborted. The spool the export is written to
is the upload's buffer: parts are read back from it by range, so memory stays flat.

Rules every store keeps the same way, enforced by `ObjectStore.put` and `ObjectStore.versions`
before a store's own code runs (a store implements `_write` and `_versions`, never these rules):

- `put` takes one precondition: `IfMatch(etag)`, `IfAbsent()` or None. "Both" cannot be written,
  and anything else is a `TypeError` before any I/O.
- `put` first checks that the source holds exactly its declared size from where it stands; a
  source with fewer or more bytes is refused with a `StoreError` naming both numbers, and nothing
  is stored (a short source would otherwise leave an SDK waiting for bytes that never come, a long
  one store a truncated object whose recorded hash describes other bytes).
- `versions(limit)` takes None or at least one.
- A caller-given version id is checked against the store's own format before any I/O; one that
  cannot be the store's is a `BadRequest` (it comes from an operator or an event), never a path or
  a query fragment sent anywhere.

What only some stores can do is declared here too, answered by every store: `spool_directory` and
`version_file` (a local folder's files, which the jobs use without copying them; None elsewhere).
"""

from __future__ import annotations

import io
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self, TypeAlias, cast

from controller_backup.errors import BadRequest, SettingsError, StoreError
from controller_backup.progress import SILENT, Progress

from .credentials import AwsCredentials, AzureServicePrincipal, GoogleCredentials

#: metadata keys every stored backup carries (identifier-safe for Azure)
METADATA_KEYS = ("sha256", "size", "controller_version", "exported_at", "controller", "tool_version")

#: what each store kind (`store_kind`) is called in messages
KIND_NAMES = {"local": "local folder", "s3": "S3", "azblob": "Azure Blob", "gs": "Cloud Storage"}


@dataclass(frozen=True)
class ObjectInfo:
    """What a store knows of one version of the object."""

    url: str
    size: int
    #: the token for a conditional write: S3/Azure ETag, GCS generation, local version id
    etag: str
    version_id: str | None
    last_modified: datetime
    metadata: Mapping[str, str] = field(default_factory=dict)
    is_latest: bool = True

    def to_dict(self) -> dict[str, object]:
        return {
            "url": self.url,
            "size": self.size,
            "etag": self.etag,
            "version_id": self.version_id,
            "last_modified": self.last_modified.isoformat(),
            "metadata": dict(self.metadata),
            "is_latest": self.is_latest,
        }


# -- what `put` takes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class IfMatch:
    """Write only while the object's etag is still `etag`: a compare-and-swap on what was read."""

    etag: str


@dataclass(frozen=True)
class IfAbsent:
    """Write only while there is no object: the first write, which must not replace a newer one."""


#: `put`'s one precondition; None writes whatever is there
Precondition: TypeAlias = IfMatch | IfAbsent | None


def replacing(current: ObjectInfo | None) -> IfMatch | IfAbsent:
    """The precondition of a write meant to replace exactly `current`, read earlier (None: nothing
    was there), so a writer that landed in between is never overwritten."""
    return IfAbsent() if current is None else IfMatch(current.etag)


@dataclass(frozen=True)
class SizedSource:
    """Bytes for `put`: a seekable stream, and how many bytes it holds from where it stands.

    The size is declared rather than measured by each store because SDKs are told it before they
    read (multipart plans, Content-Length); `put` measures the stream against it first.
    """

    stream: BinaryIO
    size: int

    @classmethod
    def of(cls, data: bytes) -> SizedSource:
        """Bytes already in memory (a marker, a record, a version file)."""
        return cls(io.BytesIO(data), len(data))

    def whole_file(self) -> str | None:
        """The path of the file `stream` reads (a spool), when the stream stands at its start and
        the file holds exactly `size` bytes; else None.

        s3transfer reads the parts of a file it is given by path as it sends them, but copies each
        part of an open stream into memory first: a store that can take a path keeps its memory
        flat whatever the backup's size.
        """
        path = getattr(self.stream, "path", None)
        if not isinstance(path, str):
            return None
        try:
            if self.stream.tell() != 0 or os.path.getsize(path) != self.size:
                return None
        except (OSError, ValueError):
            return None
        return path


@dataclass(frozen=True)
class Upload:
    """One `put`, as a store's `_write` receives it once the shared rules held: the source holds
    its declared size from where it stands, and the precondition is one of the three."""

    source: SizedSource
    metadata: Mapping[str, str]
    precondition: Precondition
    progress: Progress


@dataclass(frozen=True)
class ObjectRetention:
    """How long each new version stays undeletable, and whether anyone may shorten that."""

    days: int
    #: "Unlocked" (a principal allowed to override it may shorten it; never the functions) or
    #: "Locked" (nobody can shorten or remove it)
    mode: str = "Unlocked"


@dataclass(frozen=True)
class StoreOptions:
    """What settings may change in the store `open_store` opens.

    Each option belongs to one kind of store; `open_store` refuses one given for another kind
    (a SettingsError naming its setting), since a dropped option (an S3 KMS key on a gs:// URL)
    would leave the operator believing it applies.
    """

    #: local folder: how many versions it keeps; None: the store's default
    keep_versions: int | None = field(
        default=None, metadata={"kind": "local", "setting": "BACKUP_KEEP_VERSIONS"}
    )
    #: S3: the KMS key our own objects are encrypted with; None: the bucket's default
    kms_key_id: str | None = field(default=None, metadata={"kind": "s3", "setting": "BACKUP_KMS_KEY_ID"})
    #: a copy in another account or cloud: who the store acts as (None: the function's own identity)
    s3_credentials: AwsCredentials | None = field(
        default=None, metadata={"kind": "s3", "setting": "BACKUP_COPY_CREDENTIALS"}
    )
    azure_credentials: AzureServicePrincipal | None = field(
        default=None, metadata={"kind": "azblob", "setting": "BACKUP_COPY_CREDENTIALS"}
    )
    gcs_credentials: GoogleCredentials | None = field(
        default=None, metadata={"kind": "gs", "setting": "BACKUP_COPY_CREDENTIALS"}
    )

    #: Cloud Storage: each new generation of the backup retained this long (Object Retention Lock;
    #: S3 Object Lock and Azure immutability apply their bucket's default instead)
    gcs_retention: ObjectRetention | None = field(
        default=None, metadata={"kind": "gs", "setting": "BACKUP_RETENTION_DAYS"}
    )

    def check(self, kind: str) -> None:
        """Refuse an option set for a store of another kind than `kind`."""
        for option in fields(self):
            own = option.metadata["kind"]
            if getattr(self, option.name) is not None and own != kind:
                raise SettingsError(
                    f"{option.metadata['setting']} applies only to {KIND_NAMES[own]} stores, not to "
                    f"{KIND_NAMES[kind]} ones: unset it"
                )


class PendingUpload(ABC):
    """An upload begun before its bytes are all there (`ObjectStore.begin_upload`).

    It reads its bytes from a spool file that is still being appended to: `update` hears each
    append (after it reached the file), `restart` that the spool starts again from nothing (a
    retried export). Nothing is visible until `commit`, which sends the rest and makes the object
    visible under the precondition given at the start, with `metadata`; `abort` (also the exit of
    a `with` block that did not commit) discards what was sent. Both wait for every part in flight.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.size = 0
        self._closed = False

    def begin(self) -> Self:
        """Start sending (once, from `ObjectStore.begin_upload`)."""
        self._begin()
        return self

    def update(self, data: bytes) -> None:
        """`data` was appended to the spool."""
        self.add(len(data))

    def add(self, count: int) -> None:
        """`count` more bytes are in the spool (all of it, for an upload begun once it was written)."""
        self.size += count
        self._grown()

    def restart(self) -> None:
        """The spool starts again from nothing: what was sent of it is discarded."""
        self._discard()
        self.size = 0
        self._begin()

    def commit(self, metadata: Mapping[str, str]) -> ObjectInfo:
        """Send the rest and make the object visible, if the precondition still holds."""
        if self._closed:
            raise StoreError(f"{self.url}: this upload was already committed or aborted")
        if self.size == 0:
            raise StoreError(f"{self.url}: nothing to store (the upload is empty)")
        self._closed = True
        try:
            return self._commit(metadata)
        except BaseException:
            self._discard()
            raise

    def abort(self) -> None:
        """Discard what was sent; nothing becomes visible."""
        if not self._closed:
            self._closed = True
            self._discard()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.abort()

    @abstractmethod
    def _begin(self) -> None:
        """Start (or start again) sending: called by `begin_upload` and by `restart`."""

    @abstractmethod
    def _grown(self) -> None:
        """The spool holds `size` bytes now: send what is ready."""

    @abstractmethod
    def _commit(self, metadata: Mapping[str, str]) -> ObjectInfo:
        """Send the rest, wait for it, make it visible; `_discard` follows any failure."""

    @abstractmethod
    def _discard(self) -> None:
        """Stop sending, wait for what is in flight, and drop what was sent (best effort)."""


class _SpoolFile(io.FileIO):
    """A spool opened again to be `put`; its `path` lets a store that spools in its own folder
    (`spool_directory`) take the file as it is rather than copy it."""

    def __init__(self, path: str) -> None:
        super().__init__(path, "rb")
        self.path = path


class _SpoolThenPut(PendingUpload):
    """The upload of a store that sends nothing early: `put` of the whole spool at the commit."""

    def __init__(self, store: ObjectStore, path: str, precondition: Precondition, progress: Progress) -> None:
        super().__init__(store.url)
        self._store, self._path = store, path
        self._precondition, self._progress = precondition, progress

    def _begin(self) -> None:
        """Nothing is sent before the commit."""

    def _grown(self) -> None:
        """Nothing is sent before the commit."""

    def _commit(self, metadata: Mapping[str, str]) -> ObjectInfo:
        with _SpoolFile(self._path) as source:
            return self._store.put(
                SizedSource(cast(BinaryIO, source), self.size),
                metadata,
                precondition=self._precondition,
                progress=self._progress,
            )

    def _discard(self) -> None:
        """Nothing was sent."""


# -- the contract ---------------------------------------------------------------------------------


class ObjectStore(ABC):
    """One stored object, replaced whole and atomically.

    Errors: `ObjectNotFound` when the object or version is missing, `PreconditionFailed` when a
    conditional write lost, `AccessDenied` when the store refuses, `StoreError` for the rest.
    """

    url: str

    @classmethod
    @abstractmethod
    def from_url(cls, url: str, options: StoreOptions) -> Self:
        """The store for `url` (of this class's kind), with the options of its kind applied."""

    def put(
        self,
        source: SizedSource,
        metadata: Mapping[str, str],
        *,
        precondition: Precondition = None,
        progress: Progress = SILENT,
    ) -> ObjectInfo:
        """Replace the object with `source`'s bytes, if `precondition` holds.

        A precondition of another type is a `TypeError`, and a source that does not hold exactly
        its declared size a `StoreError`, both before any byte moves; nothing is stored then.
        Nothing is visible until the write is complete. `progress` hears the bytes as they go.
        """
        _check_precondition(precondition)
        _check_size(self.url, source)
        return self._write(Upload(source, metadata, precondition, progress))

    @abstractmethod
    def _write(self, upload: Upload) -> ObjectInfo:
        """The store's own write of `upload`; nothing may be visible until it is complete."""

    def begin_upload(
        self, spool_path: str, *, precondition: Precondition = None, progress: Progress = SILENT
    ) -> PendingUpload:
        """Begin replacing the object with the bytes being appended to the file `spool_path`.

        The caller feeds the upload (`update`, `restart`) as the file grows, then commits it with
        the metadata or aborts it. Here, the whole file is `put` at the commit; cloud stores send
        parts while the file grows. Preconditions are checked as `put` checks them.
        """
        _check_precondition(precondition)
        return self._begin_upload(spool_path, precondition, progress).begin()

    def _begin_upload(self, spool_path: str, precondition: Precondition, progress: Progress) -> PendingUpload:
        """The store's own pending upload; by default nothing is sent before the commit."""
        return _SpoolThenPut(self, spool_path, precondition, progress)

    @abstractmethod
    def download(
        self, dest: BinaryIO, version_id: str | None = None, *, progress: Progress = SILENT
    ) -> ObjectInfo:
        """Write the newest version (or `version_id`) into `dest`; return its info.

        A `version_id` not of the store's format is a `BadRequest`, raised before any I/O.
        `progress` hears the object's size, then the bytes as they arrive.
        """

    @abstractmethod
    def head(self, version_id: str | None = None) -> ObjectInfo | None:
        """The newest version's info (or `version_id`'s), or None when there is none.

        A `version_id` not of the store's format is a `BadRequest`, raised before any I/O.
        """

    def versions(self, limit: int | None = None) -> list[ObjectInfo]:
        """Every kept version (or the newest `limit`), newest first; just the current one where the
        store keeps no history.

        `limit` bounds the work as well as the answer: S3 lists no user metadata, so each version
        it returns costs a HEAD (`controller-backup versions --limit`). Below one is a caller's bug.
        """
        if limit is not None and limit < 1:
            raise ValueError(f"versions: limit must be at least 1 or None, got {limit}")
        return self._versions(limit)

    @abstractmethod
    def _versions(self, limit: int | None) -> list[ObjectInfo]:
        """The store's own listing, `limit` already checked."""

    # -- read-only probes, for the preflight check ------------------------------------------

    @abstractmethod
    def versioning(self) -> bool | None:
        """Whether replacing the object keeps the old bytes as a version; None when it cannot tell.

        Without versions, each backup overwrites the only copy: a preflight says so before the day
        a bad backup lands. Some clouds keep this setting where a data-plane identity cannot read it.
        """

    @abstractmethod
    def probe_write(self) -> None:
        """Return if this identity may write the object; raise AccessDenied if it may not.

        Creates and changes nothing: the probe is a write whose precondition cannot hold, so the
        store authorizes it (or refuses with 403) and then refuses it (412, or 404 for a missing
        object) before a byte lands. A preflight that wrote would defeat its purpose.
        """

    # -- what a store on this machine can do besides -----------------------------------------

    @property
    def spool_directory(self) -> str | None:
        """Where a writer should spool so that `put` takes the file as it is, without a copy;
        None where the bytes are sent elsewhere anyway (any folder will do)."""
        return None

    def version_file(self, version_id: str | None = None) -> tuple[Path, ObjectInfo] | None:
        """The immutable file on this machine that holds the newest version (or `version_id`),
        to be read in place, with its info; None where versions are only downloaded."""
        return None


def _check_precondition(precondition: object) -> None:
    if precondition is not None and not isinstance(precondition, IfMatch | IfAbsent):
        kind = type(precondition).__name__
        raise TypeError(f"put: precondition must be IfMatch(etag), IfAbsent() or None, not {kind}")


def _check_size(url: str, source: SizedSource) -> None:
    """Refuse, before any byte moves, a source that does not hold exactly its size from here."""
    if source.size < 0:
        raise StoreError(f"{url}: declared size {source.size} is negative")
    stream = source.stream
    try:
        start = stream.tell()
        end = stream.seek(0, io.SEEK_END)
        stream.seek(start)
    except (OSError, AttributeError, ValueError) as exc:
        raise StoreError(f"{url}: put needs a seekable source ({type(exc).__name__})") from None
    available = end - start
    if available != source.size:
        raise StoreError(
            f"{url}: declared size {source.size} bytes, but the source holds {available}; nothing was stored"
        )


def bad_version_id(url: str, version_id: str, store: str, expected: str) -> BadRequest:
    """The error for a version id that is not of `store`'s format (`expected` describes it)."""
    shown = version_id if len(version_id) <= 80 else version_id[:80] + "..."
    return BadRequest(f"{url}: version id {shown!r} is not a valid {store} version id ({expected})")
