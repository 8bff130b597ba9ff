"""main.py as Cloud Functions runs it: the `functions-framework` command in its own process, and
an import that loads no other cloud's SDK."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import requests
from controller_emulator import Emulator

from tests.fixtures.controller import CONTROLLER_PASSWORD
from tests.fixtures.gcp import free_port

from .conftest import MAIN

#: other clouds' SDKs, the test servers, and the command line's terminal library
FOREIGN_MODULES = ("boto3", "botocore", "aws_lambda_powertools", "azure", "s3transfer", "moto", "rich")


def test_import_main_loads_no_other_cloud() -> None:
    code = (
        "import sys, json\n"
        f"sys.path.insert(0, {str(MAIN.parent)!r})\n"
        "import main\n"
        "assert callable(main.backup_http) and callable(main.restore_event)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    modules = json.loads(proc.stdout.strip().splitlines()[-1])
    foreign = [m for m in modules if m.split(".")[0] in FOREIGN_MODULES]
    assert foreign == []
    # the storage SDK loads with the module; Secret Manager's on the first gcp-sm: fetch
    assert "google.cloud.storage" in modules and "google.cloud.secretmanager_v1" not in modules


def _wait_for(url: str, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"functions-framework exited {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}"
            )
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError("functions-framework did not start")


def test_functions_framework_command_serves_a_scheduled_backup(
    function_env: dict[str, str], controller: Emulator, tmp_path: Path
) -> None:
    """`functions-framework --target backup_http`, the runtime's own command, in a subprocess."""
    port = free_port()
    binary = Path(sys.executable).parent / "functions-framework"
    assert binary.exists(), "functions-framework is not installed in this environment"
    log_path = tmp_path / "function.log"
    env = {**os.environ, **function_env, "PYTHONUNBUFFERED": "1"}
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                str(binary),
                "--target",
                "backup_http",
                "--source",
                str(MAIN),
                "--port",
                str(port),
                "--host",
                "127.0.0.1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            text=True,
        )
    try:
        _wait_for(f"http://127.0.0.1:{port}/", proc)
        response = requests.post(
            f"http://127.0.0.1:{port}/", json={"action": "backup", "trigger": "schedule"}, timeout=60
        )
        assert response.status_code == 200, response.text
        assert response.json()["sha256"] == controller.export_sha256()
        bad = requests.post(f"http://127.0.0.1:{port}/", data=b"{", timeout=30)
        assert bad.status_code == 400 and "the request body is not JSON" in bad.json()["error"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    output = log_path.read_text()
    assert CONTROLLER_PASSWORD not in output
    entries = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert any(e.get("result", {}).get("status") == "ok" and e["severity"] == "INFO" for e in entries)
    assert any(e["severity"] == "WARNING" and "the request body is not JSON" in e["message"] for e in entries)
