# A serverless backup of an Aviatrix controller's configuration on Azure:
#   storage.tf     the backup storage account (separate from the function host's), its one container
#   keyvault.tf    Key Vault (RBAC) holding the controller password
#   function.tf    the Flex Consumption function app, its identity and role assignments
#   events.tf      optional: Event Grid -> storage queue for "a replacement controller VM is running"
#   monitoring.tf  Application Insights, the alert rules and their action group

data "azurerm_client_config" "current" {}

locals {
  backup_account_name = "${var.name_prefix}bkp"
  host_account_name   = "${var.name_prefix}fnhost"
  backup_container    = "backups"
  secret_name         = "controller-password"
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
}
