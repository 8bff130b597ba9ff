"""Fault knobs: the ways a real controller, or the network in front of it, lets a client down.

Every knob defaults to off. Tests flip them at runtime from another thread, so counters are
consumed under a lock and each request sees one consistent decision.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from enum import Enum


class NotReadyAnswer(Enum):
    """What a booting controller answers instead of doing the work, in rotation."""

    REQUEST_REFUSED = "RequestRefused"
    VALID_ACTION_REQUIRED = "valid action required"
    LOGIN_REQUIRED = "Valid action required: login"
    DROP = "drop"


_NOT_READY_ROTATION = tuple(NotReadyAnswer)


@dataclass
class Faults:
    """Mutable, thread-safe fault switches, each shaped like a failure seen in the field."""

    #: the next N requests answer HTTP 503 with an HTML body (a proxy or load balancer in trouble)
    fail_next_5xx: int = 0
    #: the next N requests get no answer: the connection closes (reset) after the request is read
    drop_next: int = 0
    #: export sends headers (full Content-Length) and half the body, then closes the connection
    drop_export_midway: bool = False
    #: export answers a complete 200 whose body is the first half, Content-Length matching it
    truncate_export: bool = False
    #: export answers 200 `{"return": false, "reason": "Failed to export configuration: disk full"}`
    export_error_envelope: bool = False
    #: export answers 200 text/html: a login page, as an intercepting proxy would
    export_html: bool = False
    #: export answers 200 application/octet-stream with an empty body
    export_empty: bool = False
    #: export answers 200 with this (content type, body): a page or file that is no archive
    export_page: tuple[str, bytes] | None = None
    #: seconds import_config works (after receiving and validating the body) before applying
    import_delay: float = 0.0
    #: import_config applies the configuration, then drops the connection without answering
    import_drop_after_apply: bool = False
    #: initial_setup run applies the setup, then drops the connection without answering
    setup_drop: bool = False
    #: seconds initial_setup run leaves the controller restarting (sessions lost, not ready)
    setup_reboot: float = 0.0
    #: initial_setup run ignores target_version: the controller stays on its own version
    setup_ignores_target_version: bool = False
    #: enable_cloudn_backup_config ignores now=true (an older controller): only enabling a
    #: disabled backup writes one, so the seed's disable-then-enable is the way to back up now
    backup_ignores_now: bool = False
    #: the controller's own backup writes this text into its version file instead of its version
    native_version_text: str | None = None
    #: the controller's own backup writes the backup file only, without its version file
    native_skips_version_file: bool = False
    #: restore_cloudx_config applies the backup, then drops the connection without answering
    restore_drop: bool = False
    #: a blank controller refuses list_version_info until its set-up (nothing documents that a
    #: blank 7.2+ replacement answers it, so a restore must not depend on it)
    version_info_needs_setup: bool = False
    #: seconds after `upgrade` until the new version takes effect (the API keeps answering with the
    #: old one meanwhile), and seconds the controller then restarts
    upgrade_delay: float = 0.0
    upgrade_reboot: float = 0.0
    #: `upgrade` applies the new version, then drops the connection without answering
    upgrade_drop: bool = False
    #: monotonic time until which the controller is booting (set by Emulator.reboot)
    not_ready_until: float = 0.0
    #: seconds added before every answer
    latency: float = 0.0
    #: probability that any request answers HTTP 503 (seeded, so runs repeat)
    error_5xx_rate: float = 0.0
    seed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _random: random.Random = field(init=False, repr=False, compare=False)
    _not_ready_turn: int = field(default=0, init=False, repr=False, compare=False)
    _boot_on_next_request: float = field(default=0.0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Seeded so a flaky-looking 5xx pattern replays identically from run to run.
        self._random = random.Random(self.seed)

    def take_drop(self) -> bool:
        """Consume one pending dropped connection, if any."""
        with self._lock:
            if self.drop_next > 0:
                self.drop_next -= 1
                return True
            return False

    def take_5xx(self) -> bool:
        """Consume one pending 503, or roll the random 5xx rate."""
        with self._lock:
            if self.fail_next_5xx > 0:
                self.fail_next_5xx -= 1
                return True
            return self.error_5xx_rate > 0 and self._random.random() < self.error_5xx_rate

    def not_ready_answer(self) -> NotReadyAnswer | None:
        """The next not-ready answer while booting, or None once the controller is up."""
        with self._lock:
            if self._boot_on_next_request:  # the boot starts with the first request it sees
                self.not_ready_until = time.monotonic() + self._boot_on_next_request
                self._boot_on_next_request = 0.0
            if time.monotonic() >= self.not_ready_until:
                return None
            answer = _NOT_READY_ROTATION[self._not_ready_turn % len(_NOT_READY_ROTATION)]
            self._not_ready_turn += 1
            return answer

    def become_not_ready(self, seconds: float, *, from_next_request: bool = False) -> None:
        """Start a boot: the controller refuses work for `seconds` from now, or from the next
        request (`from_next_request`: a client that takes a while to start still meets it)."""
        with self._lock:
            self.not_ready_until = 0.0 if from_next_request else time.monotonic() + seconds
            self._boot_on_next_request = seconds if from_next_request else 0.0
            self._not_ready_turn = 0

    def reset(self) -> None:
        """Turn every knob off again (between test phases)."""
        with self._lock:
            self.fail_next_5xx = self.drop_next = 0
            self.drop_export_midway = self.truncate_export = False
            self.export_error_envelope = self.export_html = self.export_empty = False
            self.export_page = self.native_version_text = None
            self.native_skips_version_file = False
            self.import_delay = 0.0
            self.import_drop_after_apply = self.setup_drop = False
            self.setup_reboot = 0.0
            self.setup_ignores_target_version = self.backup_ignores_now = self.restore_drop = False
            self.version_info_needs_setup = self.upgrade_drop = False
            self.upgrade_delay = self.upgrade_reboot = 0.0
            self.not_ready_until = self._boot_on_next_request = 0.0
            self.latency = self.error_5xx_rate = 0.0
