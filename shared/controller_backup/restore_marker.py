"""A small object beside the backup that records one replacement's restore, step by step.

Cloud events arrive at least once and functions time out, so a restore keyed by the replacement's
id (its instance id) must be a no-op once done and must resume, not restart or refuse, when it
was cut off. The marker `<BACKUP_URL>.restores/<key>.json` lives beside the primary; when the
primary cannot be reached or refuses the first write (its region down, its bucket gone: when a
replacement most needs a copy), beside the first copy that takes it, and a later run finds it
there (`_homes`). It records the target it restores into, the backup it restores (the destination
it read, primary or copy, its version id and sha256) and the last finished step. The same key with
another target or another backup is a Conflict, never "already done": a marker cannot be claimed
in advance for someone else's restore. Every write is conditional on the etag last read, so two
copies of the same event cannot both run: the first write wins, the other is refused.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

from controller_backup.destinations import destinations, open_destination
from controller_backup.errors import BackupError, BadRequest, Conflict, PreconditionFailed
from controller_backup.settings import Settings
from controller_backup.stores import ObjectInfo, ObjectStore, SizedSource, replacing

log = logging.getLogger("controller_backup.restore_marker")

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,159}$")
#: the restore's steps in order; a resumed restore skips every step up to the recorded one
#: (the driver's own steps, between "started" and "prepared", make set-up and upgrade resumable)
STEPS = (
    "started",
    "customer_id",
    "set_up",
    "upgrade_sent",
    "upgraded",
    "prepared",
    "import_sent",
    "imported",
    "verified",
)


class RestoreMarker:
    """The marker for one idempotency key and the target its restore goes to."""

    def __init__(self, settings: Settings, key: str, target: str) -> None:
        if not _KEY.match(key):
            raise BadRequest(f"idempotency key {key[:40]!r} must be letters, digits, '.', '_' or '-'")
        self.key = key
        self.target = target
        homes, self._info = _homes(settings, f".restores/{key}.json")
        self.store, self._spare_homes = homes[0], homes[1:]
        #: a restore for this key started earlier and did not finish: this run resumes it
        self.started = bool(self._info and self._info.metadata.get("status") == "started")
        #: the destination (the primary or a copy) the restore reads: a resumed one keeps it
        self.source: str | None = (self._info.metadata.get("source") or None) if self._info else None

    @property
    def step(self) -> str:
        """The last finished step ("started" when none)."""
        step = self._info.metadata.get("step", "started") if self._info else "started"
        return step if step in STEPS else "started"

    @property
    def version_id(self) -> str | None:
        """The stored version an unfinished restore was restoring."""
        if not self.started or self._info is None:
            return None
        return self._info.metadata.get("version_id") or None

    def check_claim(self, version_id: str | None) -> None:
        """Refuse (Conflict) a key already used for another target, or for another backup version."""
        if self._info is None:
            return
        recorded = self._info.metadata.get("target", "")
        if recorded != self.target:
            raise Conflict(
                f"the restore key {self.key} was used for another target ({recorded or 'unknown'}); "
                "use another key"
            )
        kept = self._info.metadata.get("version_id", "")
        if version_id is not None and version_id != kept:
            raise Conflict(
                f"the restore key {self.key} was used for backup version {kept or 'unknown'}, not "
                f"{version_id}; use another key"
            )

    def passed(self, step: str) -> bool:
        """True when this restore (or an earlier run of it) already finished `step`."""
        return self.started and STEPS.index(self.step) >= STEPS.index(step)

    def sent_backup(self) -> bool:
        """True once a run for this key began sending our backup to its target: from then on the
        target may hold the backed-up controller's users (kept even if a later step is redone)."""
        return bool(self._info and self._info.metadata.get("import_sent_at"))

    def journal(self, info: ObjectInfo) -> MarkerJournal:
        """The steps of restoring `info`, as the driver and the job record them."""
        return MarkerJournal(self, info)

    def finished(self) -> dict[str, str] | None:
        if self._info and self._info.metadata.get("status") == "done":
            return dict(self._info.metadata)
        return None

    def check_same_backup(self, info: ObjectInfo) -> None:
        """A resumed restore must go on with the backup it started with: mixing two is never
        right, so no option lifts this (another key starts a new restore)."""
        recorded = self._info.metadata.get("sha256") if self._info else None
        if self.started and recorded and recorded != info.metadata.get("sha256"):
            raise Conflict(
                f"the unfinished restore for {self.key} started with another backup (sha256 "
                f"{recorded[:12]}...); refusing to mix two backups: use another key to restore this one"
            )

    def start(self, info: ObjectInfo) -> None:
        """Claim the run (a conditional write), keeping the progress of an earlier run."""
        self._write("started", info, self.step if self.started else "started")

    def record(self, step: str, info: ObjectInfo) -> None:
        self._write("started", info, step)

    def finish(self, info: ObjectInfo) -> None:
        self._write("done", info, "done")

    def seconds_since(self, step: str) -> float | None:
        """How long ago `step` was recorded (each step's time is kept as `<step>_at`)."""
        recorded = self._info.metadata.get(f"{step}_at") if self._info else None
        if not recorded:
            return None
        try:
            when = datetime.fromisoformat(recorded)
        except ValueError:
            return None
        return (datetime.now(UTC) - when).total_seconds()

    def _write(self, status: str, info: ObjectInfo, step: str) -> None:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        earlier = dict(self._info.metadata) if self._info else {}
        metadata = {
            **{key: value for key, value in earlier.items() if key.endswith("_at") and key[:-3] in STEPS},
            "status": status,
            "step": step,
            "target": self.target,
            "sha256": info.metadata.get("sha256", ""),
            "size": str(info.size),
            "version_id": info.version_id or "",
            "controller_version": info.metadata.get("controller_version", ""),
            "source": self.source or "",
            "started_at": earlier.get("started_at", now),
            "step_at": now,
        }
        if step in STEPS and step != "started":
            metadata[f"{step}_at"] = now
        if status == "done":
            metadata["done_at"] = now
        body = json.dumps({"key": self.key, **metadata}).encode()
        while True:
            try:
                written = self.store.put(SizedSource.of(body), metadata, precondition=replacing(self._info))
                break
            except PreconditionFailed:
                raise Conflict(f"another restore for {self.key} is running or finished") from None
            except BackupError as exc:
                # a first claim that its home refuses (a bucket gone answers a read as "no marker")
                # goes to the next destination that answered; a marker once written stays put
                if self._info is not None or not self._spare_homes:
                    raise
                log.warning("the restore marker cannot be kept at %s (%s)", self.store.url, exc.message)
                self.store = self._spare_homes.pop(0)
        self._info = written
        self.started = status == "started"


