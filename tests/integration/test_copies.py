"""Copies and the restore's fallback, on local folders (fast; the mixed-cloud runs are in each
cloud's handler tests): docs/design.md, invariant 10."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import sys
import time
from pathlib import Path

import pytest
from controller_backup import cli
from controller_backup.backup_record import RECORD_SUFFIX, read_record
from controller_backup.errors import BadRequest, Conflict, IntegrityError, SettingsError, StoreError
from controller_backup.inspection import fetch_checked
from controller_backup.restore import run_restore
from controller_backup.restore_marker import RestoreMarker
from controller_backup.settings import Settings
from controller_backup.stores import open_store
from controller_backup.targets import operator_target
from controller_emulator import Emulator

from tests.fixtures.controller import BLANK_PRIVATE_IP

from .conftest import CliEnv
from .helpers import actions, backup


def _with_copies(settings: Settings, *copies: Path) -> Settings:
    return dataclasses.replace(settings, copy_urls=tuple(path.as_uri() for path in copies))


def _backed_up_with_a_copy(settings: Settings, tmp_path: Path) -> tuple[Settings, Path]:
    """The settings with one local copy, and that copy, after a backup wrote both."""
    copy = tmp_path / "copy" / "b.tar"
    settings = _with_copies(settings, copy)
    backup(settings)
    return settings, copy


def _tamper(url: str) -> None:
    """Flip bytes of the current version's file in place: its recorded sha256 no longer holds."""
    found = open_store(url).version_file()
    assert found is not None
    path, _ = found
    data = bytearray(path.read_bytes())
    data[100:110] = b"XXXXXXXXXX"
    path.chmod(0o644)
    path.write_bytes(bytes(data))


def _restore(settings: Settings, blank: Emulator, **options: object):  # type: ignore[no-untyped-def]
    target = operator_target(settings, blank.url, BLANK_PRIVATE_IP)
    return run_restore(settings, target=target, **options)  # type: ignore[arg-type]


def _dry_run(settings: Settings, **options: object):  # type: ignore[no-untyped-def]
    """Which backup a restore would push, checked, into the configured controller."""
    return run_restore(settings, dry_run=True, overwrite_configured=True, **options)  # type: ignore[arg-type]


