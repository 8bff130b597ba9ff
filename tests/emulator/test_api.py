"""The API's conventions over real HTTP: token, login, CIDs, versions, setup, parameter styles."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import time

import pytest
import urllib3
from controller_emulator import Emulator, EmulatorConfig, read_manifest

from .conftest import PASSWORD, Client, envelope

CID_REASONS = ("CID is invalid or expired.", "Invalid session. Please login again.", "Session ")


def test_v2_token_login_and_export(emulator: Emulator) -> None:
    client = Client(emulator.url)
    login = client.connect()
    assert login["return"] is True
    assert "authorized successfully" in login["results"]
    assert len(login["CID"]) == 20 and login["CID"].isalnum()
    response = client.export()
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["X-Controller-Version"] == "8.0.1-1000.1000"
    assert int(response.headers["Content-Length"]) == len(response.data)
    assert hashlib.sha256(response.data).hexdigest() == emulator.export_sha256()
    assert response.data == emulator.export_bytes()
    assert read_manifest(io.BytesIO(response.data))["controller"] == "controller-a"


def test_v2_login_requires_the_access_key(emulator: Emulator) -> None:
    client = Client(emulator.url)
    answer = client.call("login", username="admin", password=PASSWORD)
    assert answer == {"return": False, "reason": "Invalid access key"}
    client.token = "not-a-token"
    assert client.call("login", username="admin", password=PASSWORD)["reason"] == "Invalid access key"


def test_v2_calls_after_login_need_only_the_cid(client: Client) -> None:
    """The official clients send X-Access-Key with `login` only; later calls carry the CID."""
    client.token = None
    answer = client.call("list_version_info")
    assert answer["return"] is True, answer


def test_bad_password_is_refused(emulator: Emulator) -> None:
    answer = Client(emulator.url).connect(password="wrong")
    assert answer == {"return": False, "reason": "Invalid username or password"}


def test_v1_controller_answers_404_on_v2_and_works_on_v1() -> None:
    with Emulator(EmulatorConfig(api="v1")) as emu:
        pool = urllib3.PoolManager(retries=False)
        response = pool.request("GET", f"{emu.url}/v2/api?action=get_api_token")
        assert response.status == 404
        assert "json" not in response.headers["Content-Type"]
        client = Client(emu.url, api="v1")
        assert client.connect()["return"] is True  # no token on v1
        assert client.token is None
        assert client.export().data == emu.export_bytes()
        assert emu.requests[0] == ("GET", "/v2/api", "")


def test_a_v2_controller_also_serves_v1(emulator: Emulator) -> None:
    assert Client(emulator.url, api="v1").connect()["return"] is True


def test_blank_controller_logs_in_with_its_private_ip_and_is_not_set_up() -> None:
    config = EmulatorConfig(
        blank=True, private_ip="10.9.8.7", version="UserConnect-7.1.1794", password="ignored"
    )
    with Emulator(config) as emu:
        client = Client(emu.url)
        assert client.connect(password="ignored")["return"] is False
        assert client.connect(password="10.9.8.7")["return"] is True
        assert client.call("initial_setup", subaction="check") == {"return": False, "reason": "not run"}
        version = client.call("list_version_info")["results"]["current_version"]
        assert version == "UserConnect-7.1.1794"
        manifest = read_manifest(io.BytesIO(client.export().data))
        assert manifest["initialized"] is False
        assert set(manifest["counts"].values()) == {0}
        assert client.call("list_accounts")["results"] == {"account_list": []}

        answer = client.call("initial_setup", subaction="run", target_version="UserConnect-7.2.2000")
        assert answer["return"] is True
        assert client.call("initial_setup", subaction="check") == {
            "return": True,
            "results": "initial setup done",
        }
        info = client.call("list_version_info")["results"]
        assert info == {"current_version": "UserConnect-7.2.2000", "previous_version": "UserConnect-7.1.1794"}
        assert emu.state.initialized and emu.state.version == "UserConnect-7.2.2000"


@pytest.mark.parametrize("version", ["UserConnect-7.2-1804.4665", "8.0.1-1000.1000"])
def test_from_7_2_initial_setup_keeps_the_version_the_image_was_launched_with(version: str) -> None:
    with Emulator(EmulatorConfig(blank=True, private_ip="10.9.8.7", version=version)) as emu:
        client = Client(emu.url)
        assert client.connect(password="10.9.8.7")["return"] is True
        answer = client.call("initial_setup", subaction="run", target_version="9.9.9-1.1")
        assert answer["return"] is True
        assert client.call("list_version_info")["results"]["current_version"] == version


def test_upgrade_moves_forward_only_and_restarts_the_controller(client: Client, emulator: Emulator) -> None:
    assert client.call("upgrade", version="7.2.4820")["reason"].startswith("Cannot downgrade")
    assert client.call("upgrade", version="8.0.1-1000.1000")["return"] is True  # already there
    emulator.faults.upgrade_reboot = 0.3
    assert client.call("upgrade", version="8.0.2-2000.2000")["return"] is True
    assert emulator.state.version == "8.0.2-2000.2000"
    # The upgrade restarted the services: the session is gone and the API refuses for a while.
    assert client.call("list_version_info")["return"] is False


def test_unexpected_parameters_are_refused(client: Client) -> None:
    answer = client.call("initial_setup", subaction="check", target="7.1")
    assert answer == {"return": False, "reason": "Unexpected parameter(s): target"}


def test_set_up_controller_reports_version_and_setup(client: Client) -> None:
    assert client.call("list_version_info")["results"] == {
        "current_version": "8.0.1-1000.1000",
        "previous_version": "7.0.1373",
    }
    assert client.call("initial_setup", subaction="check")["results"] == "initial setup done"


def test_read_actions_list_the_configuration(client: Client, emulator: Emulator) -> None:
    assert client.call("list_accounts")["results"]["account_list"] == emulator.state.records.accounts
    assert client.call("list_vpc_gateways")["results"] == emulator.state.records.gateways
    assert client.call("list_gateways")["results"] == emulator.state.records.gateways
    assert client.call("list_site2cloud")["results"]["connections"] == emulator.state.records.tunnels
    assert client.call("list_vpn_users")["results"] == emulator.state.records.vpn_users
    assert client.call("no_such_action")["return"] is False


def test_missing_or_unknown_cid_gets_the_real_reasons_in_rotation(client: Client) -> None:
    reasons = [client.call("list_version_info", CID="bogusbogusbogus12345")["reason"] for _ in range(4)]
    assert reasons[:2] == list(CID_REASONS[:2])
    assert reasons[2:] == ["Session bogusbogusbogus12345 not found", "Session bogusbogusbogus12345 expired"]
    client.cid = None
    assert client.call("list_version_info")["return"] is False


def test_cid_expires_after_its_lifetime() -> None:
    with Emulator(EmulatorConfig(cid_lifetime=0.3)) as emu:
        client = Client(emu.url)
        client.connect()
        assert client.call("list_version_info")["return"] is True
        time.sleep(0.4)
        expired = client.call("list_version_info")
        assert expired["return"] is False
        assert expired["reason"].startswith(CID_REASONS)
        client.connect()
        assert client.call("list_version_info")["return"] is True


def test_logout_ends_the_session(client: Client) -> None:
    assert client.call("logout")["return"] is True
    assert client.call("list_version_info")["return"] is False


@pytest.mark.parametrize("style", ["query", "form", "json", "multipart"])
def test_parameters_are_accepted_in_every_style(emulator: Emulator, style: str) -> None:
    client = Client(emulator.url)
    client.connect()
    params = {"action": "list_version_info", "CID": client.cid or ""}
    pool, url, headers = client.pool, client.endpoint, client.headers()
    if style == "query":
        response = pool.request("GET", url, fields=params, headers=headers)
    elif style == "form":
        response = pool.request("POST", url, fields=params, encode_multipart=False, headers=headers)
    elif style == "json":
        response = pool.request("POST", url, json=params, headers=headers)
    else:
        response = pool.request("POST", url, fields=params, headers=headers)
    assert envelope(response)["results"]["current_version"] == "8.0.1-1000.1000"


def test_older_controllers_answer_text_json() -> None:
    with Emulator(EmulatorConfig(text_json=True)) as emu:
        response = urllib3.request("GET", f"{emu.url}/v2/api?action=get_api_token", retries=False)
        assert response.headers["Content-Type"] == "text/json"
        assert json.loads(response.data)["return"] is True


def test_secrets_stay_out_of_the_request_log_and_logging(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="controller_emulator")
    with Emulator(EmulatorConfig()) as emu:
        client = Client(emu.url)
        client.connect()
        client.call("list_version_info")
        assert client.cid and client.token
        seen = repr(emu.requests) + caplog.text
        assert ("POST", "/v2/api", "login") in emu.requests
        assert "action=list_version_info" in caplog.text
        for secret in (PASSWORD, client.cid, client.token):
            assert secret not in seen
