"""What our client sends on the wire equals what Aviatrix's own clients send (official.py).

A recording server (recorder.py) answers with the official sample answers and keeps every request
as it arrived; nothing here depends on our emulator accepting a request.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from controller_backup.controller import RetryPolicy, connector
from controller_backup.controller.driver import MemoryJournal
from controller_backup.controller.native import NativeDriver
from controller_backup.controller.version import parse_version
from controller_backup.errors import NotReadyError
from controller_backup.restore_marker import STEPS
from controller_backup.settings import Settings
from controller_backup.stores import ObjectInfo, SizedSource

from . import official
from .recorder import Recorder, Reply, WireCall, envelope, recording

PASSWORD = "Wire-Test-Password-1"
ARM_SECRET = "Wire-Arm-Secret-1"
GCP_KEY = '{"type": "service_account", "private_key": "Wire-Gcp-Key"}'
CLOUD_NAMES = {
    1: "aws",
    4: "gcp",
    8: "azure",
    16: "oci",
    32: "azure-gov",
    256: "aws-gov",
    1024: "aws-china",
    2048: "azure-china",
}
_AZURE_TYPES = {8, 32, 2048}


class Controller:
    """The official sample answers, with just enough state for a set-up and an upgrade."""

    def __init__(
        self, version: str = "8.0.1-1000.1000", *, set_up: bool = True, accounts: bool = False
    ) -> None:
        self.version = version
        self.set_up = set_up
        self.accounts = accounts

    def __call__(self, call: WireCall) -> Reply:
        action = call.action
        if action == "get_api_token":
            return envelope(**official.SAMPLE_TOKEN)
        if action == "login":
            return envelope(**official.SAMPLE_LOGIN)
        if action == "initial_setup":
            if call.fields.get("subaction") == "run":
                self.set_up = True
                return envelope(**{"return": True, "results": "Initial setup completed successfully"})
            return envelope(
                **(
                    {"return": True, "results": "done"}
                    if self.set_up
                    else {"return": False, "reason": "not run"}
                )
            )
        if action == "list_version_info":
            return envelope(
                **{"return": True, "results": {"current_version": self.version, "previous_version": ""}}
            )
        if action == "upgrade":
            self.version = call.fields["version"]
            return envelope(**{"return": True, "results": "upgraded"})
        if action == "list_accounts":
            return envelope(
                **(
                    official.SAMPLE_ACCOUNT_LIST
                    if self.accounts
                    else {"return": True, "results": {"account_list": []}}
                )
            )
        return envelope(**{"return": True, "results": "ok"})


def _settings(url: str, cloud_type: int, bucket: Path, **extra: str) -> Settings:
    name = CLOUD_NAMES[cloud_type]
    folder = bucket / ("ctrlstorage/backups" if cloud_type in _AZURE_TYPES else "ctrl-backups")
    env = {
        "CONTROLLER_URL": url,
        "CONTROLLER_ALLOW_HTTP": "true",
        "CONTROLLER_PASSWORD": PASSWORD,
        "BACKUP_URL": (bucket / "ours" / "backup.enc").as_uri(),
        "CONTROLLER_PRIVATE_IP": "10.1.0.10",
        "NATIVE_CLOUD_TYPE": name,
        "NATIVE_ACCOUNT_NAME": "some-account",
        "NATIVE_BUCKET_URL": folder.as_uri(),
        "NATIVE_REGION": "region-1",
        "NATIVE_AWS_ACCOUNT_NUMBER": "123456789012",
        "NATIVE_ARM_SUBSCRIPTION_ID": "11111111-2222-3333-4444-555555555555",
        "NATIVE_ARM_DIRECTORY_ID": "66666666-7777-8888-9999-000000000000",
        "NATIVE_ARM_CLIENT_ID": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "NATIVE_ARM_CLIENT_SECRET": ARM_SECRET,
        "NATIVE_GCP_PROJECT_ID": "ctrl-project-1",
        "NATIVE_GCP_CREDENTIALS": GCP_KEY,
        "CONTROLLER_TIMEOUT": "5",
        **extra,
    }
    return Settings.from_env(env)


def _driver(settings: Settings) -> NativeDriver:
    return NativeDriver(connector(settings), settings, username="admin", password=PASSWORD)


def _assert_sends(call: WireCall, fact: official.Fields) -> None:
    """Exactly the fact's fields (with its fixed values), plus `action` and `CID`; its file parts."""
    sent = set(call.fields) - {"action", "CID"}
    assert sent == set(fact.fields), f"{call.action}: sent {sorted(sent)}, official {sorted(fact.fields)}"
    for name, value in fact.values.items():
        assert call.fields[name] == value, f"{call.action}: {name}={call.fields[name]!r}, official {value!r}"
    assert set(call.files) == set(fact.files), f"{call.action}: file parts {sorted(call.files)}"
    assert call.fields.get("CID") == official.SAMPLE_LOGIN["CID"]
    assert call.access_key is None, f"{call.action} carried X-Access-Key: only login does"


