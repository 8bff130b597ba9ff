"""The ObjectStore contract: one instance per stored object location.

Why `download(dest)` rather than a `get() -> stream`: every restore must hash the whole
object before a single byte reaches the controller, so the bytes land in a spool file anyway, and
letting each SDK write that file itself keeps its own parallel, checksummed transfer machinery
(boto3's TransferManager, azure's chunked download, GCS's checksummed download).
Likewise `put` takes a seekable file and its size so SDKs can run multipart uploads and retries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Protocol, runtime_checkable

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
    ) -> ObjectInfo:
        """Replace the object with `size` bytes read from `source` (seekable, at 0).

        `if_match` writes only while the current object's etag is still that value; `if_absent`
        writes only while there is no object. Nothing is visible until the write is complete.
        """
        ...

    def download(self, dest: BinaryIO, version_id: str | None = None) -> ObjectInfo:
        """Write the newest version (or `version_id`) into `dest`; return its info."""
        ...

    def head(self, version_id: str | None = None) -> ObjectInfo | None:
        """The newest version's info (or `version_id`'s), or None when there is none."""
        ...

    def versions(self) -> list[ObjectInfo]:
        """Every kept version, newest first; just the current one where the store keeps no history."""
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
