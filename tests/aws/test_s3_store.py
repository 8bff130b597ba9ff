"""The S3 store against moto in server mode: the shared contract, plus what only S3 has.

Also pins down what moto honours, because the store's conditional multipart write depends on it:
moto enforces IfMatch/IfNoneMatch on PutObject and IfNoneMatch on CompleteMultipartUpload, but
ignores IfMatch on CompleteMultipartUpload (the store then checks the ETag just before completing).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from controller_backup.errors import (
    AccessDenied,
    BadRequest,
    ObjectNotFound,
    PreconditionFailed,
    SettingsError,
    StoreError,
)
from controller_backup.settings import Settings
from controller_backup.stores import IfAbsent, IfMatch, StoreOptions, open_store
from controller_backup.stores.s3 import MIB, S3Store, parse_s3_url

from tests.fixtures.aws import MotoServer
from tests.stores.contract import StoreContract, _get, _meta, _put

pytestmark = pytest.mark.usefixtures("aws_env")


class TestS3Store(StoreContract):
    #: the shape of an S3 version id, naming nothing
    missing_version_id = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"

    @pytest.fixture
    def store(self, s3_url: str) -> S3Store:
        store = open_store(s3_url)
        assert isinstance(store, S3Store)
        return store


def _small_part_store(url: str, client: Any = None) -> S3Store:
    """A store that switches to multipart at 5 MiB (S3's smallest part), to test multipart cheaply."""
    store = S3Store.from_url(url, StoreOptions(), chunk_size=5 * MIB, concurrency=2, client=client)
    assert isinstance(store, S3Store)
    return store


# -- what moto honours ---------------------------------------------------------------------------


def test_moto_honours_conditions_on_put_object(aws_env: MotoServer, s3_bucket: str) -> None:
    s3 = aws_env.client("s3")
    key = f"probe/{uuid.uuid4().hex}"
    s3.put_object(Bucket=s3_bucket, Key=key, Body=b"one")
    with pytest.raises(ClientError) as stale:
        s3.put_object(Bucket=s3_bucket, Key=key, Body=b"two", IfMatch='"0123456789abcdef0123456789abcdef"')
    assert stale.value.response["Error"]["Code"] == "PreconditionFailed"
    with pytest.raises(ClientError) as exists:
        s3.put_object(Bucket=s3_bucket, Key=key, Body=b"two", IfNoneMatch="*")
    assert exists.value.response["Error"]["Code"] == "PreconditionFailed"
    assert s3.get_object(Bucket=s3_bucket, Key=key)["Body"].read() == b"one"


def _raw_multipart(s3: Any, bucket: str, key: str, **condition: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)
    part = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=b"m" * 1024)
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        **condition,
    )


def test_moto_complete_multipart_upload_honours_if_none_match_but_ignores_if_match(
    aws_env: MotoServer, s3_bucket: str
) -> None:
    """Why S3Store reads the ETag before completing a conditional multipart write.

    If this starts failing because moto now refuses the stale IfMatch, the HEAD check in
    stores/s3.py is no longer needed for moto: update its comment (real S3 enforces the header).
    """
    s3 = aws_env.client("s3")
    key = f"probe/{uuid.uuid4().hex}"
    s3.put_object(Bucket=s3_bucket, Key=key, Body=b"one")
    with pytest.raises(ClientError) as exists:
        _raw_multipart(s3, s3_bucket, key, IfNoneMatch="*")
    assert exists.value.response["Error"]["Code"] == "PreconditionFailed"
    _raw_multipart(s3, s3_bucket, key, IfMatch='"0123456789abcdef0123456789abcdef"')
    assert s3.get_object(Bucket=s3_bucket, Key=key)["Body"].read() == b"m" * 1024, "moto ignored IfMatch"


# -- conditional writes -----------------------------------------------------------------------------


