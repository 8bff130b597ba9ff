"""The emulator's public face: a configuration object and a server you start, poke and stop."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import ssl
import tempfile
import threading
from dataclasses import dataclass

import trustme

from .actions import Controller
from .archive import MAX_SIZE, MIN_SIZE
from .faults import Faults
from .native import NativeBackups
from .server import EmulatorServer
from .state import DEFAULT_VERSION, ControllerState, version_numbers

log = logging.getLogger("controller_emulator")

_ANY_HOST = ("", "0.0.0.0", "::")  # noqa: S104 - names, not a bind


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulated controller looks; the defaults make a set-up 8.0 controller on v2."""

    archive_size: int = 64 * 1024
    seed: int = 1
    name: str = "controller-a"
    #: as the controller reports it: any of state.VERSION_FORMS' forms
    version: str = DEFAULT_VERSION
    private_ip: str = "10.0.0.10"
    username: str = "admin"
    #: ignored when blank: a fresh controller's password is its private IP
    password: str = "Adm1n-secret!"  # noqa: S105 - a test controller's default, not a real secret
    blank: bool = False
    api: str = "v2"
    tls: bool = False
    #: the names the HTTPS certificate lists (default: 127.0.0.1, localhost and the host)
    tls_names: tuple[str, ...] = ()
    cid_lifetime: float | None = None
    latency: float = 0.0
    error_5xx_rate: float = 0.0
    text_json: bool = False
    host: str = "127.0.0.1"
    port: int = 0
    #: native backups: a local folder standing in for every bucket (BUCKET, or STORAGE/CONTAINER
    #: for Azure); None writes to s3://, gs:// or azblob:// by cloud type
    bucket_root: str | None = None
    #: seconds from a backup trigger until the controller's files land
    native_backup_delay: float = 1.0
    #: seconds restore_cloudx_config works before it answers
    native_restore_delay: float = 1.0
    #: seconds the controller restarts after restore_cloudx_config (not ready)
    native_restore_reboot: float = 1.0
    #: a BYOL controller: restore_cloudx_config fails until setup_customer_id ran
    byol: bool = False

    def __post_init__(self) -> None:
        if not MIN_SIZE <= self.archive_size <= MAX_SIZE:
            raise ValueError(f"archive_size must be within {MIN_SIZE}..{MAX_SIZE} bytes")
        if self.api not in ("v1", "v2"):
            raise ValueError("api must be 'v1' or 'v2'")
        if not 0.0 <= self.error_5xx_rate <= 1.0:
            raise ValueError("error_5xx_rate must be within 0..1")
        if self.latency < 0:
            raise ValueError("latency must not be negative")
        if self.cid_lifetime is not None and self.cid_lifetime <= 0:
            raise ValueError("cid_lifetime must be positive (or None for sessions that never expire)")
        if not self.blank and not self.password:
            raise ValueError("a set-up controller needs a password")
        if min(self.native_backup_delay, self.native_restore_delay, self.native_restore_reboot) < 0:
            raise ValueError("native delays must not be negative")
        if len(version_numbers(self.version)) < 2:
            raise ValueError(f"version {self.version!r} is none of the forms controllers report")


