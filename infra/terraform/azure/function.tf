# Two function apps from the same package, one per job: the app setting CONTROLLER_BACKUP_FUNCTIONS
# makes the code register only that group ("backup": the timer backup and the HTTP backup/check;
# "restore": the HTTP restore and the replacement-VM queue). Azure has no per-function identity
# or key inside one app, so separate apps are what give backup and restore separate callers
# (each app has its own function keys) and separate managed identities with separate grants.
# Each app also gets its own plan (Flex Consumption hosts one app per plan) and its own host
# storage account: the identity-based AzureWebJobsStorage needs Storage Blob Data Owner on its
# account, which on a shared one would let the backup identity rewrite the restore app's package.

resource "azurerm_service_plan" "flex" {
  #checkov:skip=CKV_AZURE_225:Flex Consumption (FC1) places instances per execution; a daily backup delayed by a zone outage is retried and, if still failing, raises the missing-backup alert.
  #checkov:skip=CKV_AZURE_212:A minimum instance count applies to dedicated plans; Flex Consumption starts instances on demand for each trigger.
  for_each            = local.apps
  name                = "${var.name}-${each.key}-plan"
  resource_group_name = var.resource_group_name
  location            = var.location
  os_type             = "Linux"
  sku_name            = "FC1"
  tags                = local.tags
}

resource "azurerm_function_app_flex_consumption" "app" {
  for_each            = local.apps
  name                = "${var.name}-controller-${each.key}"
  resource_group_name = var.resource_group_name
  location            = var.location
  service_plan_id     = azurerm_service_plan.flex[each.key].id

  storage_container_type      = "blobContainer"
  storage_container_endpoint  = "${azurerm_storage_account.host[each.key].primary_blob_endpoint}${azurerm_storage_container.deployment[each.key].name}"
  storage_authentication_type = "SystemAssignedIdentity"

  runtime_name           = "python"
  runtime_version        = "3.12"
  maximum_instance_count = var.max_instance_count
  instance_memory_in_mb  = 2048

  https_only                                     = true
  public_network_access_enabled                  = true
  webdeploy_publish_basic_authentication_enabled = false
  virtual_network_subnet_id                      = var.subnet_id
  zip_deploy_file                                = var.package_path
  tags                                           = local.tags

  identity {
    type = "SystemAssigned"
  }

  site_config {
    minimum_tls_version                    = "1.2"
    application_insights_connection_string = azurerm_application_insights.this.connection_string
  }

  app_settings = merge(
    {
      # the host's own storage, through the managed identity (shared keys are off)
      AzureWebJobsStorage__accountName = azurerm_storage_account.host[each.key].name
      # Application Insights accepts only Entra ID-authenticated telemetry (local auth is off)
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING = "Authorization=AAD"
      # which function group this app registers: "backup" or "restore"
      CONTROLLER_BACKUP_FUNCTIONS = each.key
    },
    local.common_app_settings,
    each.key == "backup" ? local.backup_app_settings : local.restore_app_settings,
  )

  # native mode's inputs are checked by validations in variables.tf, so a plan fails before
  # anything is created
}

locals {
  principals = { for job, app in azurerm_function_app_flex_consumption.app : job => app.identity[0].principal_id }
}

# -- what both identities need: their own host account, telemetry (the password: keyvault.tf) --

resource "azurerm_role_assignment" "host_blobs" {
  # identity-based AzureWebJobsStorage: the host's leases, keys and the deployment package, on the
  # app's own host account only (never the backup account, never the other app's host account)
  for_each             = local.apps
  scope                = azurerm_storage_account.host[each.key].id
  role_definition_name = "Storage Blob Data Owner"
  principal_id         = local.principals[each.key]
}

resource "azurerm_role_assignment" "telemetry" {
  for_each             = local.apps
  scope                = azurerm_application_insights.this.id
  role_definition_name = "Monitoring Metrics Publisher"
  principal_id         = local.principals[each.key]
}

# -- the backup container: read everything in it, write one path each, delete nothing --

# Built-in Storage Blob Data Contributor would add deleting blobs (and, with it, versions into
# soft delete); this role reads, writes and creates blobs only. Each assignment limits writing to
# its identity's own path with an ABAC condition.
locals {
  # read, write (Put Blob / Put Block / Put Block List) and create blobs: never delete
  blob_data_actions = [
    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action",
  ]
}

resource "azurerm_role_definition" "backup_blobs" {
  name        = "${var.name} controller-backup blobs ${local.backup_account_name}/${local.backup_container}"
  scope       = local.resource_group_id
  description = "Read the controller backup container, and write (never delete) the blobs a condition on the assignment allows."

  permissions {
    actions      = []
    data_actions = local.blob_data_actions
  }

  assignable_scopes = [local.resource_group_id]
}

resource "azurerm_role_assignment" "backup_blobs" {
  for_each           = local.apps
  scope              = azurerm_storage_container.backups.id
  role_definition_id = azurerm_role_definition.backup_blobs.role_definition_resource_id
  principal_id       = local.principals[each.key]
  description        = "controller-backup (${var.name}): ${each.key} writes only ${each.key == "backup" ? "the backup blob" : "its restore markers"}"
  condition_version  = "2.0"
  condition          = <<-EOT
    (
     (
      !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write'})
      AND
      !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action'})
     )
     OR
     (
      ${local.writable_paths[each.key]}
     )
    )
  EOT
}
