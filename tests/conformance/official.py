"""Facts from Aviatrix's own published clients: each action's exact fields, sample versions, sample
answers. Every row names, in the comment above it, the repository and path it comes from; a row
marked `inferred` has no official sample, and its comment says what it is inferred from.

The conformance tests assert that our client sends exactly these fields (plus `action` and `CID`),
whatever our emulator would accept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Fields:
    """What one call carries besides `action` and `CID`."""

    fields: frozenset[str]
    #: fixed values the official clients send
    values: Mapping[str, str] = field(default_factory=dict)
    #: multipart file parts (never form fields)
    files: frozenset[str] = frozenset()
    inferred: bool = False


def _f(*names: str, files: tuple[str, ...] = (), inferred: bool = False, **values: str) -> Fields:
    return Fields(frozenset(names) | frozenset(values), dict(values), frozenset(files), inferred)


# -- login ---------------------------------------------------------------------------------------

# AviatrixSystems/terraform-provider-aviatrix goaviatrix/client.go (GetApiToken: GET /v2/api
# action=get_api_token; Login: POST /v2/api with X-Access-Key only on this call)
LOGIN = _f("username", "password")
# AviatrixSystems/terraform-aviatrix-aws-controlplane docker/app/aws_controller.py (get_api_token):
# status not 200/404 -> not ready; 404, a non-JSON body, JSON without `return`, or return false ->
# no token (an older controller: log in on /v1/api); reason RequestRefused -> not ready
TOKEN_ANSWERS_MEANING_V1 = ("404", "non-json", "no-envelope", "return-false")
TOKEN_ANSWERS_MEANING_NOT_READY = ("302", "403", "500", "503", "RequestRefused")
# AviatrixSystems/terraform-provider-aviatrix goaviatrix/client.go (LoginResp): CID is top level
SAMPLE_LOGIN = {
    "return": True,
    "results": "User login:admin in account:admin has been authorized successfully - "
    "Please check email confirmation.",
    "CID": "RwuXX5KoJsTrOBAjXl9N",
}
# AviatrixSystems/terraform-provider-aviatrix goaviatrix/client.go (GetApiTokenResp)
SAMPLE_TOKEN = {"return": True, "results": {"api_token": "sample-api-token-0123456789"}}

# -- versions --------------------------------------------------------------------------------------

# AviatrixSystems/terraform-provider-aviatrix goaviatrix/version_test.go (ParseVersion) and
# goaviatrix/check_test.go (isVersionSupported): the forms list_version_info answers
SAMPLE_VERSIONS = (
    "UserConnect-7.1.1794",
    "UserConnect-7.2-1804.4665",
    "8.0.1-1000.1000",
    "UserConnect-6.3-patch.2309",
)
# AviatrixSystems/terraform-provider-aviatrix goaviatrix/version.go (list_version_info: CID only)
LIST_VERSION_INFO = _f()

# -- set-up and upgrade ----------------------------------------------------------------------------

# AviatrixSystems/Controller-HA-for-AWS aviatrix_ha/api/client.py (get_initial_setup_status)
INITIAL_SETUP_CHECK = _f(subaction="check")
# AviatrixSystems/terraform-aviatrix-aws-controlplane docker/app/aws_controller.py (run_initial_setup)
# and AviatrixSystems/Azure_Controller_HA .../Azure-Controller-HA/azure_aviatrix_ha.py
# (run_initial_setup): up to 7.1 the replacement is set up *to* the backup's version
INITIAL_SETUP_RUN_TO_VERSION = _f("target_version", subaction="run")
# AviatrixSystems/Controller-HA-for-AWS aviatrix_ha/api/client.py (initial_setup): the current
# flow, for 7.2 and later, whose images pin the version at launch: no target_version
INITIAL_SETUP_RUN_PINNED = _f(subaction="run")
# AviatrixSystems/terraform-aviatrix-aws-controlplane docker/app/aws_controller.py (upgrade_controller)
UPGRADE = _f("version")
# AviatrixSystems/terraform-aviatrix-aws-controlplane docker/app/aws_controller.py (set_customer_id)
SETUP_CUSTOMER_ID = _f("customer_id")

# -- access accounts (setup_account_profile), by cloud_type ---------------------------------------

ACCOUNT: dict[int, Fields] = {
    # AviatrixSystems/Controller-HA-for-AWS aviatrix_ha/api/client.py (create_cloud_account)
    1: _f(
        "account_name",
        "aws_account_number",
        "aws_role_arn",
        "aws_role_ec2",
        cloud_type="1",
        aws_iam="true",
        skip_sg_config="true",
    ),
    # AviatrixSystems/terraform-provider-aviatrix goaviatrix/account.go (Account form tags awsgov_*)
    256: _f(
        "account_name",
        "awsgov_account_number",
        "awsgov_role_arn",
        "awsgov_role_ec2",
        cloud_type="256",
        awsgov_iam="true",
    ),
    # AviatrixSystems/terraform-aviatrix-aws-controlplane docker/app/aws_controller.py
    # (create_cloud_account, the cn- branch)
    1024: _f(
        "account_name",
        "aws_china_account_number",
        "aws_china_role_arn",
        "aws_china_role_ec2",
        cloud_type="1024",
        aws_china_iam="true",
    ),
    # AviatrixSystems/terraform-provider-aviatrix goaviatrix/account.go (Account form tags arm_*)
    8: _f(
        "account_name",
        "arm_subscription_id",
        "arm_application_endpoint",
        "arm_application_client_id",
        "arm_application_client_secret",
        cloud_type="8",
    ),
    # AviatrixSystems/terraform-provider-aviatrix goaviatrix/account.go (form tags azure_gov_*)
    32: _f(
        "account_name",
        "azure_gov_subscription_id",
        "azure_gov_application_endpoint",
        "azure_gov_application_client_id",
        "azure_gov_application_client_secret",
        cloud_type="32",
    ),
    # AviatrixSystems/terraform-provider-aviatrix goaviatrix/account.go (form tags arm_china_*)
    2048: _f(
        "account_name",
        "arm_china_subscription_id",
        "arm_china_application_endpoint",
        "arm_china_application_client_id",
        "arm_china_application_client_secret",
        cloud_type="2048",
    ),
    # AviatrixSystems/terraform-provider-aviatrix goaviatrix/account.go (CreateGCPAccount: the key
    # as the multipart file part gcloud_project_credentials; its `groups` field is RBAC, left out)
    4: _f("account_name", "gcloud_project_name", files=("gcloud_project_credentials",), cloud_type="4"),
}

# -- the controller's own backup -------------------------------------------------------------------

# AviatrixSystems/terraform-aviatrix-aws-controlplane docker/app/aws_controller.py (setup_ctrl_backup,
# v1, with now) and AviatrixSystems/Azure_Controller_HA .../Backup/azure_aviatrix_backup.py
# (enable_backup, v1, with now and region); `region` for AWS and GCP is optional (sent when set)
ENABLE_NOW: dict[int, Fields] = {
    1: _f("account_name", "bucket_name", "region", cloud_type="1", multiple="true", now="true"),
    1024: _f("account_name", "bucket_name", "region", cloud_type="1024", multiple="true", now="true"),
    8: _f(
        "account_name",
        "storage_name",
        "container_name",
        "region",
        cloud_type="8",
        multiple="true",
        now="true",
    ),
    # inferred: the AWS v1 form with AWS Gov's cloud_type
    256: _f(
        "account_name", "bucket_name", "region", cloud_type="256", multiple="true", now="true", inferred=True
    ),
    # inferred: the Azure v1 form with each cloud's cloud_type
    32: _f(
        "account_name",
        "storage_name",
        "container_name",
        "region",
        cloud_type="32",
        multiple="true",
        now="true",
        inferred=True,
    ),
    2048: _f(
        "account_name",
        "storage_name",
        "container_name",
        "region",
        cloud_type="2048",
        multiple="true",
        now="true",
        inferred=True,
    ),
    # inferred: the AWS v1 form with GCP's cloud_type (goaviatrix/controller.go gives GCP bucket_name)
    4: _f(
        "account_name", "bucket_name", "region", cloud_type="4", multiple="true", now="true", inferred=True
    ),
    # inferred: the AWS v1 form; region is required for OCI
    # (AviatrixSystems/terraform-provider-aviatrix aviatrix/resource_aviatrix_controller_config.go)
    16: _f(
        "account_name", "bucket_name", "region", cloud_type="16", multiple="true", now="true", inferred=True
    ),
}
# AviatrixSystems/terraform-provider-aviatrix goaviatrix/controller.go (GetCloudnBackupConfig,
# DisableCloudnBackupConfig: CID only)
GET_BACKUP_CONFIG = _f()
DISABLE_BACKUP_CONFIG = _f()

# -- restore_cloudx_config, by cloud_type ---------------------------------------------------------

RESTORE: dict[int, Fields] = {
    # AviatrixSystems/Controller-HA-for-AWS aviatrix_ha/api/client.py (restore_backup)
    1: _f("account_name", "file_name", "bucket_name", cloud_type="1"),
    # AviatrixSystems/terraform-aviatrix-aws-controlplane docker/app/aws_controller.py (restore_backup)
    1024: _f("account_name", "file_name", "bucket_name", cloud_type="1024"),
    # AviatrixSystems/Azure_Controller_HA aviatrix_controller_ha/azure-controller/Azure-Controller-HA/
    # azure_aviatrix_ha.py (restore_ctrl_backup): no account_name; the service principal instead
    8: _f(
        "storage_name",
        "container_name",
        "file_name",
        "arm_subscription_id",
        "arm_application_endpoint",
        "arm_application_client_id",
        "arm_application_client_secret",
        cloud_type="8",
    ),
    # inferred from the AWS row (no official sample for AWS Gov)
    256: _f("account_name", "file_name", "bucket_name", cloud_type="256", inferred=True),
    # inferred from the AWS row (no official sample for GCP)
    4: _f("account_name", "file_name", "bucket_name", cloud_type="4", inferred=True),
    # inferred from the AWS row (no official sample for OCI)
    16: _f("account_name", "file_name", "bucket_name", cloud_type="16", inferred=True),
    # inferred from the Azure row, with the cloud's own account-field prefix (goaviatrix/account.go)
    32: _f(
        "storage_name",
        "container_name",
        "file_name",
        "azure_gov_subscription_id",
        "azure_gov_application_endpoint",
        "azure_gov_application_client_id",
        "azure_gov_application_client_secret",
        cloud_type="32",
        inferred=True,
    ),
    # inferred from the Azure row, with the cloud's own account-field prefix (goaviatrix/account.go)
    2048: _f(
        "storage_name",
        "container_name",
        "file_name",
        "arm_china_subscription_id",
        "arm_china_application_endpoint",
        "arm_china_application_client_id",
        "arm_china_application_client_secret",
        cloud_type="2048",
        inferred=True,
    ),
}

# AviatrixSystems/terraform-provider-aviatrix goaviatrix/account.go (AccountListResp)
SAMPLE_ACCOUNT_LIST = {"return": True, "results": {"account_list": [{"account_name": "some-account"}]}}
