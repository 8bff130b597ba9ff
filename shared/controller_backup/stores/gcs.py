"""Google Cloud Storage: one object, its generations as versions (`gs://bucket/key`).

Why these choices:

- **Generations are the etag and the version id.** A GCS generation is immutable and names exactly
  one version's bytes, so `IfMatch(<generation>)` becomes `ifGenerationMatch=<generation>` and
  `IfAbsent()` becomes `ifGenerationMatch=0`: the server refuses a write that lost a race (412), so a
  slower concurrent backup cannot replace a newer one.
- **Uploads: small ones by the SDK, large ones streamed in one request.** Objects up to 8 MiB go up
  in one multipart request (the SDK's `upload_from_file`). A larger one goes up through a resumable
  session the SDK opens (`create_resumable_upload_session`, with the metadata, the precondition and
  the object's crc32c), and then as one PUT of the whole file, streamed from it: the SDK's own
  resumable upload reads each chunk into memory first, so a backup's memory would grow with the
  chunk size, and GCS recommends one request where the data is at hand. A failed PUT (a transient
  error, by the SDK's retry predicate) starts a new session and sends again. Either way the server
  checks the crc32c before it commits (the multipart body's, the session's resource), so a
  corrupted transfer never becomes the current object; the store checks it against the answer too.
  Real GCS evaluates a resumable upload's precondition when the upload is finalized, which is what
  makes the conditional write atomic. Before a conditional resumable upload the store also reads
  the current generation and refuses at once when it already differs: no point sending 256 MiB to
  be refused, and it keeps the check on servers that ignore resumable preconditions (the
  fake-gcs-server used in the tests does; see tests/gcp/test_gcs_store.py for what that leaves).
- **Downloads are pinned to one generation**, read from the metadata call first, so the bytes and
  the `ObjectInfo` returned always describe the same version even while a backup overwrites it.
- **Errors never carry URLs**: a resumable session URL is a bearer capability (anyone holding it can
  write), and request URLs can carry signed parameters, so messages name the object and the failure
  class only.

`STORAGE_EMULATOR_HOST` is honoured by the SDK itself (anonymous credentials, that endpoint).
"""

from __future__ import annotations

import base64
import io
import logging
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from google.cloud import storage
from google.cloud.storage import exceptions as storage_exceptions
from google.cloud.storage import retry as storage_retry

from controller_backup.errors import (
    AccessDenied,
    BackupError,
    IntegrityError,
    ObjectNotFound,
    PreconditionFailed,
    SettingsError,
    StoreError,
)
from controller_backup.progress import SILENT, Progress

from .base import (
    IfAbsent,
    IfMatch,
    ObjectInfo,
    ObjectRetention,
    ObjectStore,
    Precondition,
    StoreOptions,
    Upload,
    bad_version_id,
)
from .credentials import GoogleCredentials

log = logging.getLogger("controller_backup.stores.gcs")

#: objects up to this size go up in one multipart request, larger ones streamed to a resumable session
MULTIPART_LIMIT = 8 * 1024 * 1024
#: how much of the source is read at a time to checksum it or to send it
_BLOCK = 1024 * 1024
#: (connect, read) seconds of the streamed PUT: the read timeout runs once the body is sent
_PUT_TIMEOUT = (10, 120)
#: the largest generation GCS accepts (an int64), thousands of centuries past any real one: the
#: write probe's precondition can never hold
_IMPOSSIBLE_GENERATION = 2**63 - 1
#: bucket names per https://cloud.google.com/storage/docs/buckets#naming (dotted names up to 222)
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")

_CLIENTS: dict[tuple[str | None, str | None], Any] = {}
_CLIENTS_LOCK = threading.Lock()


def _shared_client(project: str | None) -> Any:
    """One client per process (and emulator endpoint): credentials are looked up once per cold start."""
    key = (os.environ.get("STORAGE_EMULATOR_HOST"), project)
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            try:
                # project=None: object calls need no project, so none is looked up
                client = storage.Client(project=project)
            except auth_exceptions.DefaultCredentialsError as exc:
                raise SettingsError(f"Google Cloud credentials not found: {type(exc).__name__}") from None
            _CLIENTS[key] = client
        return client


