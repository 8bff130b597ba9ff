"""Which stored backup a restore reads: the primary, or the newest copy that verifies.

The day a restore is needed may be the day the primary's region, account or bucket is gone, or
its object was tampered with. So when the primary is missing, unreachable or fails its checks, the
restore falls back to the copies (BACKUP_COPY_URLS), newest first by their recorded export time,
and takes the first whose bytes verify; it says which it used. An operator's `--from` (a request's
`from`) picks one destination instead, and an interrupted restore keeps the one it started with.
Only configured destinations are ever read (docs/design.md, invariant 10).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime

from controller_backup.destinations import chosen_destination, open_destination
from controller_backup.durations import as_utc
from controller_backup.errors import IntegrityError, InvalidExport, SettingsError, StoreError
from controller_backup.inspection import fetch_backup
from controller_backup.settings import Settings
from controller_backup.spool import HashingSpool
from controller_backup.stores import ObjectInfo, ObjectStore

log = logging.getLogger("controller_backup.restore")

#: what makes a destination unusable and the next one worth trying; anything else (a bad version
#: id, a bug) stops the restore
_UNUSABLE = (StoreError, IntegrityError, InvalidExport, SettingsError)


@dataclass(frozen=True)
class Source:
    """The verified backup a restore pushes, and the destination it came from."""

    url: str
    store: ObjectStore
    spool: HashingSpool
    info: ObjectInfo


@contextmanager
def fetch_source(
    settings: Settings, primary: ObjectStore, chosen: str | None, version_id: str | None
) -> Iterator[Source]:
    """The backup to restore, verified: from `chosen` (a configured destination) when given, else
    from the primary, else from the newest copy that verifies.

    A `version_id` names a version of one store, so without `chosen` it is read from the primary
    only. When nothing verifies, the primary's own failure is raised, naming every destination's.
    """
    if chosen is not None or version_id is not None or not settings.copy_urls:
        url = chosen_destination(settings, chosen) if chosen is not None else settings.backup_url
        store = primary if url == settings.backup_url else open_destination(settings, url)
        with fetch_backup(store, version_id) as (spool, info):
            yield Source(url, store, spool, info)
        return
    with ExitStack() as stack:
        yield _first_that_verifies(settings, primary, stack)


def _first_that_verifies(settings: Settings, primary: ObjectStore, stack: ExitStack) -> Source:
    try:
        spool, info = stack.enter_context(fetch_backup(primary))
        return Source(settings.backup_url, primary, spool, info)
    except _UNUSABLE as exc:
        first = exc
    log.warning(
        "the primary %s cannot be restored (%s); trying its copies", settings.backup_url, first.message
    )
    failures = [f"primary: {first.message}"]
    for number, url, store in _copies_newest_first(settings, failures):
        try:
            spool, info = stack.enter_context(fetch_backup(store))
        except _UNUSABLE as exc:
            log.warning("the copy %s cannot be restored either: %s", url, exc.message)
            failures.append(f"copy {number}: {exc.message}")
            continue
        log.warning("restoring from the copy %s (version %s): the primary failed", url, info.version_id)
        return Source(url, store, spool, info)
    # the primary's failure kind (its exit code, its HTTP status), with every destination's reason
    raise type(first)("no destination holds a backup that verifies: " + "; ".join(failures)) from None


def _copies_newest_first(settings: Settings, failures: list[str]) -> list[tuple[int, str, ObjectStore]]:
    """The copies that hold an object, newest first by its recorded export time (else its own)."""
    found: list[tuple[datetime, int, str, ObjectStore]] = []
    for number, url in enumerate(settings.copy_urls, 1):
        try:
            store = open_destination(settings, url)
            info = store.head()
        except _UNUSABLE as exc:
            failures.append(f"copy {number}: {exc.message}")
            continue
        if info is None:
            failures.append(f"copy {number}: no backup stored there")
            continue
        found.append((_exported(info), number, url, store))
    found.sort(key=lambda entry: (entry[0], -entry[1]), reverse=True)
    return [(number, url, store) for _, number, url, store in found]


def _exported(info: ObjectInfo) -> datetime:
    try:
        return as_utc(datetime.fromisoformat(info.metadata.get("exported_at", "")))
    except ValueError:
        return as_utc(info.last_modified)
