"""The controller's HTTPS API, spoken the way Aviatrix's own clients speak it.

Conventions (docs/controller-api.md, each with its official source): `/v2/api` where
`get_api_token` gives an access key, which is sent as `X-Access-Key` with the `login` call only
(as the Terraform provider and the HA tools do), and `/v1/api` on older controllers; `action=login`
returns a top-level `CID` sent with every later call; every answer is the envelope
`{"return", "results", "reason"}`, with HTTP 200 even on failure. This module turns those answers
into classified errors: an expired session logs in again once; a restarting controller
(connection refused or reset, 5xx, the not-ready reasons) is retried with jittered backoff until
a time bound, never a mere count; bad credentials and bad addresses (an unparseable host or
port, a host name that does not exist) are never retried.
"""

from __future__ import annotations

import http.client
import json
import logging
import secrets
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeVar
from urllib.parse import urlencode

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    LocationValueError,
    NameResolutionError,
    NewConnectionError,
    SSLError,
)
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import (
    TimeoutError as Urllib3Timeout,
)
from urllib3.util import parse_url
from urllib3.util.ssl_match_hostname import CertificateError

from controller_backup.controller.retry import Deadline, RetryPolicy
from controller_backup.errors import (
    AuthError,
    BackupError,
    ControllerError,
    ControllerTimeout,
    NotReadyError,
    SettingsError,
)
from controller_backup.progress import SILENT, Progress, waiting
from controller_backup.redact import redact, register_secret

log = logging.getLogger("controller_backup.controller")

_CHUNK = 1024 * 1024
_T = TypeVar("_T")

#: reasons a controller gives when a session is gone (docs/controller-api.md); matched case-insensitively
_EXPIRED = ("cid is invalid or expired", "invalid session", "please login again")
#: reasons a booting controller gives before its API is up
_NOT_READY = ("requestrefused", "valid action required", "account_password required")
_TRANSIENT_STATUS = {500, 502, 503, 504}
#: resolver answers that mean "no such name", not "try again" (EAI_NODATA is not on every platform)
_NO_SUCH_NAME = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}
#: get_api_token answers a few hundred bytes; a longer body is not a token answer anyway
_PROBE_MAX = 64 * 1024
#: the words every failed TLS handshake's message carries, followed by the address (check.py
#: blames the `tls` line on them)
TLS_FAILURE = "the TLS handshake with"


def is_expired_reason(reason: str) -> bool:
    """True for every expired-session reason seen: `Session <cid> expired` and its kin."""
    text = reason.strip().lower().rstrip(".")
    if any(marker in text for marker in _EXPIRED):
        return True
    return text.startswith("session ") and text.endswith((" not found", " expired"))


def is_not_ready_reason(reason: str) -> bool:
    text = reason.strip().lower().replace(" ", "")
    return any(marker.replace(" ", "") in text for marker in _NOT_READY)


class _Transient(Exception):
    """Internal: a failure worth another try (network, 5xx, not-ready)."""

    def __init__(self, message: str, *, not_ready: bool = False) -> None:
        super().__init__(message)
        self.not_ready = not_ready


@dataclass(frozen=True)
class Download:
    """What a streamed download brought: its byte count and the controller's declared facts."""

    size: int
    content_length: int | None
    content_type: str
    headers: Mapping[str, str]


