"""`status` and `versions` on a local folder: every verdict, its exit code and its words.

Each state is made the way it happens: a real backup from the emulator, a version file corrupted
on disk, a damaged store folder, a record of the last backup written as the backup writes it. The
human view is asserted on its real text, since that is what an operator reads. The same views on
the clouds' stores: tests/aws/test_status_s3.py and tests/azure/test_status_blob.py.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import replace
from pathlib import Path

import pytest
from controller_backup import cli
from controller_backup.inspection import STALE_EXIT, UNVERSIONED_EXIT
from controller_backup.settings import Settings
from controller_backup.stores import SizedSource, open_store
from controller_emulator import Emulator

from tests.fixtures.controller import CONTROLLER_PASSWORD
from tests.integration.helpers import backup, run_cli, stored
from tests.integration.status_helpers import (
    VERSION,
    age_backup,
    check_versions_view,
    make_history,
    status_json,
    status_view,
    write_backup_record,
)

# -- healthy ---------------------------------------------------------------------------------------


def test_healthy_after_a_real_backup(
    settings: Settings, controller: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    result = backup(settings)
    url = open_store(settings.backup_url).url
    code, rows = status_view(capsys, settings.backup_url)
    assert code == 0
    assert list(rows)[:2] == ["backup", "verdict"]
    assert rows["backup"] == url
    assert re.fullmatch(
        r"healthy: the last backup finished \d+ seconds? ago; its bytes match their sha256", rows["verdict"]
    )
    assert re.match(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, \d+ seconds? ago \(alarm after 25 hours\)", rows["last backup"]
    )
    assert rows["version"] == result.version_id
    assert rows["kind"] == "tar"
    assert rows["size"] == f"{result.size / 1024:.1f} KiB ({result.size} bytes)"
    assert rows["sha256"] == result.sha256[:16]
    assert rows["controller"] == f"{controller.url}, version {VERSION}"
    assert re.fullmatch(
        r"1 kept, oldest \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(\d+ seconds? ago\)", rows["versions"]
    )
    assert rows["versioning"] == "on"
    assert rows["verified"] == "just now, by this status: sha256, size and tar structure match"

    code, report = status_json(capsys, settings.backup_url)
    assert code == 0
    assert report["status"] == "ok" and report["verdict"] == "healthy" and report["code"] is None
    assert report["sha256"] == result.sha256 and report["size"] == result.size
    assert report["controller_version"] == VERSION and report["controller"] == controller.url
    assert report["checked"] == "bytes" and report["verified_by"] == "status"
    assert report["versions"] == 1 and report["versioning"] is True
    assert report["max_age_seconds"] == 90000 and 0 <= report["age_seconds"] < 60

    code, rows = status_view(capsys, settings.backup_url, "--no-read")
    assert code == 0
    assert rows["verdict"].endswith("; its bytes were not read (--no-read)")
    assert rows["verified"].endswith("metadata only: this status did not read the bytes (--no-read)")


# -- stale ------------------------------------------------------------------------------------------


def test_stale_by_the_record_of_the_last_backup(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """The record, not the object, says when a backup last succeeded: an unchanged configuration
    writes no new version, so an old object with a fresh record is healthy, and an old record is
    stale however the object looks."""
    backup(settings)
    aged = age_backup(settings, hours=30)
    write_backup_record(settings, aged, hours_ago=26)
    code, rows = status_view(capsys, settings.backup_url)
    assert code == 14
    assert rows["verdict"] == (
        "STALE: no successful backup in the last 25 hours (--max-age); the last one finished 26 hours ago"
    )
    assert rows["last backup"].endswith(
        ", 26 hours ago (alarm after 25 hours): unchanged (nothing new to store), trigger schedule"
    )
    code, report = status_json(capsys, settings.backup_url)
    assert (code, report["verdict"], report["code"], report["status"]) == (14, "stale", "stale", "fail")
    assert report["last_backup_source"] == "record" and report["last_backup_outcome"] == "unchanged"

    code, rows = status_view(capsys, settings.backup_url, "--max-age", "2d")
    assert code == 0 and rows["verdict"].startswith("healthy: the last backup finished 26 hours ago")
    assert "(alarm after 2 days)" in rows["last backup"]

    write_backup_record(settings, aged, hours_ago=2)
    code, rows = status_view(capsys, settings.backup_url, "--no-read")
    assert code == 0
    assert rows["last backup"].endswith(
        ", 2 hours ago (alarm after 25 hours): unchanged (nothing new to store), trigger schedule"
    )
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(2 hours ago\), by the backup's read-back; "
        r"metadata only: this status did not read the bytes \(--no-read\)",
        rows["verified"],
    )


def test_a_record_of_other_bytes_is_not_believed(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    backup(settings)
    aged = age_backup(settings, hours=30)
    write_backup_record(settings, aged, hours_ago=0, sha256="0" * 64)
    code, rows = status_view(capsys, settings.backup_url)
    assert code == 14
    assert rows["verdict"].endswith("; the last one finished 30 hours ago")
    assert rows["last backup"].endswith(", 30 hours ago (alarm after 25 hours): the object's export time")
    assert re.fullmatch(
        r"the backup record \(finished \S+\) describes other bytes \(sha256 0{16}\), "
        r"so the object's own time is used\n",
        rows["note"],
    )


def test_max_age_takes_the_forms_operators_write(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    backup(settings)
    write_backup_record(settings, age_backup(settings, hours=2), hours_ago=2)
    for max_age, expected, words in (
        ("90m", 14, "1 hour 30 minutes"),
        ("3h", 0, "3 hours"),
        ("3600s", 14, "1 hour"),
    ):
        code, rows = status_view(capsys, settings.backup_url, "--no-read", "--max-age", max_age)
        assert code == expected, max_age
        assert f"(alarm after {words})" in rows["last backup"]


# -- missing -------------------------------------------------------------------------------------


def test_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = (tmp_path / "nothing" / "controller.tar").as_uri()
    code = cli.main(["status", "--backup-url", url])
    assert code == 8
    assert capsys.readouterr().out.splitlines() == [
        f"backup      {url}",
        "verdict     MISSING: no backup is stored there",
        "versioning  on",
    ]
    assert not (tmp_path / "nothing").exists()  # a look creates nothing
    code, report = status_json(capsys, url)
    assert (code, report["verdict"], report["code"], report["status"]) == (8, "missing", "not-found", "fail")
    assert cli.main(["versions", "--backup-url", url]) == 8
    printed = capsys.readouterr()
    assert "no backup stored yet" in printed.out + printed.err


def test_missing_with_a_record_says_the_object_is_gone(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    backup(settings)
    _, info = stored(settings)
    gone = settings.backup_url.replace("controller.tar", "gone.tar")
    write_backup_record(replace(settings, backup_url=gone), info, hours_ago=1)
    code, rows = status_view(capsys, gone)
    assert code == 8
    assert rows["verdict"] == "MISSING: no backup is stored there"
    assert rows["last backup"].endswith(
        ", 1 hour ago (alarm after 25 hours): unchanged (nothing new to store), trigger schedule"
    )
    assert re.fullmatch(
        r"the backup record says a backup finished at \S+, but the object it stored is gone\n", rows["note"]
    )


# -- unreadable -----------------------------------------------------------------------------------


def _version_file(settings: Settings) -> Path:
    _, info = stored(settings)
    store_path = Path(open_store(settings.backup_url).url.removeprefix("file://"))
    return store_path.parent / f".{store_path.name}.versions" / f"{info.version_id}.data"


def test_unreadable_when_the_stored_bytes_are_corrupted(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    backup(settings)
    with open(_version_file(settings), "r+b") as data:
        data.seek(40_000)
        byte = data.read(1)
        data.seek(40_000)
        data.write(bytes([byte[0] ^ 0xFF]))
    code, rows = status_view(capsys, settings.backup_url)
    assert code == 9
    url = open_store(settings.backup_url).url
    assert rows["verdict"] == (
        f"UNREADABLE: it would not restore: {url}: sha256 of the stored bytes does not match its metadata"
    )
    assert rows["verified"].endswith("reading the bytes now failed (see the verdict)")
    assert rows["sha256"] and rows["version"]  # what the object claims, to name the version that failed
    code, report = status_json(capsys, settings.backup_url)
    assert (code, report["verdict"], report["code"]) == (9, "unreadable", "integrity")
    # metadata alone cannot see it: why status reads the bytes unless told not to
    assert status_view(capsys, settings.backup_url, "--no-read")[0] == 0


def test_unreadable_when_the_bytes_are_no_archive_or_the_metadata_lies(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    backup(settings)
    _, info = stored(settings)
    store = open_store(settings.backup_url)
    junk = bytes(range(256)) * 64
    metadata = {**info.metadata, "sha256": hashlib.sha256(junk).hexdigest(), "size": str(len(junk))}
    store.put(SizedSource.of(junk), metadata)
    code, rows = status_view(capsys, settings.backup_url)
    assert code == 9
    assert rows["verdict"] == (
        "UNREADABLE: it would not restore: the export is 16 KiB of an unknown binary format, "
        "not a tar archive or a gzip of one"
    )
    # a size the object does not have is seen without reading a byte
    store.put(SizedSource.of(junk), {**metadata, "size": "99"})
    code, rows = status_view(capsys, settings.backup_url, "--no-read")
    assert code == 9
    assert rows["verdict"] == (
        f"UNREADABLE: it would not restore: {store.url}: "
        "the object holds 16384 bytes, its metadata records 99"
    )


def test_unreadable_store_exits_8(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    backup(settings)
    current = _version_file(settings).parent / "CURRENT"
    current.write_text("not a version id")
    code, rows = status_view(capsys, settings.backup_url)
    assert code == 8
    url = open_store(settings.backup_url).url
    assert rows["verdict"] == (
        f"UNREADABLE: it would not restore: {url}: CURRENT holds no version id; the store folder is damaged"
    )
    assert "the versions could not be listed" in rows["note"]
    code, report = status_json(capsys, settings.backup_url)
    assert (code, report["verdict"], report["code"]) == (8, "unreadable", "store")


# -- versions --------------------------------------------------------------------------------------


def test_versions_in_a_local_folder(
    settings: Settings, controller: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    check_versions_view(capsys, settings, make_history(settings, controller))
    code, rows = status_view(capsys, settings.backup_url)
    assert code == 0 and rows["versions"].startswith("3 kept, oldest ")


def test_versions_limit_must_be_positive(settings: Settings) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["versions", "--backup-url", settings.backup_url, "--limit", "0"])
    assert exit_info.value.code == 2


# -- as an operator runs it -----------------------------------------------------------------------


def test_exit_codes_through_a_real_process(controller_env: dict[str, str], settings: Settings) -> None:
    env = controller_env | {"TEST_CONTROLLER_PASSWORD": CONTROLLER_PASSWORD}
    missing = run_cli("status", env=env)
    assert missing.returncode == 8 and "verdict     MISSING: no backup is stored there" in missing.stdout
    assert run_cli("backup", env=env).returncode == 0
    healthy = run_cli("status", env=env)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert healthy.stdout.splitlines()[1].startswith("verdict      healthy: ")
    time.sleep(1.1)
    stale = run_cli("status", "--max-age", "1s", "--json", env=env)
    assert stale.returncode == 14 and json.loads(stale.stdout)["verdict"] == "stale"
    wrong = run_cli("status", "--max-age", "25 hours", env=env)
    assert wrong.returncode == 2 and "must be seconds or a number with s/m/h/d" in wrong.stderr
    helped = run_cli("--help")
    assert "14 status: stale" in helped.stdout and "15 status: unversioned store" in helped.stdout
    assert CONTROLLER_PASSWORD not in "".join(p.stdout + p.stderr for p in (missing, healthy, stale, wrong))


def test_the_readme_and_the_help_document_both_new_exit_codes() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert f"| {STALE_EXIT} | `stale` | `status`: no successful backup within `--max-age` |" in readme
    assert f"| {UNVERSIONED_EXIT} | `unversioned` | `status`: " in readme
    assert f"{STALE_EXIT} status: stale" in (cli.__doc__ or "")
    assert f"{UNVERSIONED_EXIT} status: unversioned store" in (cli.__doc__ or "")
