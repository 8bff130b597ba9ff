"""Azure Blob Storage: the one backup object as a block blob.

Why staged blocks rather than `upload_blob`: every block is sent with its own MD5 (checked by the
service on arrival), and nothing becomes visible until `commit_block_list`, which carries the
ETag condition. A slower concurrent backup therefore cannot overwrite a newer one, and a failed
upload leaves only uncommitted blocks that the service discards by itself (after 7 days, or at the
next successful commit). Block ids carry a random per-upload token so two concurrent writers never
overwrite each other's staged blocks.

Where the bytes go:

* `azblob://ACCOUNT/CONTAINER/BLOB` and `https://ACCOUNT.blob.core.windows.net/CONTAINER/BLOB` name
  the account, container and blob (the blob name may contain `/`).
* In the cloud the account is reached at `https://ACCOUNT.blob.core.windows.net` with
  `DefaultAzureCredential` (the function's managed identity), so no key exists anywhere.
* When `AZURE_STORAGE_CONNECTION_STRING` is set (Azurite, or a developer's machine), the endpoint
  and key come from it instead; the URL still names container and blob, and its account must be
  the connection string's account, so a stray connection string cannot redirect backups to
  another account unnoticed.

Versions: with blob versioning on, `versions()` lists every version of the exact blob name and
`download(version_id=...)` reads one. Where the account keeps no versions (and in Azurite, which
does not implement them), `versions()` holds just the current blob with `version_id=None`.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, BinaryIO, TypeVar
from urllib.parse import unquote, urlsplit

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.core.pipeline.transport import HttpTransport
from azure.storage.blob import BlobBlock, BlobClient, BlobProperties, BlobServiceClient, ContentSettings

from controller_backup.errors import (
    AccessDenied,
    BackupError,
    ObjectNotFound,
    PreconditionFailed,
    SettingsError,
    StoreError,
)
from controller_backup.progress import SILENT, Progress
from controller_backup.redact import redact, register_secret

from .base import (
    IfAbsent,
    IfMatch,
    ObjectInfo,
    ObjectStore,
    PendingUpload,
    Precondition,
    StoreOptions,
    Upload,
    bad_version_id,
)
from .credentials import AzureServicePrincipal
from .parts import PartSender, read_part

CONNECTION_STRING_ENV = "AZURE_STORAGE_CONNECTION_STRING"
#: 2 MiB blocks, 3 in flight (50,000 blocks allow 97 GiB): a 1 GiB backup against Azurite, one run
#: each, peaks at 59 MiB RSS (47 MiB for 1 MiB) and takes 256 MiB up as fast as 4 MiB blocks 2 at a
#: time (2.18 s, 2.20 s; 58 MiB); 4 MiB blocks 4 at a time peaked at 66 MiB
DEFAULT_BLOCK_SIZE = 2 * 1024 * 1024
DEFAULT_MAX_CONCURRENCY = 3
#: download ranges: 8 MiB ones measured faster against Azurite but peaked at 129 MiB against 81 MiB
#: for a 256 MiB restore
_RANGE_SIZE = 4 * 1024 * 1024
_ACCOUNT_SUFFIX = ".blob.core.windows.net"
_ACCOUNT_NAME = re.compile(r"^[a-z0-9]{3,24}$")
_CONTAINER_NAME = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")
_METADATA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: a blob version id is the UTC time of the write, to the 100 ns: 2026-11-25T00:00:02.3333333Z
_VERSION_ID = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$")
#: a URL's query string may carry a SAS token: never let it reach a message
_URL_QUERY = re.compile(r"(https?://[^\s?\"'<>]+)\?[^\s\"'<>]*")
_T = TypeVar("_T")
#: an ETag of the service's shape that no blob carries (real ones encode a write time): the write
#: probe's If-Match can never hold
_IMPOSSIBLE_ETAG = '"0x0000000000000000"'


def parse_blob_url(url: str) -> tuple[str, str, str]:
    """(account, container, blob) from an `azblob://` or `https://<account>.blob.core.windows.net` URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme == "azblob":
        account = host
    elif scheme == "https" and host.endswith(_ACCOUNT_SUFFIX):
        account = host[: -len(_ACCOUNT_SUFFIX)]
        if parts.query:
            raise SettingsError(
                "BACKUP_URL: a query string (such as a SAS token) is not accepted; "
                "the function authenticates with its managed identity"
            )
    else:
        raise SettingsError(
            "BACKUP_URL: expected azblob://ACCOUNT/CONTAINER/BLOB or "
            "https://ACCOUNT.blob.core.windows.net/CONTAINER/BLOB"
        )
    container, _, blob = unquote(parts.path).lstrip("/").partition("/")
    problems = []
    if not _ACCOUNT_NAME.match(account):
        problems.append(f"storage account name {account!r} must be 3-24 lowercase letters and digits")
    if not _CONTAINER_NAME.match(container):
        problems.append(f"container name {container!r} must be 3-63 lowercase letters, digits and hyphens")
    if not blob or blob.endswith("/"):
        problems.append("the URL must name a blob after the container")
    if problems:
        raise SettingsError("BACKUP_URL: " + "; ".join(problems))
    return account, container, blob


