variable "project_id" {
  description = "Google Cloud project that holds the functions, the backup bucket and the secret."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project ID."
  }
}

variable "region" {
  description = "Region of the functions, the scheduler job and the backup bucket, e.g. \"us-central1\"."
  type        = string
}

variable "name" {
  description = "Name prefix for every resource (one deployment per controller), e.g. \"ctrl-backup\"."
  type        = string
  default     = "ctrl-backup"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,18}[a-z0-9]$", var.name))
    error_message = "name must be 4-20 characters of lowercase letters, digits and hyphens, starting with a letter (service account IDs are derived from it)."
  }
}

variable "package_path" {
  description = "Path to the source zip built by `make package-gcp` (dist/gcp/source.zip)."
  type        = string

  validation {
    condition     = endswith(var.package_path, ".zip")
    error_message = "package_path must be the path of a .zip file."
  }
}

variable "runtime" {
  description = "Cloud Functions Python runtime."
  type        = string
  default     = "python312"

  validation {
    condition     = contains(["python312", "python313"], var.runtime)
    error_message = "runtime must be python312 or python313."
  }
}

variable "controller_url" {
  description = "https:// address of the controller (one that follows the controller to a replacement, such as a static internal IP or DNS name)."
  type        = string

  validation {
    condition     = can(regex("^https://[^/\\s]+/?$", var.controller_url))
    error_message = "controller_url must be https://host (no path)."
  }
}

variable "controller_username" {
  description = "Controller API user the functions log in as."
  type        = string
  default     = "admin"
}

variable "controller_password" {
  description = "Optional first version of the controller password secret. Leave null and add it with `gcloud secrets versions add` to keep it out of the Terraform state."
  type        = string
  default     = null
  sensitive   = true
}

variable "create_customer_id_secret" {
  description = "BYOL licence: create the secret <name>-controller-customer-id for the controller's customer id; the functions get CONTROLLER_CUSTOMER_ID=gcp-sm:<secret>/versions/latest and only the restore identity may read it (a restore sends it to a replacement before its set-up). Add its value with `gcloud secrets versions add`. false: no customer id (a metered licence)."
  type        = bool
  default     = false
}

variable "controller_customer_id" {
  description = "Optional first version of the customer id secret (create_customer_id_secret = true). Leave null and add it with `gcloud secrets versions add` to keep it out of the Terraform state."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.controller_customer_id == null || var.create_customer_id_secret
    error_message = "controller_customer_id needs create_customer_id_secret = true (the module stores it in a secret and passes a reference, never the value)."
  }
}

variable "controller_ca_bundle" {
  description = "PEM text of the CA (or the controller's self-signed certificate; controllers ship self-signed ones) to trust. Null uses the system CAs."
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

variable "controller_verify_tls" {
  description = "false turns TLS verification off (loudly logged on every run). Prefer controller_ca_bundle."
  type        = bool
  default     = true
}

variable "bucket_name" {
  description = "Name of the backup bucket to create (globally unique). Null derives one from the project and name."
  type        = string
  default     = null
}

variable "bucket_location" {
  description = "Location of the backup bucket; null uses the region. A dual-region or multi-region (\"US\") keeps the backup through a regional outage."
  type        = string
  default     = null
}

variable "backup_object_name" {
  description = "Name of the one backup object in the bucket."
  type        = string
  default     = "controller/backup.tar"

  validation {
    condition     = length(var.backup_object_name) > 0 && !endswith(var.backup_object_name, "/") && !startswith(var.backup_object_name, "/")
    error_message = "backup_object_name must be an object name such as controller/backup.tar."
  }
}

variable "noncurrent_versions_to_keep" {
  description = "Older backup versions (generations) always kept, however old (num_newer_versions of the lifecycle rule)."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_versions_to_keep >= 1
    error_message = "Keep at least one older version."
  }
}

variable "noncurrent_version_days" {
  description = "Days every older backup version is kept after it was replaced, however many there are (days_since_noncurrent_time of the lifecycle rule). A version is deleted only when it is both older than this and beyond the newest noncurrent_versions_to_keep, so a burst of backups cannot flush the history."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_version_days >= 7
    error_message = "noncurrent_version_days must be at least 7: a week of history, whatever the number of backups."
  }
}

