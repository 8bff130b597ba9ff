variable "name_prefix" {
  description = "Prefix of every resource name: 3-16 lowercase letters and digits (storage account names are derived from it and must be globally unique)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{2,15}$", var.name_prefix))
    error_message = "name_prefix must be 3-16 lowercase letters and digits, starting with a letter."
  }
}

variable "resource_group_name" {
  description = "Existing resource group for the function, its storage accounts, Key Vault and monitoring."
  type        = string
}

variable "location" {
  description = "Azure region (one that offers Flex Consumption)."
  type        = string
}

variable "controller_url" {
  description = "https://host of the controller to back up (reachable from the function: public, or private with subnet_id)."
  type        = string

  validation {
    condition     = can(regex("^https://[^/]+$", var.controller_url))
    error_message = "controller_url must be https://host with no path."
  }
}

variable "controller_username" {
  description = "Controller API user."
  type        = string
  default     = "admin"
}

variable "controller_password" {
  description = "Controller password, written to Key Vault as a write-only value (never stored in the Terraform state). Bump controller_password_version to write a new one."
  type        = string
  sensitive   = true
  ephemeral   = true
  nullable    = false
}

variable "controller_password_version" {
  description = "Increment to write a new controller_password into Key Vault."
  type        = number
  default     = 1
}

variable "controller_ca_bundle" {
  description = "PEM text of the CA (or the self-signed certificate) the controller presents; null trusts the system CAs."
  type        = string
  default     = null
}

variable "backup_blob_name" {
  description = "Name of the one backup blob inside the backups container."
  type        = string
  default     = "aviatrix/controller-backup.enc"
}

variable "backup_schedule" {
  description = "NCRONTAB schedule of the backup: six fields, seconds first. Evaluated in UTC on Flex Consumption (WEBSITE_TIME_ZONE is not supported there)."
  type        = string
  default     = "0 0 0 * * *"

  validation {
    condition     = length(split(" ", trimspace(var.backup_schedule))) == 6
    error_message = "backup_schedule needs six NCRONTAB fields (seconds first), e.g. \"0 0 0 * * *\"."
  }
}

variable "min_size_ratio" {
  description = "Refuse to replace the stored backup with an export smaller than this fraction of it."
  type        = number
  default     = 0.5
}

variable "version_retention_days" {
  description = "Days an older blob version of the backup is kept before the lifecycle rule deletes it."
  type        = number
  default     = 90
}

variable "soft_delete_days" {
  description = "Days a deleted backup blob (or container) can be recovered."
  type        = number
  default     = 30
}

variable "backup_replication" {
  description = "Replication of the backup storage account (geo-redundant by default: the backup should outlive a region)."
  type        = string
  default     = "GRS"
}

variable "host_replication" {
  description = "Replication of the function host's storage account."
  type        = string
  default     = "ZRS"
}

variable "alert_email" {
  description = "Email address that receives the failure and missing-backup alerts."
  type        = string
}

variable "controller_resource_group_id" {
  description = "Resource group id holding the controller VMs. When set, VM write/start events there trigger a restore onto a VM tagged replacement_vm_tag; null disables the route."
  type        = string
  default     = null
}

variable "replacement_vm_tag" {
  description = "NAME=VALUE tag that marks a VM as a replacement controller."
  type        = string
  default     = "controller-backup-role=replacement"
}

variable "replacement_controller_url" {
  description = "URL of a replacement controller; {private_ip} is replaced by the VM's primary private IP."
  type        = string
  default     = "https://{private_ip}"
}

variable "subnet_id" {
  description = "Subnet for VNet integration, so the function reaches the controller's private address; null for none."
  type        = string
  default     = null
}

variable "package_path" {
  description = "Path of dist/azure/function.zip (built by scripts/package_azure.py) to deploy; null to deploy separately."
  type        = string
  default     = null
}

variable "maximum_instance_count" {
  description = "Flex Consumption scale-out limit."
  type        = number
  default     = 40
}

variable "log_retention_days" {
  description = "Days the Log Analytics workspace keeps the function's logs."
  type        = number
  default     = 90
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