def _capture_headers(client: Any, operation: str) -> list[dict[str, str]]:
    seen: list[dict[str, str]] = []

    def record(request: Any, **_: Any) -> None:
        seen.append(
            {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
        )

    client.meta.events.register(f"before-send.s3.{operation}", record)
    return seen


def test_conditional_single_put_sends_the_condition_to_s3(aws_env: MotoServer, s3_url: str) -> None:
    client = aws_env.client("s3")
    store = S3Store.from_url(s3_url, StoreOptions(), client=client)
    sent = _capture_headers(client, "PutObject")
    first = _put(store, b"a" * 1000, precondition=IfAbsent())
    _put(store, b"b" * 1000, precondition=IfMatch(first.etag))
    assert sent[0].get("if-none-match") == "*"
    assert sent[1].get("if-match") == first.etag


def test_conditional_multipart_write_sends_if_match_on_completion(aws_env: MotoServer, s3_url: str) -> None:
    client = aws_env.client("s3")
    store = _small_part_store(s3_url, client)
    first = _put(store, b"x" * 100)
    sent = _capture_headers(client, "CompleteMultipartUpload")
    data = os.urandom(11 * MIB)
    second = _put(store, data, precondition=IfMatch(first.etag))
    assert len(sent) == 1 and sent[0].get("if-match") == first.etag
    assert second.etag.endswith('-3"'), "expected a three-part multipart ETag"
    assert hashlib.sha256(_get(store)[0]).hexdigest() == hashlib.sha256(data).hexdigest()


def test_stale_if_match_on_multipart_write_is_refused_and_leaves_nothing(
    aws_env: MotoServer, s3_bucket: str, s3_url: str
) -> None:
    store = _small_part_store(s3_url)
    first = _put(store, b"first" * 100)
    second = _put(store, b"second" * 100, precondition=IfMatch(first.etag))
    with pytest.raises(PreconditionFailed, match="changed since the backup started"):
        _put(store, os.urandom(11 * MIB), precondition=IfMatch(first.etag))
    body, info = _get(store)
    assert body == b"second" * 100 and info.etag == second.etag
    assert len(store.versions()) == 2
    uploads = aws_env.client("s3").list_multipart_uploads(Bucket=s3_bucket, Prefix=store.key)
    assert not uploads.get("Uploads"), "the refused multipart upload was not aborted"


def test_if_absent_multipart_write_is_refused_when_an_object_exists(s3_url: str) -> None:
    store = _small_part_store(s3_url)
    _put(store, b"here" * 100)
    with pytest.raises(PreconditionFailed):
        _put(store, os.urandom(6 * MIB), precondition=IfAbsent())
    assert _get(store)[0] == b"here" * 100


# -- integrity, encryption, endpoints -----------------------------------------------------------


def test_single_put_carries_a_sha256_checksum_s3_verified(aws_env: MotoServer, s3_url: str) -> None:
    store = open_store(s3_url)
    assert isinstance(store, S3Store)
    data = os.urandom(2000)
    info = _put(store, data)
    head = aws_env.client("s3").head_object(
        Bucket=store.bucket, Key=store.key, VersionId=info.version_id, ChecksumMode="ENABLED"
    )
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert head["Metadata"] == _meta(data)


def test_multipart_parts_carry_sha256_checksums(aws_env: MotoServer, s3_url: str) -> None:
    client = aws_env.client("s3")
    store = _small_part_store(s3_url, client)
    sent = _capture_headers(client, "UploadPart")
    _put(store, os.urandom(6 * MIB))
    assert len(sent) == 2
    assert all("x-amz-checksum-sha256" in h or "x-amz-trailer" in h for h in sent), sent


_ENV = {
    "CONTROLLER_URL": "https://controller",
    "CONTROLLER_PASSWORD": "env:UNUSED",
    "CONTROLLER_BACKUP_MODE": "export",
}


def test_sse_kms_when_a_key_is_configured(aws_env: MotoServer, s3_url: str) -> None:
    key_id = aws_env.client("kms").create_key(Description="backup key")["KeyMetadata"]["Arn"]
    settings = Settings.from_env(
        {
            "CONTROLLER_URL": "https://c",
            "CONTROLLER_PASSWORD": "x",
            "BACKUP_URL": s3_url,
            "BACKUP_KMS_KEY_ID": key_id,
            "CONTROLLER_BACKUP_MODE": "export",
        }
    )
    store = settings.backup_store()
    assert isinstance(store, S3Store) and store.kms_key_id == key_id
    info = _put(store, b"secret config" * 100)
    head = aws_env.client("s3").head_object(Bucket=store.bucket, Key=store.key, VersionId=info.version_id)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == key_id
    assert _get(store)[0] == b"secret config" * 100


def test_our_kms_key_never_reaches_another_bucket(aws_env: MotoServer, s3_url: str) -> None:
    """The controller's own (native) bucket is opened without our options: it must read its files."""
    settings = Settings.from_env(
        {
            "CONTROLLER_URL": "https://c",
            "CONTROLLER_PASSWORD": "x",
            "BACKUP_URL": s3_url,
            "BACKUP_KMS_KEY_ID": "k",
            "CONTROLLER_BACKUP_MODE": "export",
        }
    )
    assert settings.backup_store().kms_key_id == "k"  # type: ignore[attr-defined]
    assert settings.backup_store(s3_url + ".restores/i-1.json").kms_key_id == "k"  # type: ignore[attr-defined]
    native = open_store(s3_url.rsplit("/", 1)[0] + "/CloudN_10.0.0.1_save_cloudx_config.enc")
    assert isinstance(native, S3Store) and native.kms_key_id is None


def test_no_kms_option_means_no_kms_header(aws_env: MotoServer, s3_url: str) -> None:
    client = aws_env.client("s3")
    store = S3Store.from_url(s3_url, StoreOptions(), client=client)
    sent = _capture_headers(client, "PutObject")
    _put(store, b"plain" * 10)
    assert "x-amz-server-side-encryption" not in sent[0]


def test_endpoint_comes_from_aws_endpoint_url_s3(
    aws_env: MotoServer, s3_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The generic endpoint points nowhere: the S3-specific one must win, as boto3 documents.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", aws_env.endpoint_url)
    store = open_store(s3_url)
    assert isinstance(store, S3Store)
    assert store.client.meta.endpoint_url == aws_env.endpoint_url
    _put(store, b"routed" * 10)
    assert _get(store)[0] == b"routed" * 10


def test_versions_list_only_this_exact_key(s3_url: str) -> None:
    store = open_store(s3_url)
    neighbour = open_store(s3_url + ".old")  # shares the prefix
    _put(neighbour, b"n" * 10)
    _put(store, b"s" * 10)
    versions = store.versions()
    assert [v.url for v in versions] == [store.url]
    assert versions[0].metadata["sha256"] == hashlib.sha256(b"s" * 10).hexdigest()


def test_unversioned_bucket_reports_no_version_ids(aws_env: MotoServer) -> None:
    bucket = f"plain-{uuid.uuid4().hex[:12]}"
    aws_env.client("s3").create_bucket(Bucket=bucket)
    store = open_store(f"s3://{bucket}/backup.tar")
    info = _put(store, b"p" * 100)
    assert info.version_id is None
    head = store.head()
    assert head is not None and head.version_id is None and head.etag == info.etag
    assert [v.version_id for v in store.versions()] == [None]


def test_download_pins_the_version_it_read(s3_url: str) -> None:
    store = _small_part_store(s3_url)
    old_data = os.urandom(6 * MIB)
    old = _put(store, old_data)
    _put(store, b"new" * 100)
    buf = io.BytesIO()
    info = store.download(buf, old.version_id)
    assert info.version_id == old.version_id and info.is_latest is False
    assert buf.getvalue() == old_data
    assert buf.tell() == len(old_data)


def test_multipart_download_reaches_a_hashing_spool_in_order(s3_url: str) -> None:
    """The core's spool hashes bytes as they are written: parts must arrive in order."""
    from controller_backup.spool import HashingSpool

    store = _small_part_store(s3_url)
    data = os.urandom(23 * MIB)  # five ranged GETs, fetched in parallel
    _put(store, data)
    with HashingSpool() as spool:
        info = store.download(spool.stream)
        assert spool.size == info.size == len(data)
        assert spool.sha256 == hashlib.sha256(data).hexdigest()


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["s3://", "s3://bucket", "s3://bucket/", "s3://bucket/dir/", "gs://bucket/key", "s3://bucket/key?x=1"],
)
def test_bad_urls_are_settings_errors(url: str) -> None:
    with pytest.raises(SettingsError, match="BACKUP_URL"):
        parse_s3_url(url)


def test_url_parsing() -> None:
    assert parse_s3_url("s3://my-bucket/a/b%20c.tar") == ("my-bucket", "a/b c.tar")


def _stubbed(url: str) -> tuple[S3Store, Stubber]:
    client = boto3.session.Session(
        aws_access_key_id="AKIAEXAMPLEKEYID0000",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSECRETKEY",
        region_name="us-east-1",
    ).client("s3", config=Config(retries={"max_attempts": 1}))
    return S3Store.from_url(url, StoreOptions(), client=client), Stubber(client)


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("403", 403, AccessDenied),
        ("AccessDenied", 403, AccessDenied),
        ("404", 404, ObjectNotFound),
        ("NoSuchKey", 404, ObjectNotFound),
        ("NoSuchVersion", 404, ObjectNotFound),
        ("PreconditionFailed", 412, PreconditionFailed),
        ("ConditionalRequestConflict", 409, PreconditionFailed),
        ("InternalError", 500, StoreError),
        ("NoSuchBucket", 404, StoreError),
    ],
)
def test_error_codes_are_classified_without_credentials(
    code: str, status: int, expected: type[StoreError]
) -> None:
    store, stubber = _stubbed("s3://bucket/backup.tar")
    stubber.add_client_error("head_object", service_error_code=code, http_status_code=status)
    with stubber, pytest.raises(StoreError) as caught:
        store._head(None)
    assert type(caught.value) is expected
    text = str(caught.value) + repr(caught.value.to_dict())
    assert "SECRETKEY" not in text and "AKIAEXAMPLE" not in text
    assert "s3://bucket/backup.tar" in text


