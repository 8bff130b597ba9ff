# The module with everything on: a daily backup at 00:00 UTC, manual backup/restore over HTTPS,
# and automatic restore onto a replacement controller VM in the controller's resource group.
#
#   python scripts/package_azure.py
#   terraform init && terraform apply -var "controller_password=..." -var "alert_email=ops@example.com"

terraform {
  required_version = ">= 1.11"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 4.40, < 5.0"
    }
  }
}

provider "azurerm" {
  features {}
  # the storage accounts accept Entra ID only: no shared keys
  storage_use_azuread = true
}

variable "controller_password" {
  description = "The controller's admin password (write-only: kept out of the state)."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "alert_email" {
  description = "Who is told about failed or missing backups."
  type        = string
}

resource "azurerm_resource_group" "backup" {
  name     = "rg-controller-backup"
  location = "westeurope"
}

data "azurerm_resource_group" "controller" {
  name = "rg-aviatrix-controller"
}

module "controller_backup" {
  source = "../.."

  name_prefix         = "avxctlbk01"
  resource_group_name = azurerm_resource_group.backup.name
  location            = azurerm_resource_group.backup.location

  controller_url      = "https://controller.example.net"
  controller_password = var.controller_password
  alert_email         = var.alert_email

  controller_resource_group_id = data.azurerm_resource_group.controller.id
  package_path                 = "${path.root}/../../../../../dist/azure/function.zip"

  # Native mode, for a real Aviatrix controller (it writes its own backup into a container of its
  # own storage account; see the module README). Uncomment, fill in, and add an ephemeral
  # variable "native_arm_client_secret" like controller_password above:
  # backup_mode                = "native"
  # controller_private_ip      = "10.0.1.25" # CloudN_10.0.1.25_save_cloudx_config.enc
  # native_account_name        = "backup-account"
  # native_storage_account_id  = "/subscriptions/<sub>/resourceGroups/rg-aviatrix-controller/providers/Microsoft.Storage/storageAccounts/avxctlbackups"
  # native_container_name      = "controller-backups"
  # native_region              = "westeurope"
  # native_arm_subscription_id = "<subscription GUID>"
  # native_arm_directory_id    = "<tenant GUID>"
  # native_arm_client_id       = "<application GUID>"
  # native_arm_client_secret   = var.native_arm_client_secret
}

output "function_app_hostname" {
  value = module.controller_backup.function_app_hostname
}

output "backup_url" {
  value = module.controller_backup.backup_url
}