@pytest.fixture
def controller() -> Iterator[tuple[Recorder, Controller]]:
    script = Controller()
    with recording(script) as recorder:
        yield recorder, script


# -- login -------------------------------------------------------------------------------------


def test_login_sends_the_access_key_with_login_only(
    controller: tuple[Recorder, Controller], tmp_path: Path
) -> None:
    recorder, _ = controller
    driver = _driver(_settings(recorder.url, 1, tmp_path))
    driver.client.login()
    driver.version()
    token, login, version = recorder.calls
    assert (token.method, token.path, token.action) == ("GET", "/v2/api", "get_api_token")
    assert token.access_key is None and set(token.fields) == {"action"}
    assert (login.method, login.path) == ("POST", "/v2/api")
    assert login.access_key == official.SAMPLE_TOKEN["results"]["api_token"]  # type: ignore[index]
    assert set(login.fields) - {"action"} == set(official.LOGIN.fields)
    assert version.action == "list_version_info" and version.access_key is None
    assert set(version.fields) - {"action", "CID"} == set(official.LIST_VERSION_INFO.fields)


def _token_answer(kind: str) -> Reply:
    if kind.isdigit():
        return int(kind), "text/html", b"<html>not here</html>"
    if kind == "non-json":
        return 200, "text/html", b"<html><body>Aviatrix</body></html>"
    if kind == "no-envelope":
        return envelope(status="up")
    if kind == "return-false":
        return envelope(**{"return": False, "reason": "Invalid action: get_api_token"})
    return envelope(**{"return": False, "reason": kind})


@pytest.mark.parametrize("kind", official.TOKEN_ANSWERS_MEANING_V1)
def test_an_older_controller_is_logged_into_on_v1(kind: str) -> None:
    def script(call: WireCall) -> Reply:
        if call.action == "get_api_token":
            return _token_answer(kind)
        return envelope(**official.SAMPLE_LOGIN)

    with recording(script) as recorder:
        client = connector(Settings.from_env({
            "CONTROLLER_URL": recorder.url, "CONTROLLER_PASSWORD": PASSWORD, "CONTROLLER_ALLOW_HTTP": "true",
            "BACKUP_URL": "/tmp/unused.tar", "CONTROLLER_BACKUP_MODE": "export",
        }))("admin", PASSWORD)  # fmt: skip
        client.login()
    login = recorder.only("login")
    assert login.path == "/v1/api" and login.access_key is None
    assert client.api_version == "v1"


