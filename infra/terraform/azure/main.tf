# A serverless backup of an Aviatrix controller's configuration on Azure:
#   storage.tf     the backup storage account (separate from the function host's), its one container
#   keyvault.tf    Key Vault (RBAC) holding the controller password (and a BYOL customer id)
#   function.tf    the Flex Consumption function app, its identity and role assignments
#   events.tf      optional: Event Grid -> storage queue for "a replacement controller VM is running"
#   monitoring.tf  Application Insights, the alert rules and their action group
#   native.tf      native mode (the default): the controller's own container, the ARM secret

data "azurerm_client_config" "current" {}

locals {
  backup_account_name = "${var.name_prefix}bkp"
  host_account_name   = "${var.name_prefix}fnhost"
  backup_container    = "backups"
  secret_name         = "controller-password"
  customer_id_secret  = "controller-customer-id"
  # function names in functions/azure/function_app.py: the alert queries count their requests
  functions = {
    scheduled_backup = "scheduled_backup"
    backup           = "backup"
    restore          = "restore"
    replacement      = "replacement_controller"
  }
  replacement_queue = "controller-replacements"
  events_enabled    = var.controller_resource_group_id != null
  tags              = merge({ "managed-by" = "terraform", "app" = "controller-backup" }, var.tags)

  # BYOL: a reference to the customer id secret (either mode)
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
  # host.json's functionTimeout is 30 minutes: a restore stops, resumably, two minutes before
  # (the queue's redelivery resumes it); RESTORE_TIME_LIMIT's 840 s default would waste half of it
  restore_time_limit = 1680

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
    RESTORE_TIME_LIMIT       = tostring(local.restore_time_limit)
  } : {}
  max_age_app_settings = var.restore_max_backup_age == null ? {} : { RESTORE_MAX_BACKUP_AGE = var.restore_max_backup_age }
}
