"""A cloud SDK that is not installed, met by the real command line: a settings error (exit 2) that
names the backend, the module and the extra to install; never a traceback, in either output form.

Each run is a fresh process whose import system refuses the SDK's modules, as on a machine where
the extra was never installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from controller_emulator import Emulator

from tests.fixtures.controller import CONTROLLER_PASSWORD

#: every distribution an extra brings, by the top-level modules it installs
_AWS = ("boto3", "botocore", "s3transfer", "aws_lambda_powertools")
_AZURE = ("azure",)
_GCP = ("google", "google_crc32c")

#: run the CLI with `sys.argv[1]` (comma-separated module prefixes) unimportable
_BLOCKED_CLI = """
import sys

blocked = tuple(sys.argv.pop(1).split(","))


class Uninstalled:
    def find_spec(self, name, path=None, target=None):
        if any(name == prefix or name.startswith(prefix + ".") for prefix in blocked):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, Uninstalled())
from controller_backup.cli import main

sys.exit(main())
"""


def _cli(blocked: tuple[str, ...], *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTROLLER_", "BACKUP_", "AZURE_"))}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-c", _BLOCKED_CLI, ",".join(blocked), *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        check=False,
    )


def _assert_settings_error(done: subprocess.CompletedProcess[str], json_mode: bool, *expected: str) -> None:
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "Traceback" not in output and "ModuleNotFoundError" not in output, output
    if json_mode:
        error = json.loads(done.stdout)
        assert error["status"] == "error" and error["code"] == "settings", error
        message = error["error"]
    else:
        assert done.stdout == "", output  # errors go to stderr, once
        errors = [line for line in done.stderr.splitlines() if line.startswith("error [settings]: ")]
        assert len(errors) == 1, output
        message = errors[0]
    for text in expected:
        assert text in message, message


_INSTALL = "pip install 'controller-backup[cli]'"


@pytest.mark.parametrize("json_mode", [False, True], ids=["human", "json"])
@pytest.mark.parametrize(
    ("url", "blocked", "expected"),
    [
        ("s3://backups/controller.tar", _AWS, ("s3:// needs boto3", "controller-backup[aws]")),
        (
            "azblob://backupacct/backups/controller.tar",
            _AZURE,
            ("azblob:// needs azure.storage.blob", "controller-backup[azure]"),
        ),
        (
            "https://backupacct.blob.core.windows.net/backups/controller.tar",
            _AZURE,
            ("azblob:// needs azure.storage.blob", "controller-backup[azure]"),
        ),
        ("gs://backups/controller.tar", _GCP, ("gs:// needs google.cloud.storage", "controller-backup[gcp]")),
        # with the storage SDK installed, only the credential library it imports in from_url is
        # missing (where no Azure SDK is installed, as in the core-only venvs, the same refusal)
        (
            "azblob://backupacct/backups/controller.tar",
            ("azure.identity",),
            ("azblob:// needs azure.storage.blob", "controller-backup[azure]"),
        ),
    ],
    ids=["s3", "azblob", "azblob-https", "gs", "azblob-without-identity"],
)
@pytest.mark.parametrize("command", ["status", "verify"])
def test_a_store_without_its_sdk_is_a_settings_error(
    command: str, url: str, blocked: tuple[str, ...], expected: tuple[str, ...], json_mode: bool
) -> None:
    args = [command, "--json"] if json_mode else [command]
    # the readiness check reads the deployment's settings (its password only as a reference)
    readiness = {"CONTROLLER_PASSWORD": "env:UNUSED", "CONTROLLER_BACKUP_MODE": "export"}
    done = _cli(blocked, *args, env={"BACKUP_URL": url, **(readiness if command == "verify" else {})})
    _assert_settings_error(done, json_mode, _INSTALL, *expected)


@pytest.mark.parametrize("json_mode", [False, True], ids=["human", "json"])
@pytest.mark.parametrize(
    ("reference", "blocked", "expected"),
    [
        ("aws-sm:prod/controller#password", _AWS, ("aws-sm: needs aws_lambda_powertools", "[aws]")),
        ("aws-ssm:/prod/controller/password", _AWS, ("aws-ssm: needs aws_lambda_powertools", "[aws]")),
        (
            "azure-kv:prodvault/controller-password",
            _AZURE,
            ("azure-kv: needs azure.keyvault.secrets", "[azure]"),
        ),
        (
            "gcp-sm:projects/p/secrets/controller-password/versions/latest",
            _GCP,
            ("gcp-sm: needs google.cloud.secretmanager_v1", "[gcp]"),
        ),
        # with the rest of the SDK installed, the module loads and only the part its resolver
        # imports on first use is missing
        (
            "aws-sm:prod/controller",
            ("aws_lambda_powertools",),
            ("aws-sm: needs aws_lambda_powertools", "[aws]"),
        ),
        (
            "gcp-sm:projects/p/secrets/controller-password",
            ("google.cloud.secretmanager", "google.cloud.secretmanager_v1"),
            ("gcp-sm: needs google.cloud.secretmanager_v1", "[gcp]"),
        ),
    ],
    ids=["aws-sm", "aws-ssm", "azure-kv", "gcp-sm", "aws-sm-without-powertools", "gcp-sm-without-client"],
)
def test_a_secret_backend_without_its_sdk_is_a_settings_error(
    controller_env: dict[str, str],
    controller: Emulator,
    reference: str,
    blocked: tuple[str, ...],
    expected: tuple[str, ...],
    json_mode: bool,
) -> None:
    """The password is resolved at login, so this runs a backup against an emulated controller."""
    env = controller_env | {"CONTROLLER_PASSWORD": reference}
    done = _cli(blocked, *(["backup", "--json"] if json_mode else ["backup"]), env=env)
    _assert_settings_error(done, json_mode, _INSTALL, *expected)
    assert not any(action == "login" for _, _, action in controller.requests)  # no password was sent
    assert CONTROLLER_PASSWORD not in done.stdout + done.stderr


def test_the_blocker_blocks_only_what_it_names(controller_env: dict[str, str]) -> None:
    """The same wrapper with another cloud's SDK blocked reaches the store: the refusals above come
    from the missing SDK, not from the wrapper."""
    done = _cli(_GCP, "status", "--json", env=controller_env)
    assert done.returncode == 8 and json.loads(done.stdout)["code"] == "not-found", done.stdout + done.stderr


# -- the emulator's extra ------------------------------------------------------------------------

#: the libraries the `emulator` extra brings (cryptography through trustme)
_EMULATOR_LIBRARIES = ("python_multipart", "trustme", "cryptography")
_EMULATOR_INSTALL = "pip install 'controller-backup[emulator]'"


@pytest.mark.parametrize("json_mode", [False, True], ids=["human", "json"])
@pytest.mark.parametrize("library", _EMULATOR_LIBRARIES)
def test_the_demo_without_the_emulator_extra_is_a_settings_error(library: str, json_mode: bool) -> None:
    done = _cli((library,), "demo", *(["--json"] if json_mode else []), env={})
    _assert_settings_error(done, json_mode, f"the emulator needs {library}", _EMULATOR_INSTALL)


def test_the_emulator_without_its_extra_is_a_settings_error() -> None:
    done = _cli(("python_multipart",), "emulator", "--blank", env={})
    _assert_settings_error(done, False, "the emulator needs python_multipart", _EMULATOR_INSTALL)


def test_a_demo_size_without_the_emulator_extra_is_a_usage_error() -> None:
    """`demo --size` is read in the emulator's units while the arguments are parsed."""
    done = _cli(("trustme",), "demo", "--size", "1M", env={})
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "argument --size: the emulator needs trustme" in done.stderr
    assert _EMULATOR_INSTALL in done.stderr


def test_every_other_command_runs_without_the_emulator_extra(tmp_path: Path) -> None:
    """The command line imports the emulator only in its two commands: the rest work without it."""
    done = _cli(_EMULATOR_LIBRARIES, "status", "--json", env={"BACKUP_URL": str(tmp_path / "none.tar")})
    assert done.returncode == 8 and json.loads(done.stdout)["code"] == "not-found", done.stdout + done.stderr