class _MultipartBody:
    """A multipart/form-data body read lazily, so a 1 GiB file is never held in memory."""

    def __init__(
        self, fields: Mapping[str, str], file_field: str, filename: str, source: BinaryIO, size: int
    ) -> None:
        self.boundary = "----controller-backup-" + secrets.token_hex(12)
        head = b"".join(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in fields.items()
        )
        head += (
            f"--{self.boundary}\r\nContent-Disposition: form-data; "
            f'name="{file_field}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        self._parts: list[bytes | BinaryIO] = [head, source, f"\r\n--{self.boundary}--\r\n".encode()]
        self.length = len(head) + size + len(self._parts[2])  # type: ignore[arg-type]
        self._source = source
        self._start = source.tell()

    def rewind(self) -> None:
        self._source.seek(self._start)
        self._index, self._offset = 0, 0

    def read(self, amount: int = _CHUNK) -> bytes:
        while self._index < len(self._parts):
            part = self._parts[self._index]
            if isinstance(part, bytes):
                chunk = part[self._offset : self._offset + amount]
                self._offset += len(chunk)
            else:
                chunk = part.read(amount)
            if chunk:
                return chunk
            self._index, self._offset = self._index + 1, 0
        return b""


class ControllerClient:
    """A logged-in session with one controller; thread-compatible, not thread-safe."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        ca_bundle: str | None = None,
        tls_server_name: str | None = None,
        verify_tls: bool = True,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.base_url = _checked_base_url(base_url)
        self.username = username
        self._password = password
        register_secret(password)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.verify_tls = verify_tls
        self._pool = _pool_for(self.base_url, ca_bundle, verify_tls, timeout, tls_server_name)
        parts = parse_url(self.base_url)
        #: host:port, as failures name the controller
        self.where = f"{parts.host}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
        self._cid: str | None = None
        self.api_version: str | None = None

    # -- sessions ----------------------------------------------------------------------------

    @property
    def logged_in(self) -> bool:
        return self._cid is not None

    def login(self) -> None:
        """Find the API version, get a token (v2) and a CID; bad credentials raise AuthError."""
        self._cid = None
        self._with_retries("login", self._login_once)

    def _login_once(self) -> None:
        version, token = self._discover_api()
        answer = self._envelope(
            version,
            "POST",
            {"action": "login", "username": self.username, "password": self._password},
            token=token,
        )
        if not answer.get("return"):
            reason = str(answer.get("reason", ""))
            if is_not_ready_reason(reason):
                raise _Transient(f"controller not ready: {redact(reason)}", not_ready=True)
            raise AuthError(f"login as {self.username!r} refused: {redact(reason) or 'no reason given'}")
        cid = answer.get("CID")
        if not isinstance(cid, str) or not cid:
            raise ControllerError("login answered success without a CID")
        register_secret(cid)
        self.api_version, self._cid = version, cid
        log.info("logged in to %s (api %s)", self.base_url, version)

    def _discover_api(self) -> tuple[str, str | None]:
        """v2 and its access key when `get_api_token` gives one; else v1, as the official clients do.

        Aviatrix's control-plane client: 404, a body that is not JSON, JSON without the envelope,
        or `return: false` mean an older controller (v1); any other status, or `RequestRefused`,
        means one that is not ready yet.
        """
        status, raw = self._probe("v2", {"action": "get_api_token"})
        if status == 404:
            return "v1", None
        if status != 200:
            raise _Transient(f"get_api_token: HTTP {status}", not_ready=True)
        try:
            answer = json.loads(raw)
        except ValueError:
            return "v1", None
        if not isinstance(answer, dict) or "return" not in answer:
            return "v1", None
        if answer.get("return"):
            results = answer.get("results")
            token = results.get("api_token") if isinstance(results, dict) else None
            if isinstance(token, str) and token:
                register_secret(token)
                return "v2", token
            return "v1", None
        reason = str(answer.get("reason", ""))
        if is_not_ready_reason(reason):
            raise _Transient(f"controller not ready: {redact(reason)}", not_ready=True)
        return "v1", None

    # -- calls -------------------------------------------------------------------------------

    def call(
        self,
        action: str,
        params: Mapping[str, str] | None = None,
        *,
        method: str = "POST",
        api: str | None = None,
    ) -> Any:
        """Run `action`; return its `results`. A logical failure raises ControllerError."""
        answer = self.call_envelope(action, params, method=method, api=api)
        if not answer.get("return"):
            raise ControllerError(f"{action} failed: {redact(str(answer.get('reason', 'no reason given')))}")
        return answer.get("results")

    def call_envelope(
        self,
        action: str,
        params: Mapping[str, str] | None = None,
        *,
        method: str = "POST",
        api: str | None = None,
    ) -> dict[str, Any]:
        """Run `action` and return the whole envelope, `return: false` included.

        `api` sends it to `/v1/api` or `/v2/api` whatever the login used (a CID is valid on both,
        and some actions are only known in their v1 form). Expired sessions log in again once;
        not-ready and transient failures are retried.
        """

        def attempt() -> dict[str, Any]:
            return self._with_session(
                lambda: self._envelope(api or self._version(), method, self._params(action, params), None)
            )

        return self._with_retries(action, attempt)

    def download(
        self,
        action: str,
        dest: BinaryIO,
        params: Mapping[str, str] | None = None,
        progress: Progress = SILENT,
    ) -> Download:
        """Stream `action`'s binary answer into `dest` (truncated first on every try); `progress`
        hears the declared size and each chunk, and loses a failed try's bytes again."""

        def attempt() -> Download:
            return self._with_session(lambda: self._download_once(action, dest, params, progress))

        return self._with_retries(action, attempt)

    def upload(
        self,
        action: str,
        source: BinaryIO,
        size: int,
        *,
        filename: str,
        field: str = "file",
        params: Mapping[str, str] | None = None,
        progress: Progress = SILENT,
        timeout: float | None = None,
    ) -> Any:
        """POST `source` as the multipart file part `field`; return `results`.

        Not retried after the body was sent: the controller may be applying it. A dropped
        connection raises ControllerTimeout and the caller decides (restore verifies).
        """

        def attempt() -> Any:
            fields = self._params(action, params)
            body = _MultipartBody(fields, field, filename, source, size)
            body.rewind()
            progress.expect(body.length)
            reader = _ProgressReader(body, progress)
            headers = {
                "Content-Type": f"multipart/form-data; boundary={body.boundary}",
                "Content-Length": str(body.length),
            }
            try:
                return self._send(
                    self._version(),
                    "POST",
                    body=reader,
                    headers=headers,
                    token=None,
                    timeout=timeout,
                    describe=action,
                )
            except BaseException:
                progress.advance(-reader.sent)  # an expired session sends it all again
                raise

        try:
            answer = self._with_session(attempt)
        except _Transient as exc:
            raise ControllerTimeout(
                f"{action}: no answer ({exc}); the controller may still be applying it"
            ) from None
        if not answer.get("return"):
            raise ControllerError(f"{action} failed: {redact(str(answer.get('reason', 'no reason given')))}")
        return answer.get("results")

    def wait_until_ready(self, timeout: float, poll: float = 10.0) -> None:
        """Log in, waiting out a booting controller for at most `timeout` seconds.

        From the first "not yet" on, the wait is shown (progress.waiting) with its bound: a restore
        may wait minutes for a replacement to boot, and nobody should wonder whether it hangs.
        """
        deadline = Deadline(timeout)
        started = time.monotonic()
        tries = 0
        with ExitStack() as shown_wait:
            while True:
                tries += 1
                try:
                    self._cid = None
                    self._login_once()
                    return
                except _Transient as exc:
                    if deadline.expired():
                        raise NotReadyError(
                            f"{self.base_url} did not become ready within {timeout:.0f} s ({exc})"
                        ) from None
                    if tries == 1:
                        shown_wait.enter_context(
                            waiting(f"{self.base_url} to become ready", timeout, started)
                        )
                    delay = min(poll, self.retry.base_delay * 2 ** min(tries, 6), deadline.remaining())
                    log.info("controller not ready yet (%s); next try in %.1f s", exc, delay)
                    time.sleep(delay)

    # -- plumbing ----------------------------------------------------------------------------

    def _network_error(self, describe: str, exc: BaseException) -> BackupError | _Transient:
        return _classify_network_error(describe, exc, self.where, self.verify_tls)

    def _version(self) -> str:
        if self.api_version is None:
            raise ControllerError("not logged in")
        return self.api_version

    def _params(self, action: str, params: Mapping[str, str] | None) -> dict[str, str]:
        if self._cid is None:
            raise ControllerError("not logged in")
        return {"action": action, "CID": self._cid, **(params or {})}

    def _with_session(self, attempt: Callable[[], _T]) -> _T:
        """Run `attempt`, logging in first if needed and once more on an expired session."""
        if self._cid is None:
            self._login_once()
        try:
            return attempt()
        except _Expired:
            log.info("controller session expired; logging in again")
            self._login_once()
            try:
                return attempt()
            except _Expired:
                raise AuthError("controller session expired again right after a fresh login") from None

    def _with_retries(self, what: str, attempt: Callable[[], _T]) -> _T:
        """Run `attempt` until it succeeds, fails for good, or the retry deadline is spent."""
        clock = Deadline(self.retry.deadline)
        delays = self.retry.delays(clock)
        tries = 0
        while True:
            tries += 1
            try:
                return attempt()
            except _Transient as exc:
                delay = next(delays, None)
                if delay is None:
                    spent = f"{tries} tries in {clock.seconds - clock.remaining():.0f} s"
                    if exc.not_ready:
                        raise NotReadyError(f"{what}: controller not ready after {spent}: {exc}") from None
                    raise ControllerTimeout(f"{what}: gave up after {spent}: {exc}") from None
                log.warning("%s: transient failure (%s); retrying in %.2f s", what, exc, delay)
                time.sleep(delay)

    def _envelope(
        self, version: str, method: str, params: Mapping[str, str], token: str | None
    ) -> dict[str, Any]:
        if method == "GET":
            return self._send(version, "GET", fields=params, token=token, describe=params.get("action", ""))
        body = urlencode(dict(params)).encode()
        return self._send(
            version,
            "POST",
            body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            token=token,
            describe=params.get("action", ""),
        )

    @contextmanager
    def _request(
        self,
        version: str,
        method: str,
        *,
        fields: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        token: str | None,
        timeout: float | None = None,
        describe: str,
    ) -> Iterator[urllib3.BaseHTTPResponse]:
        url = f"{self.base_url}/{version}/api"
        all_headers = dict(headers or {})
        if token:
            all_headers["X-Access-Key"] = token
        try:
            response = self._pool.request(
                method,
                url,
                fields=dict(fields) if fields is not None else None,
                body=body,
                headers=all_headers,
                preload_content=False,
                timeout=_timeout(timeout or self.timeout),
            )
        except (Urllib3Error, OSError) as exc:
            raise self._network_error(describe, exc) from None
        try:
            if response.status in _TRANSIENT_STATUS:
                raise _Transient(f"{describe}: HTTP {response.status}")
            if response.status >= 400:
                raise ControllerError(f"{describe}: HTTP {response.status}")
            yield response
        except BaseException:
            # An answer not read to its end must not go back to the pool: the next request on
            # that connection would read the rest of this one.
            response.close()
            raise
        finally:
            response.release_conn()

    def _send(self, version: str, method: str, *, describe: str, **kwargs: Any) -> dict[str, Any]:
        with self._request(version, method, describe=describe, **kwargs) as response:
            try:
                raw = response.read()
            except (Urllib3Error, OSError) as exc:
                raise self._network_error(describe, exc) from None
            return _parse_envelope(describe, response.headers.get("Content-Type", ""), raw)

    def _probe(self, version: str, fields: Mapping[str, str]) -> tuple[int, bytes]:
        """GET and return (status, body) as they came: the caller reads meaning into the status."""
        describe = fields.get("action", "")
        try:
            response = self._pool.request(
                "GET",
                f"{self.base_url}/{version}/api",
                fields=dict(fields),
                preload_content=False,
                timeout=_timeout(self.timeout),
            )
        except (Urllib3Error, OSError) as exc:
            raise self._network_error(describe, exc) from None
        try:
            return response.status, response.read(_PROBE_MAX)
        except (Urllib3Error, OSError) as exc:
            raise self._network_error(describe, exc) from None
        finally:
            response.close()
            response.release_conn()

    def _download_once(
        self, action: str, dest: BinaryIO, params: Mapping[str, str] | None, progress: Progress
    ) -> Download:
        dest.seek(0)
        dest.truncate()
        with self._request(
            self._version(), "GET", fields=self._params(action, params), token=None, describe=action
        ) as response:
            content_type = response.headers.get("Content-Type", "")
            if "json" in content_type.lower():
                answer = _parse_envelope(action, content_type, response.read())
                reason = str(answer.get("reason", ""))
                raise ControllerError(
                    f"{action} answered an error envelope instead of data: {redact(reason) or 'no reason'}"
                )
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit():
                progress.expect(int(declared))
            size = 0
            try:
                for chunk in response.stream(_CHUNK):
                    dest.write(chunk)
                    size += len(chunk)
                    progress.advance(len(chunk))
            except Urllib3Error as exc:  # a full disk (OSError from `dest`) is no network failure
                progress.advance(-size)  # a retry starts again from nothing
                raise self._network_error(action, exc) from None
            headers = {k: v for k, v in response.headers.items() if k.lower() != "set-cookie"}
            return Download(
                size, int(declared) if declared and declared.isdigit() else None, content_type, headers
            )


class _Expired(Exception):
    """Internal: the controller says the session is gone."""


class _ProgressReader:
    """A multipart body that tells `progress` each block as http.client sends it."""

    def __init__(self, inner: _MultipartBody, progress: Progress) -> None:
        self._inner, self._progress = inner, progress
        self.sent = 0

    def read(self, amount: int = _CHUNK) -> bytes:
        chunk = self._inner.read(amount)
        self.sent += len(chunk)
        self._progress.advance(len(chunk))
        return chunk


def _parse_envelope(describe: str, content_type: str, raw: bytes) -> dict[str, Any]:
    """The envelope of a JSON answer; older controllers say `text/json`, so match on `json`."""
    if "json" not in content_type.lower():
        kind = "an HTML page" if raw.lstrip()[:1] == b"<" else f"{content_type or 'untyped'} content"
        raise ControllerError(f"{describe}: controller answered {kind} instead of JSON")
    try:
        answer = json.loads(raw)
    except ValueError:
        raise ControllerError(f"{describe}: controller answered malformed JSON") from None
    if not isinstance(answer, dict) or "return" not in answer:
        raise ControllerError(f"{describe}: controller answered JSON without the 'return' envelope")
    if not answer.get("return") and is_expired_reason(str(answer.get("reason", ""))):
        raise _Expired
    if not answer.get("return") and is_not_ready_reason(str(answer.get("reason", ""))):
        raise _Transient(f"controller not ready: {redact(str(answer.get('reason')))}", not_ready=True)
    return answer


def _classify_network_error(
    describe: str, exc: BaseException, where: str, verify_tls: bool
) -> BackupError | _Transient:
    """What a failure below HTTP means, named by the address it concerns: a fault worth waiting
    out (refused, reset, timed out), or one no wait can fix (a TLS handshake, a name that does
    not exist)."""
    tls = _ssl_error(exc)
    if tls is not None:
        return ControllerError(f"{describe}: {TLS_FAILURE} {where} failed: {_tls_advice(tls, verify_tls)}")
    if isinstance(exc, NameResolutionError):
        host = where.rsplit(":", 1)[0]
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, socket.gaierror) and cause.errno in _NO_SUCH_NAME:
            return ControllerError(
                f"{describe}: the controller's host name {host} does not resolve (no such name); "
                "check the URL"
            )
        return _Transient(f"{describe}: cannot resolve {host} ({_network_reason(exc)})")
    if isinstance(exc, NewConnectionError | ConnectTimeoutError):
        return _Transient(f"{describe}: cannot reach {where} ({_network_reason(exc)})")
    return _Transient(f"{describe}: the connection to {where} failed ({_network_reason(exc)})")


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what it wraps: urllib3 keeps the OS's error as a reason, a cause or an argument."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        inner = [getattr(current, "reason", None), current.__cause__, current.__context__, *current.args]
        pending += [item for item in inner if isinstance(item, BaseException)]


