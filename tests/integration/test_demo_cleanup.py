"""The demo leaves nothing in the temporary folder, passed or failed, unless --workdir keeps it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from controller_backup.errors import ControllerError
from controller_emulator import demo


def _demo(*args: str, tmpdir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTROLLER_", "BACKUP_"))}
    env["TMPDIR"] = str(tmpdir)
    return subprocess.run(
        [sys.executable, "-m", "controller_backup.cli", "demo", "--size", "256K", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_the_demo_removes_its_temporary_folder(tmp_path: Path) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    done = _demo(tmpdir=tmpdir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "demo passed" in done.stdout
    removed = [line for line in done.stdout.splitlines() if line.startswith("removed ")]
    assert len(removed) == 1 and str(tmpdir) in removed[0] and "--workdir" in removed[0]
    assert list(tmpdir.iterdir()) == []


def test_a_workdir_is_kept_and_the_temporary_folder_stays_empty(tmp_path: Path) -> None:
    tmpdir, workdir = tmp_path / "tmp", tmp_path / "kept" / "demo"
    tmpdir.mkdir()
    done = _demo("--json", "--workdir", str(workdir), tmpdir=tmpdir)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert summary["kept"] is True
    assert (workdir / "controller-backup.tar").stat().st_size == summary["size"]
    assert list(tmpdir.iterdir()) == []


def test_a_json_summary_says_the_folder_was_not_kept(tmp_path: Path) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    done = _demo("--json", tmpdir=tmpdir)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert summary["kept"] is False and summary["match"] is True
    assert not Path(summary["object"]).exists() and list(tmpdir.iterdir()) == []


def test_a_failed_demo_removes_its_temporary_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))
    monkeypatch.setenv("DEMO_CONTROLLER_PASSWORD", "restored-at-teardown")
    seen: list[Path] = []

    def failing_restore(settings: Any, **_: Any) -> Any:
        seen.extend(tmpdir.rglob("controller-backup.tar"))  # the backup was there when it failed
        raise ControllerError("injected restore failure")

    monkeypatch.setattr(demo, "run_restore", failing_restore)
    with pytest.raises(ControllerError, match="injected"):
        demo.run_demo(size=64 * 1024, quiet=True)
    assert len(seen) == 1
    assert list(tmpdir.iterdir()) == []
