"""Native-mode settings: validated once, every bad or missing variable named, URLs -> parameters."""

from __future__ import annotations

import pytest
from controller_backup.controller.native_fields import account_request
from controller_backup.errors import SettingsError
from controller_backup.native_bucket import parse_cloud_type, parse_native_bucket
from controller_backup.settings import Settings

BASE = {
    "CONTROLLER_URL": "https://controller.example.com",
    "CONTROLLER_PASSWORD": "env:PW",
    "BACKUP_URL": "s3://backups/controller.enc",
}
AWS = BASE | {
    "CONTROLLER_BACKUP_MODE": "native",
    "NATIVE_CLOUD_TYPE": "aws",
    "NATIVE_ACCOUNT_NAME": "backup-acct",
    "NATIVE_BUCKET_URL": "s3://ctrl-backups",
    "CONTROLLER_PRIVATE_IP": "10.0.1.5",
    "NATIVE_AWS_ACCOUNT_NUMBER": "123456789012",
}


def _refused_naming(env: dict[str, str], *names: str) -> None:
    """The settings refuse `env` with one error that names every one of `names`."""
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    for name in names:
        assert name in caught.value.message


def test_native_mode_is_the_default_and_export_mode_needs_nothing_native() -> None:
    assert Settings.from_env({k: v for k, v in AWS.items() if k != "CONTROLLER_BACKUP_MODE"}).mode == "native"
    settings = Settings.from_env(BASE | {"CONTROLLER_BACKUP_MODE": "export"})
    assert settings.mode == "export"
    assert settings.restore_max_backup_age == 3 * 86400
    assert settings.restore_time_limit == 840


def test_a_complete_native_aws_configuration() -> None:
    settings = Settings.from_env(AWS | {"NATIVE_BACKUP_WAIT": "5m", "RESTORE_MAX_BACKUP_AGE": "72h"})
    assert settings.mode == "native" and settings.native_cloud_type == 1
    assert settings.native_bucket.params == {"bucket_name": "ctrl-backups"}
    assert settings.native_bucket.file_url("f.enc") == "s3://ctrl-backups/f.enc"
    assert settings.native_backup_wait == 300 and settings.restore_max_backup_age == 72 * 3600


def test_every_missing_native_variable_is_named_at_once() -> None:
    _refused_naming(
        BASE | {"CONTROLLER_BACKUP_MODE": "native"},
        "NATIVE_CLOUD_TYPE",
        "NATIVE_ACCOUNT_NAME",
        "NATIVE_BUCKET_URL",
        "CONTROLLER_PRIVATE_IP",
    )


def test_each_cloud_names_its_account_fields() -> None:
    azure = AWS | {"NATIVE_CLOUD_TYPE": "azure", "NATIVE_BUCKET_URL": "azblob://ctrlstore/backups"}
    del azure["NATIVE_AWS_ACCOUNT_NUMBER"]
    _refused_naming(
        azure,
        "NATIVE_REGION",
        "NATIVE_ARM_SUBSCRIPTION_ID",
        "NATIVE_ARM_DIRECTORY_ID",
        "NATIVE_ARM_CLIENT_ID",
        "NATIVE_ARM_CLIENT_SECRET",
    )
    gcp = AWS | {"NATIVE_CLOUD_TYPE": "gcp", "NATIVE_BUCKET_URL": "gs://ctrl-backups"}
    with pytest.raises(SettingsError, match=r"NATIVE_GCP_PROJECT_ID.*NATIVE_GCP_CREDENTIALS"):
        Settings.from_env(gcp)
    with pytest.raises(SettingsError, match="NATIVE_AWS_ACCOUNT_NUMBER"):
        Settings.from_env({k: v for k, v in AWS.items() if k != "NATIVE_AWS_ACCOUNT_NUMBER"})