@pytest.mark.parametrize("kind", official.TOKEN_ANSWERS_MEANING_NOT_READY)
def test_any_other_token_answer_means_not_ready_and_is_waited_out(kind: str) -> None:
    def script(call: WireCall) -> Reply:
        return _token_answer(kind) if call.action == "get_api_token" else envelope(**official.SAMPLE_LOGIN)

    with recording(script) as recorder:
        settings = Settings.from_env({
            "CONTROLLER_URL": recorder.url, "CONTROLLER_PASSWORD": PASSWORD, "CONTROLLER_ALLOW_HTTP": "true",
            "BACKUP_URL": "/tmp/unused.tar", "CONTROLLER_BACKUP_MODE": "export",
        })  # fmt: skip
        client = connector(settings, RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02, deadline=2))(
            "admin", PASSWORD
        )
        with pytest.raises(NotReadyError):
            client.login()
    assert len(recorder.of("get_api_token")) == 3  # tried within the bound, never logged in
    assert recorder.of("login") == []


# -- access accounts ---------------------------------------------------------------------------


@pytest.mark.parametrize("cloud_type", sorted(official.ACCOUNT))
def test_access_account_fields_per_cloud_type(
    controller: tuple[Recorder, Controller], tmp_path: Path, cloud_type: int
) -> None:
    recorder, _ = controller
    driver = _driver(_settings(recorder.url, cloud_type, tmp_path))
    driver._ensure_account()
    call = recorder.only("setup_account_profile")
    _assert_sends(call, official.ACCOUNT[cloud_type])
    assert call.fields["account_name"] == "some-account"
    if cloud_type == 4:
        filename, content = call.files["gcloud_project_credentials"]
        assert json.loads(content) == json.loads(GCP_KEY) and filename.endswith(".json")
        assert call.fields["gcloud_project_name"] == "ctrl-project-1"


def test_an_existing_account_is_not_created_again(
    controller: tuple[Recorder, Controller], tmp_path: Path
) -> None:
    recorder, script = controller
    script.accounts = True
    _driver(_settings(recorder.url, 1, tmp_path))._ensure_account()
    assert recorder.of("setup_account_profile") == []


# -- the controller's own backup -----------------------------------------------------------------


@pytest.mark.parametrize("cloud_type", sorted(official.ENABLE_NOW))
def test_backup_now_is_the_v1_form_of_the_ha_tools(
    controller: tuple[Recorder, Controller], tmp_path: Path, cloud_type: int
) -> None:
    recorder, _ = controller
    driver = _driver(_settings(recorder.url, cloud_type, tmp_path))
    driver._check_destination()
    driver._enable_now()
    _assert_sends(recorder.only("get_cloudn_backup_config"), official.GET_BACKUP_CONFIG)
    enable = recorder.only("enable_cloudn_backup_config")
    assert enable.path == "/v1/api"
    _assert_sends(enable, official.ENABLE_NOW[cloud_type])
    assert enable.fields["account_name"] == "some-account"


def test_aws_backup_sends_region_only_when_it_is_set(
    controller: tuple[Recorder, Controller], tmp_path: Path
) -> None:
    recorder, _ = controller
    settings = _settings(recorder.url, 1, tmp_path)
    import dataclasses

    _driver(dataclasses.replace(settings, native_region=None))._enable_now()
    enable = recorder.only("enable_cloudn_backup_config")
    assert set(enable.fields) - {"action", "CID"} == set(official.ENABLE_NOW[1].fields) - {"region"}


# -- restore ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cloud_type", sorted(official.RESTORE))
def test_restore_fields_per_cloud_type(
    controller: tuple[Recorder, Controller], tmp_path: Path, cloud_type: int
) -> None:
    recorder, _ = controller
    driver = _driver(_settings(recorder.url, cloud_type, tmp_path))
    body = b"an encrypted controller backup" * 100
    backup = ObjectInfo(
        url="file:///backups/controller.enc",
        size=len(body),
        etag="etag",
        version_id=None,
        last_modified=datetime.now(UTC),
        metadata={"sha256": hashlib.sha256(body).hexdigest()},
    )
    driver.import_(SizedSource.of(body), backup)
    call = recorder.only("restore_cloudx_config")
    _assert_sends(call, official.RESTORE[cloud_type])
    assert call.fields["file_name"] == "CloudN_10.1.0.10_save_cloudx_config.enc"