def test_a_failed_copy_never_fails_or_undoes_the_primary(
    controller: Emulator, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A copy that cannot be written (its folder is a file) degrades the result, names where and
    why in one ERROR line, and leaves the primary and the other copy stored and recorded."""
    (tmp_path / "blocked").write_text("a file where a folder should be")
    good, bad = tmp_path / "good" / "b.tar", tmp_path / "blocked" / "b.tar"
    settings = _with_copies(settings, good, bad)
    with caplog.at_level(logging.INFO):
        result = backup(settings)
    assert result.status == "degraded"
    first, second = result.details["copies"]
    assert first == {"url": good.as_uri(), "status": "ok", "version_id": first["version_id"]}
    assert second["status"] == "failed" and second["error"]["code"] == "store"
    failures = [r.getMessage() for r in caplog.records if r.getMessage().startswith("backup copy failed")]
    reason = second["error"]["message"]
    assert failures == [
        f"backup copy failed [store] to {bad.as_uri()}: {reason}; the primary holds the backup"
    ]
    with fetch_checked(open_store(settings.backup_url)) as (_, primary, _summary):
        assert primary.metadata["sha256"] == result.sha256 == controller.export_sha256()
    with fetch_checked(open_store(good.as_uri())) as (_, copy, _summary):
        assert dict(copy.metadata) == dict(primary.metadata)  # the same bytes, the same metadata
    record = read_record(open_store(good.as_uri() + RECORD_SUFFIX))
    assert record is not None and record.sha256 == result.sha256 and record.outcome == "stored"


def test_a_copy_that_missed_a_night_catches_up_while_the_primary_is_unchanged(
    settings: Settings, tmp_path: Path
) -> None:
    first, late = tmp_path / "first" / "b.tar", tmp_path / "late" / "b.tar"
    assert backup(_with_copies(settings, first)).status == "ok"
    result = backup(_with_copies(settings, first, late))
    assert result.status == "unchanged"
    assert [(c["url"], c["status"]) for c in result.details["copies"]] == [
        (first.as_uri(), "unchanged"),
        (late.as_uri(), "ok"),
    ]
    late_record = read_record(open_store(late.as_uri() + RECORD_SUFFIX))
    assert late_record is not None and late_record.sha256 == result.sha256
    # a copy tampered with is not "unchanged": it is written again
    _tamper(first.as_uri())
    again = backup(_with_copies(settings, first, late))
    assert [c["status"] for c in again.details["copies"]] == ["ok", "unchanged"]


def test_restore_falls_back_to_the_newest_copy_that_verifies(
    controller: Emulator, blank_controller: Emulator, settings: Settings, tmp_path: Path
) -> None:
    old, new = tmp_path / "old" / "b.tar", tmp_path / "new" / "b.tar"
    backup(_with_copies(settings, old, new))
    time.sleep(1.1)  # exported_at has whole seconds: the next night must be newer
    controller.state.add_account({"account_name": "another", "cloud_type": 1})
    newest = backup(_with_copies(settings, new))
    _tamper(settings.backup_url)
    settings = _with_copies(settings, old, new)  # the stale copy listed first: newest wins, not order
    result = _restore(settings, blank_controller)
    assert result.status == "ok" and result.details["verified"] is True
    assert result.details["source"] == result.object == new.as_uri()
    assert result.sha256 == newest.sha256 == blank_controller.export_sha256()
    # the newest tampered too: the older copy that verifies is taken
    _tamper(new.as_uri())
    older = _dry_run(settings)
    assert older.status == "dry-run" and older.details["source"] == old.as_uri()
    # nothing verifies: the primary's failure kind, naming every destination's reason
    _tamper(old.as_uri())
    with pytest.raises(
        IntegrityError, match=r"no destination holds a backup that verifies: primary: .*copy 2"
    ):
        _dry_run(settings)


def test_restore_from_a_chosen_destination_only_among_the_configured(
    blank_controller: Emulator, settings: Settings, tmp_path: Path
) -> None:
    settings, copy = _backed_up_with_a_copy(settings, tmp_path)
    result = _restore(settings, blank_controller, source=copy.as_uri())
    assert result.details["source"] == copy.as_uri()
    elsewhere = (tmp_path / "elsewhere.tar").as_uri() + "?token=hunter2-secret"
    with pytest.raises(BadRequest) as refused:
        _dry_run(settings, source=elsewhere)
    assert "hunter2" not in refused.value.message and "configured destinations" in refused.value.message
    assert actions(blank_controller, "import_config") == 1  # refused before any connection


def test_cli_restore_from(cli_env: CliEnv, blank_controller: Emulator, tmp_path: Path) -> None:
    copy = (tmp_path / "copy" / "b.tar").as_uri()
    cli_env(BACKUP_COPY_URLS=copy)
    assert cli.main(["backup", "--json"]) == 0
    restore = ["restore", "--json", "--target-url", blank_controller.url, "--private-ip", BLANK_PRIVATE_IP]
    assert cli.main([*restore, "--from", "s3://other-bucket/b.tar"]) == 2
    assert cli.main([*restore, "--from", copy]) == 0
    assert actions(blank_controller, "import_config") == 1


def test_an_interrupted_restore_resumes_from_the_destination_it_started_with(
    blank_controller: Emulator, settings: Settings, tmp_path: Path
) -> None:
    settings, copy = _backed_up_with_a_copy(settings, tmp_path)
    target = operator_target(settings, blank_controller.url, BLANK_PRIVATE_IP)
    # a run cut off after it claimed the copy (as a fallback would), before any step
    marker = RestoreMarker(settings, target.marker_key("ticket-7") or "", target.url)
    marker.source = copy.as_uri()
    with fetch_checked(open_store(copy.as_uri())) as (_, info, _summary):
        marker.start(info)
    with pytest.raises(Conflict, match="reads another destination"):
        _restore(settings, blank_controller, idempotency_key="ticket-7", source=settings.backup_url)
    result = _restore(settings, blank_controller, idempotency_key="ticket-7")
    assert result.status == "ok" and result.details["source"] == copy.as_uri()
    done = open_store(f"{settings.backup_url}.restores/{target.marker_key('ticket-7')}.json").head()
    assert done is not None and done.metadata["source"] == copy.as_uri()


def test_a_keyed_restore_keeps_its_marker_beside_a_copy_while_the_primary_is_out_of_reach(
    blank_controller: Emulator, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A replacement comes up while the primary's region is down: its event restore must not stop
    at the marker. The marker goes beside the copy the restore read, and a replayed event finds it
    there once the primary is back."""
    settings, copy = _backed_up_with_a_copy(settings, tmp_path)
    primary_folder = tmp_path / "store"
    shutil.move(primary_folder, tmp_path / "store-away")
    primary_folder.write_text("a file where the primary's folder was: every read fails")
    target = operator_target(settings, blank_controller.url, BLANK_PRIVATE_IP)
    key = target.marker_key("ticket-9") or ""
    with caplog.at_level(logging.WARNING, logger="controller_backup.restore_marker"):
        result = _restore(settings, blank_controller, idempotency_key="ticket-9")
    assert result.status == "ok" and result.details["source"] == copy.as_uri()
    assert f"the restore marker is kept at {copy.as_uri()}.restores/{key}.json" in caplog.text
    marker = open_store(f"{copy.as_uri()}.restores/{key}.json").head()
    assert marker is not None and marker.metadata["status"] == "done"
    primary_folder.unlink()
    shutil.move(tmp_path / "store-away", primary_folder)
    again = _restore(settings, blank_controller, idempotency_key="ticket-9")
    assert again.status == "already-restored"
    assert open_store(f"{settings.backup_url}.restores/{key}.json").head() is None
    assert actions(blank_controller, "import_config") == 1


def test_a_restore_marker_that_no_destination_can_keep_names_every_destination(
    blank_controller: Emulator, settings: Settings, tmp_path: Path
) -> None:
    settings, copy = _backed_up_with_a_copy(settings, tmp_path)
    for folder in (tmp_path / "store", copy.parent):
        shutil.rmtree(folder)
        folder.write_text("not a folder")
    with pytest.raises(StoreError, match=r"no destination can keep the restore marker: primary: .*copy 1: "):
        _restore(settings, blank_controller, idempotency_key="ticket-10")
    assert actions(blank_controller, "import_config") == 0


def test_status_and_versions_show_every_destination(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    copy, missing = tmp_path / "copy" / "b.tar", tmp_path / "missing" / "b.tar"
    backup(_with_copies(settings, copy))
    monkeypatch.setenv("BACKUP_URL", settings.backup_url)
    monkeypatch.setenv("BACKUP_COPY_URLS", f"{copy.as_uri()} {missing.as_uri()}")
    assert cli.main(["status", "--json"]) == 8  # the missing copy's exit code: not found
    answer = json.loads(capsys.readouterr().out)
    assert answer["verdict"] == "healthy" and answer["last_backup_source"] == "record"
    assert [(c["object"], c["verdict"]) for c in answer["copies"]] == [
        (copy.as_uri(), "healthy"),
        (missing.as_uri(), "missing"),
    ]
    assert answer["copies"][0]["last_backup_source"] == "record"  # the copy's own record
    assert cli.main(["versions", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [entry["url"] for entry in listed] == [settings.backup_url, copy.as_uri()]


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ('{"COPY": "hunter2-literal"}', "entry 1 is not a secret reference"),
        ('{"s3://elsewhere/b.tar": "env:X"}', "entry 1 names no URL of BACKUP_COPY_URLS"),
        ("not json", "must be a JSON object"),
    ],
)
def test_copy_credentials_are_references_to_configured_copies(
    controller_env: dict[str, str], raw: str, problem: str
) -> None:
    copy = "s3://dr-bucket/b.tar"
    env = {**controller_env, "BACKUP_COPY_URLS": copy, "BACKUP_COPY_CREDENTIALS": raw.replace("COPY", copy)}
    with pytest.raises(SettingsError, match=problem) as failed:
        Settings.from_env(env)
    assert "hunter2" not in failed.value.message


def test_a_copy_to_a_store_the_deployment_does_not_carry_fails_alone_saying_so(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A function's bundle holds its own cloud's store only: as if gcs.py were not in it."""
    monkeypatch.setitem(sys.modules, "controller_backup.stores.gcs", None)
    result = backup(dataclasses.replace(settings, copy_urls=("gs://dr-bucket/b.tar",)))
    assert result.status == "degraded"
    (copy,) = result.details["copies"]
    assert copy["error"] == {
        "code": "settings",
        "message": "BACKUP_COPY_URLS: this deployment carries no Cloud Storage store (a function's bundle "
        "holds its own cloud's unless built with its copies' stores: make package-<cloud> COPIES_TO=gs); "
        "the command line reaches every store",
    }
