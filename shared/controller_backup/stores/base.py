"""The ObjectStore contract: one instance per stored object location.

Why `download(dest)` rather than a `get() -> stream`: every restore must hash the whole
object before a single byte reaches the controller, so the bytes land in a spool file anyway, and
letting each SDK write that file itself keeps its own parallel, checksummed transfer machinery
(boto3's TransferManager, azure's chunked download, GCS's checksummed download).
Likewise `put` takes a seekable file and its size so SDKs can run multipart uploads and retries.

Rules every store keeps the same way, enforced by the helpers at the end of this module:

- `put` with both `if_match` and `if_absent` is a programming error: `ValueError`, before any I/O.
- `put` first checks that the source holds exactly `size` bytes from where it stands; a source with
  fewer or more bytes is refused with a `StoreError` naming both numbers, and nothing is stored (a
  short source would otherwise leave an SDK waiting for bytes that never come, a long one store a
  truncated object whose recorded hash describes other bytes).
- A caller-given version id is checked against the store's own format before any I/O; one that
  cannot be the store's is a `BadRequest` (it comes from an operator or an event), never a path or
  a query fragment sent anywhere.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Protocol, runtime_checkable

from controller_backup.errors import BadRequest, StoreError
from controller_backup.progress import SILENT, Progress

#: metadata keys every stored backup carries (identifier-safe for Azure)
METADATA_KEYS = ("sha256", "size", "controller_version", "exported_at", "controller", "tool_version")


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


@runtime_checkable
class ObjectStore(Protocol):
    """One stored object, replaced whole and atomically.

    Errors: `ObjectNotFound` when the object or version is missing, `PreconditionFailed` when a
    conditional write lost, `AccessDenied` when the store refuses, `StoreError` for the rest.
    """

    url: str

    def put(
        self,
        source: BinaryIO,
        size: int,
        metadata: Mapping[str, str],
        *,
        if_match: str | None = None,
        if_absent: bool = False,
        progress: Progress = SILENT,
    ) -> ObjectInfo:
        """Replace the object with `size` bytes read from `source` (seekable, at 0).

        `if_match` writes only while the current object's etag is still that value; `if_absent`
        writes only while there is no object; giving both raises `ValueError` before any I/O.
        A source that does not hold exactly `size` bytes is a `StoreError` and stores nothing.
        Nothing is visible until the write is complete. `progress` hears the bytes as they go.
        """
        ...

    def download(
        self, dest: BinaryIO, version_id: str | None = None, *, progress: Progress = SILENT
    ) -> ObjectInfo:
        """Write the newest version (or `version_id`) into `dest`; return its info.

        A `version_id` not of the store's format is a `BadRequest`, raised before any I/O.
        `progress` hears the object's size, then the bytes as they arrive.
        """
        ...

    def head(self, version_id: str | None = None) -> ObjectInfo | None:
        """The newest version's info (or `version_id`'s), or None when there is none.

        A `version_id` not of the store's format is a `BadRequest`, raised before any I/O.
        """
        ...

    def versions(self, limit: int | None = None) -> list[ObjectInfo]:
        """Every kept version (or the newest `limit`), newest first; just the current one where the
        store keeps no history.

        `limit` bounds the work as well as the answer: S3 lists no user metadata, so each version
        it returns costs a HEAD (`controller-backup versions --limit`).
        """
        ...

    # -- read-only probes, for the preflight check ------------------------------------------

    def versioning(self) -> bool | None:
        """Whether replacing the object keeps the old bytes as a version; None when it cannot tell.

        Without versions, each backup overwrites the only copy: a preflight says so before the day
        a bad backup lands. Some clouds keep this setting where a data-plane identity cannot read it.
        """
        ...

    def probe_write(self) -> None:
        """Return if this identity may write the object; raise AccessDenied if it may not.

        Creates and changes nothing: the probe is a write whose precondition cannot hold, so the
        store authorizes it (or refuses with 403) and then refuses it (412, or 404 for a missing
        object) before a byte lands. A preflight that wrote would defeat its purpose.
        """
        ...


# -- the shared rules, for every implementation ---------------------------------------------------


def check_conditions(if_match: str | None, if_absent: bool) -> None:
    """`put`'s one precondition rule: at most one of `if_match` and `if_absent`.

    Both at once cannot both hold (an etag names an object that exists), so a caller giving both
    has a bug; each store used to resolve it differently, now none guesses.
    """
    if if_match is not None and if_absent:
        raise ValueError("put: if_match and if_absent exclude each other; give at most one")


def check_source_size(url: str, source: BinaryIO, size: int) -> None:
    """Refuse, before any byte moves, a source that does not hold exactly `size` bytes from here."""
    if size < 0:
        raise StoreError(f"{url}: declared size {size} is negative")
    try:
        start = source.tell()
        end = source.seek(0, io.SEEK_END)
        source.seek(start)
    except (OSError, AttributeError, ValueError) as exc:
        raise StoreError(f"{url}: put needs a seekable source ({type(exc).__name__})") from None
    available = end - start
    if available != size:
        raise StoreError(
            f"{url}: declared size {size} bytes, but the source holds {available}; nothing was stored"
        )


def check_limit(limit: int | None) -> None:
    """`versions`' one rule for `limit`: None (all) or at least one; anything else is a caller's bug."""
    if limit is not None and limit < 1:
        raise ValueError(f"versions: limit must be at least 1 or None, got {limit}")


def bad_version_id(url: str, version_id: str, store: str, expected: str) -> BadRequest:
    """The error for a version id that is not of `store`'s format (`expected` describes it)."""
    shown = version_id if len(version_id) <= 80 else version_id[:80] + "..."
    return BadRequest(f"{url}: version id {shown!r} is not a valid {store} version id ({expected})")
