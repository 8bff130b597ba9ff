"""Where a backup lives: the primary (BACKUP_URL) and its copies (BACKUP_COPY_URLS), and how each
is opened.

Only these places are ever read or written (docs/design.md, invariant 10): a caller's input may
pick one of them (`restore --from`), never name another. A copy in another account or cloud is
opened with the credentials its BACKUP_COPY_CREDENTIALS entry names, fetched through the secret
reference only when that destination is opened (and registered with the redactor then); one
without an entry, and the primary, use the function's own identity.
"""

from __future__ import annotations

from controller_backup.errors import BadRequest, SettingsError
from controller_backup.secrets import resolve_secret
from controller_backup.settings import Settings
from controller_backup.stores import ObjectStore, StoreOptions, open_store, store_kind
from controller_backup.stores.base import KIND_NAMES
from controller_backup.stores.credentials import (
    AwsAccessKeys,
    AwsAssumeRole,
    AzureServicePrincipal,
    GoogleCredentials,
    parse_credentials,
)


def destinations(settings: Settings) -> tuple[str, ...]:
    """Every destination, the primary first."""
    return (settings.backup_url, *settings.copy_urls)


def open_destination(settings: Settings, url: str, suffix: str = "") -> ObjectStore:
    """The store for destination `url`, or for its object `url + suffix` (a record, a marker),
    with that destination's options and credentials."""
    if url == settings.backup_url:
        return settings.backup_store(url + suffix)
    if url not in settings.copy_urls:
        raise ValueError(f"{url} is not a configured destination")  # a caller's bug: checked before
    kind = store_kind(url)
    options = StoreOptions(keep_versions=settings.keep_versions if kind == "local" else None)
    reference = settings.copy_credentials.get(url)
    if reference is not None:
        number = settings.copy_urls.index(url) + 1
        where = f"BACKUP_COPY_CREDENTIALS (copy {number}, {kind})"
        credentials = parse_credentials(kind, resolve_secret(reference), where)
        if isinstance(credentials, GoogleCredentials):
            options = StoreOptions(gcs_credentials=credentials)
        elif isinstance(credentials, AzureServicePrincipal):
            options = StoreOptions(azure_credentials=credentials)
        elif isinstance(credentials, AwsAssumeRole | AwsAccessKeys):
            options = StoreOptions(s3_credentials=credentials)
    try:
        return open_store(url + suffix, options)
    except ModuleNotFoundError as exc:  # a function's bundle carries its own cloud's store only
        if not (exc.name or "").startswith("controller_backup.stores."):
            raise
        raise SettingsError(
            f"BACKUP_COPY_URLS: this deployment carries no {KIND_NAMES[kind]} store (a function's "
            f"bundle holds its own cloud's unless built with its copies' stores: make "
            f"package-<cloud> COPIES_TO={kind}); the command line reaches every store"
        ) from None


def chosen_destination(settings: Settings, url: str) -> str:
    """`url` when it is one of the configured destinations (a caller's `from`); else a BadRequest
    that names the rule, not the value (it may hold what must not be logged)."""
    if url in destinations(settings):
        return url
    raise BadRequest(
        "from: not one of the configured destinations (BACKUP_URL or one of BACKUP_COPY_URLS); "
        "a restore reads only where the deployment stores its backups"
    )
