"""One typed settings model, read from the environment and validated once.

Every cloud sets the same variable names. Validation collects every problem before failing, so an
operator fixes a deployment in one round instead of one variable at a time. The password stays a
reference until a job needs it; only then is the secret fetched (and cached per process).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from controller_backup.errors import SettingsError
from controller_backup.secrets import resolve_secret
from controller_backup.stores import store_kind

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Settings:
    """What a backup or restore needs; see DESIGN.md's settings table."""

    controller_url: str
    backup_url: str
    password_ref: str
    username: str = "admin"
    ca_bundle: str | None = None
    verify_tls: bool = True
    min_size_ratio: float = 0.5
    #: seconds for one HTTP call to the controller (connect and each read)
    request_timeout: float = 30.0
    #: seconds to wait for a booting controller before giving up
    ready_timeout: float = 600.0
    #: tries of one controller call on transient failures, and their total seconds
    retry_attempts: int = 5
    retry_seconds: float = 120.0
    #: versions the local store keeps (buckets keep theirs by their own lifecycle rules)
    keep_versions: int = 10

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read and validate every setting; `overrides` (not None) win over the environment."""
        source = dict(os.environ if env is None else env)
        for key, value in overrides.items():
            if value is not None:
                source[_ENV_NAMES[key]] = str(value)
        problems: list[str] = []
        values: dict[str, Any] = {}
        for field_name, (env_name, parse) in _PARSERS.items():
            raw = source.get(env_name, "").strip()
            if not raw:
                if field_name in _REQUIRED:
                    problems.append(f"{env_name} is required")
                continue
            try:
                values[field_name] = parse(raw)
            except ValueError as exc:
                problems.append(f"{env_name}: {exc}")
        if problems:
            raise SettingsError("invalid settings: " + "; ".join(problems))
        return cls(**values)

    def for_controller(self, url: str) -> Settings:
        """The same settings aimed at another controller (a replacement)."""
        return dataclasses.replace(self, controller_url=_parse_controller_url(url))

    def password(self) -> str:
        """The controller password, fetched through its secret reference on first use."""
        return resolve_secret(self.password_ref)


def _parse_controller_url(raw: str) -> str:
    parts = urlsplit(raw if "://" in raw else f"https://{raw}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be https://host (got scheme {parts.scheme!r})")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials; use CONTROLLER_USERNAME and CONTROLLER_PASSWORD")
    return f"{parts.scheme}://{parts.netloc}"


def _parse_backup_url(raw: str) -> str:
    try:
        store_kind(raw)
    except SettingsError as exc:
        raise ValueError(exc.message.removeprefix("BACKUP_URL: ")) from None
    if raw.endswith("/"):
        raise ValueError("must name one object, not a folder (it ends with '/')")
    return raw


def _parse_bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"must be true or false, got {raw!r}")


def _parse_ratio(raw: str) -> float:
    value = float(raw)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"must be between 0 and 1, got {raw}")
    return value


def _positive(kind: Callable[[str], float | int]) -> Callable[[str], Any]:
    def parse(raw: str) -> float | int:
        value = kind(raw)
        if value <= 0:
            raise ValueError(f"must be positive, got {raw}")
        return value

    return parse


def _non_empty(raw: str) -> str:
    return raw


#: field -> (environment variable, parser)
_PARSERS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "controller_url": ("CONTROLLER_URL", _parse_controller_url),
    "username": ("CONTROLLER_USERNAME", _non_empty),
    "password_ref": ("CONTROLLER_PASSWORD", _non_empty),
    "ca_bundle": ("CONTROLLER_CA_BUNDLE", _non_empty),
    "verify_tls": ("CONTROLLER_VERIFY_TLS", _parse_bool),
    "backup_url": ("BACKUP_URL", _parse_backup_url),
    "min_size_ratio": ("BACKUP_MIN_SIZE_RATIO", _parse_ratio),
    "request_timeout": ("CONTROLLER_TIMEOUT", _positive(float)),
    "ready_timeout": ("CONTROLLER_READY_TIMEOUT", _positive(float)),
    "retry_attempts": ("CONTROLLER_RETRY_ATTEMPTS", _positive(int)),
    "retry_seconds": ("CONTROLLER_RETRY_SECONDS", _positive(float)),
    "keep_versions": ("BACKUP_KEEP_VERSIONS", _positive(int)),
}
_ENV_NAMES = {field: env for field, (env, _) in _PARSERS.items()}
_REQUIRED = {"controller_url", "backup_url", "password_ref"}
