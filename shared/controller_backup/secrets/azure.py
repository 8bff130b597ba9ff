"""`azure-kv:VAULT/NAME[/VERSION]` references, read from Azure Key Vault.

VAULT is a vault name (`https://VAULT.vault.azure.net`) or, for sovereign clouds, the vault's
host name (`myvault.vault.azure.cn`). The value is fetched with `DefaultAzureCredential` (the
function's managed identity, which needs the "Key Vault Secrets User" role on that secret), once
per process: the registry in `controller_backup.secrets` caches it and registers it with the
redactor before anyone can log it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from azure.core.exceptions import AzureError, ClientAuthenticationError, ResourceNotFoundError

from controller_backup.errors import AccessDenied, SettingsError, StoreError
from controller_backup.redact import redact

_VAULT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$")
_VAULT_HOST = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9](\.[A-Za-z0-9-]+)+$")
_SECRET_NAME = re.compile(r"^[A-Za-z0-9-]{1,127}$")
_VERSION = re.compile(r"^[A-Za-z0-9]{1,64}$")
_URL_QUERY = re.compile(r"(https?://[^\s?\"'<>]+)\?[^\s\"'<>]*")


def parse_reference(reference: str) -> tuple[str, str, str | None]:
    """(vault URL, secret name, version or None) from `VAULT/NAME[/VERSION]`."""
    parts = reference.split("/")
    problems = []
    if len(parts) not in (2, 3):
        raise SettingsError(f"secret reference azure-kv:{reference}: expected azure-kv:VAULT/NAME[/VERSION]")
    vault, name = parts[0], parts[1]
    version = parts[2] if len(parts) == 3 else None
    if _VAULT_NAME.match(vault):
        vault_url = f"https://{vault.lower()}.vault.azure.net"
    elif _VAULT_HOST.match(vault):
        vault_url = f"https://{vault.lower()}"
    else:
        problems.append(f"vault {vault!r} is neither a vault name (3-24 letters, digits, hyphens) nor a host")
        vault_url = ""
    if not _SECRET_NAME.match(name):
        problems.append(f"secret name {name!r} must be 1-127 letters, digits and hyphens")
    if version is not None and not _VERSION.match(version):
        problems.append(f"secret version {version!r} must be letters and digits")
    if problems:
        raise SettingsError(f"secret reference azure-kv:{reference}: " + "; ".join(problems))
    return vault_url, name, version


@lru_cache(maxsize=1)
def _default_credential() -> Any:
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


def _detail(exc: Exception) -> str:
    text = (getattr(exc, "message", None) or str(exc) or type(exc).__name__).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return redact(_URL_QUERY.sub(r"\1?<redacted>", first))


def resolve_key_vault(reference: str, *, credential: Any = None, **client_options: Any) -> str:
    """The secret's current value (or the given version's).

    `credential` and `client_options` (for example `transport=`) exist for tests and callers with
    their own identity; the registry calls this with the reference alone.
    """
    from azure.keyvault.secrets import SecretClient

    vault_url, name, version = parse_reference(reference)
    where = f"secret reference azure-kv:{reference}"
    client = SecretClient(
        vault_url, credential if credential is not None else _default_credential(), **client_options
    )
    try:
        with client:
            secret = client.get_secret(name, version)
    except ResourceNotFoundError:
        raise SettingsError(f"{where}: no secret {name!r} in {vault_url}") from None
    except ClientAuthenticationError as exc:
        raise AccessDenied(
            f"{where}: Key Vault refused the identity ({_detail(exc)}); it needs the "
            "'Key Vault Secrets User' role on the secret"
        ) from None
    except AzureError as exc:
        status = getattr(exc, "status_code", None)
        if status in (401, 403):
            raise AccessDenied(
                f"{where}: Key Vault refused access ({status}: {_detail(exc)}); the identity needs the "
                "'Key Vault Secrets User' role on the secret, and the secret must be enabled"
            ) from None
        raise StoreError(f"{where}: Key Vault request failed: {_detail(exc)}") from None
    if not secret.value:
        raise SettingsError(f"{where}: the secret is empty")
    return str(secret.value)
