"""Every fault knob, observed the way a client would see it."""

from __future__ import annotations

import hashlib
import io
import time
from pathlib import Path

import pytest
import urllib3
from controller_emulator import Emulator, EmulatorConfig, InvalidArchive
from controller_emulator.archive import validate_archive
from urllib3.exceptions import ProtocolError

from .conftest import Client, envelope


def test_fail_next_5xx_answers_503_html_then_recovers(client: Client, emulator: Emulator) -> None:
    emulator.faults.fail_next_5xx = 2
    for _ in range(2):
        response = client.post(action="list_version_info", CID=client.cid or "")
        assert response.status == 503
        assert response.headers["Content-Type"].startswith("text/html")
        assert response.data.startswith(b"<!DOCTYPE html>")
    assert client.call("list_version_info")["return"] is True
    assert emulator.faults.fail_next_5xx == 0


def test_error_5xx_rate_is_random_but_seeded(emulator: Emulator, client: Client) -> None:
    emulator.faults.error_5xx_rate = 1.0
    assert client.post(action="list_version_info").status == 503
    emulator.faults.error_5xx_rate = 0.5
    statuses = [client.post(action="list_version_info", CID=client.cid or "").status for _ in range(30)]
    assert set(statuses) == {200, 503}


def test_drop_next_closes_without_an_answer(client: Client, emulator: Emulator) -> None:
    emulator.faults.drop_next = 1
    with pytest.raises(ProtocolError):
        client.post(action="list_version_info", CID=client.cid or "")
    assert client.call("list_version_info")["return"] is True


def test_drop_export_midway_cuts_the_body(client: Client, emulator: Emulator) -> None:
    emulator.faults.drop_export_midway = True
    response = client.export(preload_content=False)
    full = len(emulator.export_bytes())
    assert int(response.headers["Content-Length"]) == full
    received = bytearray()
    with pytest.raises(ProtocolError):
        for chunk in response.stream(4096):
            received += chunk
    assert 0 < len(received) <= full // 2  # the client may lose the last partial read


