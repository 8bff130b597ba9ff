"""A small object beside each destination that says when the readiness check last looked, and what it found.

The daily readiness check (`verify.py`) overwrites `<DEST>.last-verify.json` beside the primary and
each copy, whether the destination passed or failed, so `status` (and a person opening the file)
can tell how long ago each copy was last proven restorable. Like the backup record, its facts sit
in the object's metadata (a `head` reads them) and again in its JSON body.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from controller_backup.backup_record import put_facts
from controller_backup.durations import as_utc
from controller_backup.stores import ObjectStore

#: appended to a destination's URL: where its record lives (Terraform grants the function this key)
VERIFY_SUFFIX = ".last-verify.json"
PASSED = "passed"
FAILED = "failed"
#: metadata values are HTTP headers on two stores (S3 allows 2 KiB for all of them): a reason is cut
_MESSAGE_MAX = 512


def verify_record_url(destination_url: str) -> str:
    """Where the record for `destination_url` lives."""
    return destination_url + VERIFY_SUFFIX


@dataclass(frozen=True)
class VerifyRecord:
    """One destination's last readiness check: when, its outcome, the version it read, and why it failed."""

    outcome: str  # PASSED or FAILED
    verified_at: datetime
    version_id: str | None
    sha256: str | None
    size: int | None
    error_code: str | None = None
    error_message: str | None = None
    trigger: str = ""

    def to_metadata(self) -> dict[str, str]:
        return {
            "outcome": self.outcome,
            "verified_at": self.verified_at.isoformat(timespec="seconds"),
            "version_id": self.version_id or "",
            "sha256": self.sha256 or "",
            "size": "" if self.size is None else str(self.size),
            "error_code": self.error_code or "",
            "error_message": _header_safe(self.error_message or ""),
            "trigger": self.trigger,
        }

    @classmethod
    def from_metadata(cls, metadata: dict[str, str]) -> VerifyRecord | None:
        """The record a head returned, or None when it is not one of ours (or is damaged)."""
        try:
            outcome = metadata["outcome"]
            if outcome not in (PASSED, FAILED):
                return None
            size = metadata.get("size", "")
            return cls(
                outcome=outcome,
                verified_at=as_utc(datetime.fromisoformat(metadata["verified_at"])),
                version_id=metadata.get("version_id") or None,
                sha256=metadata.get("sha256") or None,
                size=int(size) if size else None,
                error_code=metadata.get("error_code") or None,
                error_message=metadata.get("error_message") or None,
                trigger=metadata.get("trigger", ""),
            )
        except (KeyError, ValueError):
            return None


def read_verify_record(store: ObjectStore) -> VerifyRecord | None:
    """The record in `store` (opened on `verify_record_url(...)`), or None when none was written yet."""
    info = store.head()
    return VerifyRecord.from_metadata(dict(info.metadata)) if info else None


def write_verify_record(store: ObjectStore, record: VerifyRecord) -> str | None:
    """Overwrite the record; return None, or why it could not be written (logged as a WARNING).

    The check's own outcome stands either way: a record that could not be written is named in
    the result, and the 25-hour alarm on `BackupVerified` does not depend on it.
    """
    return put_facts(store, record.to_metadata(), "the readiness check's")


def _header_safe(text: str) -> str:
    """One line of printable ASCII, at most `_MESSAGE_MAX` characters."""
    flat = " ".join(text.split()).encode("ascii", "replace").decode("ascii")
    return flat if len(flat) <= _MESSAGE_MAX else flat[: _MESSAGE_MAX - 3] + "..."
