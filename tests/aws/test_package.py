"""The Lambda package: built by scripts/package_aws.py, and a backup run from nothing but its contents.

The run uses this machine's Python (3.11; the package targets Lambda's 3.12, whose wheels here are
pure Python apart from wrapt, which falls back to Python) with `-S`, so only the standard library
and the unpacked zip are importable: a module missing from the package fails the test.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from controller_backup.emulator import Emulator

from tests.terraform.helpers import ROOT

from .conftest import EVENTS

_spec = importlib.util.spec_from_file_location("package_aws", ROOT / "scripts" / "package_aws.py")
assert _spec and _spec.loader
package_aws = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(package_aws)


@pytest.fixture(scope="module")
def lambda_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("dist") / "lambda.zip"
    return Path(package_aws.build(output))


@pytest.fixture(scope="module")
def unpacked(lambda_zip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("unpacked")
    with zipfile.ZipFile(lambda_zip) as archive:
        archive.extractall(target)
    return target


def test_package_holds_the_handlers_the_core_and_only_aws_dependencies(lambda_zip: Path) -> None:
    with zipfile.ZipFile(lambda_zip) as archive:
        names = archive.namelist()
    roots = {n.split("/")[0] for n in names}
    assert {
        "functions",
        "controller_backup",
        "boto3",
        "botocore",
        "aws_lambda_powertools",
        "urllib3",
    } <= roots
    assert not {
        r for r in roots if r.startswith(("azure", "google", "functions_framework", "moto", "pytest"))
    }
    for handler in ("backup_handler", "restore_handler", "common", "__init__"):
        assert f"functions/aws/{handler}.py" in names
    models = {n.split("/")[2] for n in names if n.startswith("botocore/data/") and n.count("/") >= 3}
    assert models == set(package_aws.BOTOCORE_SERVICES)
    assert not any("__pycache__" in n for n in names)
    assert lambda_zip.stat().st_size < 50 * 2**20


def test_package_is_reproducible(lambda_zip: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.zip"
    package_aws.build(again)
    with zipfile.ZipFile(lambda_zip) as first, zipfile.ZipFile(again) as second:
        assert first.namelist() == second.namelist()
        changed = [n for n in first.namelist() if first.read(n) != second.read(n)]
    assert changed == []
    assert again.read_bytes() == lambda_zip.read_bytes()


def test_a_scheduled_backup_runs_from_the_unpacked_package_alone(
    unpacked: Path, controller: Emulator, lambda_env: dict[str, str]
) -> None:
    probe = f"""
import json, sys
sys.path.insert(0, {str(unpacked)!r})
import functions.aws.backup_handler as h
assert h.__file__.startswith({str(unpacked)!r}), h.__file__
class Context:
    function_name = "probe"; function_version = "$LATEST"; memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:probe"
    aws_request_id = "probe-request"
    def get_remaining_time_in_millis(self): return 60000
event = json.loads(open({str(EVENTS / "scheduler_backup.json")!r}).read())
print("RESULT " + json.dumps(h.handler(event, Context())))
foreign = sorted({{m.split(".")[0] for m in sys.modules}} & {{"azure", "google", "moto", "pytest"}})
print("FOREIGN " + json.dumps(foreign))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "POWERTOOLS_"))}
    proc = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        env={**env, "AWS_LAMBDA_FUNCTION_NAME": "probe"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    result = json.loads(next(line for line in lines if line.startswith("RESULT "))[7:])
    assert result["status"] == "ok" and result["sha256"] == controller.export_sha256()
    assert json.loads(next(line for line in lines if line.startswith("FOREIGN "))[8:]) == []
    # inside Lambda the core's own log lines come out as Powertools JSON, with the correlation id
    messages = [json.loads(line) for line in lines if line.startswith('{"level"')]
    core = [m for m in messages if m["location"].startswith("run_backup")]
    assert core, proc.stdout[:3000]
    assert all(m["correlation_id"] == "probe-request" for m in core)  # the invocation's request id
