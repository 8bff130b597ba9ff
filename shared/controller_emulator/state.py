"""The controller's state: credentials, sessions, API tokens, and the configuration it holds.

One lock guards it all, because the HTTP server answers each connection on its own thread.
The configuration is either generated (from the seed, as a freshly built controller would hold)
or the archive file last imported, kept verbatim so that export after import is byte-identical.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hmac
import os
import re
import secrets
import string
import tempfile
import threading
import time
from collections.abc import Generator
from typing import BinaryIO

from .archive import CHUNK, ArchiveContents, ArchiveSpec, archive_length, iter_archive
from .records import Record, Records, generate_records

VERSION_PREFIX = "UserConnect-"
#: the forms real controllers report (list_version_info, the version file); 8.x by default
VERSION_FORMS = (
    "8.0.1-1000.1000",
    "UserConnect-7.2-1804.4665",
    "UserConnect-7.1.1794",
    "UserConnect-6.3-patch.2309",
)
DEFAULT_VERSION = VERSION_FORMS[0]
_CID_ALPHABET = string.ascii_letters + string.digits
_CID_LENGTH = 20


def strip_version(version: str) -> str:
    """`UserConnect-7.1.1794` -> `7.1.1794`: how two reports of one version are compared."""
    return version.strip().removeprefix(VERSION_PREFIX)


def version_numbers(version: str) -> tuple[int, ...]:
    """Every number in the version, in order: enough to tell an upgrade from a downgrade here.

    Deliberately cruder than the product's parser: the emulator must not share its assumptions.
    """
    return tuple(int(number) for number in re.findall(r"\d+", strip_version(version)))


def pins_version_at_launch(version: str) -> bool:
    """Images from 7.2 on come up at their release; `initial_setup` does not move them."""
    return version_numbers(version)[:2] >= (7, 2)


def same_style(new: str, like: str) -> str:
    """`new` written as `like` is (with or without the `UserConnect-` prefix)."""
    bare = strip_version(new)
    return VERSION_PREFIX + bare if like.strip().startswith(VERSION_PREFIX) else bare


class ControllerState:
    """What one emulated controller knows; every method is safe to call from any thread."""

    def __init__(
        self,
        *,
        name: str,
        version: str,
        private_ip: str,
        username: str,
        password: str,
        blank: bool,
        seed: int,
        archive_size: int,
        cid_lifetime: float | None,
        spool_dir: str,
    ) -> None:
        self._lock = threading.RLock()
        #: every CID and API token ever handed out: what leak tests search the client's output for
        self.issued: list[str] = []
        self.name = name
        #: exactly as the controller reports it (list_version_info, the version file)
        self.version = version.strip()
        self.previous_version = same_style("7.0.1373", like=self.version)
        #: BYOL: the customer id `setup_customer_id` gave, if any
        self.customer_id: str | None = None
        self.private_ip = private_ip
        # A fresh controller only knows admin / its private IP, whatever it will be set up with.
        self.username = "admin" if blank else username
        self._password = private_ip if blank else password
        self.initialized = not blank
        self.seed = seed
        self.archive_size = 0 if blank else archive_size
        self.cid_lifetime = cid_lifetime
        self._records = Records() if blank else generate_records(seed)
        self._spool_dir = spool_dir
        self._imported: str | None = None
        self._sessions: dict[str, float] = {}
        self._tokens: set[str] = set()
        self._bad_cid_turn = 0

    # -- configuration -------------------------------------------------------------------------

    @property
    def records(self) -> Records:
        """The configuration lists held now (an import or a new account replaces them whole)."""
        return self._records

    @property
    def imported(self) -> bool:
        """Whether the configuration came from an import (export replays those bytes)."""
        return self._imported is not None

    def archive_spec(self) -> ArchiveSpec:
        """The generated archive's description (meaningless once a configuration was imported)."""
        with self._lock:
            return ArchiveSpec(
                name=self.name,
                version=self.version,
                initialized=self.initialized,
                seed=self.seed,
                size=self.archive_size,
                records=self._records,
            )

    def open_export(self) -> tuple[int, Generator[bytes, None, None]]:
        """The current archive's length and its chunks; close the generator if not read to the end."""
        with self._lock:
            if self._imported is None:
                spec = self.archive_spec()
                return archive_length(spec), iter_archive(spec)
            # Opened under the lock: a concurrent import replaces the path, never this open file.
            handle = open(self._imported, "rb")  # noqa: SIM115 - closed by the generator
        return os.fstat(handle.fileno()).st_size, _read_chunks(handle)

    def apply_import(self, path: str, contents: ArchiveContents) -> None:
        """Adopt the validated archive at `path` (moved, not copied) as the configuration."""
        with self._lock:
            fd, target = _new_spool_path(self._spool_dir)
            os.close(fd)
            os.replace(path, target)
            previous, self._imported = self._imported, target
            self._records = contents.records
            self.initialized = True
        if previous is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(previous)

    def run_setup(self, target_version: str | None) -> None:
        """`initial_setup run`: the controller is set up; up to 7.1 it moves to `target_version`."""
        with self._lock:
            if target_version and not pins_version_at_launch(self.version):
                self._move_to(target_version)
            self.initialized = True

    def upgrade(self, version: str) -> None:
        """`upgrade version=...`: the controller now runs `version`."""
        with self._lock:
            self._move_to(version)

    def _move_to(self, version: str) -> None:
        if strip_version(version) != strip_version(self.version):
            self.previous_version, self.version = self.version, same_style(version, like=self.version)

    def add_account(self, record: Record) -> None:
        """`setup_account_profile`: one more access account (never with its secret fields)."""
        with self._lock:
            self._records = dataclasses.replace(self._records, accounts=[*self._records.accounts, record])

    def account_names(self) -> list[str]:
        with self._lock:
            return [str(account.get("account_name")) for account in self._records.accounts]

    # -- authentication ------------------------------------------------------------------------

    def credentials(self) -> tuple[str, str]:
        """The admin login, as a native backup carries it (inside the encrypted file)."""
        with self._lock:
            return self.username, self._password

    def adopt_credentials(self, username: str, password: str) -> None:
        """A native restore brings back the backed-up controller's users."""
        with self._lock:
            self.username, self._password = username, password

    def check_credentials(self, username: str, password: str) -> bool:
        with self._lock:
            expected_user, expected_password = self.username, self._password
        same_user = hmac.compare_digest(username.encode(), expected_user.encode())
        return hmac.compare_digest(password.encode(), expected_password.encode()) and same_user

    def issue_token(self) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens.add(token)
            self.issued.append(token)
        return token

    def token_valid(self, token: str | None) -> bool:
        with self._lock:
            return token is not None and token in self._tokens

    def login(self) -> str:
        cid = "".join(secrets.choice(_CID_ALPHABET) for _ in range(_CID_LENGTH))
        with self._lock:
            self._sessions[cid] = time.monotonic()
            self.issued.append(cid)
        return cid

    def logout(self, cid: str) -> None:
        with self._lock:
            self._sessions.pop(cid, None)

    def session_problem(self, cid: str | None) -> str | None:
        """None for a live session, else the reason a real controller would give, in rotation."""
        with self._lock:
            started = self._sessions.get(cid or "")
            if started is not None and (
                self.cid_lifetime is None or time.monotonic() - started < self.cid_lifetime
            ):
                return None
            if cid is None:
                return "CID is invalid or expired."
            reasons = (
                "CID is invalid or expired.",
                "Invalid session. Please login again.",
                f"Session {cid} not found",
                f"Session {cid} expired",
            )
            reason = reasons[self._bad_cid_turn % len(reasons)]
            self._bad_cid_turn += 1
            return reason

    def forget_sessions(self) -> None:
        """A reboot ends every session and invalidates every API token."""
        with self._lock:
            self._sessions.clear()
            self._tokens.clear()

    def close(self) -> None:
        """Delete the imported archive's file."""
        with self._lock:
            path, self._imported = self._imported, None
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def _read_chunks(handle: BinaryIO) -> Generator[bytes, None, None]:
    with handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def _new_spool_path(spool_dir: str) -> tuple[int, str]:
    return tempfile.mkstemp(dir=spool_dir, prefix="imported-", suffix=".tar")
