"""The controller's API actions: what a real Aviatrix controller answers to each call.

Only the behaviour clients depend on is modelled: the v2 access key, login and CIDs with their
real failure texts, not-ready answers while booting, initial setup, version info, export and
import of the configuration archive, a few read actions for humans, and (native.py) the
controller's own backup into a bucket and restore from it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator

from . import answers
from .answers import Answer, Download, Drop
from .archive import InvalidArchive, validate_archive
from .faults import Faults, NotReadyAnswer
from .native import NativeBackups
from .request import ApiRequest
from .state import VERSION_PREFIX, ControllerState

log = logging.getLogger("controller_backup.emulator")


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
            "export_config": self._export,
            "import_config": self._import,
            "logout": self._logout,
            "list_accounts": lambda _: answers.ok({"account_list": self.state.accounts}),
            "list_vpc_gateways": lambda _: answers.ok(self.state.gateways),
            "list_gateways": lambda _: answers.ok(self.state.gateways),
            "list_site2cloud": lambda _: answers.ok({"connections": self.state.tunnels}),
            "list_vpn_users": lambda _: answers.ok(self.state.vpn_users),
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
        if (
            request.endpoint == "v2"
            and action != "get_api_token"
            and not self.state.token_valid(request.access_key)
        ):
            return answers.fail("Invalid access key")
        if not action:
            return answers.fail("action is required")
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
        return answers.ok(
            {
                "current_version": VERSION_PREFIX + self.state.version,
                "previous_version": VERSION_PREFIX + self.state.previous_version,
            }
        )

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

    def _export(self, _: ApiRequest) -> Answer:
        faults = self.faults
        if faults.export_error_envelope:
            return answers.fail("Failed to export configuration: disk full")
        if faults.export_html:
            return answers.html_page(200, "Login", "Please log in to continue: <form>login</form>")
        headers = {"X-Controller-Version": self.state.version}
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
