"""The readiness check (`verify`) in export mode: every destination downloaded, hashed, walked and
aged; one bad copy fails the check, names itself, and stops no other destination from being checked.

The copies are written here with `store.put` (the same bytes and metadata a backup gives them),
so the check is tested on its own.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from controller_backup import cli
from controller_backup.errors import VerifyFailed
from controller_backup.settings import Settings
from controller_backup.stores import SizedSource, open_store
from controller_backup.verify import run_verify
from controller_backup.verify_record import read_verify_record, verify_record_url
from controller_emulator import Emulator

from .conftest import CliEnv
from .helpers import backup, stored


def _copy(settings: Settings, url: str, *, flip: bool = False, **metadata: str) -> None:
    """Write the primary's backup to `url` as a copy would; `flip` alters a byte, not the metadata."""
    body, info = stored(settings)
    if flip:
        body = body[:100] + bytes([body[100] ^ 1]) + body[101:]
    open_store(url).put(SizedSource.of(body), {**info.metadata, **metadata})


def _record(url: str) -> dict[str, str]:
    record = read_verify_record(open_store(verify_record_url(url)))
    assert record is not None, url
    return record.to_metadata()


def test_good_destinations_pass_and_each_gets_its_record(
    controller: Emulator, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    done = backup(settings)
    copy = (tmp_path / "copy" / "controller.tar").as_uri()
    _copy(settings, copy)
    settings = dataclasses.replace(settings, copy_urls=(copy,))
    with caplog.at_level(logging.INFO, logger="controller_backup.verify"):
        result = run_verify(settings, trigger="schedule").to_dict()
    assert result["status"] == "ok" and result["job"] == "verify" and result["failed"] == 0
    assert result["sha256"] == done.sha256 and result["kind"] == "tar"
    assert [(d["url"], d["status"], d["sha256"]) for d in result["destinations"]] == [
        (settings.backup_url, "ok", done.sha256),
        (copy, "ok", done.sha256),
    ]
    assert all(0 <= d["age_seconds"] < 60 for d in result["destinations"])
    for url in (settings.backup_url, copy):
        record = _record(url)
        assert record["outcome"] == "passed" and record["sha256"] == done.sha256
        assert record["trigger"] == "schedule" and record["error_code"] == ""
    lines = [r.getMessage() for r in caplog.records if r.name == "controller_backup.verify"]
    assert [line for line in lines if line.startswith("verify passed")] and not [
        line for line in lines if line.startswith("verify failed")
    ]


def test_a_tampered_an_old_and_a_missing_copy_each_fail_by_name(
    controller: Emulator, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    done = backup(settings)
    tampered, old, missing = (tmp_path / name / "controller.tar" for name in ("tampered", "old", "missing"))
    _copy(settings, tampered.as_uri(), flip=True)
    exported = (datetime.now(UTC) - timedelta(days=4)).isoformat(timespec="seconds")
    _copy(settings, old.as_uri(), exported_at=exported)  # no backup record beside it vouches for it
    urls = (tampered.as_uri(), old.as_uri(), missing.as_uri())
    settings = dataclasses.replace(settings, copy_urls=urls)
    with (
        caplog.at_level(logging.INFO, logger="controller_backup.verify"),
        pytest.raises(VerifyFailed) as caught,
    ):
        run_verify(settings, trigger="schedule")
    failure = caught.value
    assert failure.failed == 3 and failure.exit_code == 16 and failure.code == "verify-failed"
    result = failure.result
    assert result["status"] == "failed" and result["sha256"] == done.sha256  # the primary passed
    found = {d["url"]: d for d in result["destinations"]}
    assert found[settings.backup_url]["status"] == "ok"
    codes = {url: found[url]["error"]["code"] for url in urls}
    assert codes == {urls[0]: "integrity", urls[1]: "stale", urls[2]: "not-found"}
    assert "RESTORE_MAX_BACKUP_AGE" in found[urls[1]]["error"]["message"]
    for url in urls:
        assert url in failure.message
    # one ERROR line per failed destination, each starting with the words the alarms match
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert sorted(errors) == sorted(
        f"verify failed [{codes[url]}] {url}: {found[url]['error']['message']}" for url in urls
    )
    assert not [r for r in caplog.records if r.getMessage().startswith("verify passed")]
    # each destination's record says what was found there; the primary's says it passed
    assert _record(settings.backup_url)["outcome"] == "passed"
    assert (_record(urls[0])["outcome"], _record(urls[0])["error_code"]) == ("failed", "integrity")
    assert _record(urls[2])["error_code"] == "not-found" and _record(urls[2])["sha256"] == ""
    # nothing the check did touched a backup
    assert stored(settings)[1].metadata["sha256"] == done.sha256
    assert tampered.read_bytes() != stored(settings)[0]


def test_cli_verify_checks_the_primary_alone_unless_all(
    settings: Settings, cli_env: CliEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup(settings)
    copy = (tmp_path / "copy" / "controller.tar").as_uri()
    _copy(settings, copy, flip=True)
    cli_env(BACKUP_COPY_URLS=copy)
    assert cli.main(["verify", "--json"]) == 0
    primary = json.loads(capsys.readouterr().out)
    assert [d["url"] for d in primary["destinations"]] == [settings.backup_url]
    assert read_verify_record(open_store(verify_record_url(copy))) is None

    assert cli.main(["verify", "--all"]) == 16
    error = capsys.readouterr().err
    assert error.startswith("error [verify-failed]: 1 of 2 destination(s) would not restore: ")
    assert f"{copy} [integrity]" in error

    # status shows each destination's last verification (the tampered copy fails it), in both forms
    assert cli.main(["status"]) == 9
    lines = [row for row in capsys.readouterr().out.splitlines() if row.startswith("last verify")]
    assert len(lines) == 2 and lines[0].endswith("passed") and "failed" in lines[1], lines
    assert cli.main(["status", "--json", "--backup-url", copy]) == 9
    shown = json.loads(capsys.readouterr().out)["last_verify"]
    assert shown["outcome"] == "failed" and shown["error_code"] == "integrity"