class Emulator:
    """A controller emulator on a free loopback port, served from a daemon thread."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config = config or EmulatorConfig()
        self._workdir = tempfile.TemporaryDirectory(prefix="controller-emulator-", ignore_cleanup_errors=True)
        self.faults = Faults(latency=config.latency, error_5xx_rate=config.error_5xx_rate, seed=config.seed)
        self.state = ControllerState(
            name=config.name,
            version=config.version,
            private_ip=config.private_ip,
            username=config.username,
            password=config.password,
            blank=config.blank,
            seed=config.seed,
            archive_size=config.archive_size,
            cid_lifetime=config.cid_lifetime,
            spool_dir=self._workdir.name,
        )
        #: the controller's own backup settings and files (native mode)
        self.native = NativeBackups(
            self.state,
            self.faults,
            spool_dir=self._workdir.name,
            bucket_root=config.bucket_root,
            backup_delay=config.native_backup_delay,
            restore_delay=config.native_restore_delay,
            restore_reboot=config.native_restore_reboot,
            byol=config.byol,
        )
        self.controller = Controller(self.state, self.faults, config.api, self.native)
        #: (method, path, action) of every request, in arrival order; never parameters or headers
        self.requests: list[tuple[str, str, str]] = []
        self._requests_lock = threading.Lock()
        self.ca_pem: str | None = None
        self.ca_file: str | None = None
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None
        #: where it listens; kept while powered off, so it comes back on the same port
        self._address: tuple[str, int] | None = None
        self._ssl_context: ssl.SSLContext | None = None

    @property
    def url(self) -> str:
        """`http(s)://host:port` of the running emulator."""
        if self._address is None:
            raise RuntimeError("the emulator is not running")
        host, port = self._address
        shown = "127.0.0.1" if self.config.host in _ANY_HOST else str(host)
        if ":" in shown:
            shown = f"[{shown}]"
        return f"{'https' if self.config.tls else 'http'}://{shown}:{port}"

    def start(self) -> Emulator:
        """Bind and serve in the background; returns self so `Emulator(cfg).start()` reads well."""
        if self._address is not None:
            raise RuntimeError("the emulator is already running")
        self._listen(self.config.port)
        log.debug("emulator listening on %s", self.url)
        return self

    def _listen(self, port: int) -> None:
        self._server = EmulatorServer(
            (self.config.host, port),
            self.controller,
            spool_dir=self._workdir.name,
            text_json=self.config.text_json,
            record=self._record,
            ssl_context=self._tls() if self.config.tls else None,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="controller-emulator"
        )
        self._thread.daemon = True
        self._thread.start()
        host, bound = self._server.server_address[:2]
        self._address = (str(host), int(bound))

    def _stop_listening(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.close_connections()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def power_off(self) -> None:
        """Go down as a restarting controller does: connections are cut, sessions lost, and until
        `power_on` every new connection is refused (nothing listens on the port)."""
        if self._address is None:
            raise RuntimeError("the emulator is not running")
        self._stop_listening()
        self.state.forget_sessions()

    def power_on(self, booting_seconds: float = 0.0) -> None:
        """Listen again on the same port, then answer "not ready" for `booting_seconds`."""
        if self._address is None or self._server is not None:
            raise RuntimeError("the emulator is not powered off")
        self.faults.become_not_ready(booting_seconds)
        self._listen(self._address[1])

    def stop(self) -> None:
        """Stop serving, cut open connections, and delete every temporary file."""
        self._stop_listening()
        self._address = None
        self.native.wait_idle()
        self.state.close()
        self._workdir.cleanup()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def export_bytes(self) -> bytes:
        """The current archive in memory: for tests with small archives only."""
        _, chunks = self.state.open_export()
        with contextlib.closing(chunks):
            return b"".join(chunks)

    def export_sha256(self) -> str:
        """sha256 hex of the current archive, computed while streaming it."""
        digest = hashlib.sha256()
        _, chunks = self.state.open_export()
        with contextlib.closing(chunks):
            for chunk in chunks:
                digest.update(chunk)
        return digest.hexdigest()

    def reboot(self, not_ready_seconds: float, *, from_next_request: bool = False) -> None:
        """Act like a controller that restarts: sessions and tokens are lost, then it is not ready
        for `not_ready_seconds` (counted from the next request with `from_next_request`)."""
        self.state.forget_sessions()
        self.faults.become_not_ready(not_ready_seconds, from_next_request=from_next_request)

    def _record(self, method: str, path: str, action: str) -> None:
        with self._requests_lock:
            self.requests.append((method, path, action))

    def _tls(self) -> ssl.SSLContext:
        """One certificate for the emulator's life: a client that pinned it still trusts it after
        a power cycle."""
        if self._ssl_context is None:
            self._ssl_context = self._tls_context()
        return self._ssl_context

    def _tls_context(self) -> ssl.SSLContext:
        """A throwaway CA and a certificate it issues for the emulator's names: clients pin the
        CA's certificate (`ca_file`, `ca_pem`) as they pin a real controller's own."""
        hosts = list(self.config.tls_names) or ["127.0.0.1", "localhost"]
        if self.config.host not in _ANY_HOST and not self.config.tls_names:
            hosts.append(self.config.host)
        ca = trustme.CA(organization_name="controller-backup emulator")
        self.ca_pem = ca.cert_pem.bytes().decode()
        self.ca_file = os.path.join(self._workdir.name, "controller-ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        ca.issue_cert(*dict.fromkeys(hosts)).configure_cert(context)
        return context