variable "soft_delete_days" {
  description = "Days a deleted or replaced-and-deleted generation of the backup bucket stays recoverable (the bucket's soft delete policy, 7-90). Replacing an object in Cloud Storage needs storage.objects.delete, which would also let the backup identity delete an old generation: soft delete keeps it restorable for this long."
  type        = number
  default     = 30

  validation {
    condition     = var.soft_delete_days >= 7 && var.soft_delete_days <= 90
    error_message = "soft_delete_days must be between 7 and 90 (Cloud Storage's soft delete limits)."
  }
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

variable "kms_key_name" {
  description = "Optional Cloud KMS key (projects/P/locations/L/keyRings/R/cryptoKeys/K) for CMEK on the bucket, the secret, the topic and the function images. Null uses Google-managed keys."
  type        = string
  default     = null
}

variable "schedule" {
  description = "Cron schedule of the daily backup (Cloud Scheduler, five fields)."
  type        = string
  default     = "0 0 * * *"
}

variable "schedule_timezone" {
  description = "IANA time zone of the schedule, e.g. \"Europe/Berlin\"; midnight is local midnight there."
  type        = string
  default     = "Etc/UTC"
}

variable "verify_schedule" {
  description = "Cron schedule of the daily readiness check (download and verify the backup and every copy), in schedule_timezone: a Cloud Scheduler job publishes {\"action\": \"verify\"} to the backup topic (needs create_backup_topic)."
  type        = string
  default     = "0 6 * * *"

  validation {
    condition     = length(split(" ", trimspace(var.verify_schedule))) == 5
    error_message = "verify_schedule needs five cron fields, e.g. \"0 6 * * *\"."
  }
}

variable "copy_urls" {
  description = "Further destinations of every backup (BACKUP_COPY_URLS): store URLs of any scheme (gs://, s3://, azblob://, https://<account>.blob.core.windows.net/...). A gs:// copy without a copy_credentials entry is written with the functions' own identities, which get the same object permissions on it as on the backup object (its bucket must be in project_id; README)."
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
  description = "Copy URL -> reference to the secret holding the credentials it is written with (BACKUP_COPY_CREDENTIALS): gcp-sm:projects/P/secrets/S/versions/V (the backup and restore identities may read exactly those secrets) or env:NAME. s3://: {role_arn, external_id} or {access_key_id, secret_access_key}; azblob/https: {tenant_id, client_id, client_secret}; gs://: a service-account key or external_account JSON. A copy without an entry uses the functions' own identities."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for url in keys(var.copy_credentials) : contains(var.copy_urls, url)])
    error_message = "copy_credentials must name only URLs of copy_urls."
  }

  validation {
    condition     = alltrue([for ref in values(var.copy_credentials) : can(regex("^(gcp-sm:projects/[^/]+/secrets/[^/]+/versions/[^/]+|env:.+)$", ref))])
    error_message = "copy_credentials must be secret references this cloud resolves: gcp-sm:projects/P/secrets/S/versions/V or env:NAME."
  }
}

variable "object_retention_days" {
  description = "Locked retention: Cloud Storage Object Retention Lock on the backup bucket, each new generation of the backup retained (undeletable, unreplaceable while live, its retention never shortened by the functions) for this many days. null (the default): none. A bucket retention policy cannot be used here (README): it cannot be combined with the versioning that keeps the history, and it would refuse the next backup."
  type        = number
  default     = null

  validation {
    condition     = var.object_retention_days == null || (coalesce(var.object_retention_days, 0) >= 1 && coalesce(var.object_retention_days, 0) <= 36500 && floor(coalesce(var.object_retention_days, 0)) == coalesce(var.object_retention_days, 0))
    error_message = "object_retention_days must be a whole number from 1 to 36500, or null."
  }
}

variable "object_retention_locked" {
  description = "With object_retention_days: Locked retention (nobody can shorten or remove it) instead of Unlocked (a principal with storage.objects.overrideUnlockedRetention, never the functions, can)."
  type        = bool
  default     = false
}

variable "create_backup_topic" {
  description = "Create a Pub/Sub topic whose messages trigger a backup (backup_event)."
  type        = bool
  default     = true
}

variable "restore_on_replacement" {
  description = "Restore automatically into a replacement controller instance (Eventarc, Cloud Audit Logs compute.instances.insert)."
  type        = bool
  default     = true
}