def test_access_denied_explains_the_missing_list_bucket_case() -> None:
    store, stubber = _stubbed("s3://bucket/backup.tar")
    stubber.add_client_error("head_object", service_error_code="403", http_status_code=403)
    with stubber, pytest.raises(AccessDenied, match=r"without s3:ListBucket .* missing object with 403"):
        store.head()


def test_head_of_a_missing_object_is_none_not_an_error() -> None:
    store, stubber = _stubbed("s3://bucket/backup.tar")
    stubber.add_client_error("head_object", service_error_code="404", http_status_code=404)
    with stubber:
        assert store.head() is None


def test_malformed_version_id_is_not_found() -> None:
    store, stubber = _stubbed("s3://bucket/backup.tar")
    stubber.add_client_error("head_object", service_error_code="400", http_status_code=400)
    with stubber, pytest.raises(ObjectNotFound):
        store.download(io.BytesIO(), "not-a-version")


def test_a_version_id_of_unsafe_characters_is_refused_before_any_request(
    aws_env: MotoServer, s3_url: str
) -> None:
    client = aws_env.client("s3")
    store = S3Store.from_url(s3_url, StoreOptions(), client=client)
    _put(store, b"kept" * 10)
    heads, gets = _capture_headers(client, "HeadObject"), _capture_headers(client, "GetObject")
    for bad in ("id&versionId=other", "a b", "x" * 1025, ""):
        with pytest.raises(BadRequest, match="is not a valid S3 version id"):
            store.download(io.BytesIO(), bad)
        with pytest.raises(BadRequest, match="is not a valid S3 version id"):
            store.head(bad)
    assert heads == [] and gets == []


