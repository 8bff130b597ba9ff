"""Drivers move a configuration archive between a controller and a file.

`ExportApiDriver` speaks the design card's export API (`export_config` / `import_config`). A
native driver (the controller writes its own backup into a bucket) will implement the same
protocol, so the jobs do not care which one runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from controller_backup.controller.client import ControllerClient, Progress
from controller_backup.errors import ControllerError

log = logging.getLogger("controller_backup.controller")

#: the import can take minutes on a real controller; one call gets this long to answer
IMPORT_TIMEOUT = 600.0


@dataclass(frozen=True)
class ExportInfo:
    """What the controller said about an export it just streamed."""

    size: int
    declared_length: int | None
    content_type: str
    controller_version: str | None


class ControllerDriver(Protocol):
    """Pull and push one configuration archive; know the controller's version and state."""

    client: ControllerClient

    def wait_until_ready(self, timeout: float) -> None: ...

    def version(self) -> str: ...

    def is_set_up(self) -> bool: ...

    def export(self, dest: BinaryIO, progress: Progress | None = None) -> ExportInfo: ...

    def import_(self, source: BinaryIO, size: int, progress: Progress | None = None) -> None: ...


def parse_version(raw: str) -> str:
    """`UserConnect-7.1.1794` -> `7.1.1794` (the last dotted part is the build)."""
    version = raw.strip().removeprefix("UserConnect-")
    if not version or not all(part.isdigit() for part in version.split(".")):
        raise ControllerError(f"controller reported an unreadable version {raw[:40]!r}")
    return version


class ExportApiDriver:
    """The export API of DESIGN.md over a logged-in ControllerClient."""

    def __init__(self, client: ControllerClient) -> None:
        self.client = client

    def wait_until_ready(self, timeout: float) -> None:
        self.client.wait_until_ready(timeout)

    def version(self) -> str:
        results = self.client.call("list_version_info", method="GET")
        current = results.get("current_version") if isinstance(results, dict) else None
        if not isinstance(current, str):
            raise ControllerError("list_version_info answered without results.current_version")
        return parse_version(current)

    def is_set_up(self) -> bool:
        """False for a fresh controller whose `initial_setup` has not run."""
        answer = self.client.call_envelope("initial_setup", {"subaction": "check"}, method="GET")
        if answer.get("return"):
            return True
        reason = str(answer.get("reason", "")).strip().lower()
        if "not run" in reason:
            return False
        raise ControllerError(f"initial_setup check failed: {reason[:200] or 'no reason given'}")

    def export(self, dest: BinaryIO, progress: Progress | None = None) -> ExportInfo:
        download = self.client.download("export_config", dest, progress=progress)
        header = download.headers.get("X-Controller-Version")
        return ExportInfo(
            size=download.size,
            declared_length=download.content_length,
            content_type=download.content_type,
            controller_version=parse_version(header) if header else None,
        )

    def import_(self, source: BinaryIO, size: int, progress: Progress | None = None) -> None:
        self.client.upload(
            "import_config",
            source,
            size,
            filename="controller-config.tar",
            progress=progress,
            timeout=IMPORT_TIMEOUT,
        )
