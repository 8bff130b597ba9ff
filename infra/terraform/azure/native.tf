# Native mode (backup_mode = "native"): a real Aviatrix controller writes its own backup,
# CloudN_<private ip>_save_cloudx_config.enc and ..._version.txt, into a container of its own
# storage account. The backup functions read those blobs; a restore reads them and writes the
# stored backup back under the old controller's name for restore_cloudx_config. Nothing here
# exists in export mode.
#
# The backup app's identity may only read those files; the restore app's identity reads and writes
# them and alone may read the ARM secret (keyvault.tf; setup_account_profile,
# restore_cloudx_config); the backup path only checks that the reference is set.

# Read, write (Put Blob / Put Block / Put Block List) and create blobs: no delete, no container
# management, no listing beyond the condition below. Built-in Storage Blob Data Contributor would
# add deleting every blob and the container itself. The role is defined on the storage account's
# resource group and assigned on the one container only.
resource "azurerm_role_definition" "native_files" {
  count       = local.native_enabled ? 1 : 0
  name        = "${var.name} controller-backup native files ${local.native_storage_account}/${coalesce(var.native_container_name, "-")}"
  scope       = local.native_resource_group_id
  description = "Read and write the Aviatrix controller's own backup files (CloudN_*) in one container; assigned with a condition on the blob path."

  permissions {
    actions      = []
    data_actions = local.blob_data_actions
  }

  assignable_scopes = [local.native_resource_group_id]
}

# On the controller's container, and (an ABAC condition on the blob path) only for CloudN_* blobs:
# reading and writing any other blob, or listing with any other prefix, is refused. A missing
# CloudN_* blob still answers 404 (not 403), which the backup's wait for a new file relies on.
locals {
  native_files_condition = <<-EOT
    (
     (
      !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'} AND NOT SubOperationMatches{'Blob.List'})
      AND
      !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write'})
      AND
      !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action'})
     )
     OR
     (
      @Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringLike 'CloudN_*'
     )
    )
    AND
    (
     (
      !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'} AND SubOperationMatches{'Blob.List'})
     )
     OR
     (
      @Request[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:prefix] StringStartsWith 'CloudN_'
     )
    )
  EOT
}

# The restore identity: read and write the controller's files (it puts the stored backup back).
resource "azurerm_role_assignment" "native_files" {
  count              = local.native_enabled ? 1 : 0
  scope              = local.native_container_id
  role_definition_id = azurerm_role_definition.native_files[0].role_definition_resource_id
  principal_id       = local.principals["restore"]
  description        = "controller-backup (${var.name}): the controller's own backup files only"
  condition_version  = "2.0"
  condition          = local.native_files_condition
}

# The backup identity: read them, nothing else (built-in Storage Blob Data Reader, same condition).
resource "azurerm_role_assignment" "native_files_reader" {
  count                = local.native_enabled ? 1 : 0
  scope                = local.native_container_id
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = local.principals["backup"]
  description          = "controller-backup (${var.name}): read the controller's own backup files only"
  condition_version    = "2.0"
  condition            = local.native_files_condition
}
