"""The controller's API actions: what a real Aviatrix controller answers to each call.

Only the behaviour clients depend on is modelled: the v2 access key, login and CIDs with their
real failure texts, not-ready answers while booting, initial setup, version info, export and
import of the configuration archive, a few read actions for humans, and (native.py) the
controller's own backup into a bucket and restore from it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator

from . import answers
from .answers import Answer, Download, Drop, Page
from .archive import InvalidArchive, validate_archive
from .faults import Faults, NotReadyAnswer
from .native import NativeBackups
from .request import ApiRequest
from .state import ControllerState, strip_version, version_numbers

log = logging.getLogger("controller_emulator")

_ANY: frozenset[str] = frozenset()
#: the parameters (beyond `action` and `CID`) each action takes from Aviatrix's own clients; a
#: client that sends anything else has a bug the emulator reports. Native actions check their
#: own, per cloud type (native.py).
_PARAMS: dict[str, frozenset[str]] = {
    "get_api_token": frozenset({"log_enable"}),
    "login": frozenset({"username", "password"}),
    "list_version_info": frozenset({"latest_version"}),
    "initial_setup": frozenset({"subaction", "target_version"}),
    "upgrade": frozenset({"version"}),
    "setup_customer_id": frozenset({"customer_id"}),
    "list_accounts": _ANY,
    "get_cloudn_backup_config": _ANY,
    "disable_cloudn_backup_config": _ANY,
    "export_config": _ANY,
    "import_config": _ANY,
    "logout": _ANY,
}


class Controller:
    """Dispatches API requests against one controller's state, honouring the fault knobs."""

    def __init__(
        self, state: ControllerState, faults: Faults, api: str, native: NativeBackups | None = None
    ) -> None:
        self.state = state
        self.faults = faults
        self.api = api
        self._sessionless: dict[str, Callable[[ApiRequest], Answer]] = {
            "get_api_token": self._api_token,
            "login": self._login,
        }
        self._actions: dict[str, Callable[[ApiRequest], Answer]] = {
            "list_version_info": self._version_info,
            "initial_setup": self._initial_setup,
            "upgrade": self._upgrade,
            "setup_customer_id": self._setup_customer_id,
            "export_config": self._export,
            "import_config": self._import,
            "logout": self._logout,
            "list_accounts": lambda _: answers.ok({"account_list": self.state.records.accounts}),
            "list_vpc_gateways": lambda _: answers.ok(self.state.records.gateways),
            "list_gateways": lambda _: answers.ok(self.state.records.gateways),
            "list_site2cloud": lambda _: answers.ok({"connections": self.state.records.tunnels}),
            "list_vpn_users": lambda _: answers.ok(self.state.records.vpn_users),
        }
        if native is not None:
            self._actions.update(native.actions())

    def endpoint(self, path: str) -> str | None:
        """`v1`/`v2` for an API path this controller serves, else None (a 404)."""
        if path == "/v1/api":
            return "v1"
        if path == "/v2/api" and self.api == "v2":
            return "v2"
        return None

    def respond(self, request: ApiRequest) -> Answer:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        sessionless = self._sessionless.get(request.action)
        if sessionless is not None:
            return sessionless(request)
        problem = self.state.session_problem(request.params.get("CID"))
        if problem is not None:
            return answers.fail(problem)
        handler = self._actions.get(request.action)
        if handler is None:
            return answers.fail(f"Invalid action: {request.action}")
        return handler(request)

    def _refusal(self, request: ApiRequest) -> Answer | None:
        """The answer for a request refused before any action runs (booting, no key, no action)."""
        not_ready = self.faults.not_ready_answer()
        if not_ready is NotReadyAnswer.DROP:
            return Drop()
        if not_ready is not None:
            return answers.fail(not_ready.value)
        action = request.action
        # The official clients send the access key with `login` only (later calls carry the CID).
        if request.endpoint == "v2" and action == "login" and not self.state.token_valid(request.access_key):
            return answers.fail("Invalid access key")
        if not action:
            return answers.fail("action is required")
        unexpected = sorted(set(request.params) - {"action", "CID"} - _PARAMS.get(action, _ANY))
        if action in _PARAMS and unexpected:
            return answers.fail(f"Unexpected parameter(s): {', '.join(unexpected)}")
        return None

    def _api_token(self, request: ApiRequest) -> Answer:
        if request.endpoint != "v2":
            return answers.fail(f"Invalid action: {request.action}")
        return answers.ok({"api_token": self.state.issue_token()})

    def _login(self, request: ApiRequest) -> Answer:
        username = request.params.get("username", "")
        if not self.state.check_credentials(username, request.params.get("password", "")):
            return answers.fail("Invalid username or password")
        return answers.ok(
            f"User login:{username} in account:admin has been authorized successfully"
            " - Please check email confirmation.",
            CID=self.state.login(),
        )

    def _logout(self, request: ApiRequest) -> Answer:
        self.state.logout(request.params.get("CID", ""))
        return answers.ok("Logged out")

    def _version_info(self, _: ApiRequest) -> Answer:
        if not self.state.initialized and self.faults.version_info_needs_setup:
            return answers.fail("initial setup not done")
        return answers.ok(
            {"current_version": self.state.version, "previous_version": self.state.previous_version}
        )

    def _upgrade(self, request: ApiRequest) -> Answer:
        """`upgrade version=...`: never a downgrade; the new version takes effect `upgrade_delay`
        seconds later (the API keeps answering with the old one meanwhile), then the controller
        restarts for `upgrade_reboot` seconds, ending every session."""
        wanted = request.params.get("version", "").strip()
        if not wanted or not version_numbers(wanted):
            return answers.fail("version is required")
        current = self.state.version
        if strip_version(wanted) == strip_version(current):
            return answers.ok(f"The controller is already at {current}")
        if version_numbers(wanted) < version_numbers(current):
            return answers.fail(f"Cannot downgrade from {current} to {wanted}")
        reboot = self.faults.upgrade_reboot

        def finish() -> None:
            self.state.upgrade(wanted)
            self.state.forget_sessions()
            if reboot > 0:
                self.faults.become_not_ready(reboot)

        if self.faults.upgrade_delay > 0:
            timer = threading.Timer(self.faults.upgrade_delay, finish)
            timer.daemon = True
            timer.start()
        else:
            finish()
        if self.faults.upgrade_drop:
            return Drop()
        return answers.ok(f"Upgrading to {wanted}")

    def _setup_customer_id(self, request: ApiRequest) -> Answer:
        customer_id = request.params.get("customer_id", "").strip()
        if not customer_id:
            return answers.fail("customer_id is required")
        self.state.customer_id = customer_id
        return answers.ok("Customer ID is set up")

    def _initial_setup(self, request: ApiRequest) -> Answer:
        subaction = request.params.get("subaction", "")
        if subaction == "check":
            if self.state.initialized:
                return answers.ok("initial setup done")
            return answers.fail("not run")
        if subaction == "run":
            target = request.params.get("target_version") or None
            self.state.run_setup(None if self.faults.setup_ignores_target_version else target)
            if self.faults.setup_reboot > 0:  # services restart: sessions end, the API refuses a while
                self.state.forget_sessions()
                self.faults.become_not_ready(self.faults.setup_reboot)
            if self.faults.setup_drop:
                return Drop()  # the real controller restarts its services and drops the caller
            return answers.ok("Initial setup completed successfully")
        return answers.fail(f"Invalid subaction: {subaction}")

    def _export_instead(self) -> Answer | None:
        """What a faulty export answers instead of an archive: an envelope or a page."""
        faults = self.faults
        if faults.export_error_envelope:
            return answers.fail("Failed to export configuration: disk full")
        if faults.export_html:
            return answers.html_page(200, "Login", "Please log in to continue: <form>login</form>")
        if faults.export_page is not None:
            content_type, body = faults.export_page
            return Page(200, content_type, body)
        return None

    def _export(self, _: ApiRequest) -> Answer:
        faults = self.faults
        instead = self._export_instead()
        if instead is not None:
            return instead
        headers = {"X-Controller-Version": self.state.version}  # as list_version_info reports it
        if faults.export_empty:
            return Download(0, _nothing(), headers)
        length, chunks = self.state.open_export()
        headers["Content-Disposition"] = f'attachment; filename="{self.state.name}_config.tar"'
        if faults.truncate_export:
            half = length // 2
            return Download(half, _take(chunks, half), headers)
        if faults.drop_export_midway:
            return Download(length, chunks, headers, cut_after=length // 2)
        return Download(length, chunks, headers)

    def _import(self, request: ApiRequest) -> Answer:
        upload = request.file
        if upload is None:
            return answers.fail("file is required")
        try:
            contents = validate_archive(upload.path)
        except InvalidArchive as exc:
            log.info("import refused: %s", exc)
            return answers.fail("invalid configuration archive")
        if self.faults.import_delay > 0:
            time.sleep(self.faults.import_delay)  # the real import takes its time before it answers
        self.state.apply_import(upload.path, contents)
        if self.faults.import_drop_after_apply:
            return Drop()
        return answers.ok("Configuration imported successfully")


def _nothing() -> Generator[bytes, None, None]:
    yield from ()


def _take(chunks: Generator[bytes, None, None], limit: int) -> Generator[bytes, None, None]:
    """The first `limit` bytes of `chunks`; closes the source when done."""
    try:
        sent = 0
        for chunk in chunks:
            if sent + len(chunk) >= limit:
                yield chunk[: limit - sent]
                return
            sent += len(chunk)
            yield chunk
    finally:
        chunks.close()