@pytest.mark.parametrize("version", official.SAMPLE_VERSIONS)
def test_initial_setup_and_upgrade_as_the_official_flow_for_the_release(tmp_path: Path, version: str) -> None:
    """Up to 7.1: set up *to* the backup's version. From 7.2: set up as launched, then upgrade."""
    backup = parse_version(version)
    older = "UserConnect-6.0.1000" if backup.release < (7, 2) else "7.2.1000"
    script = Controller(version=older, set_up=False, accounts=True)
    with recording(script) as recorder:
        driver = _driver(_settings(recorder.url, 1, tmp_path))
        driver.client.login()
        if backup.release < (7, 2):
            script.version = version  # what initial_setup with target_version does
        driver.prepare_target(backup, MemoryJournal(STEPS))
    _assert_sends(recorder.of("initial_setup")[0], official.INITIAL_SETUP_CHECK)
    run = [call for call in recorder.of("initial_setup") if call.fields.get("subaction") == "run"]
    assert len(run) == 1
    if backup.release < (7, 2):
        _assert_sends(run[0], official.INITIAL_SETUP_RUN_TO_VERSION)
        assert run[0].fields["target_version"] == backup.text
        assert recorder.of("upgrade") == []
    else:
        _assert_sends(run[0], official.INITIAL_SETUP_RUN_PINNED)
        upgrade = recorder.only("upgrade")
        _assert_sends(upgrade, official.UPGRADE)
        assert upgrade.fields["version"] == backup.text


def test_the_byol_customer_id_goes_first(tmp_path: Path) -> None:
    script = Controller(set_up=False, accounts=True)
    with recording(script) as recorder:
        driver = _driver(_settings(recorder.url, 1, tmp_path, CONTROLLER_CUSTOMER_ID="aviatrix-cust-7"))
        driver.client.login()
        driver.prepare_target(parse_version("8.0.1-1000.1000"), MemoryJournal(STEPS))
    steps = [(call.action, call.fields.get("subaction")) for call in recorder.calls]
    assert steps.index(("setup_customer_id", None)) < steps.index(("initial_setup", "run"))
    call = recorder.only("setup_customer_id")
    _assert_sends(call, official.SETUP_CUSTOMER_ID)
    assert call.fields["customer_id"] == "aviatrix-cust-7"


def test_sample_versions_parse() -> None:
    for sample in official.SAMPLE_VERSIONS:
        assert parse_version(sample).text == sample.removeprefix("UserConnect-")


def test_a_controller_without_export_config_is_pointed_at_native_mode(tmp_path: Path) -> None:
    """A real controller knows no export_config: the error says which mode and settings it needs."""
    from controller_backup.backup import run_backup
    from controller_backup.errors import ControllerError

    def script(call: WireCall) -> Reply:
        if call.action == "export_config":
            return envelope(**{"return": False, "reason": "Invalid action: export_config"})
        return Controller()(call)

    with recording(script) as recorder:
        settings = Settings.from_env(
            {
                "CONTROLLER_URL": recorder.url,
                "CONTROLLER_ALLOW_HTTP": "true",
                "CONTROLLER_PASSWORD": PASSWORD,
                "BACKUP_URL": (tmp_path / "backup.tar").as_uri(),
                "CONTROLLER_BACKUP_MODE": "export",
            }
        )
        with pytest.raises(ControllerError) as caught:
            run_backup(settings)
    message = caught.value.message
    assert "Invalid action: export_config" in message
    for name in ("CONTROLLER_BACKUP_MODE=native", "CONTROLLER_PRIVATE_IP", "NATIVE_BUCKET_URL"):
        assert name in message
    assert not (tmp_path / "backup.tar").exists()