def _network_reason(exc: BaseException) -> str:
    """The failure in the OS's words (`connection refused`), not an exception class's name."""
    causes = list(_causes(exc))
    told = next((cause.strerror for cause in causes if isinstance(cause, OSError) and cause.strerror), None)
    if told:
        return told.lower()
    for cause in causes:
        if isinstance(cause, http.client.RemoteDisconnected):
            return "closed without an answer"
        if isinstance(cause, http.client.IncompleteRead):
            return "closed before the answer was complete"
        # urllib3's connection errors are timeouts by class: only a cause without an OS reason is one
        if isinstance(cause, TimeoutError | Urllib3Timeout):
            return "timed out"
    return "no answer"


def _ssl_error(exc: BaseException) -> BaseException | None:
    """The TLS failure in `exc`'s chain, as precisely as urllib3 kept it (OpenSSL's own error, or
    its host name check's)."""
    found = [cause for cause in _causes(exc) if isinstance(cause, ssl.SSLError | CertificateError | SSLError)]
    precise = [cause for cause in found if not isinstance(cause, SSLError)]
    return (precise or found or [None])[0]


#: what OpenSSL reports when the other end answered a TLS handshake in plain HTTP
_PLAIN_HTTP = (
    "WRONG_VERSION_NUMBER",
    "HTTP_REQUEST",
    "UNKNOWN_PROTOCOL",
    "RECORD_LAYER_FAILURE",
    "PACKET_LENGTH_TOO_LONG",
)


