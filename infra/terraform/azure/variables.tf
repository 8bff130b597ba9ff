variable "name" {
  description = "Prefix of every resource name: 3-16 lowercase letters and digits (storage account names are derived from it and must be globally unique)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{2,15}$", var.name))
    error_message = "name must be 3-16 lowercase letters and digits, starting with a letter."
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
  description = "https://host of the controller to back up, reachable from the function: its private address (https://<controller_private_ip>) through subnet_id's VNet integration, or a public one."
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
  description = "PEM text of the CA (or the self-signed certificate) the controller presents (controllers ship self-signed ones); null trusts the system CAs."
  type        = string
  default     = null

  validation {
    condition     = var.controller_ca_bundle == null || can(regex("-----BEGIN CERTIFICATE-----", var.controller_ca_bundle))
    error_message = "controller_ca_bundle must be PEM text containing a certificate."
  }
}

variable "controller_tls_server_name" {
  description = "The name the controller's certificate carries, when controller_url names it by an address the certificate does not list (its private IP): checked instead of that address, and sent as SNI. Null: the address itself."
  type        = string
  default     = null

  validation {
    condition     = var.controller_tls_server_name == null || can(regex("^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$", var.controller_tls_server_name))
    error_message = "controller_tls_server_name must be a host name or an IP address."
  }
}

variable "create_customer_id_secret" {
  description = "BYOL licence: write controller_customer_id into Key Vault as the secret controller-customer-id; the app gets CONTROLLER_CUSTOMER_ID=azure-kv:VAULT/controller-customer-id and Key Vault Secrets User on that secret only (a restore sends it to a replacement before its set-up). false: no customer id (a metered licence)."
  type        = bool
  default     = false
}

variable "controller_customer_id" {
  description = "The controller's BYOL customer id, written to Key Vault as a write-only value (never stored in the Terraform state); required with create_customer_id_secret. Bump controller_customer_id_version to write a new one."
  type        = string
  default     = null
  sensitive   = true
  ephemeral   = true

  validation {
    condition     = !var.create_customer_id_secret || var.controller_customer_id != null
    error_message = "controller_customer_id is required with create_customer_id_secret = true (written to Key Vault write-only, like the password)."
  }

  validation {
    condition     = var.controller_customer_id == null || var.create_customer_id_secret
    error_message = "controller_customer_id needs create_customer_id_secret = true (the module stores it in Key Vault and passes a reference, never the value)."
  }
}

variable "controller_customer_id_version" {
  description = "Increment to write a new controller_customer_id into Key Vault."
  type        = number
  default     = 1

  validation {
    condition     = var.controller_customer_id_version >= 1
    error_message = "controller_customer_id_version must be 1 or more."
  }
}

variable "backup_object_name" {
  description = "Name of the one backup blob inside the backups container (the role conditions name it, so: letters, digits, '.', '_', '-', '/')."
  type        = string
  default     = "aviatrix/controller-backup.enc"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$", var.backup_object_name)) && !endswith(var.backup_object_name, "/")
    error_message = "backup_object_name must be 1-255 letters, digits, '.', '_', '-' or '/', not starting or ending with '/'."
  }
}

variable "schedule" {
  description = "NCRONTAB schedule of the backup: six fields, seconds first. Evaluated in UTC on Flex Consumption (WEBSITE_TIME_ZONE is not supported there)."
  type        = string
  default     = "0 0 0 * * *"

  validation {
    condition     = length(split(" ", trimspace(var.schedule))) == 6
    error_message = "schedule needs six NCRONTAB fields (seconds first), e.g. \"0 0 0 * * *\"."
  }
}

variable "verify_schedule" {
  description = "NCRONTAB schedule of the daily readiness check (download and verify the backup and every copy): six fields, seconds first, in UTC like schedule. 06:00 by default."
  type        = string
  default     = "0 0 6 * * *"

  validation {
    condition     = length(split(" ", trimspace(var.verify_schedule))) == 6
    error_message = "verify_schedule needs six NCRONTAB fields (seconds first), e.g. \"0 0 6 * * *\"."
  }
}

