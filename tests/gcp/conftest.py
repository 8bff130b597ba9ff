"""Fixtures for the Cloud Functions tests: the functions served by functions-framework over real
HTTP, their settings pointed at fake-gcs-server, the Secret Manager stand-in and the emulators."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from controller_backup.secrets import gcp as secrets_gcp

from tests.fixtures.controller import CONTROLLER_PASSWORD
from tests.fixtures.gcp import SecretManagerServer, free_port

ROOT = Path(__file__).resolve().parents[2]
MAIN = ROOT / "functions" / "gcp" / "main.py"
EVENTS = ROOT / "tests" / "events" / "gcp"
PROJECT = "network-ops-prod"


def load_event(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return data


def create_app(target: str) -> Any:
    import functions_framework

    return functions_framework.create_app(target, str(MAIN))


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """main.py configures the root logger (and the framework may dictConfig it): put it back, so
    no other test module runs with this folder's logging."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    disabled = {
        name: logger.disabled
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    yield
    # pytest adds and removes its own capture handlers per phase: leave those to it
    for handler in list(root.handlers):
        if handler not in handlers and not type(handler).__module__.startswith("_pytest"):
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers and not type(handler).__module__.startswith("_pytest"):
            root.addHandler(handler)
    root.setLevel(level)
    for name, logger in logging.root.manager.loggerDict.items():
        if isinstance(logger, logging.Logger):
            logger.disabled = disabled.get(name, False)


@dataclass
class ServedFunction:
    target: str
    url: str
    app: Any


@pytest.fixture
def serve() -> Iterator[Callable[[str], ServedFunction]]:
    """Serve a target of main.py with functions-framework's Flask app on a free port (real HTTP)."""
    from werkzeug.serving import make_server

    servers: list[Any] = []
    threads: list[threading.Thread] = []

    def start(target: str) -> ServedFunction:
        app = create_app(target)
        port = free_port()
        server = make_server("127.0.0.1", port, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        servers.append(server)
        threads.append(thread)
        return ServedFunction(target, f"http://127.0.0.1:{port}", app)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
    for thread in threads:
        thread.join(timeout=5)


@pytest.fixture
def function_env(
    controller_env: dict[str, str],
    gcs_env: str,
    gcs_bucket: str,
    secret_manager_server: SecretManagerServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, str]]:
    """The deployed function's environment: gs:// backup, the password as a gcp-sm: reference."""
    name = secret_manager_server.add(PROJECT, "controller-password", CONTROLLER_PASSWORD.encode())
    env = {
        **controller_env,
        "BACKUP_URL": f"gs://{gcs_bucket}/controllers/aviatrix-controller.tar",
        "CONTROLLER_PASSWORD": f"gcp-sm:{name}",
        "SECRET_MANAGER_EMULATOR_HOST": secret_manager_server.url,
        "CONTROLLER_RETRY_ATTEMPTS": "3",
        "CONTROLLER_RETRY_SECONDS": "5",
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "STORAGE_EMULATOR_HOST": gcs_env,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    secrets_gcp.set_client(None)
    yield env
    secrets_gcp.set_client(None)


@dataclass
class FakeCompute:
    """A Compute Engine API stand-in: `instances.get` by zone and name, and
    `instances.aggregatedList` with the `id = N` filter, answering the API's instance shape."""

    url: str
    instances: list[dict[str, Any]] = field(default_factory=list)
    #: zones the aggregated list reports as unreachable (returnPartialSuccess)
    unreachable: list[str] = field(default_factory=list)
    #: the aggregated list answers one zone per page, as the API may when it filters
    one_zone_per_page: bool = False
    #: every call answers this HTTP status (403: the function's identity may not read instances)
    fail_with: int | None = None
    #: every request's path and query, as sent
    requests: list[str] = field(default_factory=list)

    def add(
        self,
        name: str,
        *,
        instance_id: str,
        private_ip: str,
        nat_ip: str | None = None,
        labels: dict[str, str] | None = None,
        zone: str = "us-central1-a",
    ) -> dict[str, Any]:
        interface: dict[str, Any] = {"name": "nic0", "networkIP": private_ip}
        if nat_ip is not None:
            interface["accessConfigs"] = [{"type": "ONE_TO_ONE_NAT", "name": "External NAT", "natIP": nat_ip}]
        resource = {
            "kind": "compute#instance",
            "id": instance_id,
            "name": name,
            "zone": f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/zones/{zone}",
            "status": "RUNNING",
            "labels": labels or {},
            "networkInterfaces": [interface],
        }
        self.instances.append(resource)
        return resource

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        if self.fail_with is not None:
            return self.fail_with, {"error": {"code": self.fail_with, "message": "Required permission"}}
        if match := _INSTANCE_PATH.match(path):
            project, zone, name = match.groups()
            for resource in self.instances:
                if (
                    project == PROJECT
                    and resource["zone"].endswith(f"/zones/{zone}")
                    and resource["name"] == name
                ):
                    return 200, resource
            return 404, {"error": {"code": 404, "message": f"The resource '{path}' was not found"}}
        if match := _AGGREGATED_PATH.match(path):
            wanted = _ID_FILTER.match(query.get("filter", [""])[0])
            if match.group(1) != PROJECT:
                return 404, {"error": {"code": 404, "message": "project not found"}}
            if wanted is None or query.get("returnPartialSuccess") != ["true"]:
                return 400, {"error": {"code": 400, "message": "Invalid value for field 'filter'"}}
            items: dict[str, Any] = {}
            for resource in self.instances:
                scope = "zones/" + resource["zone"].rsplit("/", 1)[1]
                entry = items.setdefault(scope, {"instances": []})
                if resource["id"] == wanted.group(1):
                    entry["instances"].append(resource)
            for scope, entry in items.items():
                if not entry["instances"]:
                    items[scope] = {"warning": {"code": "NO_RESULTS_ON_PAGE", "message": "no results"}}
            body: dict[str, Any] = {"kind": "compute#instanceAggregatedList", "items": items}
            if self.one_zone_per_page:
                page = int(query.get("pageToken", ["0"])[0])
                scopes = sorted(items)
                body["items"] = {scopes[page]: items[scopes[page]]} if page < len(scopes) else {}
                if page + 1 < len(scopes):
                    body["nextPageToken"] = str(page + 1)
            if self.unreachable:
                body["unreachables"] = self.unreachable
            return 200, body
        return 404, {"error": {"code": 404, "message": "not found"}}


_INSTANCE_PATH = re.compile(r"^/compute/v1/projects/([^/]+)/zones/([^/]+)/instances/([^/?]+)$")
_AGGREGATED_PATH = re.compile(r"^/compute/v1/projects/([^/]+)/aggregated/instances$")
_ID_FILTER = re.compile(r"^id = ([0-9]+)$")


@pytest.fixture
def compute_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCompute]:
    port = free_port()
    state = FakeCompute(url=f"http://127.0.0.1:{port}")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            state.requests.append(self.path)
            parts = urlsplit(self.path)
            status, answer = state.answer(parts.path, parse_qs(parts.query))
            body = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("COMPUTE_EMULATOR_HOST", state.url)
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)
