"""The controller side: the HTTP API client and the drivers that pull and push configuration."""

from __future__ import annotations

from typing import Protocol

from controller_backup.controller.client import ControllerClient
from controller_backup.controller.driver import (
    ControllerApi,
    ControllerDriver,
    ExportApiDriver,
    ExportInfo,
    NativePair,
)
from controller_backup.controller.retry import RetryPolicy
from controller_backup.settings import Settings

__all__ = [
    "Connect",
    "ControllerApi",
    "ControllerClient",
    "ControllerDriver",
    "ExportApiDriver",
    "ExportInfo",
    "NativePair",
    "RetryPolicy",
    "connector",
    "open_driver",
]


class Connect(Protocol):
    """Makes a (not yet logged-in) client for one controller with the given credentials."""

    def __call__(
        self,
        username: str,
        password: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> ControllerClient: ...


def connector(settings: Settings, retry: RetryPolicy | None = None) -> Connect:
    """A `Connect` for `settings`' controller: its TLS choices, timeout and retry bound.

    Retries end by CONTROLLER_RETRY_SECONDS, not by a count: a count of quick tries would give up
    on a controller that restarts (docs/design.md, invariant 6).
    """
    default_retry = retry or RetryPolicy(deadline=settings.retry_seconds)

    def connect(
        username: str,
        password: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> ControllerClient:
        return ControllerClient(
            settings.controller_url,
            username,
            password,
            ca_bundle=settings.ca_bundle,
            tls_server_name=settings.tls_server_name,
            verify_tls=settings.verify_tls,
            timeout=timeout or settings.request_timeout,
            retry=retry or default_retry,
        )

    return connect


def open_driver(
    settings: Settings,
    *,
    username: str | None = None,
    password: str | None = None,
    retry: RetryPolicy | None = None,
    private_ip: str | None = None,
    source_ip: str | None = None,
) -> ControllerDriver:
    """The driver `settings.mode` names, for `settings`' controller.

    `username`/`password` override the configured credentials (a fresh controller's admin / its
    private IP). Native mode only: `private_ip` is the controller's own address (its backup file
    is named after it), `source_ip` the address of the controller a backup came from.
    """
    connect = connector(settings, retry)
    user = username or settings.username
    secret = password if password is not None else settings.password()
    if settings.mode == "native":
        from controller_backup.controller.native import NativeDriver

        return NativeDriver(
            connect, settings, username=user, password=secret, private_ip=private_ip, source_ip=source_ip
        )
    return ExportApiDriver(connect(user, secret))