variable "copy_urls" {
  description = "Further destinations of every backup (BACKUP_COPY_URLS): store URLs of any scheme (azblob://, https://<account>.blob.core.windows.net/..., s3://, gs://). The copy container's or bucket's owner grants the apps' identities (function_identities) or the credentials in copy_credentials write access there (README)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for url in var.copy_urls : can(regex("^[a-z0-9+]+://[^,\\s]+/[^,\\s]+$", url))])
    error_message = "copy_urls must be store URLs (scheme://bucket-or-account/.../object), without commas or spaces."
  }

  validation {
    condition     = length(distinct(var.copy_urls)) == length(var.copy_urls)
    error_message = "copy_urls must not name a destination twice."
  }
}

variable "copy_credentials" {
  description = "Copy URL -> reference to the secret holding the credentials it is written with (BACKUP_COPY_CREDENTIALS): azure-kv:VAULT/NAME (a secret in this module's Key Vault is readable by both apps, that one secret only) or env:NAME. s3://: {role_arn, external_id} or {access_key_id, secret_access_key}; gs://: a service-account key or external_account JSON; azblob/https: {tenant_id, client_id, client_secret}. A copy without an entry uses the apps' own identities."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for url in keys(var.copy_credentials) : contains(var.copy_urls, url)])
    error_message = "copy_credentials must name only URLs of copy_urls."
  }

  validation {
    condition     = alltrue([for ref in values(var.copy_credentials) : can(regex("^(azure-kv:[^/]+/[^/]+|env:.+)$", ref))])
    error_message = "copy_credentials must be secret references this cloud resolves: azure-kv:VAULT/NAME or env:NAME."
  }
}

variable "immutability_days" {
  description = "Version-level immutability of the backup account (locked retention): every blob version is kept, undeletable and unchangeable, for this many days after it is written. null (the default): none. Set it when creating the account: see the README for an existing deployment."
  type        = number
  default     = null

  validation {
    condition     = var.immutability_days == null || (coalesce(var.immutability_days, 0) >= 1 && coalesce(var.immutability_days, 0) <= 146000 && floor(coalesce(var.immutability_days, 0)) == coalesce(var.immutability_days, 0))
    error_message = "immutability_days must be a whole number from 1 to 146000, or null."
  }
}

variable "immutability_locked" {
  description = "Lock the immutability policy (immutability_days): a locked policy can only be lengthened, never shortened or removed, by anyone. false (the default): unlocked, which an account administrator may still change; lock it once tested."
  type        = bool
  default     = false
}

variable "backup_min_size_ratio" {
  description = "Refuse to replace the stored backup with an export smaller than this fraction of it (BACKUP_MIN_SIZE_RATIO)."
  type        = number
  default     = 0.5

  validation {
    condition     = var.backup_min_size_ratio >= 0 && var.backup_min_size_ratio <= 1
    error_message = "backup_min_size_ratio must be between 0 and 1."
  }
}

variable "version_retention_days" {
  description = "Days an older blob version of the backup is kept before the lifecycle rule deletes it."
  type        = number
  default     = 90
}

variable "soft_delete_days" {
  description = "Days a deleted backup blob, blob version or container can be recovered (blob soft delete, permanent delete off)."
  type        = number
  default     = 30

  validation {
    condition     = var.soft_delete_days >= 7 && var.soft_delete_days <= 365
    error_message = "soft_delete_days must be between 7 and 365."
  }
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
  description = "Resource group id holding the controller VMs. When set, VM write/start events there trigger a restore onto a VM tagged replacement_tag (and/or named after replacement_name_pattern); null disables the route."
  type        = string
  default     = null
}

