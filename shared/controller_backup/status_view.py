"""The human views of `status` and `versions`: what an operator reads at 3 a.m.

`status` leads with its verdict and says every age in words against the threshold that judged
it; `versions` prints whole version ids, since they are for `restore --version-id`. The facts
come from `inspection.py`; `--json` prints the same facts as a machine dict.
"""

from __future__ import annotations

from datetime import UTC, datetime

from controller_backup.backup_record import UNCHANGED
from controller_backup.durations import in_words
from controller_backup.inspection import HEALTHY, BackupStatus, VersionEntry
from controller_backup.verify_record import FAILED, VerifyRecord

_SHORT_SHA256 = 16
#: what each source of the last backup's time is, in the view
_SOURCES = {
    "exported_at": "the object's export time",
    "last_modified": "the object's last change (it records no export time)",
}


def size_in_words(size: int) -> str:
    """`512 bytes`, `64.0 KiB`, `8.0 MiB`, `1.2 GiB`."""
    if size < 1024:
        return f"{size} bytes"
    amount = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        amount /= 1024
        if amount < 1024 or unit == "GiB":
            break
    return f"{amount:.1f} {unit}"


def _when(moment: datetime, zone: str = " UTC") -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") + zone


def _ago(moment: datetime, now: datetime) -> str:
    seconds = (now - moment).total_seconds()
    if seconds < 0:
        return f"{in_words(-seconds)} ahead of this machine's clock"
    return f"{in_words(seconds)} ago"


def destination_label(number: int) -> str:
    """`backup` for the primary (destination 0), `copy N` for the Nth copy."""
    return f"copy {number}" if number else "backup"


def render_status(status: BackupStatus, label: str = "backup") -> str:
    """Aligned `label  value` lines: the verdict first, then the facts behind it."""
    now = status.checked_at
    info = status.info
    rows: list[tuple[str, str]] = [(label, status.url)]
    verdict = status.verdict if status.verdict == HEALTHY else status.verdict.upper()
    rows.append(("verdict", f"{verdict}: {status.reason}"))
    if status.last_backup is not None:
        alarm = f"alarm after {in_words(status.max_age)}"
        line = f"{_when(status.last_backup)}, {_ago(status.last_backup, now)} ({alarm})"
        record = status.record
        if status.last_backup_source == "record" and record is not None:
            what = "unchanged (nothing new to store)" if record.outcome == UNCHANGED else record.outcome
            line += f": {what}" + (f", trigger {record.trigger}" if record.trigger else "")
        elif status.last_backup_source in _SOURCES:
            line += f": {_SOURCES[status.last_backup_source]}"
        rows.append(("last backup", line))
    if info is not None:
        metadata = info.metadata
        rows.append(("version", info.version_id or "none (the store keeps no version ids)"))
        rows.append(("kind", status.kind or "not recorded (stored before kinds were)"))
        rows.append(("size", f"{size_in_words(info.size)} ({info.size} bytes)"))
        rows.append(("sha256", metadata.get("sha256", "not recorded")[:_SHORT_SHA256]))
        controller = metadata.get("controller", "not recorded")
        rows.append(
            ("controller", f"{controller}, version {metadata.get('controller_version', 'not recorded')}")
        )
    if status.versions is not None and (status.versions or info is not None):
        kept = f"{status.versions} kept"
        if status.oldest_version is not None:
            kept += f", oldest {_when(status.oldest_version)} ({_ago(status.oldest_version, now)})"
        rows.append(("versions", kept))
    rows.append(("versioning", _versioning(status.versioning)))
    if info is not None:
        rows.append(("verified", _verified(status)))
    if status.last_verify is not None:
        rows.append(("last verify", _last_verify(status.last_verify, now)))
    rows += [("note", note) for note in status.notes]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def _versioning(enabled: bool | None) -> str:
    if enabled is None:
        return "unknown: the store did not say (a note says why when it failed)"
    return "on" if enabled else "OFF: each backup overwrites the only copy"


def _verified(status: BackupStatus) -> str:
    if status.verified_by == "status":
        kind = f"{status.kind} " if status.kind else ""
        return f"just now, by this status: sha256, size and {kind}structure match"
    if not status.read:
        now = "metadata only: this status did not read the bytes (--no-read)"
    else:
        now = "reading the bytes now failed (see the verdict)"
    if status.verified_at is None:
        return f"no record of a verification; {now}"
    return (
        f"{_when(status.verified_at)} ({_ago(status.verified_at, status.checked_at)}), "
        f"by the backup's read-back; {now}"
    )


def _last_verify(record: VerifyRecord, now: datetime) -> str:
    """The readiness check's last finding: when, and the reason when it failed."""
    line = f"{_when(record.verified_at)} ({_ago(record.verified_at, now)}): {record.outcome}"
    if record.outcome == FAILED:
        line += f" [{record.error_code}] {record.error_message}"
    return line


def render_versions(entries: list[VersionEntry], more: bool) -> str:
    """A table, newest first, with whole version ids; `unchanged` marks a copy of the next older."""
    header = ("VERSION ID", "STORED (UTC)", "SIZE", "SHA256", "CONTROLLER VERSION", "")
    rows = [header]
    for entry in entries:
        info = entry.info
        marks = [mark for mark, on in (("current", info.is_latest), ("unchanged", entry.unchanged)) if on]
        rows.append(
            (
                info.version_id or "none",
                _when(info.last_modified, zone=""),
                size_in_words(info.size),
                info.metadata.get("sha256", "-")[:_SHORT_SHA256],
                info.metadata.get("controller_version", "-"),
                ", ".join(marks),
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    shown = f"{len(entries)} version{'s' if len(entries) != 1 else ''}, newest first"
    if more:
        shown += f"; older ones not shown (--limit {len(entries) * 2} shows more)"
    lines.append(shown)
    if any(entry.info.version_id for entry in entries):
        lines.append("restore one with: controller-backup restore --version-id VERSION_ID")
    return "\n".join(lines)