#: what a copy's credentials may do: objects only
_SCOPES = ("https://www.googleapis.com/auth/devstorage.read_write",)
_AS: dict[tuple[str | None, GoogleCredentials], Any] = {}


def _client_as(credentials: GoogleCredentials) -> Any:
    """A client acting as `credentials` (a copy in another project or cloud): a service-account key,
    or a workload identity federation configuration that trades this cloud's own identity for a
    Google token. One per process and credentials, so its token is fetched once per cold start."""
    key = (os.environ.get("STORAGE_EMULATOR_HOST"), credentials)
    with _CLIENTS_LOCK:
        client = _AS.get(key)
        if client is None:
            try:
                google_credentials, project = _google_credentials(credentials)
            except (auth_exceptions.GoogleAuthError, ValueError) as exc:
                raise SettingsError(
                    f"BACKUP_COPY_CREDENTIALS: the {credentials.kind} credentials are not usable "
                    f"({type(exc).__name__})"
                ) from None
            client = storage.Client(project=project, credentials=google_credentials)
            _AS[key] = client
        return client


def _google_credentials(credentials: GoogleCredentials) -> tuple[Any, str | None]:
    """The credentials and project of a key or a federation configuration, each by its own
    loader (never a generic one, which would load any type a secret's author chose)."""
    info = credentials.info()
    if credentials.kind == "service_account":
        from google.oauth2 import service_account

        key = service_account.Credentials.from_service_account_info(info, scopes=list(_SCOPES))  # type: ignore[no-untyped-call]
        return key, info.get("project_id")
    source = info.get("credential_source") or {}
    if str(source.get("environment_id", "")).startswith("aws"):
        from google.auth import aws as federation
    elif "executable" in source:
        from google.auth import pluggable as federation  # type: ignore[no-redef]
    else:
        from google.auth import identity_pool as federation  # type: ignore[no-redef]
    return federation.Credentials.from_info(info, scopes=list(_SCOPES)), None  # type: ignore[no-untyped-call]


def parse_gs_url(url: str) -> tuple[str, str]:
    """(bucket, key) of `gs://bucket/key`; SettingsError naming what is wrong."""
    parts = urlsplit(url)
    if parts.scheme != "gs":
        raise SettingsError(f"BACKUP_URL: expected gs://bucket/key, got scheme {parts.scheme!r}")
    bucket, key = parts.netloc, parts.path.lstrip("/")
    if not _BUCKET_NAME.match(bucket):
        raise SettingsError(f"BACKUP_URL: {bucket!r} is not a valid Cloud Storage bucket name")
    if not key or key.endswith("/"):
        raise SettingsError(f"BACKUP_URL: {url!r} names no object (gs://bucket/key)")
    if parts.query or parts.fragment:
        raise SettingsError("BACKUP_URL: gs:// URLs take no query or fragment")
    return bucket, key


_QUERY = re.compile(r"\?[^\s'\"]*")


def _describe(exc: BaseException) -> str:
    """A failure's class and HTTP status, never its URL (which may carry an upload session id)."""
    code = getattr(exc, "code", None)
    errors = getattr(exc, "errors", None) or []
    reason = ""
    if errors and isinstance(errors[0], dict):
        reason = str(errors[0].get("reason") or "")
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        status = f"HTTP {int(code)}" if isinstance(code, int) else "HTTP error"
        return f"{type(exc).__name__} ({status}{', ' + reason if reason else ''})"
    text = _QUERY.sub("?…", str(exc))
    # connection errors name host and path; the path is ours, the query is stripped above
    return f"{type(exc).__name__}: {text[:300]}"


#: a generation is a positive int64, written in decimal
_GENERATION = re.compile(r"^[1-9][0-9]{0,18}$")


