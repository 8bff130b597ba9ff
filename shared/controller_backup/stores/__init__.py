"""Object stores behind one contract; `open_store(url, options)` picks one by the URL's scheme.

Implementations are imported lazily, so a function deployed on one cloud never imports another
cloud's SDK (docs/design.md, invariant 8); one that is not installed is a SettingsError saying
what to install.
"""

from __future__ import annotations

import importlib
from urllib.parse import urlsplit

from controller_backup.errors import SettingsError
from controller_backup.sdk import sdk_for

from .base import (
    METADATA_KEYS,
    IfAbsent,
    IfMatch,
    ObjectInfo,
    ObjectRetention,
    ObjectStore,
    PendingUpload,
    Precondition,
    SizedSource,
    StoreOptions,
    replacing,
)

__all__ = [
    "METADATA_KEYS",
    "IfAbsent",
    "IfMatch",
    "ObjectInfo",
    "ObjectRetention",
    "ObjectStore",
    "PendingUpload",
    "Precondition",
    "SizedSource",
    "StoreOptions",
    "open_store",
    "replacing",
    "store_kind",
]

#: URL kind -> "module:Class", an ObjectStore
_IMPLEMENTATIONS = {
    "local": "controller_backup.stores.local:LocalStore",
    "s3": "controller_backup.stores.s3:S3Store",
    "azblob": "controller_backup.stores.azure_blob:AzureBlobStore",
    "gs": "controller_backup.stores.gcs:GcsStore",
}


def store_kind(url: str) -> str:
    """Which implementation serves `url`; raises SettingsError naming the URL's problem."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("", "file") or (len(scheme) == 1 and url[1:3] in (":\\", ":/")):
        return "local"
    if scheme in ("s3", "gs", "azblob"):
        return scheme
    if scheme == "https" and (parts.hostname or "").endswith(".blob.core.windows.net"):
        return "azblob"
    raise SettingsError(
        f"BACKUP_URL: unsupported scheme {scheme!r}; use s3://, gs://, azblob://, "
        "https://<account>.blob.core.windows.net/..., file:// or a path"
    )


def open_store(url: str, options: StoreOptions | None = None) -> ObjectStore:
    """The store for `url`, its SDK imported only now (some of it by `from_url`: credentials).

    An option of another kind of store than `url`'s is a SettingsError, before any import.
    """
    kind = store_kind(url)
    options = options or StoreOptions()
    options.check(kind)
    module_name, _, class_name = _IMPLEMENTATIONS[kind].partition(":")
    with sdk_for(f"{kind}://"):
        cls: type[ObjectStore] = getattr(importlib.import_module(module_name), class_name)
        return cls.from_url(url, options)
