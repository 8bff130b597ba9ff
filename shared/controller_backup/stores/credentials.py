"""Typed credentials for a store in another account or cloud (BACKUP_COPY_CREDENTIALS).

A copy destination's secret holds JSON whose shape depends on the destination's kind; it is parsed
here, without any SDK, into one of the types below, and each store turns its own type into its
SDK's credentials when it is opened. Every secret part is registered with the redactor as it is
parsed, and no type's repr shows one, so neither a log line nor an error can carry it. Messages
name the field that is wrong, never the secret's text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from controller_backup.errors import SettingsError
from controller_backup.redact import register_secret
from controller_backup.secrets import json_object

#: what a gs:// destination's secret may hold
GOOGLE_TYPES = ("service_account", "external_account")


@dataclass(frozen=True)
class GoogleCredentials:
    """A service-account key, or a workload identity federation (external_account) configuration."""

    kind: str
    #: the JSON document itself, for google.auth (kept whole: its private key stays in it)
    document: str = field(repr=False)

    def info(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.document)
        return parsed


@dataclass(frozen=True)
class AzureServicePrincipal:
    """An Entra ID application's client secret, for an Azure Blob destination in another tenant."""

    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)


@dataclass(frozen=True)
class AwsAssumeRole:
    """A role in another account, assumed with the function's own credentials."""

    role_arn: str
    external_id: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class AwsAccessKeys:
    """Static keys of an IAM user (where a role cannot be assumed)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)


AwsCredentials: TypeAlias = AwsAssumeRole | AwsAccessKeys
StoreCredentials: TypeAlias = GoogleCredentials | AzureServicePrincipal | AwsCredentials


def parse_credentials(kind: str, text: str, where: str) -> StoreCredentials:
    """The credentials in secret `text` for a store of `kind` (`gs`, `azblob`, `s3`).

    `where` names the destination in messages (BACKUP_COPY_CREDENTIALS's entry); the text is never
    quoted. A SettingsError names the field that is missing or wrong.
    """
    document = json_object(text, where)
    if kind == "gs":
        return _google(document, text, where)
    if kind == "azblob":
        tenant, client, secret = _fields(document, where, "tenant_id", "client_id", "client_secret")
        register_secret(secret)
        return AzureServicePrincipal(tenant, client, secret)
    if kind == "s3":
        if "role_arn" in document:
            (role_arn,) = _fields(document, where, "role_arn")
            external_id = document.get("external_id")
            if external_id is not None and (not isinstance(external_id, str) or not external_id):
                raise SettingsError(f"{where}: external_id must be a non-empty string")
            register_secret(external_id)
            return AwsAssumeRole(role_arn, external_id)
        key_id, secret = _fields(document, where, "access_key_id", "secret_access_key")
        register_secret(secret)
        return AwsAccessKeys(key_id, secret)
    raise SettingsError(f"{where}: a local folder takes no credentials; remove its entry")


def _google(document: dict[str, Any], text: str, where: str) -> GoogleCredentials:
    kind = document.get("type")
    if kind not in GOOGLE_TYPES:
        raise SettingsError(f"{where}: the secret's type must be one of {', '.join(GOOGLE_TYPES)}")
    if kind == "service_account":
        _fields(document, where, "client_email", "private_key", "token_uri")
        register_secret(document["private_key"])
        register_secret(document.get("private_key_id"))
    else:
        _fields(document, where, "audience", "subject_token_type", "token_url")
    return GoogleCredentials(kind, text)


def _fields(document: dict[str, Any], where: str, *names: str) -> tuple[str, ...]:
    """The named fields, each a non-empty string; a SettingsError names the ones that are not."""
    bad = [name for name in names if not isinstance(document.get(name), str) or not document[name]]
    if bad:
        raise SettingsError(f"{where}: the secret needs {', '.join(bad)} (non-empty strings)")
    return tuple(document[name] for name in names)
