# A real deployment for an Aviatrix controller in Azure (native mode, the module's default): the
# controller writes its own backup into a container of its own storage account, and the function
# apps (backup and restore, each with its own identity and keys) reach the controller's private
# address on 443 through VNet integration. Everything runs
# daily at 00:00 UTC, with manual backup/restore over HTTPS and an automatic restore onto a
# replacement controller VM in the controller's resource group.
#
#   make package-azure
#   terraform init && terraform apply   # with terraform.tfvars filled in (see the module README)
#
# For a controller, proxy or emulator that serves export_config instead, set backup_mode = "export"
# on the module and drop the native_* inputs.

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

variable "location" {
  description = "Region of the function app: the region of the controller's VNet (VNet integration stays in one region)."
  type        = string
  default     = "westeurope"
}

variable "controller_resource_group_name" {
  description = "Resource group of the controller: its VM, VNet, NSG and backup storage account (as Aviatrix's controller deployment lays them out)."
  type        = string
  default     = "rg-aviatrix-controller"
}

variable "controller_private_ip" {
  description = "The controller's private IPv4 address: the app calls it there, and its backup file is CloudN_<ip>_save_cloudx_config.enc."
  type        = string
}

variable "controller_ca_bundle" {
  description = "PEM of the controller's certificate (controllers ship self-signed ones), e.g. from `openssl s_client -connect <ip>:443 -showcerts`."
  type        = string
}

variable "controller_tls_server_name" {
  description = "The name in the controller's certificate (`openssl x509 -noout -subject -ext subjectAltName`), when it does not list the private IP the functions call. Null: the certificate lists that IP."
  type        = string
  default     = null
}

variable "controller_password" {
  description = "The controller's admin password (write-only: kept out of the state)."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "controller_storage_account_name" {
  description = "The storage account (in the controller's resource group) the controller writes its own backup into."
  type        = string
}

variable "controller_container_name" {
  description = "The container in that account the controller writes into."
  type        = string
}

variable "controller_account_name" {
  description = "The controller's access account that writes that container; a replacement gets it under this name."
  type        = string
}

variable "arm_subscription_id" {
  description = "Subscription of that access account's service principal."
  type        = string
}

variable "arm_directory_id" {
  description = "Tenant (directory) of the service principal."
  type        = string
}

variable "arm_client_id" {
  description = "Application (client) id of the service principal."
  type        = string
}

variable "native_arm_client_secret" {
  description = "The service principal's client secret (write-only: kept out of the state)."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "controller_vnet_name" {
  description = "The controller's virtual network: the function app's integration subnet is created in it."
  type        = string
}

variable "function_subnet_prefix" {
  description = "A free range of the controller's VNet for the app's integration subnet (/27 or larger)."
  type        = string
  default     = "10.0.255.0/27"
}

variable "controller_nsg_name" {
  description = "The controller's network security group: it gets a rule allowing 443 in from the integration subnet."
  type        = string
}

variable "alert_email" {
  description = "Who is told about failed or missing backups."
  type        = string
}

resource "azurerm_resource_group" "backup" {
  name     = "rg-controller-backup"
  location = var.location
}

data "azurerm_resource_group" "controller" {
  name = var.controller_resource_group_name
}

data "azurerm_storage_account" "controller" {
  name                = var.controller_storage_account_name
  resource_group_name = data.azurerm_resource_group.controller.name
}

# The app's VNet integration subnet, in the controller's VNet. Flex Consumption needs it delegated
# to Microsoft.App/environments (and the Microsoft.App resource provider registered); outbound
# calls to Azure Storage and Key Vault leave through it too, so it needs a way out (the VNet's
# default outbound access, a NAT gateway, or private endpoints).
resource "azurerm_subnet" "functions" {
  name                 = "controller-backup-functions"
  resource_group_name  = data.azurerm_resource_group.controller.name
  virtual_network_name = var.controller_vnet_name
  address_prefixes     = [var.function_subnet_prefix]

  delegation {
    name = "flex-consumption"

    service_delegation {
      name    = "Microsoft.App/environments"
      actions = ["Microsoft.Network/virtualNetworks/subnets/join/action"]
    }
  }
}

# The integration subnet's own NSG with Azure's default rules: nothing from the internet comes in
# (the app takes its HTTP calls on its public endpoint, not through the subnet).
resource "azurerm_network_security_group" "functions" {
  name                = "controller-backup-functions"
  location            = var.location
  resource_group_name = data.azurerm_resource_group.controller.name
}

resource "azurerm_subnet_network_security_group_association" "functions" {
  subnet_id                 = azurerm_subnet.functions.id
  network_security_group_id = azurerm_network_security_group.functions.id
}

# The controller's side: 443 in from the integration subnet, to the controller's private IP only.
resource "azurerm_network_security_rule" "controller_from_functions" {
  name                        = "allow-controller-backup-https"
  description                 = "controller-backup function app: the controller API over HTTPS"
  resource_group_name         = data.azurerm_resource_group.controller.name
  network_security_group_name = var.controller_nsg_name
  priority                    = 300
  direction                   = "Inbound"
  access                      = "Allow"
  protocol                    = "Tcp"
  source_port_range           = "*"
  destination_port_range      = "443"
  source_address_prefixes     = azurerm_subnet.functions.address_prefixes
  destination_address_prefix  = var.controller_private_ip
}

module "controller_backup" {
  source = "../.."

  name                = "avxctlbk01"
  resource_group_name = azurerm_resource_group.backup.name
  location            = azurerm_resource_group.backup.location
  alert_email         = var.alert_email

  # the controller, reached over its private network with its own certificate pinned
  controller_url             = "https://${var.controller_private_ip}"
  controller_ca_bundle       = var.controller_ca_bundle
  controller_tls_server_name = var.controller_tls_server_name
  controller_password        = var.controller_password
  subnet_id                  = azurerm_subnet.functions.id

  controller_resource_group_id = data.azurerm_resource_group.controller.id
  # only a VM tagged controller-backup-role=replacement (replacement_tag) is restored into
  package_path = "${path.root}/../../../../../dist/azure/function.zip"

  # native mode (the module's default): the controller's own backup in its own container
  controller_private_ip      = var.controller_private_ip # CloudN_<ip>_save_cloudx_config.enc
  native_account_name        = var.controller_account_name
  native_storage_account_id  = data.azurerm_storage_account.controller.id
  native_container_name      = var.controller_container_name
  native_region              = data.azurerm_storage_account.controller.location
  native_arm_subscription_id = var.arm_subscription_id
  native_arm_directory_id    = var.arm_directory_id
  native_arm_client_id       = var.arm_client_id
  native_arm_client_secret   = var.native_arm_client_secret

  # a BYOL licence: the customer id goes to a replacement before its set-up (add an ephemeral
  # variable like controller_password for it)
  # create_customer_id_secret = true
  # controller_customer_id    = var.controller_customer_id
}

output "backup_function_app_hostname" {
  description = "POST https://<this>/api/backup with a function key of the backup app."
  value       = module.controller_backup.backup_function_app_hostname
}

output "restore_function_app_hostname" {
  description = "POST https://<this>/api/restore with a function key of the restore app (hand these to fewer people)."
  value       = module.controller_backup.restore_function_app_hostname
}

output "backup_url" {
  description = "Where the backup is stored."
  value       = module.controller_backup.backup_url
}
