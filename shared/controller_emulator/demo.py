"""`controller-backup demo`: the whole product, locally, with no cloud account and no network.

Starts an emulated controller holding a realistic configuration and a blank replacement, backs
the first up into a local folder, shows that the safety rules hold (a blank controller's export
is refused, the stored backup verifies), restores into the replacement, and proves the
replacement's export equals the backup byte for byte.

It lives beside the emulator, not in the core: it is the one user of the core that needs an
emulator to import, and the command line loads it only when the command runs.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from controller_backup.backup import run_backup
from controller_backup.errors import IntegrityError, InvalidExport
from controller_backup.inspection import verify_backup
from controller_backup.restore import run_restore
from controller_backup.settings import Settings
from controller_backup.stores import open_store
from controller_backup.targets import operator_target

from .emulator import Emulator, EmulatorConfig

_PASSWORD_VARIABLE = "DEMO_CONTROLLER_PASSWORD"  # noqa: S105 - a variable name, not a password
_REPLACEMENT_IP = "10.0.0.20"


def run_demo(size: int, workdir: str | None = None, quiet: bool = False) -> dict[str, Any]:
    """Run the demo; return its summary. Raises IntegrityError if the restore does not match.

    The backup folder is `workdir`, kept; without one, a temporary folder removed at the end, failed
    or not, so repeated demos leave nothing behind.
    """

    def say(text: str) -> None:
        if not quiet:
            print(text, flush=True)

    if workdir:
        folder = Path(workdir)
        folder.mkdir(parents=True, exist_ok=True)
        return _run(folder, size, say) | {"kept": True}
    with tempfile.TemporaryDirectory(prefix="controller-backup-demo-") as temporary:
        summary = _run(Path(temporary), size, say)
    say(f"removed {temporary} (keep the backup with --workdir DIR)")
    return summary | {"kept": False}


def _run(folder: Path, size: int, say: Callable[[str], None]) -> dict[str, Any]:
    """The demo's steps, its backup object in `folder`."""
    password = secrets.token_urlsafe(16)
    os.environ[_PASSWORD_VARIABLE] = password  # read back through an env: secret reference
    original_cfg = EmulatorConfig(archive_size=size, seed=7, name="controller-original", password=password)
    blank_cfg = EmulatorConfig(
        archive_size=size, seed=8, name="controller-replacement", blank=True, private_ip=_REPLACEMENT_IP
    )
    with Emulator(original_cfg) as original, Emulator(blank_cfg) as replacement:
        settings = Settings.from_env(
            {
                "CONTROLLER_URL": original.url,
                "CONTROLLER_PASSWORD": f"env:{_PASSWORD_VARIABLE}",
                "BACKUP_URL": str(folder / "controller-backup.tar"),
                # the emulator serves the export API; a real controller needs native mode
                "CONTROLLER_BACKUP_MODE": "export",
                # the emulators listen on plain http on this machine only
                "CONTROLLER_ALLOW_HTTP": "true",
            }
        )
        say(f"original controller   {original.url}  ({size} byte configuration)")
        say(f"blank replacement     {replacement.url}  (initial setup not run)")
        say(f"backup object         {settings.backup_url}")

        backup = run_backup(settings, trigger="demo")
        say(f"1. backup stored      {backup.size} bytes, sha256 {backup.sha256[:16]}...")

        refused = _blank_backup_refused(settings, replacement.url)
        say(f"2. safety check       a backup of the blank replacement was refused: {refused}")

        check = verify_backup(open_store(settings.backup_url))
        say(f"3. verify             stored backup hash and archive structure OK ({check['members']} members)")

        target = operator_target(settings, replacement.url, _REPLACEMENT_IP)
        restore = run_restore(settings, target=target)
        say(f"4. restore            into the replacement, verified by re-export ({restore.duration_ms} ms)")

        original_sha, restored_sha = original.export_sha256(), replacement.export_sha256()
        match = original_sha == restored_sha == backup.sha256
        say(f"5. compare            replacement export == original export: {match}")
    if not match:
        raise IntegrityError("demo: the replacement's configuration differs from the original's")
    say("demo passed: the replacement holds the original configuration, byte for byte")
    return {
        "status": "ok",
        "job": "demo",
        "object": settings.backup_url,
        "size": backup.size,
        "sha256": backup.sha256,
        "backup_ms": backup.duration_ms,
        "restore_ms": restore.duration_ms,
        "blank_backup_refused": refused,
        "match": match,
    }


def _blank_backup_refused(settings: Settings, blank_url: str) -> str:
    """Back up the blank replacement (its own login) into the same object: it must be refused."""
    blank = dataclasses.replace(settings.for_controller(blank_url), password_ref=_REPLACEMENT_IP)
    backup_log = logging.getLogger("controller_backup.backup")
    level = backup_log.level
    backup_log.setLevel(logging.CRITICAL)  # the refusal is the expected outcome here
    try:
        run_backup(blank, trigger="demo")
    except InvalidExport as exc:
        return exc.code
    finally:
        backup_log.setLevel(level)
    raise IntegrityError("demo: a blank controller's export replaced the backup")