def test_unreachable_endpoint_is_a_store_error(aws_env: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    client = boto3.session.Session().client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    store = S3Store.from_url("s3://bucket/backup.tar", StoreOptions(), client=client)
    with pytest.raises(StoreError, match="EndpointConnectionError") as caught:
        store.head()
    assert type(caught.value) is StoreError
    assert "testing" not in str(caught.value)


# -- the preflight's probes ---------------------------------------------------------------------


def test_write_probe_sends_an_empty_body_with_an_if_match_nothing_has(
    aws_env: MotoServer, s3_url: str
) -> None:
    client = aws_env.client("s3")
    store = S3Store.from_url(s3_url, StoreOptions(), client=client)
    sent = _capture_headers(client, "PutObject")
    store.probe_write()  # missing key: S3 answers 404 NoSuchKey
    _put(store, b"kept" * 10)
    store.probe_write()  # existing key: 412
    probes = [headers for headers in sent if headers.get("if-match")]
    assert len(probes) == 2
    assert all(h["if-match"] == '"00000000000000000000000000000000"' for h in probes)
    assert all(h.get("content-length", "0") == "0" for h in probes)
    assert [v.version_id for v in store.versions()] == [store.head().version_id]  # type: ignore[union-attr]


def test_write_probe_carries_the_kms_headers_a_bucket_policy_may_demand(
    aws_env: MotoServer, s3_url: str
) -> None:
    key_id = aws_env.client("kms").create_key(Description="probe key")["KeyMetadata"]["Arn"]
    client = aws_env.client("s3")
    store = S3Store.from_url(s3_url, StoreOptions(kms_key_id=key_id), client=client)
    sent = _capture_headers(client, "PutObject")
    store.probe_write()
    assert sent[0]["x-amz-server-side-encryption"] == "aws:kms"
    assert sent[0]["x-amz-server-side-encryption-aws-kms-key-id"] == key_id
    assert store.head() is None


def test_write_probe_denied_is_access_denied_naming_the_permission() -> None:
    """moto allows every write, so the 403 comes from botocore's Stubber on the store's client."""
    store, stubber = _stubbed("s3://bucket/backup.tar")
    stubber.add_client_error(
        "put_object",
        service_error_code="AccessDenied",
        http_status_code=403,
        expected_params={
            "Bucket": "bucket",
            "Key": "backup.tar",
            "Body": b"",
            "IfMatch": '"00000000000000000000000000000000"',
        },
    )
    with stubber, pytest.raises(AccessDenied, match="needs s3:PutObject") as caught:
        store.probe_write()
    stubber.assert_no_pending_responses()
    assert "SECRETKEY" not in str(caught.value)


def test_write_probe_accepted_by_a_server_that_ignores_if_match_fails_loudly() -> None:
    store, stubber = _stubbed("s3://bucket/backup.tar")
    stubber.add_response("put_object", {"ETag": '"d41d8cd98f00b204e9800998ecf8427e"'})
    with stubber, pytest.raises(StoreError, match="ignores If-Match") as caught:
        store.probe_write()
    assert type(caught.value) is StoreError


def test_write_probe_into_a_missing_bucket_is_a_store_error(aws_env: MotoServer) -> None:
    store = open_store(f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/backup.tar")
    with pytest.raises(StoreError, match="NoSuchBucket") as caught:
        store.probe_write()
    assert type(caught.value) is StoreError


@pytest.mark.parametrize("status", [None, "Suspended"])
def test_versioning_off_or_suspended_reads_false(aws_env: MotoServer, status: str | None) -> None:
    bucket = f"plain-{uuid.uuid4().hex[:12]}"
    s3 = aws_env.client("s3")
    s3.create_bucket(Bucket=bucket)
    if status:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})
    assert open_store(f"s3://{bucket}/backup.tar").versioning() is False


def test_versioning_denied_is_access_denied() -> None:
    store, stubber = _stubbed("s3://bucket/backup.tar")
    stubber.add_client_error("get_bucket_versioning", service_error_code="AccessDenied", http_status_code=403)
    with stubber, pytest.raises(AccessDenied):
        store.versioning()
