"""What the preflight check's tests share: the lines a report holds, and proofs of read-only."""

from __future__ import annotations

from pathlib import Path

from controller_backup.check import CheckReport
from controller_emulator import Emulator

#: every line a check reports, in order (export mode: the native lines are skipped)
LINES = [
    "settings",
    "secret:CONTROLLER_PASSWORD",
    "tls",
    "login",
    "version",
    "setup",
    "native-config",
    "store-read",
    "store-write",
    "store-versioning",
    "native-file",
    "native-version-file",
]
NATIVE_LINES = {"native-config", "native-file", "native-version-file"}
#: what a check may ask a controller: nothing that changes it
READ_ONLY_ACTIONS = {
    "get_api_token",
    "login",
    "list_version_info",
    "initial_setup",
    "get_cloudn_backup_config",
}


def verdicts(report: CheckReport) -> dict[str, str]:
    assert [line.name for line in report.lines] == LINES
    return {line.name: line.verdict for line in report.lines}


def assert_read_only(emu: Emulator) -> None:
    """The emulator saw only questions: no enable/disable, restore, set-up run, import or export."""
    asked = {action for _, _, action in emu.requests}
    assert asked <= READ_ONLY_ACTIONS, asked - READ_ONLY_ACTIONS
    assert all(method == "GET" for method, _, action in emu.requests if action == "initial_setup")


def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its bytes (hidden version folders included)."""
    return {
        str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()
    }