@lru_cache(maxsize=1)
def _default_credential() -> Any:
    """One `DefaultAzureCredential` per process, so its token cache is shared by every call."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


@lru_cache(maxsize=8)
def _credential_as(principal: AzureServicePrincipal) -> Any:
    """A service principal's credential (a copy in another tenant or subscription), one per
    process and principal so its token cache is shared."""
    from azure.identity import ClientSecretCredential

    return ClientSecretCredential(principal.tenant_id, principal.client_id, principal.client_secret)


def _connection_string_key(connection_string: str) -> None:
    """Register the connection string's key with the redactor before anything can log it."""
    for part in connection_string.split(";"):
        name, _, value = part.partition("=")
        if name.strip().lower() in ("accountkey", "sharedaccesssignature"):
            register_secret(value.strip())


def _clean(text: str) -> str:
    """An SDK message fit for a log line: first line only, no query strings, no secrets."""
    first = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return redact(_URL_QUERY.sub(r"\1?<redacted>", first))


def _etag(value: str | None) -> str:
    """ETags in their header form: List Blobs returns them unquoted, headers quoted."""
    if not value:
        return ""
    return value if value.startswith('"') else f'"{value}"'


def _block_id(token: str, number: int) -> str:
    """A block's id: the upload's random token (two writers never share ids) and its number."""
    return base64.b64encode(f"{token}-{number:08d}".encode()).decode()


