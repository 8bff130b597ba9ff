"""The fields Aviatrix's own clients send for an access account and a restore, per cloud type.

Field names differ by cloud type (docs/controller-api.md has the table and the official source of
each row): AWS `aws_*` (plus `skip_sg_config=true`, as Aviatrix's AWS HA tool sends it), AWS Gov
`awsgov_*`, AWS China `aws_china_*`, Azure `arm_*`, Azure Gov `azure_gov_*`, Azure China
`arm_china_*`, GCP `gcloud_project_name` with the service-account key as a multipart *file* part
`gcloud_project_credentials`. Secrets come through their references, resolved only here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from controller_backup.errors import SettingsError
from controller_backup.native_bucket import AWS_FAMILY, AZURE_FAMILY, GCP, cloud_name
from controller_backup.settings import Settings

#: cloud_type -> the prefix of its AWS account fields
_AWS_PREFIX = {1: "aws_", 256: "awsgov_", 1024: "aws_china_"}
#: cloud_type -> the ARN partition of its IAM roles
_ARN_PARTITION = {1: "aws", 256: "aws-us-gov", 1024: "aws-cn"}
#: cloud_type -> the prefix of its Azure service-principal fields
_AZURE_PREFIX = {8: "arm_", 32: "azure_gov_", 2048: "arm_china_"}
#: the GCP key's multipart file part, and the file name sent with it
GCP_CREDENTIALS_PART = "gcloud_project_credentials"
GCP_CREDENTIALS_FILENAME = "gcloud-credentials.json"


@dataclass(frozen=True)
class AccountRequest:
    """`setup_account_profile`'s form fields, and the one file part GCP sends its key in."""

    fields: Mapping[str, str]
    file_part: str | None = None
    file_name: str | None = None
    file_content: bytes = b""


def restore_needs_account(cloud_type: int) -> bool:
    """Azure restores carry the service principal themselves: no account, no `account_name`."""
    return cloud_type not in AZURE_FAMILY


def account_request(settings: Settings, cloud_type: int, account: str) -> AccountRequest:
    """The access account a replacement needs before it can read the controller's bucket."""
    base = {"account_name": account, "cloud_type": str(cloud_type)}
    if cloud_type in AWS_FAMILY:
        return AccountRequest({**base, **_aws_fields(settings, cloud_type)})
    if cloud_type in AZURE_FAMILY:
        return AccountRequest({**base, **azure_credentials(settings, cloud_type)})
    if cloud_type == GCP:
        key = settings.native_secret("native_gcp_credentials_ref")
        return AccountRequest(
            {**base, "gcloud_project_name": str(settings.native_gcp_project_id)},
            file_part=GCP_CREDENTIALS_PART,
            file_name=GCP_CREDENTIALS_FILENAME,
            file_content=key.encode(),
        )
    raise SettingsError(
        f"this tool cannot create a {cloud_name(cloud_type)} access account: create {account!r} on "
        "the controller, then run the restore again"
    )


def _aws_fields(settings: Settings, cloud_type: int) -> dict[str, str]:
    prefix = _AWS_PREFIX[cloud_type]
    number = str(settings.native_aws_account_number)
    arn = f"arn:{_ARN_PARTITION[cloud_type]}:iam::{number}:role/"
    fields = {
        f"{prefix}account_number": number,
        f"{prefix}iam": "true",
        f"{prefix}role_arn": settings.native_aws_role_app or arn + "aviatrix-role-app",
        f"{prefix}role_ec2": settings.native_aws_role_ec2 or arn + "aviatrix-role-ec2",
    }
    if cloud_type == 1:
        fields["skip_sg_config"] = "true"
    return fields


def azure_credentials(settings: Settings, cloud_type: int) -> dict[str, str]:
    """The service principal, under the cloud's field names (account creation and restore)."""
    prefix = _AZURE_PREFIX[cloud_type]
    return {
        f"{prefix}subscription_id": str(settings.native_arm_subscription_id),
        f"{prefix}application_endpoint": str(settings.native_arm_directory_id),
        f"{prefix}application_client_id": str(settings.native_arm_client_id),
        f"{prefix}application_client_secret": settings.native_secret("native_arm_client_secret_ref"),
    }
