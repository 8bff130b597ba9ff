"""The readiness check in native mode: our copy is the controller's own encrypted file, so besides
its hash and version file, the controller's file and version file must still be in its bucket and
agree with it."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from controller_backup.backup import run_backup
from controller_backup.errors import VerifyFailed
from controller_backup.settings import Settings
from controller_backup.stores import SizedSource, open_store
from controller_backup.verify import run_verify
from controller_emulator import Emulator

from .conftest import ORIGINAL_IP
from .helpers import config_file, version_file


def _remove(url: str) -> None:
    """Delete a file the controller wrote into the local stand-in bucket, with its kept versions."""
    path = Path(unquote(urlsplit(url).path))
    path.unlink()
    shutil.rmtree(path.with_name(f".{path.name}.versions"))


def test_a_fresh_native_backup_agrees_with_the_controllers_own_file(
    original: Emulator, settings: Settings
) -> None:
    done = run_backup(settings)
    result = run_verify(settings).to_dict()
    assert result["status"] == "ok" and result["kind"] == "native" and result["sha256"] == done.sha256
    assert result["destinations"][0]["controller_file"] == "same"
    # the controller writes a newer file of its own (its own schedule): our copy still restores
    bucket = str(settings.native_bucket_url)
    open_store(config_file(bucket, ORIGINAL_IP)).put(SizedSource.of(b"\x00newer encrypted backup"), {})
    assert run_verify(settings).to_dict()["destinations"][0]["controller_file"] == "newer"


@pytest.mark.parametrize(
    ("damage", "code", "words"),
    [
        ("config-missing", "not-found", "CloudN_10.1.0.10_save_cloudx_config.enc is missing"),
        ("version-missing", "not-found", "CloudN_10.1.0.10_save_cloudx_version.txt is missing"),
        ("version-differs", "integrity", "says version 7.1.1794, our copy is from 8.0.1-1000.1000"),
    ],
)
def test_a_controller_file_missing_or_disagreeing_fails_the_check(
    original: Emulator, settings: Settings, damage: str, code: str, words: str
) -> None:
    done = run_backup(settings)
    bucket = str(settings.native_bucket_url)
    if damage == "config-missing":
        _remove(config_file(bucket, ORIGINAL_IP))
    elif damage == "version-missing":
        _remove(version_file(bucket, ORIGINAL_IP))
    else:
        open_store(version_file(bucket, ORIGINAL_IP)).put(SizedSource.of(b"UserConnect-7.1.1794"), {})
    with pytest.raises(VerifyFailed) as caught:
        run_verify(settings)
    (found,) = caught.value.result["destinations"]
    assert found["status"] == "failed" and found["error"]["code"] == code
    assert words in found["error"]["message"]
    assert found["sha256"] == done.sha256  # our copy itself verified; the controller's side did not
