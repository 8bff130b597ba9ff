"""The controller side: the HTTP API client and the drivers that pull and push configuration."""

from __future__ import annotations

from controller_backup.controller.client import ControllerClient
from controller_backup.controller.driver import ControllerDriver, ExportApiDriver, ExportInfo
from controller_backup.controller.retry import RetryPolicy
from controller_backup.settings import Settings

__all__ = [
    "ControllerClient",
    "ControllerDriver",
    "ExportApiDriver",
    "ExportInfo",
    "RetryPolicy",
    "open_driver",
]


def open_driver(
    settings: Settings, *, password: str | None = None, retry: RetryPolicy | None = None
) -> ControllerDriver:
    """The driver for `settings`' controller; `password` overrides the configured one."""
    client = ControllerClient(
        settings.controller_url,
        settings.username,
        password if password is not None else settings.password(),
        ca_bundle=settings.ca_bundle,
        verify_tls=settings.verify_tls,
        timeout=settings.request_timeout,
        retry=retry or RetryPolicy(attempts=settings.retry_attempts, deadline=settings.retry_seconds),
    )
    return ExportApiDriver(client)
