"""Invariant 7: memory stays flat in the configuration's size.

Backup and restore of a small and a large configuration each run in a fresh process against an
emulator in another process; the large one may not cost more peak RSS than a bounded buffer.
(Memory, not time: timing belongs to bench/run.py.)
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

JOB = r"""
import json, resource, sys
from controller_backup.backup import run_backup
from controller_backup.restore import run_restore
from controller_backup.settings import Settings
url, blank_url, store = sys.argv[1:4]
settings = Settings.from_env({"CONTROLLER_URL": url, "CONTROLLER_PASSWORD": "Mem-Test-Pass-1",
                              "BACKUP_URL": store, "BACKUP_MIN_SIZE_RATIO": "0",
                              "CONTROLLER_BACKUP_MODE": "export", "CONTROLLER_ALLOW_HTTP": "true"})
run_backup(settings)
from controller_backup.targets import operator_target
result = run_restore(settings, target=operator_target(settings, blank_url, "10.0.0.77"))
assert result.status == "ok"
print(json.dumps({"peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "size": result.size}))
"""


def _emulator(size: str, blank: bool) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "controller_backup.cli", "emulator", "--port", "0", "--size", size]
    cmd += ["--blank", "--private-ip", "10.0.0.77"] if blank else ["--password", "Mem-Test-Pass-1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip().rsplit(" ", 1)[-1]


def _peak_kib(size: str, store: str) -> tuple[int, int]:
    original, url = _emulator(size, blank=False)
    blank, blank_url = _emulator(size, blank=True)
    try:
        done = subprocess.run(
            [sys.executable, "-c", JOB, url, blank_url, store],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        for proc in (original, blank):
            proc.terminate()
            proc.wait(timeout=30)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["peak_kib"], result["size"]


@pytest.mark.slow
def test_peak_memory_is_flat_in_configuration_size(tmp_path: Path) -> None:
    small_peak, small_size = _peak_kib("1M", str(tmp_path / "1M" / "backup.tar"))
    large_peak, large_size = _peak_kib("96M", str(tmp_path / "96M" / "backup.tar"))
    assert large_size > 90 * small_size
    # A whole archive in memory would add ~96 MiB; allow a bounded buffer of 16 MiB.
    assert large_peak - small_peak < 16 * 1024, (small_peak, large_peak)


def _cloud_store(kind: str, request: pytest.FixtureRequest) -> str:
    if kind == "s3":
        return str(request.getfixturevalue("s3_url"))
    return f"gs://{request.getfixturevalue('gcs_bucket')}/memory/{uuid.uuid4().hex}/backup.tar"


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["s3", "gs"])
def test_peak_memory_of_a_cloud_backup_is_flat_in_configuration_size(
    kind: str, request: pytest.FixtureRequest
) -> None:
    """S3: the upload takes the spool by path, so s3transfer reads each part from the file as it
    sends it (given the open file, it copies parts into memory ahead of the uploads). Cloud Storage:
    one PUT streamed from the spool (the SDK's resumable upload holds a whole chunk in memory)."""
    store = _cloud_store(kind, request)
    small_peak, _ = _peak_kib("1M", f"{store}-1M")
    large_peak, large_size = _peak_kib("96M", f"{store}-96M")
    assert large_size > 90 * 1024 * 1024
    assert large_peak - small_peak < 16 * 1024, (small_peak, large_peak)