def test_every_bad_native_variable_is_named_at_once() -> None:
    env = AWS | {
        "CONTROLLER_BACKUP_MODE": "native",
        "NATIVE_CLOUD_TYPE": "aws",
        "NATIVE_BUCKET_URL": "s3://ctrl-backups/some/prefix",
        "CONTROLLER_PRIVATE_IP": "10.0.1",
        "NATIVE_BACKUP_WAIT": "-5",
        "RESTORE_MAX_BACKUP_AGE": "three days",
        "RESTORE_TIME_LIMIT": "0",
        "NATIVE_AWS_ACCOUNT_NUMBER": "1234",
        "NATIVE_AWS_ROLE_APP": "aviatrix-role-app",
        "NATIVE_ACCOUNT_NAME": "no spaces please",
    }
    _refused_naming(
        env,
        "NATIVE_BUCKET_URL",
        "CONTROLLER_PRIVATE_IP",
        "NATIVE_BACKUP_WAIT",
        "RESTORE_MAX_BACKUP_AGE",
        "RESTORE_TIME_LIMIT",
        "NATIVE_AWS_ACCOUNT_NUMBER",
        "NATIVE_AWS_ROLE_APP",
        "NATIVE_ACCOUNT_NAME",
    )


def test_unknown_mode_and_cloud_type_are_named() -> None:
    with pytest.raises(SettingsError, match=r"CONTROLLER_BACKUP_MODE: must be one of native, export"):
        Settings.from_env(BASE | {"CONTROLLER_BACKUP_MODE": "magic"})
    with pytest.raises(SettingsError, match="NATIVE_CLOUD_TYPE"):
        Settings.from_env(AWS | {"NATIVE_CLOUD_TYPE": "3"})


@pytest.mark.parametrize(
    ("raw", "number"),
    [("aws", 1), ("GCP", 4), ("azure", 8), ("oci", 16), ("azure_gov", 32), ("aws-gov", 256), ("1024", 1024)],
)
def test_cloud_types_by_name_or_number(raw: str, number: int) -> None:
    assert parse_cloud_type(raw) == number


@pytest.mark.parametrize(
    ("url", "cloud_type", "params"),
    [
        ("s3://ctrl-backups", 1, {"bucket_name": "ctrl-backups"}),
        ("s3://ctrl-backups/", 256, {"bucket_name": "ctrl-backups"}),
        ("gs://ctrl-backups", 4, {"bucket_name": "ctrl-backups"}),
        ("azblob://ctrlstore/backups", 8, {"storage_name": "ctrlstore", "container_name": "backups"}),
        (
            "https://ctrlstore.blob.core.windows.net/backups",
            32,
            {"storage_name": "ctrlstore", "container_name": "backups"},
        ),
        ("file:///srv/buckets/ctrl-backups", 1, {"bucket_name": "ctrl-backups"}),
        ("/srv/buckets/ctrlstore/backups", 8, {"storage_name": "ctrlstore", "container_name": "backups"}),
    ],
)
def test_bucket_url_gives_the_controllers_parameters(
    url: str, cloud_type: int, params: dict[str, str]
) -> None:
    assert dict(parse_native_bucket(url, cloud_type).params) == params


@pytest.mark.parametrize(
    ("url", "cloud_type", "message"),
    [
        ("s3://ctrl-backups/prefix", 1, "bucket only"),
        ("gs://ctrl-backups", 1, "s3://"),
        ("s3://ctrl-backups", 8, "azblob://"),
        ("azblob://ctrlstore", 8, "container"),
        ("azblob://ctrlstore/backups/blob", 8, "container only"),
        ("ftp://x/y", 1, "scheme"),
    ],
)
def test_bad_bucket_urls_say_why(url: str, cloud_type: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_native_bucket(url, cloud_type)


@pytest.mark.parametrize(
    ("cloud", "prefix", "partition"),
    [("aws", "aws_", "aws"), ("aws-gov", "awsgov_", "aws-us-gov"), ("aws-china", "aws_china_", "aws-cn")],
)
def test_aws_access_account_uses_the_default_roles_of_its_partition(
    cloud: str, prefix: str, partition: str
) -> None:
    settings = Settings.from_env(AWS | {"NATIVE_CLOUD_TYPE": cloud})
    assert settings.native_cloud_type is not None
    fields = account_request(settings, settings.native_cloud_type, "acct").fields
    assert fields[f"{prefix}role_arn"] == f"arn:{partition}:iam::123456789012:role/aviatrix-role-app"
    assert fields[f"{prefix}role_ec2"] == f"arn:{partition}:iam::123456789012:role/aviatrix-role-ec2"
    assert fields[f"{prefix}iam"] == "true"
    assert fields[f"{prefix}account_number"] == "123456789012"
