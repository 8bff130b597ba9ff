output "backup_function_app_name" {
  description = "Name of the backup function app (for `az functionapp ...`): the timer backup and POST /api/backup."
  value       = azurerm_function_app_flex_consumption.app["backup"].name
}

output "restore_function_app_name" {
  description = "Name of the restore function app: POST /api/restore and the replacement-VM queue."
  value       = azurerm_function_app_flex_consumption.app["restore"].name
}

output "backup_function_app_hostname" {
  description = "Host of the backup app: POST https://<host>/api/backup with one of that app's function keys."
  value       = azurerm_function_app_flex_consumption.app["backup"].default_hostname
}

output "restore_function_app_hostname" {
  description = "Host of the restore app: POST https://<host>/api/restore with one of that app's function keys (the backup app's keys do not open it)."
  value       = azurerm_function_app_flex_consumption.app["restore"].default_hostname
}

output "function_ids" {
  description = "Resource id of each function app: {backup = ..., restore = ...}."
  value       = { for job, app in azurerm_function_app_flex_consumption.app : job => app.id }
}

output "function_identities" {
  description = "The identity each function app runs as, the object (principal) id of its system-assigned identity: {backup = ..., restore = ...}."
  value       = local.principals
}

output "backup_url" {
  description = "The one stored backup object (BACKUP_URL)."
  value       = "azblob://${azurerm_storage_account.backup.name}/${azurerm_storage_container.backups.name}/${var.backup_object_name}"
}

output "key_vault_name" {
  description = "Key Vault holding the controller password."
  value       = azurerm_key_vault.this.name
}

output "replacement_queue" {
  description = "Storage queue that carries replacement-controller VM events (null when the event route is off)."
  value       = local.events_enabled ? azurerm_storage_queue.replacements[0].name : null
}