def _aware(value: datetime | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class AzureBlobStore(ObjectStore):
    """One block blob, replaced whole by a conditional block-list commit."""

    def __init__(
        self,
        account: str,
        container: str,
        blob: str,
        service: BlobServiceClient,
        *,
        block_size: int = DEFAULT_BLOCK_SIZE,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    ) -> None:
        if block_size < 1 or max_concurrency < 1:
            raise SettingsError("azure blob store: block_size and max_concurrency must be positive")
        self.account = account
        self.container = container
        self.blob = blob
        self.url = f"azblob://{account}/{container}/{blob}"
        self.block_size = block_size
        self.max_concurrency = max_concurrency
        self._service = service
        self._container = service.get_container_client(container)
        self._client: BlobClient = self._container.get_blob_client(blob)

    @classmethod
    def from_url(
        cls,
        url: str,
        options: StoreOptions,
        *,
        connection_string: str | None = None,
        credential: Any = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        transport: HttpTransport[Any, Any] | None = None,
        retry_total: int | None = None,
    ) -> AzureBlobStore:
        """The store for `url`; see the module docstring for how credentials are chosen.

        No option of `options` applies to Azure (`open_store` refuses them). The keywords tune a
        test's store: its credentials, blocks, and the SDK's transport and retries.
        """
        account, container, blob = parse_blob_url(url)
        client_options: dict[str, Any] = {}
        if transport is not None:
            client_options["transport"] = transport
        if retry_total is not None:
            client_options["retry_total"] = retry_total
        if credential is None and options.azure_credentials is not None:
            credential = _credential_as(options.azure_credentials)
        if connection_string is None and credential is None:
            connection_string = os.environ.get(CONNECTION_STRING_ENV) or None
        if connection_string:
            _connection_string_key(connection_string)
            try:
                service = BlobServiceClient.from_connection_string(connection_string, **client_options)
            except ValueError:
                raise SettingsError(
                    f"{CONNECTION_STRING_ENV}: not a valid storage connection string"
                ) from None
            if (service.account_name or "").lower() != account:
                raise SettingsError(
                    f"BACKUP_URL names storage account {account!r}, but {CONNECTION_STRING_ENV} is for "
                    f"account {service.account_name!r}"
                )
        else:
            service = BlobServiceClient(
                f"https://{account}{_ACCOUNT_SUFFIX}",
                credential=credential if credential is not None else _default_credential(),
                **client_options,
            )
        return cls(account, container, blob, service, block_size=block_size, max_concurrency=max_concurrency)

    # -- errors ----------------------------------------------------------------------------

    def _error(self, exc: Exception, action: str) -> BackupError:  # noqa: PLR0911 - one per error class
        """The classified error for an SDK failure, its text cleaned of URLs' queries and secrets."""
        code = str(getattr(exc, "error_code", "") or "")
        code = getattr(code, "value", code)
        status = getattr(exc, "status_code", None)
        detail = _clean(getattr(exc, "message", None) or str(exc))
        where = f"{self.url}: {action} failed"
        text = f"{where}: {detail}" + (f" ({code})" if code and code not in detail else "")
        if code == "ContainerNotFound":
            return StoreError(f"{where}: container {self.container!r} does not exist (ContainerNotFound)")
        if isinstance(exc, ResourceNotFoundError) or status == 404:
            return ObjectNotFound(text)
        if isinstance(exc, ResourceModifiedError) or status == 412 or code == "ConditionNotMet":
            return PreconditionFailed(f"{where}: the object changed since the backup started ({code or 412})")
        if code in ("BlobAlreadyExists",):
            return PreconditionFailed(f"{where}: an object appeared since the backup started ({code})")
        if code == "InvalidBlockList":
            return PreconditionFailed(
                f"{where}: a concurrent write committed while this upload was staging ({code})"
            )
        if isinstance(exc, ClientAuthenticationError) or status in (401, 403):
            return AccessDenied(
                f"{text}; the identity needs 'Storage Blob Data Contributor' on container {self.container!r}"
            )
        return StoreError(text)

    def _call(self, action: str, fn: Callable[[], _T]) -> _T:
        try:
            return fn()
        except BackupError:
            raise
        except (AzureError, OSError) as exc:
            raise self._error(exc, action) from None

    # -- reading ---------------------------------------------------------------------------

    def _info(self, props: BlobProperties, *, is_latest: bool | None = None) -> ObjectInfo:
        if is_latest is None:
            # The service marks only the current version (IsCurrentVersion / x-ms-is-current-version);
            # without versioning there is no version id and the one blob is the current one.
            is_latest = props.version_id is None or bool(props.is_current_version)
        return ObjectInfo(
            url=self.url,
            size=int(props.size or 0),
            etag=_etag(props.etag),
            version_id=props.version_id,
            last_modified=_aware(props.last_modified),
            metadata=dict(props.metadata or {}),
            is_latest=is_latest,
        )

    def _check_version_id(self, version_id: str | None) -> None:
        if version_id is not None and not _VERSION_ID.match(version_id):
            raise bad_version_id(self.url, version_id, "Azure Blob", "like 2026-11-25T00:00:02.3333333Z")

    def head(self, version_id: str | None = None) -> ObjectInfo | None:
        self._check_version_id(version_id)
        try:
            props = self._call(
                "read properties", lambda: self._client.get_blob_properties(version_id=version_id)
            )
        except ObjectNotFound:
            return None
        return self._info(props, is_latest=True if version_id is None else None)

    def download(
        self, dest: BinaryIO, version_id: str | None = None, *, progress: Progress = SILENT
    ) -> ObjectInfo:
        """Ranged GETs in parallel, written to `dest` strictly in order.

        The SDK's own parallel `readinto` seeks and writes ranges out of order; callers hash what
        they are given as it arrives (the core's spool), so ranges are fetched ahead by up to
        `max_concurrency` and written in sequence instead. Each range is pinned to the ETag read
        first, so a concurrent overwrite fails the download instead of mixing versions. No range
        asks for its MD5: every caller checks the whole object's sha256 before it uses a byte, which
        a per-range MD5 only repeats (against Azurite it cost 0.6-1.0 s of a 256 MiB restore).
        """
        self._check_version_id(version_id)
        props = self._call("read properties", lambda: self._client.get_blob_properties(version_id=version_id))
        info = self._info(props, is_latest=True if version_id is None else None)
        progress.expect(info.size)

        def fetch(offset: int, length: int) -> bytes:
            return self._call(
                "download",
                lambda: self._client.download_blob(
                    offset=offset,
                    length=length,
                    version_id=version_id,
                    etag=props.etag,
                    match_condition=MatchConditions.IfNotModified,
                    encoding=None,
                ).readall(),
            )

        pending: deque[tuple[int, Future[bytes]]] = deque()
        received = 0

        def write_next() -> None:
            nonlocal received
            expected, future = pending.popleft()
            chunk = future.result()
            if len(chunk) != expected:
                raise StoreError(f"{self.url}: a range of {expected} bytes arrived as {len(chunk)}")
            dest.write(chunk)
            received += len(chunk)
            progress.advance(len(chunk))

        with ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="azblob-get") as pool:
            try:
                for offset in range(0, info.size, _RANGE_SIZE):
                    length = min(_RANGE_SIZE, info.size - offset)
                    pending.append((length, pool.submit(fetch, offset, length)))
                    if len(pending) >= self.max_concurrency:
                        write_next()
                while pending:
                    write_next()
            except BaseException:
                for _, future in pending:
                    future.cancel()
                raise
        if received != info.size:
            raise StoreError(f"{self.url}: download ended after {received} of {info.size} bytes")
        return info

    def _versions(self, limit: int | None) -> list[ObjectInfo]:
        def listing() -> list[BlobProperties]:
            return [
                props
                for props in self._container.list_blobs(
                    name_starts_with=self.blob, include=["versions", "metadata"]
                )
                if props.name == self.blob
            ]

        try:
            found = self._call("list versions", listing)
        except ObjectNotFound:
            return []
        infos = [self._info(props) for props in found]
        # Version ids are UTC timestamps, so they sort by age; the current version leads.
        infos.sort(key=lambda info: (info.is_latest, info.version_id or "", info.last_modified), reverse=True)
        return infos[:limit]

    # -- probes ----------------------------------------------------------------------------

    def versioning(self) -> bool | None:
        """Whether the blob's current version carries a version id; None while there is no blob.

        Blob versioning is a storage-account property that only the management plane reads, and
        the service properties a data-plane identity can read do not include it. What the data
        plane does show: with versioning on, every write gives the blob a version id. So the
        current blob tells (a blob last written before versioning was turned on reads as off).
        """

        def listing() -> list[BlobProperties]:
            return [
                props
                for props in self._container.list_blobs(name_starts_with=self.blob, include=["versions"])
                if props.name == self.blob and (props.version_id is None or props.is_current_version)
            ]

        current = self._call("list versions", listing)
        if not current:
            return None
        return current[0].version_id is not None

    def probe_write(self) -> None:
        """An empty Put Blob with an If-Match no blob can satisfy.

        The service authorizes a request before it evaluates its conditions: 403 means this identity
        may not write; 412 (or 404 for a missing blob) means it may, and nothing was written.
        """
        try:
            self._call(
                "write probe",
                lambda: self._client.upload_blob(
                    b"",
                    overwrite=True,
                    etag=_IMPOSSIBLE_ETAG,
                    match_condition=MatchConditions.IfNotModified,
                ),
            )
        except (PreconditionFailed, ObjectNotFound):
            return
        raise StoreError(
            f"{self.url}: the write probe was accepted: this service ignores If-Match "
            "(it wrote an empty blob), so conditional writes cannot protect the backup here"
        )

    # -- writing ---------------------------------------------------------------------------

    def _begin_upload(self, spool_path: str, precondition: Precondition, progress: Progress) -> PendingUpload:
        return _StagedBlocks(self, spool_path, precondition, progress)

    def _write(self, upload: Upload) -> ObjectInfo:
        clean_metadata = self._check_metadata(upload.metadata)
        upload.progress.expect(upload.source.size)
        block_ids = self._stage_blocks(upload.source.stream, upload.source.size, upload.progress)
        return self._commit_blocks(block_ids, upload.source.size, clean_metadata, upload.precondition)

    def _commit_blocks(
        self, block_ids: list[str], size: int, metadata: dict[str, str], precondition: Precondition
    ) -> ObjectInfo:
        """Make the staged blocks the blob, with `metadata`, if `precondition` holds (atomically)."""
        conditions: dict[str, Any] = {}
        match precondition:
            case IfMatch(etag):
                conditions = {"etag": etag, "match_condition": MatchConditions.IfNotModified}
            case IfAbsent():
                conditions = {"match_condition": MatchConditions.IfMissing}
        response = self._call(
            "commit",
            lambda: self._client.commit_block_list(
                [BlobBlock(block_id=block_id) for block_id in block_ids],
                content_settings=ContentSettings(content_type="application/octet-stream"),
                metadata=metadata,
                **conditions,
            ),
        )
        version_id = response.get("version_id")
        last_modified = response.get("last_modified")
        return ObjectInfo(
            url=self.url,
            size=size,
            etag=_etag(str(response.get("etag") or "")),
            version_id=str(version_id) if version_id else None,
            last_modified=_aware(last_modified if isinstance(last_modified, datetime) else None),
            metadata=dict(metadata),
            is_latest=True,
        )

    def _check_metadata(self, metadata: Mapping[str, str]) -> dict[str, str]:
        """Azure metadata names must be C# identifiers and values travel as ASCII headers."""
        bad = [name for name in metadata if not _METADATA_NAME.match(name)]
        bad += [name for name, value in metadata.items() if not str(value).isascii()]
        if bad:
            names = ", ".join(sorted(set(bad)))
            raise StoreError(f"{self.url}: metadata {names} must have identifier names and ASCII values")
        return {name: str(value) for name, value in metadata.items()}

    def _stage_block(self, block_id: str, data: bytes, length: int, progress: Progress) -> None:
        """Stage one block, checked by its MD5 on arrival; `progress` hears it once taken."""
        self._call(
            "stage block",
            lambda: self._client.stage_block(block_id, data, length=length, validate_content="md5"),
        )
        progress.advance(length)

    def _stage_blocks(self, source: BinaryIO, size: int, progress: Progress) -> list[str]:
        """Stage `source` as blocks, at most `max_concurrency` in flight; return their ids in order."""
        token = secrets.token_hex(8)
        block_ids: list[str] = []
        in_flight: set[Future[None]] = set()
        total = 0

        with ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="azblob-stage") as pool:
            try:
                while chunk := source.read(self.block_size):
                    total += len(chunk)
                    if total > size:
                        break
                    block_id = _block_id(token, len(block_ids))
                    block_ids.append(block_id)
                    if len(in_flight) >= self.max_concurrency:
                        done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                        for future in done:
                            future.result()
                    in_flight.add(pool.submit(self._stage_block, block_id, chunk, len(chunk), progress))
                for future in in_flight:
                    future.result()
            except BaseException:
                for future in in_flight:
                    future.cancel()
                raise
        if total != size:  # measured before the first block: the source changed since
            raise StoreError(
                f"{self.url}: the source changed while it was stored ({total} bytes read, {size} "
                "declared); nothing was stored"
            )
        return block_ids