variable "replacement_tag" {
  description = "REPLACEMENT_TAG: NAME=VALUE tag a VM must carry to be restored automatically as a replacement controller. Null: replacement_name_pattern alone decides."
  type        = string
  default     = "controller-backup-role=replacement"

  validation {
    condition     = var.replacement_tag == null || can(regex("^[^=<>%&\\\\?/]{1,512}=[^,]{0,256}$", var.replacement_tag))
    error_message = "replacement_tag must be NAME=VALUE with an Azure tag name (no <>%&\\?/) and a value without commas."
  }
}

variable "replacement_name_pattern" {
  description = "REPLACEMENT_NAME_PATTERN: optional shell-style glob (e.g. \"avx-controller*\") the replacement VM's name must match. The event route needs this or replacement_tag."
  type        = string
  default     = null

  validation {
    condition     = var.replacement_name_pattern == null || can(regex("^[^\\s,]{1,255}$", var.replacement_name_pattern))
    error_message = "replacement_name_pattern must be a glob of 1-255 characters without spaces or commas."
  }

  validation {
    condition     = var.controller_resource_group_id == null || var.replacement_tag != null || var.replacement_name_pattern != null
    error_message = "The replacement-VM event route (controller_resource_group_id) needs replacement_tag or replacement_name_pattern (REPLACEMENT_TAG / REPLACEMENT_NAME_PATTERN): without either, no VM would be recognised as a replacement."
  }
}

variable "replacement_url" {
  description = "REPLACEMENT_URL: how the restore app reaches a replacement VM it found through ARM: \"controller_url\" (the replacement takes over controller_url's address) or an https URL template with {private_ip} (the VM's primary private IP) or {public_ip}."
  type        = string
  default     = "https://{private_ip}"

  validation {
    condition     = var.replacement_url == "controller_url" || can(regex("^https://[^/\\s]*\\{(private_ip|public_ip)\\}[^/\\s]*/?$", var.replacement_url))
    error_message = "replacement_url must be controller_url or https://... with {private_ip} or {public_ip} in the host (e.g. https://{private_ip})."
  }
}

variable "restore_allowed_targets" {
  description = "RESTORE_ALLOWED_TARGETS: host names and CIDRs a restore caller may name as controller_url or private_ip besides controller_url itself (joined with ','). Empty: a caller can restore only into the configured controller or a replacement the app found itself."
  type        = list(string)
  default     = []

  validation {
    condition = alltrue([
      for t in var.restore_allowed_targets :
      can(cidrhost(t, 0)) || can(regex("^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$", t))
    ])
    error_message = "restore_allowed_targets must be host names, IP addresses or CIDRs (10.0.2.0/24), without commas."
  }
}

variable "subnet_id" {
  description = "Subnet for the two apps' VNet integration, so they reach the controller's private address: in the controller's VNet (or one peered with it), delegated to Microsoft.App/environments (Flex Consumption), with outbound access to Azure Storage and Key Vault (a NAT gateway, or private endpoints); the controller's NSG must allow 443 in from it. Null: no VNet integration (only a public controller address is reachable)."
  type        = string
  default     = null

  validation {
    condition     = var.subnet_id == null || can(regex("^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\\.Network/virtualNetworks/[^/]+/subnets/[^/_]+$", var.subnet_id))
    error_message = "subnet_id must be a subnet resource id (/subscriptions/.../virtualNetworks/VNET/subnets/NAME, no underscore in NAME: Flex Consumption refuses it)."
  }
}

variable "package_path" {
  description = "Path of dist/azure/function.zip (built by `make package-azure`) to deploy; null to deploy separately."
  type        = string
  default     = null
}

