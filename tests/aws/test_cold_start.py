"""What importing a handler costs a cold start: only AWS modules, no tracer unless asked for."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.terraform.helpers import ROOT

# Modules already there at start-up do not count: in the all-clouds dev venv a namespace-package
# .pth file (functions-framework's) creates empty `google` modules before any code runs; the Lambda
# package has no such file.
_PROBE = """
import json, sys
before = set(sys.modules)
import functions.aws.backup_handler, functions.aws.restore_handler
roots = sorted({name.split(".")[0] for name in set(sys.modules) - before})
print(json.dumps(roots))
"""


def _imported_roots(**env: str) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_LAMBDA_"))}
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=ROOT,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return list(json.loads(proc.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("tracing", ["true", "false"])
def test_handlers_import_no_other_clouds_sdk(tracing: str) -> None:
    roots = _imported_roots(POWERTOOLS_TRACE_DISABLED=tracing)
    # no other cloud's SDK, and not the command line's terminal library
    foreign = [r for r in roots if r in ("azure", "google", "functions_framework", "grpc", "proto", "rich")]
    assert foreign == []
    assert "functions" in roots and "controller_backup" in roots and "aws_lambda_powertools" in roots


def test_tracer_is_imported_only_when_tracing_is_on() -> None:
    assert "aws_xray_sdk" not in _imported_roots(POWERTOOLS_TRACE_DISABLED="true")
    assert "aws_xray_sdk" in _imported_roots(POWERTOOLS_TRACE_DISABLED="false")


def test_core_logs_become_powertools_json_lines_inside_lambda() -> None:
    probe = (
        "import logging, functions.aws.backup_handler\n"
        "logging.getLogger('controller_backup.backup').info('hello from the core')\n"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_LAMBDA_"))}
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={
            **clean,
            "PYTHONPATH": str(ROOT),
            "AWS_LAMBDA_FUNCTION_NAME": "probe",
            "POWERTOOLS_SERVICE_NAME": "probe",
        },
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    line = json.loads(proc.stdout.strip().splitlines()[-1])
    assert line["message"] == "hello from the core"
    assert line["service"] == "probe" and line["level"] == "INFO"


def test_core_loggers_are_left_alone_outside_lambda() -> None:
    import logging

    import functions.aws.backup_handler  # noqa: F401

    assert logging.getLogger("controller_backup").propagate is True