variable "replacement_name_pattern" {
  description = "REPLACEMENT_NAME_PATTERN: shell-style glob (e.g. \"aviatrix-controller*\") of the instance names whose creation triggers a restore. Null: replacement_label alone decides. restore_on_replacement needs this or replacement_label."
  type        = string
  default     = "aviatrix-controller*"

  validation {
    condition     = var.replacement_name_pattern == null || can(regex("^[^\\s,]{1,255}$", var.replacement_name_pattern))
    error_message = "replacement_name_pattern must be a glob of 1-255 characters without spaces or commas."
  }

  validation {
    condition     = !var.restore_on_replacement || var.replacement_name_pattern != null || var.replacement_label != null
    error_message = "restore_on_replacement needs replacement_name_pattern or replacement_label (REPLACEMENT_NAME_PATTERN / REPLACEMENT_TAG): without either, no instance would be recognised as a replacement."
  }
}

variable "replacement_label" {
  description = "REPLACEMENT_TAG: a label key=value (e.g. \"controller-backup-role=replacement\") a new instance must carry to be restored automatically. Null: the name pattern alone decides."
  type        = string
  default     = null

  validation {
    condition     = var.replacement_label == null || can(regex("^[a-z][a-z0-9_-]{0,62}=[a-z0-9_-]{0,63}$", var.replacement_label))
    error_message = "replacement_label must be key=value with a Compute Engine label key and value (lowercase letters, digits, '_' and '-')."
  }
}

variable "replacement_url" {
  description = "REPLACEMENT_URL: how the restore functions reach a replacement found through the Compute API: \"controller_url\" (the replacement takes over controller_url's address, e.g. a static internal IP) or an https URL template with {private_ip} or {public_ip}."
  type        = string
  default     = "https://{private_ip}"

  validation {
    condition     = var.replacement_url == "controller_url" || can(regex("^https://[^/\\s]*\\{(private_ip|public_ip)\\}[^/\\s]*/?$", var.replacement_url))
    error_message = "replacement_url must be controller_url or https://... with {private_ip} or {public_ip} in the host (e.g. https://{private_ip})."
  }
}

variable "restore_allowed_targets" {
  description = "RESTORE_ALLOWED_TARGETS: host names and CIDRs a restore caller may name as controller_url or private_ip besides controller_url itself (joined with ','). Empty: a caller can restore only into the configured controller or a replacement the function found itself."
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

variable "max_instance_count" {
  description = "Most instances of each function, each serving one request at a time. 1 runs one backup and one restore at a time: two events for one replacement never push to it in parallel."
  type        = number
  default     = 1

  validation {
    condition     = var.max_instance_count >= 1 && floor(var.max_instance_count) == var.max_instance_count
    error_message = "max_instance_count must be a whole number, 1 or more."
  }
}

variable "vpc_connector" {
  description = "Serverless VPC Access connector (projects/P/locations/R/connectors/C, in the functions' region and the controller's VPC network) through which the functions reach the controller's private address; traffic to private ranges goes through it (PRIVATE_RANGES_ONLY), and a firewall rule must allow 443 from its IP range to the controller. Null: no VPC access (only a public controller address is reachable)."
  type        = string
  default     = null

  validation {
    condition     = var.vpc_connector == null || can(regex("^projects/[^/]+/locations/[^/]+/connectors/[^/]+$", var.vpc_connector))
    error_message = "vpc_connector must be a connector id: projects/PROJECT/locations/REGION/connectors/NAME."
  }
}

variable "http_ingress" {
  description = "Ingress of the backup and restore HTTP functions. ALLOW_INTERNAL_ONLY admits Cloud Scheduler and callers inside the project's VPC; ALLOW_ALL also admits callers on the internet (an identity token with roles/run.invoker, from backup_invokers or restore_invokers, is still required)."
  type        = string
  default     = "ALLOW_INTERNAL_ONLY"

  validation {
    condition     = contains(["ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB", "ALLOW_ALL"], var.http_ingress)
    error_message = "http_ingress must be ALLOW_INTERNAL_ONLY, ALLOW_INTERNAL_AND_GCLB or ALLOW_ALL."
  }
}

variable "backup_invokers" {
  description = "Principals (e.g. \"group:netops@example.com\", \"serviceAccount:...\") allowed to call the backup HTTP function on demand: roles/run.invoker on that function only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.backup_invokers : can(regex("^(user|group|serviceAccount|domain|principal|principalSet):.+$", m))])
    error_message = "backup_invokers must be IAM members such as group:netops@example.com (not allUsers or allAuthenticatedUsers)."
  }
}

