"""Small helpers: read files from a store URL, count an emulator's actions."""

from __future__ import annotations

import io
from typing import Any

from controller_backup.stores import ObjectInfo, open_store


def read(url: str, version_id: str | None = None) -> tuple[bytes, ObjectInfo]:
    buffer = io.BytesIO()
    info = open_store(url).download(buffer, version_id)
    return buffer.getvalue(), info


def head(url: str) -> ObjectInfo | None:
    return open_store(url).head()


def actions(emu: Any, name: str) -> int:
    """How many requests for `name` the emulator has seen."""
    return sum(1 for _, _, action in emu.requests if action == name)


def config_file(bucket_url: str, ip: str) -> str:
    return f"{bucket_url}/CloudN_{ip}_save_cloudx_config.enc"


def version_file(bucket_url: str, ip: str) -> str:
    return f"{bucket_url}/CloudN_{ip}_save_cloudx_version.txt"