def test_truncate_export_sends_a_well_formed_half_archive(
    client: Client, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.faults.truncate_export = True
    response = client.export()
    full = emulator.export_bytes()
    assert response.status == 200
    assert int(response.headers["Content-Length"]) == len(response.data) == len(full) // 2
    assert response.data == full[: len(full) // 2]
    path = tmp_path / "half.tar"
    path.write_bytes(response.data)
    with pytest.raises(InvalidArchive):
        validate_archive(path)  # only the archive's own structure gives it away


def test_export_error_envelope(client: Client, emulator: Emulator) -> None:
    emulator.faults.export_error_envelope = True
    assert envelope(client.export()) == {
        "return": False,
        "reason": "Failed to export configuration: disk full",
    }


def test_export_html(client: Client, emulator: Emulator) -> None:
    emulator.faults.export_html = True
    response = client.export()
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.data.startswith(b"<!DOCTYPE html><html>")
    assert b"login" in response.data.lower()


def test_export_empty(client: Client, emulator: Emulator) -> None:
    emulator.faults.export_empty = True
    response = client.export()
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Length"] == "0"
    assert response.data == b""


def test_export_failures_answer_the_envelope(client: Client) -> None:
    client.cid = "expiredexpiredexpire"
    answer = envelope(client.export())
    assert answer["return"] is False


def test_import_delay_and_drop_after_apply(emulator: Emulator) -> None:
    archive = emulator.export_bytes()
    with Emulator(EmulatorConfig(blank=True)) as target:
        client = Client(target.url)
        client.connect(password="10.0.0.10")
        target.faults.import_delay = 0.3
        started = time.monotonic()
        assert envelope(client.import_(archive))["return"] is True
        assert time.monotonic() - started >= 0.3

        target.faults.import_delay = 0.0
        target.faults.import_drop_after_apply = True
        other = Emulator(EmulatorConfig(seed=2)).export_bytes()
        with pytest.raises(ProtocolError):
            client.import_(other)
        assert target.export_sha256() == hashlib.sha256(other).hexdigest()  # applied before the drop


def test_setup_drop_applies_then_drops() -> None:
    with Emulator(EmulatorConfig(blank=True)) as emu:
        client = Client(emu.url)
        client.connect(password="10.0.0.10")
        emu.faults.setup_drop = True
        with pytest.raises(ProtocolError):
            client.post(
                action="initial_setup", subaction="run", target_version="7.1.1794", CID=client.cid or ""
            )
        assert client.call("initial_setup", subaction="check")["return"] is True


def test_a_reboot_from_the_next_request_waits_for_a_slow_client(client: Client, emulator: Emulator) -> None:
    """The boot's clock starts at the first request, however late it comes (a CLI still starting)."""
    emulator.reboot(0.5, from_next_request=True)
    time.sleep(0.7)  # longer than the boot: counted from now, it would be over
    first = envelope(client.post(action="list_version_info", CID=client.cid or ""))
    assert first == {"return": False, "reason": "RequestRefused"}
    time.sleep(0.6)
    assert client.connect()["return"] is True


def test_reboot_is_not_ready_in_rotation_then_sessions_are_gone(client: Client, emulator: Emulator) -> None:
    emulator.reboot(0.6)
    answers: list[object] = []
    for _ in range(4):
        try:
            answers.append(envelope(client.post(action="list_version_info", CID=client.cid or "")))
        except ProtocolError:
            answers.append("dropped")
    assert answers == [
        {"return": False, "reason": "RequestRefused"},
        {"return": False, "reason": "valid action required"},
        {"return": False, "reason": "Valid action required: login"},
        "dropped",
    ]
    time.sleep(0.7)
    assert client.call("list_version_info")["return"] is False  # the old access key is gone too
    assert client.connect()["return"] is True
    assert client.call("list_version_info")["return"] is True


def test_latency_delays_every_answer(emulator: Emulator) -> None:
    emulator.faults.latency = 0.25
    started = time.monotonic()
    response = urllib3.request("GET", f"{emulator.url}/nowhere", retries=False)
    assert response.status == 404
    assert time.monotonic() - started >= 0.25


def test_faults_reset_turns_everything_off(emulator: Emulator) -> None:
    faults = emulator.faults
    faults.fail_next_5xx = faults.drop_next = 3
    faults.export_html = faults.truncate_export = True
    emulator.reboot(60)
    faults.reset()
    assert faults.take_5xx() is False
    assert faults.take_drop() is False
    assert faults.not_ready_answer() is None
    assert not (faults.export_html or faults.truncate_export)


def test_export_page_answers_that_page_with_status_200(client: Client, emulator: Emulator) -> None:
    emulator.faults.export_page = ("text/plain; charset=utf-8", b"maintenance\n" * 100)
    response = client.export()
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.data == b"maintenance\n" * 100
    assert int(response.headers["Content-Length"]) == 1200
    emulator.faults.reset()
    assert client.export().data == emulator.export_bytes()


def test_power_off_refuses_connections_until_power_on_on_the_same_port(
    client: Client, emulator: Emulator
) -> None:
    url = emulator.url
    emulator.power_off()
    with pytest.raises(urllib3.exceptions.NewConnectionError, match="Connection refused"):
        urllib3.PoolManager(retries=False).request("GET", f"{url}/v2/api?action=get_api_token")
    emulator.power_on(booting_seconds=0.5)
    assert emulator.url == url
    fresh = Client(url)
    assert envelope(fresh.get(action="get_api_token")) == {"return": False, "reason": "RequestRefused"}
    time.sleep(0.6)
    assert client.call("list_version_info")["return"] is False  # the restart ended every session
    assert fresh.connect()["return"] is True


def test_native_version_file_knobs(tmp_path: Path) -> None:
    from controller_backup.stores import open_store

    config = EmulatorConfig(bucket_root=str(tmp_path), native_backup_delay=0.0, password="Adm1n-secret!")
    with Emulator(config) as emu:
        client = Client(emu.url)
        assert client.connect()["return"] is True
        emu.state.add_account({"account_name": "backup-acct", "cloud_type": 1})

        def back_up_now(bucket: str) -> tuple[object, bytes | None]:
            answer = client.call(
                "enable_cloudn_backup_config",
                cloud_type="1",
                acct_name="backup-acct",
                bucket_name=bucket,
                multiple_bkup="false",
                now="true",
            )
            assert answer["return"] is True, answer
            emu.native.wait_idle()
            files = f"{tmp_path}/{bucket}/CloudN_{config.private_ip}_save_cloudx"
            version = open_store(f"{files}_version.txt")
            text = None
            if version.head() is not None:
                buffer = io.BytesIO()
                version.download(buffer)
                text = buffer.getvalue()
            return open_store(f"{files}_config.enc").head(), text

        emu.faults.native_version_text = "UserConnect-6.5.1"
        written, text = back_up_now("first")
        assert written is not None and text == b"UserConnect-6.5.1"
        emu.faults.native_skips_version_file = True
        written, text = back_up_now("second")
        assert written is not None and text is None
