# The backup storage account holds exactly one blob (and the restore markers beside it). It is
# separate from the function hosts' accounts so the apps' own churn, keys and roles never touch it.
# Versioning keeps every replaced backup; soft delete keeps a deleted blob or version
# recoverable; no identity of ours may delete (function.tf), and only the lifecycle rule below
# removes old versions.

resource "azurerm_storage_account" "backup" {
  #checkov:skip=CKV_AZURE_59:The Flex Consumption app reaches the account over its public endpoint unless subnet_id adds VNet integration; access is Entra ID only (shared keys off) and limited by RBAC to one container.
  #checkov:skip=CKV_AZURE_35:A default-deny firewall would block the function, whose outbound addresses are not fixed on Flex Consumption without VNet integration; shared keys are off and RBAC is container-scoped.
  #checkov:skip=CKV2_AZURE_33:Private endpoints need a VNet the module does not own; pass subnet_id and add one in the calling configuration where required.
  #checkov:skip=CKV2_AZURE_1:Microsoft-managed keys with infrastructure encryption (double encryption); a customer-managed key is a deployment choice outside this module.
  #checkov:skip=CKV_AZURE_33:Queue logging concerns the queue service, which this account does not use; blob reads, writes and deletes go to Log Analytics through azurerm_monitor_diagnostic_setting.backup_blob.
  name                              = local.backup_account_name
  resource_group_name               = var.resource_group_name
  location                          = var.location
  account_kind                      = "StorageV2"
  account_tier                      = "Standard"
  account_replication_type          = var.backup_replication
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  shared_access_key_enabled         = false
  default_to_oauth_authentication   = true
  allow_nested_items_to_be_public   = false
  public_network_access_enabled     = true
  local_user_enabled                = false
  infrastructure_encryption_enabled = true
  cross_tenant_replication_enabled  = false
  tags                              = local.tags

  blob_properties {
    versioning_enabled  = true
    change_feed_enabled = true

    # a deleted blob or version stays recoverable for soft_delete_days, and nobody may purge it
    # early: with versioning, no delete by any identity destroys a kept version
    delete_retention_policy {
      days                     = var.soft_delete_days
      permanent_delete_enabled = false
    }

    container_delete_retention_policy {
      days = var.soft_delete_days
    }
  }

  sas_policy {
    expiration_period = "00.01:00:00"
    expiration_action = "Block"
  }

  # Locked retention (immutability_days, off by default): version-level immutability, so every
  # version of the backup (and of its records) is kept unchanged for that many days after it is
  # written; no delete by anyone, the lifecycle rule included, succeeds before. Locked, the
  # period can only grow.
  dynamic "immutability_policy" {
    for_each = var.immutability_days == null ? [] : [var.immutability_days]
    content {
      allow_protected_append_writes = false
      period_since_creation_in_days = immutability_policy.value
      state                         = var.immutability_locked ? "Locked" : "Unlocked"
    }
  }

  # The backups live here: no plan may replace or delete this account (a changed name, location,
  # or an immutability policy added to an existing account, which the provider can only make by
  # creating the account anew). Such a change stops at plan; see the README.
  lifecycle {
    prevent_destroy = true
  }
}

resource "azurerm_storage_container" "backups" {
  #checkov:skip=CKV2_AZURE_21:Blob reads, writes and deletes are logged to Log Analytics by azurerm_monitor_diagnostic_setting.backup_blob (resource logs, the successor of classic Storage Analytics, which needs shared keys).
  name                  = local.backup_container
  storage_account_id    = azurerm_storage_account.backup.id
  container_access_type = "private"
}

# Older versions of the backup are kept for version_retention_days, then deleted; the current
# version is never touched by the rule.
resource "azurerm_storage_management_policy" "backup" {
  storage_account_id = azurerm_storage_account.backup.id

  rule {
    name    = "expire-old-backup-versions"
    enabled = true

    filters {
      blob_types   = ["blockBlob"]
      prefix_match = ["${local.backup_container}/"]
    }

    actions {
      version {
        delete_after_days_since_creation = var.version_retention_days
      }
    }
  }
}

resource "azurerm_monitor_diagnostic_setting" "backup_blob" {
  name                       = "backup-blob-audit"
  target_resource_id         = "${azurerm_storage_account.backup.id}/blobServices/default"
  log_analytics_workspace_id = azurerm_log_analytics_workspace.logs.id

  enabled_log {
    category = "StorageRead"
  }

  enabled_log {
    category = "StorageWrite"
  }

  enabled_log {
    category = "StorageDelete"
  }
}

# Each function app's own host account: its deployment package, host locks and keys (and, for the
# restore app, the event queue). One per app, so neither identity can touch the other's package.
resource "azurerm_storage_account" "host" {
  #checkov:skip=CKV_AZURE_59:The Functions host reaches its storage over the public endpoint unless subnet_id adds VNet integration; shared keys are off (managed identity only).
  #checkov:skip=CKV_AZURE_35:A default-deny firewall would block the Functions host, whose outbound addresses are not fixed on Flex Consumption without VNet integration.
  #checkov:skip=CKV2_AZURE_33:Private endpoints need a VNet the module does not own.
  #checkov:skip=CKV2_AZURE_1:Microsoft-managed keys with infrastructure encryption; the host account holds no backup data.
  #checkov:skip=CKV_AZURE_33:Classic Storage Analytics queue logging needs shared keys, which are disabled; the queue's use is visible in the function's Application Insights telemetry.
  #checkov:skip=CKV2_AZURE_38:The host account holds the deployment package and host state that Terraform and the platform recreate; soft delete adds nothing recoverable.
  #checkov:skip=CKV2_AZURE_21:Blob read logging on the host's own account records only the platform's lease and package reads.
  #checkov:skip=CKV_AZURE_206:The host account holds only state the platform and Terraform recreate (package, leases, keys, the event queue); zone-redundant (ZRS) by default, geo-replication adds nothing.
  for_each                          = local.apps
  name                              = local.host_account_names[each.key]
  resource_group_name               = var.resource_group_name
  location                          = var.location
  account_kind                      = "StorageV2"
  account_tier                      = "Standard"
  account_replication_type          = var.host_replication
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  shared_access_key_enabled         = false
  default_to_oauth_authentication   = true
  allow_nested_items_to_be_public   = false
  public_network_access_enabled     = true
  local_user_enabled                = false
  infrastructure_encryption_enabled = true
  cross_tenant_replication_enabled  = false
  tags                              = local.tags

  sas_policy {
    expiration_period = "00.01:00:00"
    expiration_action = "Block"
  }
}

resource "azurerm_storage_container" "deployment" {
  #checkov:skip=CKV2_AZURE_21:The deployment container holds only the function package, read by the platform at start.
  for_each              = local.apps
  name                  = "function-package"
  storage_account_id    = azurerm_storage_account.host[each.key].id
  container_access_type = "private"
}