def _tls_advice(error: BaseException, verify_tls: bool) -> str:
    """Why a handshake failed and what fixes it; never advice the operator already followed."""
    reason = str(getattr(error, "reason", None) or error)
    if any(marker in reason.upper() for marker in _PLAIN_HTTP):
        return "it answers in plain HTTP, not HTTPS (check the URL's scheme and port)"
    detail = str(getattr(error, "verify_message", None) or reason)[:200]
    if isinstance(error, CertificateError) or "mismatch" in detail.lower():
        return (
            f"its certificate does not name the host checked ({detail.rstrip('.')}); set "
            "CONTROLLER_TLS_SERVER_NAME to a name it lists"
        )
    verify_failed = isinstance(error, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in reason
    if verify_failed and verify_tls:
        return (
            f"its certificate did not verify ({detail}); pin the controller's certificate with "
            "CONTROLLER_CA_BUNDLE (or, knowingly, set CONTROLLER_VERIFY_TLS=false)"
        )
    return detail.lower().replace("_", " ") or "no reason given"


def _checked_base_url(base_url: str) -> str:
    """The controller's URL, refused at once when no connection could ever use it.

    An unparseable host or port (`:99999`, `:abc`, `:0`) or another scheme is a settings
    mistake: waiting it out as a booting controller would only turn it into a late timeout.
    """
    url = base_url.rstrip("/")
    try:
        parts = parse_url(url)
    except LocationValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.host or parts.port == 0:
        shown = url.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1][:80]
        raise SettingsError(
            f"CONTROLLER_URL: {shown!r} is not a usable controller address (scheme http(s), a host "
            "and a port within 1-65535)"
        )
    return url