def _generation(value: str) -> int | None:
    """`value` as a generation, or None when it cannot be one."""
    if not isinstance(value, str) or not _GENERATION.match(value) or int(value) > _IMPOSSIBLE_GENERATION:
        return None
    return int(value)


class _ReadCounted:
    """`source` as an upload reads it, telling `progress` of each byte the first time it is read: a
    retried upload reads the bytes again, but they count once."""

    def __init__(self, source: BinaryIO, progress: Progress) -> None:
        self._source, self._progress = source, progress
        self._furthest = source.tell()

    def read(self, size: int = -1) -> bytes:
        chunk = self._source.read(size)
        position = self._source.tell()
        if position > self._furthest:
            self._progress.advance(position - self._furthest)
            self._furthest = position
        return chunk

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._source.seek(offset, whence)

    def tell(self) -> int:
        return self._source.tell()


def _crc32c(source: BinaryIO, size: int) -> str:
    """The base64 CRC32C of the next `size` bytes of `source`, which is left where it stood."""
    import google_crc32c  # the SDK's own checksum library

    start = source.tell()
    checksum = google_crc32c.Checksum()  # type: ignore[no-untyped-call]
    remaining = size
    while remaining and (block := source.read(min(remaining, _BLOCK))):
        checksum.update(block)  # type: ignore[no-untyped-call]
        remaining -= len(block)
    source.seek(start)
    digest: bytes = checksum.digest()  # type: ignore[no-untyped-call]
    return base64.b64encode(digest).decode("ascii")


class _Body:
    """The next `size` bytes of a source, as requests streams a request body: read in blocks, its
    length known up front (Content-Length), never held whole."""

    def __init__(self, source: _ReadCounted, size: int) -> None:
        self._source, self._remaining = source, size

    def __len__(self) -> int:
        return self._remaining

    def __iter__(self) -> Iterator[bytes]:
        while block := self.read(_BLOCK):
            yield block

    def read(self, size: int = -1) -> bytes:
        wanted = self._remaining if size is None or size < 0 else min(size, self._remaining)
        block = self._source.read(wanted) if wanted else b""
        self._remaining -= len(block)
        return block


class _WriteCounted:
    """`dest` as the SDK writes a download into it, telling `progress` of every byte."""

    def __init__(self, dest: BinaryIO, progress: Progress) -> None:
        self._dest, self._progress = dest, progress

    def write(self, data: bytes) -> int:
        written = self._dest.write(data)
        self._progress.advance(len(data))
        return len(data) if written is None else written

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._dest.seek(offset, whence)


