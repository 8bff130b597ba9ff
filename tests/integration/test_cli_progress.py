"""Progress on the command line, seen through a pseudo-terminal: every transfer and every wait is
drawn with its figures, log lines are never mixed into a bar, and what is left on the screen is
one summary line per step. Without a terminal, or with --json, nothing is drawn."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from controller_emulator import Emulator, EmulatorConfig

from tests.fixtures.controller import BLANK_PRIVATE_IP, CONTROLLER_PASSWORD

from .terminal import (
    BAR,
    assert_never_mixed,
    assert_transfer_shown,
    assert_wait_shown,
    run_on_terminal,
    summaries,
)

SIZE = 4 * 1024 * 1024


@pytest.fixture
def source() -> Iterator[Emulator]:
    """A set-up controller with a 4 MiB configuration: large enough to be worth a bar."""
    with Emulator(EmulatorConfig(archive_size=SIZE, seed=21, password=CONTROLLER_PASSWORD)) as emu:
        yield emu


@pytest.fixture
def env(source: Emulator, tmp_path: Path) -> dict[str, str]:
    return {
        "CONTROLLER_URL": source.url,
        "CONTROLLER_PASSWORD": "env:TEST_CONTROLLER_PASSWORD",
        "TEST_CONTROLLER_PASSWORD": CONTROLLER_PASSWORD,
        "BACKUP_URL": (tmp_path / "store" / "controller.tar").as_uri(),
        "CONTROLLER_TIMEOUT": "5",
        "CONTROLLER_READY_TIMEOUT": "10",
        "CONTROLLER_BACKUP_MODE": "export",
        "CONTROLLER_ALLOW_HTTP": "true",
    }


def test_a_restore_into_a_booting_replacement_shows_the_wait_and_every_leg(
    env: dict[str, str], source: Emulator
) -> None:
    """A local store is read in place (no download: tests/aws shows one); the replacement answers
    "not ready" for a while, so the restore first waits, within its bound, on the screen."""
    assert run_on_terminal(["backup"], env).returncode == 0
    blank_config = EmulatorConfig(seed=22, blank=True, private_ip=BLANK_PRIVATE_IP)
    with Emulator(blank_config) as blank:
        blank.reboot(2.5, from_next_request=True)
        # -v: the controller's log lines ("not ready yet; next try in ...") arrive while it is shown
        done = run_on_terminal(
            ["restore", "-v", "--target-url", blank.url, "--private-ip", BLANK_PRIVATE_IP], env
        )
        assert done.returncode == 0, done.raw[-3000:]
        assert done.stdout.startswith("restore ok: ")
        assert blank.export_sha256() == source.export_sha256()
        url = blank.url
    screen = done.screen
    assert_never_mixed(screen)
    retries = [
        line for line in screen.lines if "controller_backup.controller: controller not ready yet" in line
    ]
    assert len(retries) >= 2  # printed while the wait was on the screen, each whole
    assert_wait_shown(screen, url, "0:10")
    assert_transfer_shown(screen, "import", "4.0 MiB")
    assert_transfer_shown(screen, "verifying export", "4.0 MiB")
    assert summaries(screen) == ["waited", "import", "verifying export"]


def test_a_backup_shows_its_wait_and_legs_and_json_draws_nothing(
    env: dict[str, str], source: Emulator
) -> None:
    """At the default verbosity too, a controller that is rebooting is waited for on the screen."""
    source.reboot(1.5, from_next_request=True)
    done = run_on_terminal(["backup"], env)
    assert done.returncode == 0, done.raw[-3000:]
    assert_wait_shown(done.screen, source.url, "0:10")
    assert_transfer_shown(done.screen, "export", "4.0 MiB")
    assert_transfer_shown(done.screen, "upload", "4.0 MiB")
    assert summaries(done.screen) == ["waited", "export", "upload"]
    assert_never_mixed(done.screen)

    quiet = run_on_terminal(["backup", "--json", "--allow-shrink"], env)
    assert quiet.returncode == 0 and json.loads(quiet.stdout)["status"] == "unchanged"
    assert BAR not in quiet.raw and "\x1b[" not in quiet.raw
    assert not [line for line in quiet.screen.lines if line.startswith(("export ", "upload "))]


def test_without_a_terminal_a_wait_is_one_log_line_and_nothing_is_drawn(
    env: dict[str, str], source: Emulator
) -> None:
    source.reboot(1.5, from_next_request=True)
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("CONTROLLER_", "BACKUP_"))}
    done = subprocess.run(
        [sys.executable, "-m", "controller_backup.cli", "backup"],
        capture_output=True,
        text=True,
        env=inherited | env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert BAR not in done.stderr and "\x1b[" not in done.stderr and "\r" not in done.stderr
    what = f"{source.url} to become ready"
    assert f"INFO controller_backup.progress: waiting up to 10 s for {what}" in done.stderr
    assert re.search(rf"INFO controller_backup\.progress: waited \d s for {re.escape(what)}", done.stderr)


def test_rich_loads_only_when_a_terminal_shows_progress() -> None:
    """The core, and the command line itself, import the terminal library lazily: only the display
    a terminal needs loads it (the functions' own import tests check they never do)."""
    probe = (
        "import sys, json\n"
        "import controller_backup.backup, controller_backup.restore, controller_backup.inspection\n"
        "import controller_backup.cli, controller_backup.progress\n"
        "before = 'rich' in sys.modules\n"
        "import controller_backup.terminal\n"
        "print(json.dumps([before, 'rich' in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(done.stdout) == [False, True]


def test_without_rich_a_terminal_gets_plain_log_lines_and_a_hint(env: dict[str, str], tmp_path: Path) -> None:
    """The command line installed without its extra still works; it says what the bars need."""
    missing = tmp_path / "without-rich" / "rich"
    missing.mkdir(parents=True)
    (missing / "__init__.py").write_text("raise ImportError('No module named rich')\n")
    path = os.pathsep.join(filter(None, [str(missing.parent), os.environ.get("PYTHONPATH")]))
    done = run_on_terminal(["backup"], env | {"PYTHONPATH": path})
    assert done.returncode == 0, done.raw[-3000:]
    assert "no progress bars: they need rich (pip install 'controller-backup[cli]')" in done.raw
    assert BAR not in done.raw and not summaries(done.screen)