class _StagedBlocks(PendingUpload):
    """A backup's upload: blocks are staged on the blob itself while the export arrives, read back
    from the spool by range, and committed with the metadata and the ETag condition at the end
    (Put Block List takes both). Uncommitted blocks are never visible, and the service discards
    them at the next commit or after seven days: an abort has nothing to clean."""

    def __init__(
        self, store: AzureBlobStore, path: str, precondition: Precondition, progress: Progress
    ) -> None:
        super().__init__(store.url)
        self._store, self._path = store, path
        self._precondition, self._progress = precondition, progress
        self._token = ""
        self._sender: PartSender[str] | None = None

    def _begin(self) -> None:
        self._token = secrets.token_hex(8)
        store = self._store
        self._sender = PartSender(store.block_size, store.max_concurrency, self._stage, "azblob-stage")

    def _stage(self, number: int, offset: int, length: int) -> str:
        block_id = _block_id(self._token, number)
        self._store._stage_block(block_id, read_part(self._path, offset, length), length, self._progress)
        return block_id

    def _grown(self) -> None:
        assert self._sender is not None
        self._sender.grown(self.size)

    def _commit(self, metadata: Mapping[str, str]) -> ObjectInfo:
        assert self._sender is not None
        clean = self._store._check_metadata(metadata)
        self._progress.expect(self.size)
        block_ids = self._sender.finish(self.size)
        return self._store._commit_blocks(block_ids, self.size, clean, self._precondition)

    def _discard(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
