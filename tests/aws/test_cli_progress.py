"""The command line's progress with a bucket (moto): the upload and the download are drawn from
boto3's own transfer callbacks, like every other leg (tests/integration/test_cli_progress.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from controller_emulator import Emulator, EmulatorConfig

from tests.fixtures.controller import BLANK_PRIVATE_IP, CONTROLLER_PASSWORD
from tests.integration.terminal import (
    BAR,
    assert_never_mixed,
    assert_transfer_shown,
    run_on_terminal,
    summaries,
)


@pytest.fixture
def source() -> Iterator[Emulator]:
    """12 MiB: S3 uploads it in parts (8 MiB), each reported as it goes."""
    with Emulator(
        EmulatorConfig(archive_size=12 * 1024 * 1024, seed=31, password=CONTROLLER_PASSWORD)
    ) as emu:
        yield emu


def test_backup_to_and_restore_from_s3_show_upload_and_download(source: Emulator, s3_url: str) -> None:
    env = {
        "CONTROLLER_URL": source.url,
        "CONTROLLER_PASSWORD": "env:TEST_CONTROLLER_PASSWORD",
        "TEST_CONTROLLER_PASSWORD": CONTROLLER_PASSWORD,
        "BACKUP_URL": s3_url,
        "CONTROLLER_READY_TIMEOUT": "10",
        "CONTROLLER_BACKUP_MODE": "export",
        "CONTROLLER_ALLOW_HTTP": "true",
    }
    backup = run_on_terminal(["backup"], env)
    assert backup.returncode == 0, backup.raw[-3000:]
    assert_transfer_shown(backup.screen, "export", "12.0 MiB")
    assert_transfer_shown(backup.screen, "upload", "12.0 MiB")
    assert summaries(backup.screen) == ["export", "upload"]
    assert_never_mixed(backup.screen)

    with Emulator(EmulatorConfig(seed=32, blank=True, private_ip=BLANK_PRIVATE_IP)) as blank:
        restore = run_on_terminal(
            ["restore", "--target-url", blank.url, "--private-ip", BLANK_PRIVATE_IP], env
        )
        assert restore.returncode == 0, restore.raw[-3000:]
        assert blank.export_sha256() == source.export_sha256()
    for leg in ("download", "import", "verifying export"):
        assert_transfer_shown(restore.screen, leg, "12.0 MiB")
    assert summaries(restore.screen) == ["download", "import", "verifying export"]
    assert_never_mixed(restore.screen)

    # status reads the stored bytes back too: the download is drawn on stderr, the verdict on stdout
    status = run_on_terminal(["status"], env)
    assert status.returncode == 0, status.raw[-3000:]
    assert_transfer_shown(status.screen, "download", "12.0 MiB")
    assert "download" not in status.stdout and BAR not in status.stdout