def _homes(settings: Settings, suffix: str) -> tuple[list[ObjectStore], ObjectInfo | None]:
    """Where the marker `suffix` may be kept, in order, and what it holds: the first destination
    that holds it, else every destination that answers (the primary first). Every destination is
    asked, so a run finds the marker an earlier run left beside a copy while the primary was out of
    reach."""
    answering: list[ObjectStore] = []
    failures: list[BackupError] = []
    reasons: list[str] = []
    for number, url in enumerate(destinations(settings)):
        try:
            store = open_destination(settings, url, suffix)
            info = store.head()
        except BackupError as exc:
            failures.append(exc)
            reasons.append(f"{f'copy {number}' if number else 'primary'}: {exc.message}")
            continue
        if info is not None:
            return [store], info
        answering.append(store)
    if not answering:
        if len(failures) == 1:
            raise failures[0]
        # the primary's failure kind, with every destination's reason
        raise type(failures[0])("no destination can keep the restore marker: " + "; ".join(reasons))
    if failures:
        log.warning("the restore marker is kept at %s: %s", answering[0].url, "; ".join(reasons))
    return answering, None


class MarkerJournal:
    """A RestoreMarker seen as the driver's Journal for one backup."""

    def __init__(self, marker: RestoreMarker, info: ObjectInfo) -> None:
        self._marker, self._info = marker, info

    def passed(self, step: str) -> bool:
        return self._marker.passed(step)

    def record(self, step: str) -> None:
        self._marker.record(step, self._info)

    def seconds_since(self, step: str) -> float | None:
        return self._marker.seconds_since(step)