variable "restore_invokers" {
  description = "Principals allowed to call the restore HTTP function: roles/run.invoker on that function only. Keep it shorter than backup_invokers: a restore overwrites a controller's configuration."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.restore_invokers : can(regex("^(user|group|serviceAccount|domain|principal|principalSet):.+$", m))])
    error_message = "restore_invokers must be IAM members such as group:netops-leads@example.com (not allUsers or allAuthenticatedUsers)."
  }
}

variable "notification_channels" {
  description = "Cloud Monitoring notification channel IDs for the alert policies."
  type        = list(string)
  default     = []
}

variable "enable_apis" {
  description = "Enable the Google APIs the deployment uses (left enabled on destroy)."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels added to every resource that takes labels."
  type        = map(string)
  default     = {}
}

# -- native mode (the default): a real Aviatrix controller writes its own backup file into its own bucket
# See README.md "Using it with a real controller". Each input native mode needs has a validation
# naming it, so `terraform plan` fails before anything is deployed.

variable "backup_mode" {
  description = "CONTROLLER_BACKUP_MODE, set on every function: \"native\" (the default; a real Aviatrix controller writes CloudN_<ip>_save_cloudx_config.enc into native_bucket_name, the functions read it and, on a restore, write it back) or \"export\" (a controller, proxy or emulator that serves export_config)."
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

variable "native_bucket_name" {
  description = "Native mode (required): the Cloud Storage bucket the controller writes its own backup into (NATIVE_BUCKET_URL=gs://<name>). It must be in project_id and use uniform bucket-level access: the functions' grants on it are project custom roles with IAM conditions limiting them to CloudN_* objects."
  type        = string
  default     = null

  validation {
    condition     = var.native_bucket_name == null || can(regex("^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$", var.native_bucket_name))
    error_message = "native_bucket_name must be a Cloud Storage bucket name (3-63 lowercase letters, digits, '.', '_', '-')."
  }

  validation {
    condition     = var.backup_mode != "native" || var.native_bucket_name != null
    error_message = "native_bucket_name is required in native mode (backup_mode = \"native\", the default): the Cloud Storage bucket the controller writes its own backup into. For a controller, proxy or emulator that serves export_config, set backup_mode = \"export\"."
  }
}

variable "native_account_name" {
  description = "Native mode (required): the controller's access account that writes its bucket (NATIVE_ACCOUNT_NAME); a replacement gets it under this name."
  type        = string
  default     = null

  validation {
    condition     = var.native_account_name == null || can(regex("^[A-Za-z0-9_.@-]{1,128}$", var.native_account_name))
    error_message = "native_account_name must be 1-128 letters, digits, '.', '_', '-' or '@'."
  }

  validation {
    condition     = var.backup_mode != "native" || var.native_account_name != null
    error_message = "native_account_name is required in native mode (backup_mode = \"native\", the default): the controller's access account for that bucket, which a replacement gets under the same name. For a controller, proxy or emulator that serves export_config, set backup_mode = \"export\"."
  }
}

variable "native_gcp_project_id" {
  description = "Native mode: project of the access account's service account (NATIVE_GCP_PROJECT_ID). Null: project_id."
  type        = string
  default     = null

  validation {
    condition     = var.native_gcp_project_id == null || can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.native_gcp_project_id))
    error_message = "native_gcp_project_id must be a Google Cloud project ID."
  }
}

variable "native_gcp_credentials" {
  description = "Native mode: optional first version of the secret <name>-native-gcp-credentials, the access account's service-account key JSON (NATIVE_GCP_CREDENTIALS). Leave null and add it with `gcloud secrets versions add` to keep it out of the Terraform state. Only the restore identity may read it."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.native_gcp_credentials == null || can(jsondecode(var.native_gcp_credentials).private_key)
    error_message = "native_gcp_credentials must be a service-account key JSON (with a private_key)."
  }
}

variable "native_backup_wait_seconds" {
  description = "Native mode: seconds a backup waits for the controller's new file (NATIVE_BACKUP_WAIT); at most 420, so a backup triggered through Pub/Sub (backup_event, 540 s) still stores the file in time."
  type        = number
  default     = 300

  validation {
    condition     = var.native_backup_wait_seconds >= 30 && var.native_backup_wait_seconds <= 420
    error_message = "native_backup_wait_seconds must be between 30 and 420."
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
