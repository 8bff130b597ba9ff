"""A cloud SDK that is not installed is a settings problem, with the install line that fixes it.

Stores and secret backends import their SDK lazily (docs/design.md, invariant 8), so a missing one
surfaces only when an operator first names `s3://...` or `aws-sm:...`. Without this it would be
a bare ModuleNotFoundError: an internal failure with a traceback, telling the operator nothing
about which extra to install.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from controller_backup.errors import SettingsError

#: what the command line installs to reach every store and secret backend
CLI_INSTALL = "pip install 'controller-backup[cli]'"

#: backend (a store URL's or a secret reference's scheme) -> (the SDK module it needs, the extra
#: that installs it alone)
BACKENDS: dict[str, tuple[str, str]] = {
    "s3://": ("boto3", "aws"),
    "azblob://": ("azure.storage.blob", "azure"),
    "gs://": ("google.cloud.storage", "gcp"),
    "aws-sm:": ("aws_lambda_powertools", "aws"),
    "aws-ssm:": ("aws_lambda_powertools", "aws"),
    "azure-kv:": ("azure.keyvault.secrets", "azure"),
    "gcp-sm:": ("google.cloud.secretmanager_v1", "gcp"),
}


def missing_sdk(backend: str, exc: ImportError) -> SettingsError:
    """The SettingsError for `backend` (a store URL's or secret reference's scheme) whose SDK
    failed to import: what is missing, and the install line that brings it."""
    if backend == "local://":  # a function's bundle carries its own cloud's store, not local.py
        return SettingsError(
            "a local folder is not a store this deployment carries (a cloud function backs up into "
            "its cloud's bucket): set BACKUP_URL to s3://, azblob:// or gs://"
        )
    if backend not in BACKENDS:  # a scheme a caller registered: we know no extra for it
        return SettingsError(f"{backend} needs an SDK that is not installed ({exc.name or exc})")
    module, extra = BACKENDS[backend]
    # the import's own words name the piece that failed when it is not the module itself
    # ("No module named 'botocore'", "cannot import name 'storage' from 'google.cloud'")
    plain = isinstance(exc, ModuleNotFoundError) and exc.name == module
    detail = "" if plain else f" ({str(exc).splitlines()[0] if str(exc) else exc.name})"
    return SettingsError(
        f"{backend} needs {module}, which is not installed{detail}; install every backend of the "
        f"command line with {CLI_INSTALL} ('.[cli]' from a checkout), or only this cloud's with "
        f"pip install 'controller-backup[{extra}]'"
    )


@contextmanager
def sdk_for(backend: str) -> Iterator[None]:
    """Run the block that imports and first uses `backend`'s SDK; a missing SDK is a SettingsError.

    For our own backends, one of our modules failing to import is a bug, not a missing SDK: it
    passes unchanged, to be reported as an internal failure with its traceback in the log.
    """
    try:
        yield
    except ImportError as exc:
        if backend in BACKENDS and (exc.name or "").partition(".")[0] == "controller_backup":
            raise
        raise missing_sdk(backend, exc) from exc