class GcsStore(ObjectStore):
    """One object in a Cloud Storage bucket; the bucket should have versioning on."""

    def __init__(
        self,
        bucket: str,
        key: str,
        *,
        client: Any = None,
        project: str | None = None,
        retention: ObjectRetention | None = None,
    ) -> None:
        self.bucket_name = bucket
        self.key = key
        self.url = f"gs://{bucket}/{key}"
        self._client = client if client is not None else _shared_client(project)
        self._bucket = self._client.bucket(bucket)
        self.retention = retention

    @classmethod
    def from_url(
        cls,
        url: str,
        options: StoreOptions,
        *,
        client: Any = None,
        project: str | None = None,
    ) -> GcsStore:
        """The options of Cloud Storage: a copy's credentials, the backup's retention; the
        keywords tune a test's store."""
        bucket, key = parse_gs_url(url)
        if client is None and options.gcs_credentials is not None:
            client = _client_as(options.gcs_credentials)
        return cls(
            bucket,
            key,
            client=client,
            project=project,
            retention=options.gcs_retention,
        )

    def _new_generation(self) -> Any:
        """The object's blob, about to get a new generation: our content type, and the retention
        (Object Retention Lock) every generation of the backup carries from its first byte on."""
        blob = self._bucket.blob(self.key)
        blob.content_type = "application/octet-stream"
        if self.retention is not None:
            blob.retention.mode = self.retention.mode
            blob.retention.retain_until_time = datetime.now(UTC) + timedelta(days=self.retention.days)
        return blob

    # -- errors ------------------------------------------------------------------------------

    @contextmanager
    def _mapped(self, operation: str) -> Iterator[None]:
        """Translate SDK failures into the store's error family, without URLs or tokens."""
        try:
            yield
        except BackupError:
            raise
        except api_exceptions.NotFound as exc:
            raise ObjectNotFound(f"{self.url}: {operation}: not found ({_describe(exc)})") from None
        except (api_exceptions.Forbidden, api_exceptions.Unauthorized) as exc:
            raise AccessDenied(f"{self.url}: {operation}: access denied ({_describe(exc)})") from None
        except api_exceptions.PreconditionFailed:
            raise PreconditionFailed(
                f"{self.url}: {operation}: the object changed since it was read (generation precondition)"
            ) from None
        except storage_exceptions.DataCorruption as exc:
            raise IntegrityError(
                f"{self.url}: {operation}: checksum mismatch ({type(exc).__name__})"
            ) from None
        except auth_exceptions.GoogleAuthError as exc:
            raise AccessDenied(
                f"{self.url}: {operation}: credentials failed ({type(exc).__name__})"
            ) from None
        except Exception as exc:  # noqa: BLE001 - every other SDK/transport failure is a store failure
            raise StoreError(f"{self.url}: {operation} failed: {_describe(exc)}") from None

    # -- reading -----------------------------------------------------------------------------

    def _info(self, blob: Any, *, is_latest: bool | None = None) -> ObjectInfo:
        updated = blob.updated or blob.time_created or datetime.now(UTC)
        return ObjectInfo(
            url=self.url,
            size=int(blob.size or 0),
            etag=str(blob.generation),
            version_id=str(blob.generation),
            last_modified=updated,
            metadata=dict(blob.metadata or {}),
            is_latest=(blob.time_deleted is None) if is_latest is None else is_latest,
        )

    def _get_blob(self, version_id: str | None) -> Any:
        generation = None
        if version_id is not None:
            generation = _generation(version_id)
            if generation is None:
                raise bad_version_id(
                    self.url, version_id, "Cloud Storage", "a generation: a positive integer"
                )
        with self._mapped("read metadata"):
            return self._bucket.get_blob(self.key, generation=generation)

    def head(self, version_id: str | None = None) -> ObjectInfo | None:
        try:
            blob = self._get_blob(version_id)
        except ObjectNotFound:
            return None
        if blob is None:
            return None
        return self._info(blob, is_latest=True if version_id is None else None)

    def download(
        self, dest: BinaryIO, version_id: str | None = None, *, progress: Progress = SILENT
    ) -> ObjectInfo:
        blob = self._get_blob(version_id)
        if blob is None:
            wanted = f"version {version_id!r}" if version_id else "no stored object"
            raise ObjectNotFound(f"{self.url}: {wanted}")
        info = self._info(blob, is_latest=True if version_id is None else None)
        # Pin the generation just read, so bytes and info are the same version.
        pinned = self._bucket.blob(self.key, generation=blob.generation)
        progress.expect(info.size)
        with self._mapped("download"):
            pinned.download_to_file(_WriteCounted(dest, progress), checksum="crc32c")
        return info

    def _versions(self, limit: int | None) -> list[ObjectInfo]:
        with self._mapped("list versions"):
            # versions="true", not True: the JSON API documents the lowercase form; requests would
            # send "True", which GCS accepts but fake-gcs-server does not.
            blobs = [
                blob
                for blob in self._client.list_blobs(self._bucket, prefix=self.key, versions="true")
                if blob.name == self.key
            ]
        blobs.sort(key=lambda blob: int(blob.generation), reverse=True)
        return [self._info(blob) for blob in blobs[:limit]]

    # -- probes ------------------------------------------------------------------------------

    def versioning(self) -> bool:
        """The bucket's object versioning, read fresh (`storage.buckets.get`)."""
        bucket = self._client.bucket(self.bucket_name)
        with self._mapped("read the bucket's versioning"):
            bucket.reload()
        return bool(bucket.versioning_enabled)

    def probe_write(self) -> None:
        """An empty upload whose `ifGenerationMatch` no object can satisfy, sent straight to the API.

        Not through `put`, which may refuse a stale generation itself before sending anything.
        GCS checks permissions before preconditions: 403 means this identity may not create the
        object; 412 means it may, and nothing was written (a missing object fails the
        precondition too, since only 0 matches "absent").
        """
        blob = self._bucket.blob(self.key)
        try:
            with self._mapped("write probe"):
                blob.upload_from_file(
                    io.BytesIO(b""),
                    size=0,
                    content_type="application/octet-stream",
                    if_generation_match=_IMPOSSIBLE_GENERATION,
                )
        except PreconditionFailed:
            return
        except ObjectNotFound:
            raise StoreError(f"{self.url}: write probe: bucket {self.bucket_name!r} does not exist") from None
        raise StoreError(
            f"{self.url}: the write probe was accepted: this server ignores ifGenerationMatch "
            "(it wrote an empty generation), so conditional writes cannot protect the backup here"
        )

    # -- writing -----------------------------------------------------------------------------

    def _check_generation(self, expected: int) -> None:
        """Refuse early when the current generation already differs (0: no object expected)."""
        with self._mapped("read metadata"):
            current = self._bucket.get_blob(self.key)
        generation = int(current.generation) if current is not None else 0
        if generation != expected:
            if expected == 0:
                raise PreconditionFailed(f"{self.url}: an object appeared since the backup started")
            raise PreconditionFailed(f"{self.url}: the object changed since it was read (generation)")

    def _generation_for(self, precondition: Precondition) -> int | None:
        """The `ifGenerationMatch` that `precondition` means (0: no object), or None."""
        match precondition:
            case IfAbsent():
                return 0
            case IfMatch(etag):
                generation = _generation(etag)
                if generation is None:
                    raise PreconditionFailed(f"{self.url}: {etag!r} is not a generation of this object")
                return generation
        return None

    def _write(self, upload: Upload) -> ObjectInfo:
        size = upload.source.size
        generation = self._generation_for(upload.precondition)
        blob = self._new_generation()
        blob.metadata = dict(upload.metadata)
        upload.progress.expect(size)
        if size <= MULTIPART_LIMIT:
            with self._mapped("upload"):
                blob.upload_from_file(
                    _ReadCounted(upload.source.stream, upload.progress),
                    size=size,
                    checksum="crc32c",
                    if_generation_match=generation,
                )
        else:
            if generation is not None:
                self._check_generation(generation)
            with self._mapped("upload"):
                self._stream_up(blob, upload, generation)
        if int(blob.size or 0) != size:
            raise IntegrityError(f"{self.url}: stored {blob.size} bytes, expected {size}")
        return self._info(blob, is_latest=True)

    def _stream_up(self, blob: Any, upload: Upload, generation: int | None) -> None:
        """The upload as one PUT of its whole source to a resumable session (module docstring: why)."""
        stream, size = upload.source.stream, upload.source.size
        start = stream.tell()
        blob.crc32c = _crc32c(stream, size)
        source = _ReadCounted(stream, upload.progress)

        def attempt() -> Any:
            source.seek(start)
            session = blob.create_resumable_upload_session(
                size=size, checksum=None, if_generation_match=generation, client=self._client, retry=None
            )
            response = self._client._http.request(
                "PUT", session, data=_Body(source, size), timeout=_PUT_TIMEOUT
            )
            if response.status_code not in (200, 201):
                raise api_exceptions.from_http_response(response)  # type: ignore[no-untyped-call]
            return response.json()

        stored = storage_retry.DEFAULT_RETRY(attempt)()
        if stored.get("crc32c") != blob.crc32c:
            raise IntegrityError(
                f"{self.url}: upload: the stored object's crc32c is not that of the bytes sent"
            )
        blob._set_properties(stored)
