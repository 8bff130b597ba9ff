"""Load the Azure function app the way the Functions host does, and build its trigger inputs.

The host imports `function_app.py` from the app's root folder (so sibling modules import by
name) and indexes `app.get_functions()`; the tests do the same and call each function's user
function with the objects the Python worker would pass: `func.HttpRequest`, a `TimerRequest`
decoded by the library's own converter from the host's JSON, a `func.QueueMessage`.
"""

from __future__ import annotations

import importlib
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import azure.functions as func
import pytest
from azure.functions import meta
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequestConverter

from tests.fixtures.azure import ACCOUNT, Azurite

ROOT = Path(__file__).resolve().parents[2]
APP_DIR = ROOT / "functions" / "azure"
EVENTS = ROOT / "tests" / "events" / "azure"


def load_event(name: str) -> Any:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture(scope="session")
def function_app() -> ModuleType:
    if str(APP_DIR) not in sys.path:
        sys.path.insert(0, str(APP_DIR))
    return importlib.import_module("function_app")


@pytest.fixture(scope="session")
def functions(function_app: ModuleType) -> dict[str, Any]:
    """name -> the indexed Function object, as the worker sees them."""
    return {fn.get_function_name(): fn for fn in function_app.app.get_functions()}


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
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env
