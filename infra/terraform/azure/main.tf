# A serverless backup of an Aviatrix controller's configuration on Azure:
#   storage.tf     the backup storage account (separate from the function host's), its one container
#   keyvault.tf    Key Vault (RBAC) holding the controller password (and a BYOL customer id)
#   function.tf    two Flex Consumption function apps (backup, restore), their identities and roles
#   events.tf      optional: Event Grid -> storage queue for "a replacement controller VM is running"
#   monitoring.tf  Application Insights, the alert rules and their action group
#   native.tf      native mode (the default): the controller's own container, the ARM secret

data "azurerm_client_config" "current" {}

locals {
  backup_account_name = "${var.name}bkp"
  backup_container    = "backups"
  resource_group_id   = "/subscriptions/${data.azurerm_client_config.current.subscription_id}/resourceGroups/${var.resource_group_name}"

  # One function app per job (function.tf), each with its own host storage account: the value is
  # the app's function group (CONTROLLER_BACKUP_FUNCTIONS) and the functions it registers.
  apps = {
    backup  = ["scheduled_backup", "scheduled_verify", "backup"]
    restore = ["restore", "replacement_controller"]
  }
  host_account_names = {
    backup  = "${var.name}hostbkp"
    restore = "${var.name}hostrst"
  }
  vault_name         = "${var.name}-kv"
  secret_name        = "controller-password"
  customer_id_secret = "controller-customer-id"
  # function names in functions/azure/function_app.py: the alert queries count their requests
  functions = {
    scheduled_backup = "scheduled_backup"
    scheduled_verify = "scheduled_verify"
    backup           = "backup"
    restore          = "restore"
    replacement      = "replacement_controller"
  }
  replacement_queue = "controller-replacements"
  events_enabled    = var.controller_resource_group_id != null
  tags              = merge({ "managed-by" = "terraform", "app" = "controller-backup" }, var.tags)

  # Both apps: the controller, the backup blob, the mode.
  common_app_settings = merge(
    {
      # explicit in both modes: the core's own default is native
      CONTROLLER_BACKUP_MODE = var.backup_mode
      CONTROLLER_URL         = var.controller_url
      CONTROLLER_USERNAME    = var.controller_username
      CONTROLLER_PASSWORD    = "azure-kv:${azurerm_key_vault.this.name}/${azurerm_key_vault_secret.this["controller_password"].name}"
      BACKUP_URL             = "azblob://${azurerm_storage_account.backup.name}/${azurerm_storage_container.backups.name}/${var.backup_object_name}"
      BACKUP_MIN_SIZE_RATIO  = tostring(var.backup_min_size_ratio)
    },
    var.controller_ca_bundle == null ? {} : { CONTROLLER_CA_BUNDLE = var.controller_ca_bundle },
    var.controller_tls_server_name == null ? {} : { CONTROLLER_TLS_SERVER_NAME = var.controller_tls_server_name },
    # every function checks the native settings are complete; only the restore identity may
    # resolve the ARM secret they name
    local.native_app_settings,
    # further destinations: the backup writes each, a restore falls back to them
    length(var.copy_urls) == 0 ? {} : { BACKUP_COPY_URLS = join(",", var.copy_urls) },
    length(var.copy_credentials) == 0 ? {} : { BACKUP_COPY_CREDENTIALS = jsonencode(var.copy_credentials) },
  )
  # host.json's functionTimeout (functions/azure/host.json, 30 minutes): every function of either
  # app stops there.
  function_timeout_seconds = 1800
  # What that timeout leaves for each app's waits, derived here and nowhere else. A backup waits
  # out a controller that is not ready (a reboot, an upgrade) for the timeout less the wait for the
  # controller's own file (native) and 120 s to fetch and store it. A restore waits for a booting
  # controller up to the timeout less five minutes (25), and stops, resumably, two minutes before
  # the host does (RESTORE_TIME_LIMIT: the queue's redelivery resumes it; the core's 840 s default
  # would waste half of the time).
  backup_ready_timeout  = max(30, local.function_timeout_seconds - (local.native_enabled ? var.native_backup_wait_seconds : 0) - 120)
  restore_ready_timeout = local.function_timeout_seconds - 300
  restore_time_limit    = local.function_timeout_seconds - 120

  # The backup app: its timers (the backup, the readiness check), and its wait.
  backup_app_settings = {
    BACKUP_SCHEDULE          = var.schedule
    VERIFY_SCHEDULE          = var.verify_schedule
    CONTROLLER_READY_TIMEOUT = tostring(local.backup_ready_timeout)
  }
  # The restore app: its waits, which VM counts as a replacement, how to reach it, which other
  # targets a restore caller may name (none by default), the customer id and the restore's age
  # limit.
  restore_app_settings = merge(
    {
      CONTROLLER_READY_TIMEOUT = tostring(local.restore_ready_timeout)
      RESTORE_TIME_LIMIT       = tostring(local.restore_time_limit)
      REPLACEMENT_URL          = var.replacement_url
      RESTORE_ALLOWED_TARGETS  = join(",", var.restore_allowed_targets)
    },
    var.replacement_tag == null ? {} : { REPLACEMENT_TAG = var.replacement_tag },
    var.replacement_name_pattern == null ? {} : { REPLACEMENT_NAME_PATTERN = var.replacement_name_pattern },
    # where a restore by instance_id (a vmId) looks for the VM: the group the identity may read
    var.controller_resource_group_id == null ? {} : { REPLACEMENT_RESOURCE_GROUPS = var.controller_resource_group_id },
    local.customer_id_app_settings,
    local.max_age_app_settings,
  )
  # What each identity may write in the backup container (an ABAC condition on the blob path):
  # the backup its one blob, the record of its last success (an unchanged configuration writes
  # no new version) and the readiness check's last result; the restore its markers beside it, and
  # in native mode the fresh backup a native restore ends with.
  blob_path = "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path]"
  writable_paths = {
    backup  = join(" OR ", [for name in ["", ".last-backup.json", ".last-verify.json"] : "${local.blob_path} StringEquals '${var.backup_object_name}${name}'"])
    restore = join(" OR ", concat(["${local.blob_path} StringLike '${var.backup_object_name}.restores/*'"], local.native_enabled ? ["${local.blob_path} StringEquals '${var.backup_object_name}'"] : []))
  }

  # BYOL: a reference to the customer id secret (either mode), for the restore app only
  customer_id_app_settings = var.create_customer_id_secret ? {
    CONTROLLER_CUSTOMER_ID = "azure-kv:${azurerm_key_vault.this.name}/${local.customer_id_secret}"
  } : {}

  # -- native mode (the default; with backup_mode = "export" none of the following reaches the
  # app or a role) --
  native_enabled = var.backup_mode == "native"
  # /subscriptions/S/resourceGroups/RG/providers/Microsoft.Storage/storageAccounts/NAME
  native_account_id_parts  = split("/", coalesce(var.native_storage_account_id, "-"))
  native_storage_account   = try(local.native_account_id_parts[8], "-")
  native_resource_group_id = join("/", slice(local.native_account_id_parts, 0, min(5, length(local.native_account_id_parts))))
  native_container_id      = "${coalesce(var.native_storage_account_id, "-")}/blobServices/default/containers/${coalesce(var.native_container_name, "-")}"
  native_secret_name       = "native-arm-client-secret"

  native_app_settings = local.native_enabled ? {
    CONTROLLER_PRIVATE_IP      = coalesce(var.controller_private_ip, "-")
    NATIVE_CLOUD_TYPE          = "azure"
    NATIVE_ACCOUNT_NAME        = coalesce(var.native_account_name, "-")
    NATIVE_BUCKET_URL          = "azblob://${local.native_storage_account}/${coalesce(var.native_container_name, "-")}"
    NATIVE_REGION              = coalesce(var.native_region, "-")
    NATIVE_BACKUP_WAIT         = tostring(var.native_backup_wait_seconds)
    NATIVE_ARM_SUBSCRIPTION_ID = coalesce(var.native_arm_subscription_id, "-")
    NATIVE_ARM_DIRECTORY_ID    = coalesce(var.native_arm_directory_id, "-")
    NATIVE_ARM_CLIENT_ID       = coalesce(var.native_arm_client_id, "-")
    # a reference, resolved only by a restore (setup_account_profile, restore_cloudx_config)
    NATIVE_ARM_CLIENT_SECRET = "azure-kv:${azurerm_key_vault.this.name}/${local.native_secret_name}"
  } : {}
  max_age_app_settings = var.restore_max_backup_age == null ? {} : { RESTORE_MAX_BACKUP_AGE = var.restore_max_backup_age }
}
