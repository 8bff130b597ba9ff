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
}

output "function_app_hostname" {
  value = module.controller_backup.function_app_hostname
}

output "backup_url" {
  value = module.controller_backup.backup_url
}
