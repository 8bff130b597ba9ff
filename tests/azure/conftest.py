"""Load the Azure function apps the way the Functions host does, and build their trigger inputs.

The host imports `function_app.py` from the app's root folder (so sibling modules import by
name) and indexes `app.get_functions()`; two apps run the package, one with
CONTROLLER_BACKUP_FUNCTIONS=backup and one with `restore`, so the tests import it fresh under each
value and call each function's user function with the objects the Python worker would pass:
`func.HttpRequest`, a `TimerRequest` decoded by the library's own converter from the host's JSON,
a `func.QueueMessage`.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import azure.functions as func
import pytest
import requests
from azure.functions import meta
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequestConverter
from controller_emulator import Emulator

from tests.fixtures.azure import ACCOUNT, Azurite

from .fakes import Answer, FakeCredential, Handler, fake_transport

ROOT = Path(__file__).resolve().parents[2]
APP_DIR = ROOT / "functions" / "azure"
EVENTS = ROOT / "tests" / "events" / "azure"
FUNCTIONS_SETTING = "CONTROLLER_BACKUP_FUNCTIONS"
#: each load is a new module object under its own name
_loads = itertools.count()


def load_event(name: str) -> Any:
    return json.loads((EVENTS / name).read_text())


def load_app(group: str | None) -> ModuleType:
    """`function_app.py` imported afresh as an app whose CONTROLLER_BACKUP_FUNCTIONS is `group`."""
    if str(APP_DIR) not in sys.path:
        sys.path.insert(0, str(APP_DIR))
    name = f"function_app_{group or 'unset'}_{next(_loads)}"
    spec = importlib.util.spec_from_file_location(name, APP_DIR / "function_app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    saved = os.environ.pop(FUNCTIONS_SETTING, None)
    if group is not None:
        os.environ[FUNCTIONS_SETTING] = group
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    finally:
        os.environ.pop(FUNCTIONS_SETTING, None)
        if saved is not None:
            os.environ[FUNCTIONS_SETTING] = saved
    return module


def indexed(module: ModuleType) -> dict[str, Any]:
    """name -> the indexed Function object of one app, as the worker sees them (the library
    indexes an app once: a second call finds every name taken)."""
    return {fn.get_function_name(): fn for fn in module.app.get_functions()}


@pytest.fixture(scope="session")
def backup_app() -> ModuleType:
    return load_app("backup")


@pytest.fixture(scope="session")
def function_app(restore_app: ModuleType) -> ModuleType:
    """The module as the restore app imports it (its constants are the backup app's too)."""
    return restore_app


@pytest.fixture(scope="session")
def restore_app() -> ModuleType:
    return load_app("restore")


@pytest.fixture(scope="session")
def functions(backup_app: ModuleType, restore_app: ModuleType) -> dict[str, Any]:
    """Every function of both apps by name (the names are distinct)."""
    return {**indexed(backup_app), **indexed(restore_app)}


def call(functions: dict[str, Any], name: str, *args: Any) -> Any:
    return functions[name].get_user_function()(*args)


def http_request(event: str, body: Any = None, *, raw: bytes | None = None) -> func.HttpRequest:
    """A `func.HttpRequest` from a stored request; `body` (a dict) replaces the stored body."""
    stored = load_event(event)
    payload = raw if raw is not None else json.dumps(stored["body"] if body is None else body).encode()
    return func.HttpRequest(
        method=stored["method"],
        url=stored["url"],
        headers=stored["headers"],
        params=stored["params"],
        route_params=stored["route_params"],
        body=payload,
    )


def timer_request(event: str) -> func.TimerRequest:
    """The timer binding's JSON, decoded by the library's converter as the worker does."""
    datum = meta.Datum(value=(EVENTS / event).read_text(), type="json")
    request: func.TimerRequest = TimerRequestConverter.decode(datum, trigger_metadata={})
    return request


def queue_message(body: bytes, *, dequeue_count: int = 1) -> func.QueueMessage:
    """The worker's own QueueMessage (the converter's class), as the host delivers a message."""
    now = datetime.now(UTC)
    return QueueMessage(
        id="b7e2c1d4-5a6f-4e3b-9c8d-7f6e5d4c3b2a",
        body=body,
        dequeue_count=dequeue_count,
        insertion_time=now,
        expiration_time=now + timedelta(days=7),
        time_next_visible=now + timedelta(minutes=5),
        pop_receipt="AgAAAAMAAAAAAAAA2Wd0Jd5d3AE=",
    )


@pytest.fixture
def azure_env(
    controller_env: dict[str, str], azurite_env: Azurite, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The function's app settings for the controller emulator and a fresh Azurite container."""
    container = azurite_env.new_container()
    env = {
        **controller_env,
        "BACKUP_URL": f"azblob://{ACCOUNT}/{container}/aviatrix/controller-backup.enc",
        "BACKUP_SCHEDULE": "0 0 0 * * *",
        "VERIFY_SCHEDULE": "0 0 6 * * *",
        # Terraform's default: which VMs count as replacement controllers
        "REPLACEMENT_TAG": "controller-backup-role=replacement",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@dataclass(frozen=True)
class App:
    """Both function groups with their settings on Azurite, the controller they back up, and the
    test's environment: what most tests here share."""

    functions: dict[str, Any]
    env: dict[str, str]
    controller: Emulator
    monkeypatch: pytest.MonkeyPatch


@pytest.fixture
def app(
    functions: dict[str, Any],
    azure_env: dict[str, str],
    controller: Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> App:
    return App(functions, azure_env, controller, monkeypatch)


# -- Azure Resource Manager ------------------------------------------------------------------

ARM = "https://management.azure.com"
#: the controller's resource group in the stored ARM payloads
GROUP = "/subscriptions/0b5e4c3a-7d21-4f8e-9c6a-2f1e0d9c8b7a/resourceGroups/rg-aviatrix-controller"
VM_LIST = f"{GROUP}/providers/Microsoft.Compute/virtualMachines"


def _json_answer(status: int, body: Any) -> Answer:
    return status, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(body).encode()


def arm(
    vm: dict[str, Any] | None = None,
    *,
    public_ip: str | None = None,
    pages: list[list[dict[str, Any]]] | None = None,
    next_link_base: str = ARM,
    forbidden: bool = False,
) -> Handler:
    """An ARM fake answering the stored VM, NIC and public IP, and the group's VM list.

    `pages` splits the list (default: the VM alone) into pages chained by `nextLink`s on
    `next_link_base`; `public_ip` replaces the public IP resource's address.
    """
    vm = vm or load_event("arm_vm.json")
    nic = load_event("arm_nic.json")
    pip = load_event("arm_public_ip.json")
    if public_ip is not None:
        pip["properties"]["ipAddress"] = public_ip
    listed = pages if pages is not None else [[vm]]

    def handle(request: requests.PreparedRequest) -> Answer:
        assert request.headers["Authorization"] == "Bearer fake-aad-token-5f2c9d"
        url = urlsplit(request.url or "")
        path = url.path
        if forbidden:
            error = {"code": "AuthorizationFailed", "message": "The client does not have authorization"}
            return _json_answer(403, {"error": error})
        if path.lower() == VM_LIST.lower():
            page = int(parse_qs(url.query).get("$skiptoken", ["0"])[0])
            body: dict[str, Any] = {"value": listed[page]}
            if page + 1 < len(listed):
                body["nextLink"] = f"{next_link_base}{VM_LIST}?api-version=2024-07-01&$skiptoken={page + 1}"
            return _json_answer(200, body)
        for resource in (vm, nic, pip):
            if path.lower() == resource["id"].lower():
                return _json_answer(200, resource)
        return _json_answer(
            404, {"error": {"code": "ResourceNotFound", "message": "The Resource was not found."}}
        )

    return handle


@pytest.fixture
def arm_fake(restore_app: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Callable[[Handler], list[Any]]:
    """Install an ARM handler behind the restore app's reader; returns the requests it saw."""
    import replacement_vm

    def install(handler: Handler) -> list[Any]:
        transport, seen = fake_transport(handler)
        reader = replacement_vm.ArmReader(FakeCredential(), transport=transport)
        monkeypatch.setattr(restore_app, "_arm_reader", lambda: reader)
        return seen

    return install
