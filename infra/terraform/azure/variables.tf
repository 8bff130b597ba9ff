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

# -- native mode: a real Aviatrix controller writes its own backup file into its own container ----
# Off by default (export mode). See README.md "Using it with a real controller".

variable "backup_mode" {
  description = "CONTROLLER_BACKUP_MODE: \"export\" (the export API; the emulator and demos) or \"native\" (a real Aviatrix controller writes CloudN_<ip>_save_cloudx_config.enc into native_container_name, the function reads it and, on a restore, writes it back)."
  type        = string
  default     = "export"

  validation {
    condition     = contains(["export", "native"], var.backup_mode)
    error_message = "backup_mode must be export or native."
  }
}

variable "controller_private_ip" {
  description = "Native mode: the controller's private IPv4 address (CONTROLLER_PRIVATE_IP); its backup file is named after it."
  type        = string
  default     = null

  validation {
    condition     = var.controller_private_ip == null || can(regex("^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$", var.controller_private_ip))
    error_message = "controller_private_ip must be an IPv4 address such as 10.0.1.25."
  }
}

variable "native_storage_account_id" {
  description = "Native mode: resource id of the storage account the controller writes its backup into (/subscriptions/.../resourceGroups/.../providers/Microsoft.Storage/storageAccounts/NAME)."
  type        = string
  default     = null

  validation {
    condition     = var.native_storage_account_id == null || can(regex("^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\\.Storage/storageAccounts/[a-z0-9]{3,24}$", var.native_storage_account_id))
    error_message = "native_storage_account_id must be a storage account resource id."
  }
}

variable "native_container_name" {
  description = "Native mode: the container in native_storage_account_id the controller writes into (NATIVE_BUCKET_URL=azblob://ACCOUNT/CONTAINER). The function may read and write only its CloudN_* blobs."
  type        = string
  default     = null

  validation {
    condition     = var.native_container_name == null || can(regex("^[a-z0-9](-?[a-z0-9])+$", var.native_container_name)) && length(coalesce(var.native_container_name, "xxx")) <= 63
    error_message = "native_container_name must be a container name: 3-63 lowercase letters, digits and single hyphens."
  }
}

variable "native_region" {
  description = "Native mode: Azure region of that storage account (NATIVE_REGION), e.g. \"westeurope\"."
  type        = string
  default     = null

  validation {
    condition     = var.native_region == null || can(regex("^[a-z][a-z0-9]+$", var.native_region))
    error_message = "native_region must be an Azure region name such as westeurope."
  }
}

variable "native_account_name" {
  description = "Native mode: the controller's access account that writes its container (NATIVE_ACCOUNT_NAME); a replacement gets it under this name."
  type        = string
  default     = null

  validation {
    condition     = var.native_account_name == null || can(regex("^[A-Za-z0-9_.@-]{1,128}$", var.native_account_name))
    error_message = "native_account_name must be 1-128 letters, digits, '.', '_', '-' or '@'."
  }
}

variable "native_arm_subscription_id" {
  description = "Native mode: subscription of the access account's service principal (NATIVE_ARM_SUBSCRIPTION_ID)."
  type        = string
  default     = null

  validation {
    condition     = var.native_arm_subscription_id == null || can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", var.native_arm_subscription_id))
    error_message = "native_arm_subscription_id must be a GUID."
  }
}

variable "native_arm_directory_id" {
  description = "Native mode: tenant (directory) of the service principal (NATIVE_ARM_DIRECTORY_ID)."
  type        = string
  default     = null

  validation {
    condition     = var.native_arm_directory_id == null || can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", var.native_arm_directory_id))
    error_message = "native_arm_directory_id must be a GUID."
  }
}

variable "native_arm_client_id" {
  description = "Native mode: application (client) id of the service principal (NATIVE_ARM_CLIENT_ID)."
  type        = string
  default     = null

  validation {
    condition     = var.native_arm_client_id == null || can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", var.native_arm_client_id))
    error_message = "native_arm_client_id must be a GUID."
  }
}

variable "native_arm_client_secret" {
  description = "Native mode: the service principal's client secret, written to Key Vault as a write-only value (never stored in the Terraform state); the function gets NATIVE_ARM_CLIENT_SECRET=azure-kv:VAULT/native-arm-client-secret. Bump native_arm_client_secret_version to write a new one."
  type        = string
  default     = null
  sensitive   = true
  ephemeral   = true
}

variable "native_arm_client_secret_version" {
  description = "Native mode: increment to write a new native_arm_client_secret into Key Vault."
  type        = number
  default     = 1

  validation {
    condition     = var.native_arm_client_secret_version >= 1
    error_message = "native_arm_client_secret_version must be 1 or more."
  }
}

variable "native_backup_wait_seconds" {
  description = "Native mode: seconds a backup waits for the controller's new file (NATIVE_BACKUP_WAIT); it must end well inside host.json's 30-minute function timeout."
  type        = number
  default     = 300

  validation {
    condition     = var.native_backup_wait_seconds >= 30 && var.native_backup_wait_seconds <= 1500
    error_message = "native_backup_wait_seconds must be between 30 and 1500."
  }
}

variable "restore_max_backup_age" {
  description = "RESTORE_MAX_BACKUP_AGE: a restore refuses a backup older than this (seconds, or 90m, 72h, 3d) unless forced. Null: the core's default, 3d."
  type        = string
  default     = null

  validation {
    condition     = var.restore_max_backup_age == null || can(regex("^[0-9]+(\\.[0-9]+)?[smhdSMHD]?$", var.restore_max_backup_age))
    error_message = "restore_max_backup_age must be seconds or a number with s, m, h or d (e.g. 72h)."
  }
}