variable "max_instance_count" {
  description = "Most instances each app scales out to (Flex Consumption's maximum_instance_count; each instance may run several invocations). 40 is the lowest some azurerm 4.x releases accept."
  type        = number
  default     = 40

  validation {
    condition     = var.max_instance_count >= 1 && var.max_instance_count <= 1000 && floor(var.max_instance_count) == var.max_instance_count
    error_message = "max_instance_count must be a whole number between 1 and 1000."
  }
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

# -- native mode (the default): a real Aviatrix controller writes its own backup file into its own container
# See README.md "Using it with a real controller". Each input native mode needs has a validation
# naming it, so `terraform plan` fails before anything is deployed.

variable "backup_mode" {
  description = "CONTROLLER_BACKUP_MODE, set on both apps: \"native\" (the default; a real Aviatrix controller writes CloudN_<ip>_save_cloudx_config.enc into native_container_name, the function reads it and, on a restore, writes it back) or \"export\" (a controller, proxy or emulator that serves export_config)."
  type        = string
  default     = "native"

  validation {
    condition     = contains(["export", "native"], var.backup_mode)
    error_message = "backup_mode must be export or native."
  }
}

variable "controller_private_ip" {
  description = "Native mode (required): the controller's private IPv4 address (CONTROLLER_PRIVATE_IP); its backup file is named after it."
  type        = string
  default     = null

  validation {
    condition     = var.controller_private_ip == null || can(regex("^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$", var.controller_private_ip))
    error_message = "controller_private_ip must be an IPv4 address such as 10.0.1.25."
  }

  validation {
    condition     = var.backup_mode != "native" || var.controller_private_ip != null
    error_message = "controller_private_ip is required in native mode (backup_mode = \"native\", the default): the controller's private IPv4, which names its backup file CloudN_<ip>_save_cloudx_config.enc. For a controller, proxy or emulator that serves export_config, set backup_mode = \"export\"."
  }
}

variable "native_storage_account_id" {
  description = "Native mode (required): resource id of the storage account the controller writes its backup into (/subscriptions/.../resourceGroups/.../providers/Microsoft.Storage/storageAccounts/NAME)."
  type        = string
  default     = null

  validation {
    condition     = var.native_storage_account_id == null || can(regex("^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\\.Storage/storageAccounts/[a-z0-9]{3,24}$", var.native_storage_account_id))
    error_message = "native_storage_account_id must be a storage account resource id."
  }

  validation {
    condition     = var.backup_mode != "native" || var.native_storage_account_id != null
    error_message = "native_storage_account_id is required in native mode (backup_mode = \"native\", the default): the resource id of the storage account the controller writes its backup into. For a controller, proxy or emulator that serves export_config, set backup_mode = \"export\"."
  }
}

variable "native_container_name" {
  description = "Native mode (required): the container in native_storage_account_id the controller writes into (NATIVE_BUCKET_URL=azblob://ACCOUNT/CONTAINER). The function may read and write only its CloudN_* blobs."
  type        = string
  default     = null

  validation {
    condition     = var.native_container_name == null || can(regex("^[a-z0-9](-?[a-z0-9])+$", var.native_container_name)) && length(coalesce(var.native_container_name, "xxx")) <= 63
    error_message = "native_container_name must be a container name: 3-63 lowercase letters, digits and single hyphens."
  }

  validation {
    condition     = var.backup_mode != "native" || var.native_container_name != null
    error_message = "native_container_name is required in native mode (backup_mode = \"native\", the default): the container in that account the controller writes into. For a controller, proxy or emulator that serves export_config, set backup_mode = \"export\"."
  }
}

variable "native_region" {
  description = "Native mode (required): Azure region of that storage account (NATIVE_REGION), e.g. \"westeurope\"."
  type        = string
  default     = null

  validation {
    condition     = var.native_region == null || can(regex("^[a-z][a-z0-9]+$", var.native_region))
    error_message = "native_region must be an Azure region name such as westeurope."
  }

  validation {
    condition     = var.backup_mode != "native" || var.native_region != null
    error_message = "native_region is required in native mode (backup_mode = \"native\", the default): the Azure region of that storage account. For a controller, proxy or emulator that serves export_config, set backup_mode = \"export\"."
  }
}

variable "native_account_name" {
  description = "Native mode (required): the controller's access account that writes its container (NATIVE_ACCOUNT_NAME); a replacement gets it under this name."
  type        = string
  default     = null

  validation {
    condition     = var.native_account_name == null || can(regex("^[A-Za-z0-9_.@-]{1,128}$", var.native_account_name))
    error_message = "native_account_name must be 1-128 letters, digits, '.', '_', '-' or '@'."
  }

  validation {
    condition     = var.backup_mode != "native" || var.native_account_name != null
    error_message = "native_account_name is required in native mode (backup_mode = \"native\", the default): the controller's access account that writes the container, which a replacement gets under the same name. For a controller, proxy or emulator that serves export_config, set backup_mode = \"export\"."
  }
}

variable "native_arm_subscription_id" {
  description = "Native mode (required): subscription of the access account's service principal (NATIVE_ARM_SUBSCRIPTION_ID)."
  type        = string
  default     = null

  validation {
    condition     = var.native_arm_subscription_id == null || can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", var.native_arm_subscription_id))
    error_message = "native_arm_subscription_id must be a GUID."
  }

  validation {
    condition     = var.backup_mode != "native" || var.native_arm_subscription_id != null
    error_message = "native_arm_subscription_id is required in native mode (backup_mode = \"native\", the default): the subscription of that access account's service principal. For a controller, proxy or emulator that serves export_config, set backup_mode = \"export\"."
  }
}

variable "native_arm_directory_id" {
  description = "Native mode (required): tenant (directory) of the service principal (NATIVE_ARM_DIRECTORY_ID)."
  type        = string
  default     = null

  validation {
    condition     = var.native_arm_directory_id == null || can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", var.native_arm_directory_id))
    error_message = "native_arm_directory_id must be a GUID."
  }

  validation {
    condition     = var.backup_mode != "native" || var.native_arm_directory_id != null
    error_message = "native_arm_directory_id is required in native mode (backup_mode = \"native\", the default): the tenant (directory) of that service principal. For a controller, proxy or emulator that serves export_config, set backup_mode = \"export\"."
  }
}

variable "native_arm_client_id" {
  description = "Native mode (required): application (client) id of the service principal (NATIVE_ARM_CLIENT_ID)."
  type        = string
  default     = null

  validation {
    condition     = var.native_arm_client_id == null || can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", var.native_arm_client_id))
    error_message = "native_arm_client_id must be a GUID."
  }

  validation {
    condition     = var.backup_mode != "native" || var.native_arm_client_id != null
    error_message = "native_arm_client_id is required in native mode (backup_mode = \"native\", the default): the application (client) id of that service principal. For a controller, proxy or emulator that serves export_config, set backup_mode = \"export\"."
  }
}

variable "native_arm_client_secret" {
  description = "Native mode (required): the service principal's client secret, written to Key Vault as a write-only value (never stored in the Terraform state); the function gets NATIVE_ARM_CLIENT_SECRET=azure-kv:VAULT/native-arm-client-secret. Bump native_arm_client_secret_version to write a new one."
  type        = string
  default     = null
  sensitive   = true
  ephemeral   = true

  validation {
    condition     = var.backup_mode != "native" || var.native_arm_client_secret != null
    error_message = "native_arm_client_secret is required in native mode (backup_mode = \"native\", the default): that service principal's client secret, written to Key Vault write-only. For a controller, proxy or emulator that serves export_config, set backup_mode = \"export\"."
  }
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
  description = "RESTORE_MAX_BACKUP_AGE: a restore refuses a backup older than this (seconds, or 90m, 72h, 3d) unless allow_old_backup. Null: the core's default, 3d."
  type        = string
  default     = null

  validation {
    condition     = var.restore_max_backup_age == null || can(regex("^[0-9]+(\\.[0-9]+)?[smhdSMHD]?$", var.restore_max_backup_age))
    error_message = "restore_max_backup_age must be seconds or a number with s, m, h or d (e.g. 72h)."
  }
}
