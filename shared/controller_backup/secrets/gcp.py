"""`gcp-sm:projects/P/secrets/S/versions/V` references, read from Google Secret Manager.

The registry in `controller_backup.secrets` caches each value per process (one fetch per cold
start) and registers it with the redactor; this module only fetches. The client is built once,
with the SDK's own retry and credential machinery (Application Default Credentials: the
function's service account on Cloud Functions).

No Secret Manager emulator exists. For tests and local runs, `SECRET_MANAGER_EMULATOR_HOST`
(`http://host:port`, mirroring `STORAGE_EMULATOR_HOST`) points the REST transport at a local server
with anonymous credentials. The payload's crc32c, when the service sends one, is checked.
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any

from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions

from controller_backup.errors import BackupError, SettingsError

EMULATOR_ENV = "SECRET_MANAGER_EMULATOR_HOST"
_NAME = re.compile(r"^projects/[^/\s]+/secrets/[A-Za-z0-9_-]{1,255}(?:/versions/(?:[1-9][0-9]*|latest))?$")

_client: Any = None
_client_lock = threading.Lock()


def make_client(api_endpoint: str | None = None) -> Any:
    """A Secret Manager client; with an endpoint, REST to it with anonymous credentials.

    The SDK is imported here, on the first secret fetch, not when the function module loads: it
    costs about as much to import as the storage SDK, and is needed once per cold start.
    """
    from google.cloud import secretmanager_v1

    endpoint = api_endpoint or os.environ.get(EMULATOR_ENV)
    if endpoint:
        from google.auth import credentials

        anonymous: Any = credentials.AnonymousCredentials  # untyped in google-auth
        return secretmanager_v1.SecretManagerServiceClient(
            credentials=anonymous(),
            transport="rest",
            client_options={"api_endpoint": endpoint},
        )
    try:
        return secretmanager_v1.SecretManagerServiceClient()
    except auth_exceptions.DefaultCredentialsError as exc:
        raise SettingsError(f"gcp-sm: Google Cloud credentials not found ({type(exc).__name__})") from None


def set_client(client: Any) -> None:
    """Use `client` for every later fetch (tests; None rebuilds from the environment)."""
    global _client  # noqa: PLW0603 - one client per process
    with _client_lock:
        _client = client


def _get_client() -> Any:
    global _client  # noqa: PLW0603 - one client per process
    with _client_lock:
        if _client is None:
            _client = make_client()
        return _client


def _version_name(reference: str) -> str:
    if not _NAME.match(reference):
        raise SettingsError(
            f"gcp-sm:{reference}: expected gcp-sm:projects/PROJECT/secrets/NAME/versions/VERSION "
            "(a number or 'latest')"
        )
    return reference if "/versions/" in reference else f"{reference}/versions/latest"


def resolve_secret_manager(reference: str) -> str:
    """The secret's value as text (one trailing newline, as `echo` adds, is dropped)."""
    name = _version_name(reference)
    try:
        response = _get_client().access_secret_version(request={"name": name})
    except (api_exceptions.NotFound, api_exceptions.InvalidArgument, api_exceptions.BadRequest) as exc:
        raise SettingsError(f"gcp-sm:{name}: {type(exc).__name__}: no such secret version") from None
    except (
        api_exceptions.PermissionDenied,
        api_exceptions.Unauthenticated,
        api_exceptions.Forbidden,
        api_exceptions.Unauthorized,
    ) as exc:
        raise SettingsError(
            f"gcp-sm:{name}: {type(exc).__name__}: the function's service account needs "
            "roles/secretmanager.secretAccessor on this secret"
        ) from None
    except (api_exceptions.GoogleAPIError, auth_exceptions.GoogleAuthError) as exc:
        raise BackupError(f"gcp-sm:{name}: Secret Manager failed ({type(exc).__name__})") from None
    data: bytes = bytes(response.payload.data)
    if "data_crc32c" in response.payload:
        import google_crc32c

        if int(google_crc32c.value(data)) != int(response.payload.data_crc32c):
            raise BackupError(f"gcp-sm:{name}: payload checksum mismatch")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SettingsError(f"gcp-sm:{name}: the secret is not UTF-8 text") from None
    return text.removesuffix("\n").removesuffix("\r")
