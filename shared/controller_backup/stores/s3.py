"""The S3 store: one object in a (versioned) bucket, written through boto3's managed transfer.

Why the shape:

- Uploads and downloads go through s3transfer's TransferManager (the engine behind
  `upload_fileobj`/`download_fileobj`), so large objects move as parallel multipart transfers with
  botocore's retries, and every part carries a SHA-256 checksum that S3 verifies. An upload of the
  spool takes it by path, so s3transfer reads each part from the file as it sends it (an open
  stream's parts would be copied into memory first): memory stays flat. Downloads reach
  the destination strictly in order (ranges are fetched in parallel, written sequentially), because
  the core's spool hashes bytes as they are written.
- Conditional writes: s3transfer refuses `IfMatch`/`IfNoneMatch` in its extra args (boto/boto3#4366),
  although S3 honours both on PutObject and on CompleteMultipartUpload. A `before-parameter-build`
  hook adds the condition to whichever request makes the object visible (the single PutObject, or
  the CompleteMultipartUpload), so the store's compare-and-swap is S3's own, atomic one.
- moto (in server mode, which the tests use) honours `IfMatch` and `IfNoneMatch` on PutObject and
  `IfNoneMatch` on CompleteMultipartUpload, but ignores `IfMatch` on CompleteMultipartUpload. For a
  conditional multipart write the hook therefore also reads the current ETag just before completing
  and refuses on a mismatch. Against real S3 that check is redundant (S3 enforces the header); against
  servers that ignore the header it narrows the race to the few milliseconds between that read and
  the completion. tests/aws/test_s3_store.py proves both what moto honours and that the store refuses.
- Missing object and access denied are told apart; without `s3:ListBucket`, S3 answers a missing
  object with 403, so the AccessDenied message says so.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import unquote, urlsplit

import boto3
from boto3.s3.transfer import TransferConfig, create_transfer_manager
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from s3transfer.subscribers import BaseSubscriber

from controller_backup.errors import (
    AccessDenied,
    ObjectNotFound,
    PreconditionFailed,
    SettingsError,
    StoreError,
)
from controller_backup.progress import SILENT, Progress
from controller_backup.redact import register_secret

from .base import (
    IfAbsent,
    IfMatch,
    ObjectInfo,
    ObjectStore,
    StoreOptions,
    Upload,
    bad_version_id,
)
from .credentials import AwsAccessKeys, AwsCredentials

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.type_defs import HeadObjectOutputTypeDef

log = logging.getLogger("controller_backup.stores.s3")

MIB = 1024 * 1024
#: parts of 8 MiB; a download fetches 8 at a time (measured at 256 MiB against moto: as fast as
#: boto3's defaults), and writes them in order, so a few wait in memory
DEFAULT_CHUNK_SIZE = 8 * MIB
DEFAULT_CONCURRENCY = 8
#: an upload sends 2 parts at a time, each read from the spool file as it goes out: each part in
#: flight holds about 2.5 MiB of the SDK's buffers. A 1 GiB upload against moto, one run each:
#: 8.8-11.2 s and 56 MiB peak RSS at two, 12.1 s and 75 MiB at eight (52 MiB for 1 MiB)
UPLOAD_CONCURRENCY = 2

_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NoSuchVersion", "NotFound"})
_DENIED_CODES = frozenset(
    {"403", "AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
)
_PRECONDITION_CODES = frozenset({"412", "PreconditionFailed", "409", "ConditionalRequestConflict"})
_BAD_VERSION_CODES = frozenset({"400", "InvalidArgument"})
#: S3 version ids are opaque, URL-ready strings of at most 1,024 bytes ("null" on unversioned
#: buckets); real ones are 32 characters of letters, digits, '.' and '_', moto's are UUIDs
_VERSION_ID = re.compile(r"^[A-Za-z0-9._+/=-]{1,1024}$")
#: an MD5-shaped ETag no object has (that would take an MD5 preimage of all zeros): the write probe's
#: If-Match can never hold
_IMPOSSIBLE_ETAG = '"00000000000000000000000000000000"'

#: one client per endpoint/region/identity: building one loads service models (~100 ms)
_CLIENTS: dict[tuple[str, ...], S3Client] = {}
_CLIENTS_LOCK = threading.Lock()
#: each write registers its hooks on the shared client for its own duration: one write at a time
#: per process, so a hook can never see another write's request
_WRITE_LOCK = threading.Lock()


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, key) of `s3://bucket/key`; SettingsError naming what is wrong."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "s3":
        raise SettingsError(f"BACKUP_URL: expected s3://bucket/key, got scheme {parts.scheme!r}")
    bucket = parts.netloc
    key = unquote(parts.path.lstrip("/"))
    if not bucket:
        raise SettingsError("BACKUP_URL: s3 URL has no bucket (expected s3://bucket/key)")
    if not key or key.endswith("/"):
        raise SettingsError(f"BACKUP_URL: s3://{bucket}/{key} names no object (expected s3://bucket/key)")
    if parts.query or parts.fragment:
        raise SettingsError("BACKUP_URL: s3 URL must not carry a query or fragment")
    return bucket, key


def _config() -> Config:
    return Config(
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=10,
        read_timeout=120,
        max_pool_connections=DEFAULT_CONCURRENCY * 2,
    )


#: assumed roles' clients, renewed this long before their credentials expire
_RENEW_BEFORE = timedelta(minutes=10)
_ASSUMED: dict[AwsCredentials, tuple[S3Client, datetime | None]] = {}


def _client_as(credentials: AwsCredentials) -> S3Client:
    """A client acting as `credentials` (a copy in another account): static keys as given, or a
    role assumed with the function's own credentials (STS; AWS_ENDPOINT_URL honoured), kept until
    shortly before it expires. The keys STS hands out are registered with the redactor."""
    with _CLIENTS_LOCK:
        cached = _ASSUMED.get(credentials)
        if cached is not None and (cached[1] is None or cached[1] - _RENEW_BEFORE > datetime.now(UTC)):
            return cached[0]
    expires: datetime | None = None
    if isinstance(credentials, AwsAccessKeys):
        session = boto3.session.Session(
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
        )
    else:
        extra = {"ExternalId": credentials.external_id} if credentials.external_id else {}
        try:
            granted = (
                boto3.session.Session()
                .client("sts", config=Config(retries={"mode": "standard", "max_attempts": 5}))
                .assume_role(RoleArn=credentials.role_arn, RoleSessionName="controller-backup-copy", **extra)
            )["Credentials"]
        except ClientError as exc:
            raise AccessDenied(
                f"assuming {credentials.role_arn} failed ({_error_code(exc)}): the role must trust this "
                "function's role (and its external id, when one is set)"
            ) from None
        except BotoCoreError as exc:
            raise StoreError(f"assuming {credentials.role_arn} failed: {type(exc).__name__}") from None
        register_secret(granted["SecretAccessKey"])
        register_secret(granted["SessionToken"])
        expires = granted["Expiration"]
        session = boto3.session.Session(
            aws_access_key_id=granted["AccessKeyId"],
            aws_secret_access_key=granted["SecretAccessKey"],
            aws_session_token=granted["SessionToken"],
        )
    client = session.client("s3", config=_config())
    with _CLIENTS_LOCK:
        _ASSUMED[credentials] = (client, expires)
    return client


def _client() -> S3Client:
    """A cached S3 client; boto3 itself honours AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3."""
    identity = tuple(
        os.environ.get(name, "")
        for name in (
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_S3",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_ACCESS_KEY_ID",
            "AWS_PROFILE",
        )
    )
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(identity)
        if client is None:
            client = boto3.session.Session().client("s3", config=_config())
            _CLIENTS[identity] = client
    return client


def _transfer_config(chunk_size: int, threads: int) -> TransferConfig:
    return TransferConfig(
        multipart_threshold=chunk_size,
        multipart_chunksize=chunk_size,
        max_concurrency=threads,
        # the classic engine: its requests go through this client, so the store's hooks apply
        preferred_transfer_client="classic",
    )


def _error_code(exc: ClientError) -> str:
    code = exc.response.get("Error", {}).get("Code") or ""
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return str(code or status or "")


def _unquote_version(version_id: str | None) -> str | None:
    # Unversioned buckets report the version id "null".
    return None if version_id in (None, "", "null") else version_id


class _KnownSize(BaseSubscriber):
    """Tells the transfer manager the size (and ETag) it would otherwise ask S3 for with a HEAD."""

    def __init__(self, size: int, etag: str | None = None) -> None:
        self._size = size
        self._etag = etag

    def on_queued(self, future: Any, **_: Any) -> None:
        future.meta.provide_transfer_size(self._size)
        if self._etag is not None:
            future.meta.provide_object_etag(self._etag)


class _Reported(BaseSubscriber):
    """Tells a Progress what the transfer moved (s3transfer's own count: negative on a retry)."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress

    def on_progress(self, future: Any, bytes_transferred: int, **_: Any) -> None:
        self._progress.advance(bytes_transferred)


class _InOrderWriter:
    """`dest` without seek: s3transfer then writes the parts in order (a destination may hash as
    it is written, as the core's spool does), holding at most a few out-of-order parts in memory."""

    def __init__(self, dest: BinaryIO) -> None:
        self._dest = dest

    def write(self, data: bytes) -> int:
        written = self._dest.write(data)
        return len(data) if written is None else written


class S3Store(ObjectStore):
    """One object `s3://bucket/key`, replaced whole; its history is the bucket's versioning."""

    def __init__(
        self,
        bucket: str,
        key: str,
        *,
        kms_key_id: str | None = None,
        client: S3Client | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        concurrency: int = DEFAULT_CONCURRENCY,
        upload_concurrency: int = UPLOAD_CONCURRENCY,
    ) -> None:
        self.bucket = bucket
        self.key = key
        self.url = f"s3://{bucket}/{key}"
        self.kms_key_id = kms_key_id or None
        self._client_override = client
        self._download_config = _transfer_config(chunk_size, concurrency)
        self._upload_config = _transfer_config(chunk_size, upload_concurrency)
        # s3transfer reads the parts of an open stream (not of a file it is given by path: the
        # spool's case, `SizedSource.whole_file`) into memory ahead of the uploads; bound that.
        self._upload_config.max_in_memory_upload_chunks = upload_concurrency

    @classmethod
    def from_url(
        cls,
        url: str,
        options: StoreOptions,
        *,
        client: S3Client | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> S3Store:
        """`options` as `open_store` gives them; the rest tunes a test's store."""
        bucket, key = parse_s3_url(url)
        if client is None and options.s3_credentials is not None:
            client = _client_as(options.s3_credentials)
        return cls(
            bucket,
            key,
            kms_key_id=options.kms_key_id,
            client=client,
            chunk_size=chunk_size,
            concurrency=concurrency,
        )

    @property
    def client(self) -> S3Client:
        return self._client_override or _client()

    # -- errors ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self, action: str, version_id: str | None = None) -> Iterator[None]:
        """Translate botocore failures into the store's error family, without secrets."""
        what = f"{self.url}" + (f" (version {version_id})" if version_id else "")
        try:
            yield
        except ClientError as exc:
            code = _error_code(exc)
            if code in _NOT_FOUND_CODES:
                raise ObjectNotFound(f"{what}: no such object or version ({action})") from None
            if code in _BAD_VERSION_CODES and version_id:
                raise ObjectNotFound(f"{what}: not a version of this object ({action})") from None
            if code in _DENIED_CODES:
                raise AccessDenied(
                    f"{what}: access denied ({action}, {code}); note that without s3:ListBucket on "
                    f"the bucket S3 answers a missing object with 403 too"
                ) from None
            if code in _PRECONDITION_CODES:
                raise PreconditionFailed(
                    f"{what}: the object changed since the backup started ({action}, {code})"
                ) from None
            message = exc.response.get("Error", {}).get("Message", "")
            raise StoreError(f"{what}: {action} failed: {code} {message}".rstrip()) from None
        except BotoCoreError as exc:
            raise StoreError(f"{what}: {action} failed: {type(exc).__name__}: {exc}") from None

    # -- reading ---------------------------------------------------------------------------

    def _info(self, head: HeadObjectOutputTypeDef, is_latest: bool = True) -> ObjectInfo:
        return ObjectInfo(
            url=self.url,
            size=int(head["ContentLength"]),
            etag=head["ETag"],
            version_id=_unquote_version(head.get("VersionId")),
            last_modified=head["LastModified"],
            metadata=dict(head.get("Metadata", {})),
            is_latest=is_latest,
        )

    def _head(self, version_id: str | None) -> HeadObjectOutputTypeDef:
        kwargs: dict[str, str] = {"Bucket": self.bucket, "Key": self.key}
        if version_id:
            kwargs["VersionId"] = version_id
        with self._errors("head", version_id):
            return self.client.head_object(**kwargs)  # type: ignore[arg-type]

    def _check_version_id(self, version_id: str | None) -> None:
        if version_id is not None and not _VERSION_ID.match(version_id):
            raise bad_version_id(
                self.url, version_id, "S3", "letters, digits and . _ + / = -, at most 1024 characters"
            )

    def head(self, version_id: str | None = None) -> ObjectInfo | None:
        self._check_version_id(version_id)
        try:
            head = self._head(version_id)
        except ObjectNotFound:
            return None
        is_latest = True
        if version_id:
            current = self.head()
            is_latest = current is not None and current.version_id == version_id
        return self._info(head, is_latest)

    def download(
        self, dest: BinaryIO, version_id: str | None = None, *, progress: Progress = SILENT
    ) -> ObjectInfo:
        # Read the version first and pin the download to it (or to its ETag, where the bucket keeps
        # no versions), so a concurrent overwrite can never mix two objects' bytes.
        self._check_version_id(version_id)
        info = self.head(version_id)
        if info is None:
            what = f"version {version_id}" if version_id else "stored object"
            raise ObjectNotFound(f"{self.url}: no {what}")
        extra: dict[str, str] = {}
        if info.version_id:
            extra["VersionId"] = info.version_id
        subscribers = [_KnownSize(info.size, None if info.version_id else info.etag), _Reported(progress)]
        progress.expect(info.size)
        with (
            self._errors("download", version_id),
            create_transfer_manager(self.client, self._download_config) as manager,
        ):
            sink = cast("IO[Any]", _InOrderWriter(dest))  # write() is all the transfer needs
            manager.download(self.bucket, self.key, sink, extra, subscribers).result()
        return info

    def _versions(self, limit: int | None) -> list[ObjectInfo]:
        listed: list[tuple[str | None, bool]] = []
        with self._errors("list versions"):
            pages = self.client.get_paginator("list_object_versions").paginate(
                Bucket=self.bucket, Prefix=self.key
            )
            for page in pages:
                for version in page.get("Versions", []):
                    if version.get("Key") == self.key:
                        listed.append(
                            (_unquote_version(version.get("VersionId")), bool(version.get("IsLatest")))
                        )
                if limit is not None and len(listed) >= limit:
                    break  # the key's versions come first, newest first: the rest cannot be newer
        listed = listed[:limit]

        # S3 lists one key's versions newest first. Listings carry no user metadata, and every
        # stored backup describes itself in its metadata, so each version is read with a HEAD.
        def describe(entry: tuple[str | None, bool]) -> ObjectInfo | None:
            version_id, is_latest = entry
            try:
                head = self._head(version_id)
            except ObjectNotFound:  # removed between the listing and the HEAD
                return None
            return self._info(head, is_latest)

        with ThreadPoolExecutor(max_workers=min(8, max(1, len(listed)))) as pool:
            infos = list(pool.map(describe, listed))
        return [info for info in infos if info is not None]

    # -- probes ----------------------------------------------------------------------------

    def versioning(self) -> bool:
        """The bucket's versioning status (`s3:GetBucketVersioning`); Suspended counts as off."""
        with self._errors("read the bucket's versioning"):
            answer = self.client.get_bucket_versioning(Bucket=self.bucket)
        return answer.get("Status") == "Enabled"

    def probe_write(self) -> None:
        """An empty PutObject with an If-Match no object can satisfy.

        S3 authorizes a request before it evaluates its conditions, so a 403 means the identity may
        not write; 412 (the object exists) or 404 NoSuchKey (it does not) means it may, and nothing
        was written. The probe carries the same encryption headers as `put`, so a bucket policy
        that insists on them judges it as it would judge a backup.
        """
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self.key,
            "Body": b"",
            "IfMatch": _IMPOSSIBLE_ETAG,
        }
        params.update(self._encryption)
        try:
            # the lock keeps a concurrent put's hooks (which add conditions) off this request
            with _WRITE_LOCK, self._errors("write probe"):
                self.client.put_object(**params)
        except (PreconditionFailed, ObjectNotFound):
            return
        except AccessDenied:
            raise AccessDenied(
                f"{self.url}: access denied to a write (the identity needs s3:PutObject on this key"
                + (", and kms:GenerateDataKey on BACKUP_KMS_KEY_ID)" if self.kms_key_id else ")")
            ) from None
        raise StoreError(
            f"{self.url}: the write probe was accepted: this server ignores If-Match on PutObject "
            "(it wrote an empty version), so conditional writes cannot protect the backup here"
        )

    # -- writing ---------------------------------------------------------------------------

    @property
    def _encryption(self) -> dict[str, Any]:
        """The encryption parameters of every object this store writes."""
        if not self.kms_key_id:
            return {}
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id}

    def _write(self, upload: Upload) -> ObjectInfo:
        size = upload.source.size
        upload.progress.expect(size)
        extra: dict[str, Any] = {
            "Metadata": dict(upload.metadata),
            "ChecksumAlgorithm": "SHA256",
            **self._encryption,
        }
        condition: dict[str, str] = {}
        match upload.precondition:
            case IfMatch(etag):
                condition["IfMatch"] = etag
            case IfAbsent():
                condition["IfNoneMatch"] = "*"
        written: dict[str, Any] = {}
        with (
            _WRITE_LOCK,
            self._hooks(condition, written),
            self._errors("upload"),
            create_transfer_manager(self.client, self._upload_config) as manager,
        ):
            manager.upload(
                upload.source.whole_file() or upload.source.stream,
                self.bucket,
                self.key,
                extra,
                [_KnownSize(size), _Reported(upload.progress)],
            ).result()
        if "ETag" not in written:
            raise StoreError(f"{self.url}: upload finished without S3 reporting the object's ETag")
        return ObjectInfo(
            url=self.url,
            size=size,
            etag=str(written["ETag"]),
            version_id=_unquote_version(written.get("VersionId")),
            last_modified=datetime.now(UTC),
            metadata=dict(upload.metadata),
            is_latest=True,
        )

    @contextlib.contextmanager
    def _hooks(self, condition: Mapping[str, str], written: dict[str, Any]) -> Iterator[None]:
        """Add `condition` to the request that makes the object visible; record S3's answer to it.

        The hooks act only on requests for this bucket and key, marked through botocore's
        per-request context so the answer is matched to this upload's own request.
        """
        events = self.client.meta.events
        token = uuid.uuid4().hex
        final_ops = ("PutObject", "CompleteMultipartUpload")

        def before(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
            if params.get("Bucket") != self.bucket or params.get("Key") != self.key:
                return
            context["controller_backup_upload"] = token
            if not condition:
                return
            for name, value in condition.items():
                params.setdefault(name, value)
            if model.name == "CompleteMultipartUpload" and "IfMatch" in condition:
                self._check_etag_before_completing(condition["IfMatch"])

        def after(http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            if context.get("controller_backup_upload") == token and http_response.status_code < 300:
                written["ETag"] = parsed.get("ETag")
                written["VersionId"] = parsed.get("VersionId")

        registered: list[tuple[str, Callable[..., None], str]] = []
        for op in final_ops:
            registered.append((f"before-parameter-build.s3.{op}", before, f"{token}-before-{op}"))
            registered.append((f"after-call.s3.{op}", after, f"{token}-after-{op}"))
        for event, handler, unique_id in registered:
            events.register(event, handler, unique_id=unique_id)
        try:
            yield
        finally:
            for event, _handler, unique_id in registered:
                events.unregister(event, unique_id=unique_id)

    def _check_etag_before_completing(self, expected: str) -> None:
        """Refuse to complete a multipart write whose base changed (for servers that ignore IfMatch)."""
        try:
            current = self._head(None)["ETag"]
        except ObjectNotFound:
            current = None
        if current != expected:
            raise PreconditionFailed(f"{self.url}: the object changed since the backup started")
