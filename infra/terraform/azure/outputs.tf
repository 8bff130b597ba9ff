output "function_app_name" {
  description = "Name of the function app (for `az functionapp ...`)."
  value       = azurerm_function_app_flex_consumption.app.name
}

output "function_app_hostname" {
  description = "Host of the HTTP functions: POST https://<host>/api/backup and /api/restore with a function key."
  value       = azurerm_function_app_flex_consumption.app.default_hostname
}

output "function_principal_id" {
  description = "Object id of the function's system-assigned identity."
  value       = azurerm_function_app_flex_consumption.app.identity[0].principal_id
}

output "backup_url" {
  description = "The one stored backup object (BACKUP_URL)."
  value       = "azblob://${azurerm_storage_account.backup.name}/${azurerm_storage_container.backups.name}/${var.backup_blob_name}"
}

output "key_vault_name" {
  description = "Key Vault holding the controller password."
  value       = azurerm_key_vault.this.name
}

output "replacement_queue" {
  description = "Storage queue that carries replacement-controller VM events (null when the event route is off)."
  value       = local.events_enabled ? azurerm_storage_queue.replacements[0].name : null
}
