"""Small helpers for the integration tests: run jobs with fast retries, read the local store."""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any, BinaryIO

from controller_backup.backup import run_backup
from controller_backup.controller import ControllerClient, ExportApiDriver, ExportInfo, RetryPolicy
from controller_backup.progress import SILENT, Progress
from controller_backup.restore import run_restore
from controller_backup.results import JobResult
from controller_backup.settings import Settings
from controller_backup.stores import ObjectInfo, open_store


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`controller-backup ARGS` in its own process, with only `env`'s settings (none inherited)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTROLLER_", "BACKUP_"))}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "controller_backup.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        check=False,
    )


def fast(settings: Settings, **changes: Any) -> Settings:
    """The same settings with retries that finish in seconds (still bounded)."""
    return dataclasses.replace(settings, **({"retry_seconds": 8.0} | changes))


def driver_for(settings: Settings, password: str | None = None, **retry: Any) -> ExportApiDriver:
    """A driver whose retries are quick: short delays, bounded by `deadline` (8 s) alone."""
    client = ControllerClient(
        settings.controller_url,
        settings.username,
        password if password is not None else settings.password(),
        ca_bundle=settings.ca_bundle,
        tls_server_name=settings.tls_server_name,
        verify_tls=settings.verify_tls,
        timeout=settings.request_timeout,
        retry=RetryPolicy(**({"base_delay": 0.05, "max_delay": 0.3, "deadline": 8.0} | retry)),
    )
    return ExportApiDriver(client)


def backup(settings: Settings, **kwargs: Any) -> JobResult:
    return run_backup(settings, driver=kwargs.pop("driver", None) or driver_for(settings), **kwargs)


def restore(settings: Settings, **kwargs: Any) -> JobResult:
    return run_restore(settings, **kwargs)


def stored(settings: Settings, version_id: str | None = None) -> tuple[bytes, ObjectInfo]:
    buf = io.BytesIO()
    info = open_store(settings.backup_url).download(buf, version_id)
    return buf.getvalue(), info


def head(settings: Settings) -> ObjectInfo | None:
    return open_store(settings.backup_url).head()


def change_configuration(emu: Any) -> None:
    """Change the emulated controller's configuration (one more access account), so its next
    export differs from the last: an unchanged one is not stored again."""
    emu.state.add_account({"account_name": f"acct-{len(emu.state.records.accounts)}", "cloud_type": 1})


def actions(emu: Any, name: str) -> int:
    """How many requests for `name` the emulator has seen."""
    return sum(1 for _, _, action in emu.requests if action == name)


class FaultAtExport(ExportApiDriver):
    """Runs `fault` when the backup reaches its export: past the login and the checks."""

    def __init__(self, client: ControllerClient, fault: Callable[[], None]) -> None:
        super().__init__(client)
        self._fault = fault

    def export(self, dest: BinaryIO, progress: Progress = SILENT, *, stored: ObjectInfo | None) -> ExportInfo:
        self._fault()
        return super().export(dest, progress, stored=stored)


def assert_no_secret_emitted(
    secrets: list[str], outputs: list[str], records: list[logging.LogRecord], log_text: str, stderr: str
) -> None:
    """No secret in the results and errors, the log (messages and tracebacks) or stderr."""
    emitted = "\n".join(
        [log_text, *outputs, stderr]
        + [record.getMessage() for record in records]
        + [str(record.exc_text or "") for record in records]
    )
    for secret in secrets:
        assert secret not in emitted, f"a secret ({len(secret)} chars) leaked"
