"""The command-line glue: sizes, the password rule, and a real serve-until-SIGTERM run."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys

import pytest
import urllib3
from controller_emulator.cli import add_arguments, config_from_args, parse_size, run


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("64K", 64 << 10),
        ("1M", 1 << 20),
        ("256M", 256 << 20),
        ("1G", 1 << 30),
        ("5000", 5000),
        ("2MiB", 2 << 20),
    ],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_bad_size_is_refused() -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_size("lots")


def test_password_is_required_unless_blank(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMULATOR_PASSWORD", raising=False)
    with pytest.raises(ValueError, match="--password"):
        config_from_args(parse())
    assert run(parse()) == 2
    assert config_from_args(parse("--blank")).blank is True
    config = config_from_args(parse("--password", "pw-1234", "--size", "1M", "--api", "v1", "--tls"))
    assert (config.password, config.archive_size, config.api, config.tls) == ("pw-1234", 1 << 20, "v1", True)
    monkeypatch.setenv("EMULATOR_PASSWORD", "from-env-99")
    assert config_from_args(parse()).password == "from-env-99"


def test_module_serves_until_sigterm() -> None:
    env = {**os.environ, "EMULATOR_PASSWORD": "cli-secret-123"}
    process = subprocess.Popen(
        [sys.executable, "-m", "controller_emulator", "--port", "0", "--size", "16K"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("emulator listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        answer = json.loads(urllib3.request("GET", f"{url}/v2/api?action=get_api_token", retries=False).data)
        assert answer["return"] is True
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
        assert process.returncode == 0
        assert "cli-secret-123" not in stderr + line
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