def _timeout(seconds: float) -> urllib3.Timeout:
    return urllib3.Timeout(connect=min(seconds, 10.0), read=seconds)


def _pool_for(
    base_url: str, ca_bundle: str | None, verify_tls: bool, timeout: float, server_name: str | None = None
) -> urllib3.PoolManager:
    """A pool that verifies TLS by default, trusts a pinned bundle, or (asked) verifies nothing.

    `server_name` is the name the certificate must carry when the URL names the controller by an
    address its certificate does not list (a private IP): it is sent as SNI and checked instead.
    """
    # 1 MiB send blocks: http.client's default 16 KiB makes a 256 MiB import 16k system calls.
    kwargs: dict[str, Any] = {
        "retries": False,
        "timeout": _timeout(timeout),
        "maxsize": 2,
        "blocksize": _CHUNK,
    }
    if not base_url.startswith("https://"):
        return urllib3.PoolManager(**kwargs)
    if not verify_tls:
        log.warning(
            "TLS verification is OFF for %s (CONTROLLER_VERIFY_TLS=false): anyone on the path can "
            "read the controller's credentials and configuration; pin CONTROLLER_CA_BUNDLE instead",
            base_url,
        )
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        return urllib3.PoolManager(cert_reqs="CERT_NONE", assert_hostname=False, **kwargs)
    if server_name:
        kwargs.update(server_hostname=server_name, assert_hostname=server_name)
    if ca_bundle:
        if "-----BEGIN CERTIFICATE-----" in ca_bundle:
            return urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_cert_data=ca_bundle, **kwargs)
        try:
            with open(ca_bundle, "rb"):
                pass
        except OSError as exc:
            raise SettingsError(f"CONTROLLER_CA_BUNDLE: cannot read {ca_bundle}: {exc.strerror}") from None
        return urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=ca_bundle, **kwargs)
    return urllib3.PoolManager(cert_reqs="CERT_REQUIRED", **kwargs)
