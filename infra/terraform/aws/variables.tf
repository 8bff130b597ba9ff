variable "name" {
  description = "Name prefix for every resource (one deployment per controller), e.g. \"aviatrix-ctrl-backup\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}[a-z0-9]$", var.name))
    error_message = "name must be 3-40 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "package_path" {
  description = "Path to the Lambda zip built by `make package-aws` (dist/aws/lambda.zip)."
  type        = string

  validation {
    condition     = endswith(var.package_path, ".zip")
    error_message = "package_path must be the path of a .zip file."
  }
}

variable "controller_url" {
  description = "https:// address of the controller (an address that follows the controller to a replacement, such as its EIP or DNS name)."
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

  validation {
    condition     = length(var.controller_username) > 0
    error_message = "controller_username must not be empty."
  }
}

variable "controller_password" {
  description = "Optional initial value of the controller password secret. Leave null and set it with `aws secretsmanager put-secret-value` to keep it out of the Terraform state."
  type        = string
  default     = null
  sensitive   = true
}

variable "create_customer_id_secret" {
  description = "BYOL licence: create a Secrets Manager secret for the controller's customer id; the functions get CONTROLLER_CUSTOMER_ID=aws-sm:<arn> and only the restore role may read it (a restore sends it to a replacement before its set-up). Put the value with `aws secretsmanager put-secret-value`. false: no customer id (a metered licence)."
  type        = bool
  default     = false
}

variable "controller_customer_id" {
  description = "Optional initial value of the customer id secret (create_customer_id_secret = true). Leave null and set it with `aws secretsmanager put-secret-value` to keep it out of the Terraform state."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.controller_customer_id == null || var.create_customer_id_secret
    error_message = "controller_customer_id needs create_customer_id_secret = true (the module stores it in a secret and passes a reference, never the value)."
  }
}

variable "controller_ca_bundle" {
  description = "PEM text of the CA (or the self-signed certificate) to trust for the controller. Null uses the system CAs."
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
  description = "Verify the controller's TLS certificate. false is logged as a warning on every run; prefer controller_ca_bundle."
  type        = bool
  default     = true
}

variable "bucket_name" {
  description = "Name of the S3 bucket the module creates for the backup object."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name)) && !can(regex("\\.\\.", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)."
  }
}

variable "backup_object_name" {
  description = "Key of the one stored backup object in the bucket."
  type        = string
  default     = "controller/backup.tar"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()/-]+$", var.backup_object_name)) && !startswith(var.backup_object_name, "/") && !endswith(var.backup_object_name, "/")
    error_message = "backup_object_name must be a plain S3 key that neither starts nor ends with '/'."
  }
}

variable "noncurrent_versions_to_keep" {
  description = "Previous versions of the backup object always kept, however old (newer_noncurrent_versions of the lifecycle rule)."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_versions_to_keep >= 1 && var.noncurrent_versions_to_keep <= 100
    error_message = "noncurrent_versions_to_keep must be between 1 and 100."
  }
}

variable "noncurrent_version_days" {
  description = "Days every previous version of the backup object is kept, however many there are (noncurrent_days of the lifecycle rule). A version is deleted only when it is both older than this and beyond the newest noncurrent_versions_to_keep, so a burst of backups cannot flush the history."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_version_days >= 7 && var.noncurrent_version_days <= 3650
    error_message = "noncurrent_version_days must be between 7 and 3650: a week of history at least, whatever the number of backups."
  }
}

variable "copy_urls" {
  description = "Further destinations of every backup (BACKUP_COPY_URLS): store URLs of any scheme (s3://, gs://, azblob://, https://<account>.blob.core.windows.net/...). An s3:// copy without a copy_credentials entry is written with the functions' own roles, which get the same object permissions on it as on the backup object; its bucket's policy must allow them too when it is in another account (README)."
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
  description = "Copy URL -> reference to the secret holding the credentials it is written with (BACKUP_COPY_CREDENTIALS): aws-sm:NAME-or-ARN[#field] or aws-ssm:/path in this account (the roles may read exactly those), or env:NAME. gs://: a service-account key or external_account JSON; azblob/https: {tenant_id, client_id, client_secret}; s3://: {role_arn, external_id} (assumed) or {access_key_id, secret_access_key}. A copy without an entry uses the functions' own roles."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for url in keys(var.copy_credentials) : contains(var.copy_urls, url)])
    error_message = "copy_credentials must name only URLs of copy_urls."
  }

  validation {
    condition     = alltrue([for ref in values(var.copy_credentials) : can(regex("^(aws-sm|aws-ssm|env):.+$", ref))])
    error_message = "copy_credentials must be secret references this cloud resolves: aws-sm:NAME[#field], aws-ssm:/path or env:NAME."
  }
}

variable "object_lock_mode" {
  description = "S3 Object Lock on the backup bucket (locked retention): GOVERNANCE (a principal with s3:BypassGovernanceRetention, never the functions, may still lift it) or COMPLIANCE (nobody, not even the account root, until it ends). null (the default): no lock. Once on, S3 never turns Object Lock off for the bucket; see the README before enabling it on an existing deployment."
  type        = string
  default     = null

  validation {
    condition     = var.object_lock_mode == null || contains(["GOVERNANCE", "COMPLIANCE"], coalesce(var.object_lock_mode, "-"))
    error_message = "object_lock_mode must be GOVERNANCE, COMPLIANCE or null."
  }
}

variable "object_lock_days" {
  description = "Days each new version of the backup is locked for, with object_lock_mode. A locked version outlives the lifecycle rule until its lock ends."
  type        = number
  default     = 30

  validation {
    condition     = var.object_lock_days >= 1 && var.object_lock_days <= 36500 && floor(var.object_lock_days) == var.object_lock_days
    error_message = "object_lock_days must be a whole number from 1 to 36500."
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

variable "schedule" {
  description = "EventBridge Scheduler expression of the daily backup. Midnight by default."
  type        = string
  default     = "cron(0 0 * * ? *)"

  validation {
    condition     = can(regex("^(cron|rate)\\(.+\\)$", var.schedule))
    error_message = "schedule must be a cron(...) or rate(...) expression."
  }
}

variable "verify_schedule" {
  description = "EventBridge Scheduler expression of the daily readiness check (download and verify the backup and every copy), in schedule_timezone. 06:00 by default."
  type        = string
  default     = "cron(0 6 * * ? *)"

  validation {
    condition     = can(regex("^(cron|rate)\\(.+\\)$", var.verify_schedule))
    error_message = "verify_schedule must be a cron(...) or rate(...) expression."
  }
}

variable "schedule_timezone" {
  description = "IANA time zone the schedule's midnight is in, e.g. \"Europe/Berlin\"."
  type        = string
  default     = "UTC"

  validation {
    condition     = can(regex("^(UTC|[A-Za-z]+(/[A-Za-z0-9_+-]+)+)$", var.schedule_timezone))
    error_message = "schedule_timezone must be UTC or an IANA zone name such as America/New_York."
  }
}

variable "schedule_max_retries" {
  description = "Retries of a failed scheduled backup invocation (the Scheduler default of 185 over 24 h is far too many)."
  type        = number
  default     = 2

  validation {
    condition     = var.schedule_max_retries >= 0 && var.schedule_max_retries <= 185
    error_message = "schedule_max_retries must be between 0 and 185."
  }
}

variable "schedule_max_event_age_seconds" {
  description = "Give up retrying a scheduled backup after this many seconds (then it goes to the dead-letter queue)."
  type        = number
  default     = 3600

  validation {
    condition     = var.schedule_max_event_age_seconds >= 60 && var.schedule_max_event_age_seconds <= 86400
    error_message = "schedule_max_event_age_seconds must be between 60 and 86400."
  }
}

variable "backup_timeout_seconds" {
  description = "Timeout of the backup function. In native mode it must be at least native_backup_wait_seconds + 120 (the wait for the controller's file, then storing it)."
  type        = number
  default     = 600

  validation {
    condition     = var.backup_timeout_seconds >= 30 && var.backup_timeout_seconds <= 900
    error_message = "backup_timeout_seconds must be between 30 and 900."
  }

  validation {
    condition     = var.backup_mode != "native" || var.backup_timeout_seconds >= var.native_backup_wait_seconds + 120
    error_message = "In native mode backup_timeout_seconds must be at least native_backup_wait_seconds + 120 (600 for the default 300 s wait): the backup waits for the controller's file, then stores it."
  }
}

variable "restore_timeout_seconds" {
  description = "Timeout of the restore function: it waits for a booting controller, so the Lambda maximum by default."
  type        = number
  default     = 900

  validation {
    condition     = var.restore_timeout_seconds >= 180 && var.restore_timeout_seconds <= 900
    error_message = "restore_timeout_seconds must be between 180 and 900."
  }
}

variable "memory_size" {
  description = "Memory of each function in MiB (also buys CPU and network for the transfer)."
  type        = number
  default     = 1024

  validation {
    condition     = var.memory_size >= 256 && var.memory_size <= 10240
    error_message = "memory_size must be between 256 and 10240."
  }
}

variable "reserved_concurrent_executions" {
  description = "Concurrency reserved for each function, and its limit. 1 runs one backup and one restore at a time: two events for one replacement never push to it in parallel."
  type        = number
  default     = 1

  validation {
    condition     = var.reserved_concurrent_executions >= 1 && floor(var.reserved_concurrent_executions) == var.reserved_concurrent_executions
    error_message = "reserved_concurrent_executions must be a whole number, 1 or more (0 would stop every invocation)."
  }
}

variable "ephemeral_storage_mib" {
  description = "Size of /tmp in MiB; the export is spooled there, so it must exceed the configuration's size."
  type        = number
  default     = 2048

  validation {
    condition     = var.ephemeral_storage_mib >= 512 && var.ephemeral_storage_mib <= 10240
    error_message = "ephemeral_storage_mib must be between 512 and 10240."
  }
}

variable "log_retention_days" {
  description = "Retention of the functions' CloudWatch log groups."
  type        = number
  default     = 365

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch retention of at least a year (365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653)."
  }
}

variable "controller_asg_name" {
  description = "Auto Scaling group of the controller. Set: restore runs on its launch events. Null: restore runs on EC2 'running' events; either way the function restores only an instance carrying replacement_tag (and matching replacement_name_pattern, if set)."
  type        = string
  default     = null

  validation {
    condition     = var.controller_asg_name == null || can(regex("^[A-Za-z0-9._-]{1,255}$", var.controller_asg_name))
    error_message = "controller_asg_name must be an Auto Scaling group name."
  }
}

variable "create_lifecycle_hook" {
  description = "Create a launch lifecycle hook on controller_asg_name; the restore function completes it (CONTINUE on success, ABANDON on failure)."
  type        = bool
  default     = false
}

variable "replacement_tag" {
  description = "REPLACEMENT_TAG: KEY=VALUE tag a replacement controller instance must carry to be restored automatically (checked in code on every replacement event)."
  type        = string
  default     = "Name=AviatrixController"
  nullable    = false

  validation {
    condition     = can(regex("^[^=]{1,128}=.{1,256}$", var.replacement_tag))
    error_message = "replacement_tag must be KEY=VALUE: a tag key of 1-128 characters without '=', and a value of 1-256 characters."
  }
}

variable "replacement_name_pattern" {
  description = "REPLACEMENT_NAME_PATTERN: optional shell-style glob (e.g. \"aviatrix-controller*\") the replacement instance's Name must match as well as carrying the tag. Null: the tag alone decides."
  type        = string
  default     = null

  validation {
    condition     = var.replacement_name_pattern == null || can(regex("^[^\\s,]{1,255}$", var.replacement_name_pattern))
    error_message = "replacement_name_pattern must be a glob of 1-255 characters without spaces or commas."
  }
}

variable "replacement_url" {
  description = "REPLACEMENT_URL: how the restore function reaches a replacement it found through EC2: \"controller_url\" (the replacement takes over controller_url's address, e.g. an EIP) or an https URL template with {private_ip} or {public_ip}."
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

variable "subnet_ids" {
  description = "Private subnets of the controller's VPC (or one routed to it) to attach the functions to, so they reach the controller's private address. They need a route to S3, Secrets Manager, EC2 and Auto Scaling (a NAT gateway or VPC endpoints). Empty: no VPC attachment (the functions then reach only a public controller address)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "subnet_ids must be subnet ids (subnet-...)."
  }
}

variable "security_group_ids" {
  description = "Security groups of the functions when subnet_ids is set: they must allow HTTPS (443) out to the controller and to the AWS APIs, and the controller's security group must allow 443 in from them."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.security_group_ids : can(regex("^sg-[0-9a-f]+$", s))])
    error_message = "security_group_ids must be security group ids (sg-...)."
  }

  validation {
    condition     = length(var.subnet_ids) == 0 || length(var.security_group_ids) > 0
    error_message = "security_group_ids is required with subnet_ids: a Lambda attached to a VPC needs at least one security group (allowing 443 out to the controller)."
  }
}

variable "backup_invokers" {
  description = "IAM principal ARNs allowed to call the backup function (direct invoke and its Function URL): lambda:InvokeFunction and lambda:InvokeFunctionUrl on the backup function only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for p in var.backup_invokers : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(root|role/.+|user/.+)$", p))])
    error_message = "backup_invokers must be IAM account, role or user ARNs."
  }
}

variable "restore_invokers" {
  description = "IAM principal ARNs allowed to call the restore function (direct invoke and its Function URL): lambda:InvokeFunction and lambda:InvokeFunctionUrl on the restore function only. Keep it shorter than backup_invokers: a restore overwrites a controller's configuration."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for p in var.restore_invokers : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(root|role/.+|user/.+)$", p))])
    error_message = "restore_invokers must be IAM account, role or user ARNs."
  }
}

variable "alert_email" {
  description = "E-mail address subscribed to the alarm topic. Null: subscribe something yourself to the alarm_topic_arn output."
  type        = string
  default     = null

  validation {
    condition     = var.alert_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alert_email))
    error_message = "alert_email must be an e-mail address."
  }
}

variable "backup_max_age_hours" {
  description = "Alarm when no backup has succeeded for this many hours (missing data counts as failure)."
  type        = number
  default     = 25

  validation {
    condition     = var.backup_max_age_hours >= 2 && var.backup_max_age_hours <= 168
    error_message = "backup_max_age_hours must be between 2 and 168."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the functions' EMF metrics."
  type        = string
  default     = "ControllerBackup"

  validation {
    condition     = can(regex("^[A-Za-z0-9._/#:-]{1,255}$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be a custom CloudWatch namespace (not AWS/...)."
  }
}

variable "enable_tracing" {
  description = "X-Ray tracing (Powertools Tracer, imported only then; it adds ~180 ms of cold start)."
  type        = bool
  default     = false
}

variable "log_level" {
  description = "Powertools log level."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

# -- native mode (the default): a real Aviatrix controller writes its own backup file into its own bucket
# See README.md "Using it with a real controller". Each input native mode needs has a validation
# naming it, so `terraform plan` fails before anything is deployed.

variable "backup_mode" {
  description = "CONTROLLER_BACKUP_MODE, set on both functions: \"native\" (the default; a real Aviatrix controller writes CloudN_<ip>_save_cloudx_config.enc into native_bucket_name, the functions read it and, on a restore, write it back) or \"export\" (a controller, proxy or emulator that serves export_config)."
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
  description = "Native mode (required): the S3 bucket the controller writes its own backup into (NATIVE_BUCKET_URL=s3://<name>). The functions may read, and restore may write, only its CloudN_* objects."
  type        = string
  default     = null

  validation {
    condition     = var.native_bucket_name == null || (can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", coalesce(var.native_bucket_name, "-"))) && !can(regex("\\.\\.", coalesce(var.native_bucket_name, "-"))))
    error_message = "native_bucket_name must be a valid S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)."
  }

  validation {
    condition     = var.backup_mode != "native" || var.native_bucket_name != null
    error_message = "native_bucket_name is required in native mode (backup_mode = \"native\", the default): the S3 bucket the controller writes its own backup into. For a controller, proxy or emulator that serves export_config, set backup_mode = \"export\"."
  }
}

variable "native_bucket_kms_key_arn" {
  description = "Native mode: the KMS key that encrypts the controller's bucket, if it uses SSE-KMS with a customer-managed key (the functions get kms:Decrypt, restore also kms:GenerateDataKey). Null: SSE-S3 or an AWS-managed key."
  type        = string
  default     = null

  validation {
    condition     = var.native_bucket_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", coalesce(var.native_bucket_kms_key_arn, "-")))
    error_message = "native_bucket_kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)."
  }
}

variable "native_cloud_type" {
  description = "Native mode: NATIVE_CLOUD_TYPE of the controller's bucket, aws, aws-gov or aws-china. Null derives it from the deployment's partition."
  type        = string
  default     = null

  validation {
    condition     = var.native_cloud_type == null || contains(["aws", "aws-gov", "aws-china"], coalesce(var.native_cloud_type, "-"))
    error_message = "native_cloud_type must be aws, aws-gov or aws-china (an S3 bucket)."
  }
}

variable "native_account_name" {
  description = "Native mode (required): the controller's access account that writes its bucket (NATIVE_ACCOUNT_NAME); a replacement gets it under this name."
  type        = string
  default     = null

  validation {
    condition     = var.native_account_name == null || can(regex("^[A-Za-z0-9_.@-]{1,128}$", coalesce(var.native_account_name, "-")))
    error_message = "native_account_name must be 1-128 letters, digits, '.', '_', '-' or '@'."
  }

  validation {
    condition     = var.backup_mode != "native" || var.native_account_name != null
    error_message = "native_account_name is required in native mode (backup_mode = \"native\", the default): the controller's access account for that bucket, which a replacement gets under the same name. For a controller, proxy or emulator that serves export_config, set backup_mode = \"export\"."
  }
}

variable "native_aws_account_number" {
  description = "Native mode: AWS account of that access account (NATIVE_AWS_ACCOUNT_NUMBER). Null: the account this module deploys into."
  type        = string
  default     = null

  validation {
    condition     = var.native_aws_account_number == null || can(regex("^[0-9]{12}$", coalesce(var.native_aws_account_number, "-")))
    error_message = "native_aws_account_number must be 12 digits."
  }
}

variable "native_aws_role_app" {
  description = "Native mode: the access account's app role ARN (NATIVE_AWS_ROLE_APP). Null: aviatrix-role-app in native_aws_account_number."
  type        = string
  default     = null

  validation {
    condition     = var.native_aws_role_app == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@/_-]+$", coalesce(var.native_aws_role_app, "-")))
    error_message = "native_aws_role_app must be an IAM role ARN."
  }
}

variable "native_aws_role_ec2" {
  description = "Native mode: the access account's EC2 role ARN (NATIVE_AWS_ROLE_EC2). Null: aviatrix-role-ec2 in native_aws_account_number."
  type        = string
  default     = null

  validation {
    condition     = var.native_aws_role_ec2 == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@/_-]+$", coalesce(var.native_aws_role_ec2, "-")))
    error_message = "native_aws_role_ec2 must be an IAM role ARN."
  }
}

variable "native_backup_wait_seconds" {
  description = "Native mode: seconds a backup waits for the controller's new file (NATIVE_BACKUP_WAIT). backup_timeout_seconds must exceed it by at least 120 s (a validation on backup_timeout_seconds checks it)."
  type        = number
  default     = 300

  validation {
    condition     = var.native_backup_wait_seconds >= 30 && var.native_backup_wait_seconds <= 780
    error_message = "native_backup_wait_seconds must be between 30 and 780 (a Lambda stops at 900 s)."
  }
}

variable "restore_max_backup_age" {
  description = "RESTORE_MAX_BACKUP_AGE: a restore refuses a backup older than this (seconds, or 90m, 72h, 3d) unless allow_old_backup. Null: the core's default, 3d."
  type        = string
  default     = null

  validation {
    condition     = var.restore_max_backup_age == null || can(regex("^[0-9]+(\\.[0-9]+)?[smhdSMHD]?$", coalesce(var.restore_max_backup_age, "-")))
    error_message = "restore_max_backup_age must be seconds or a number with s, m, h or d (e.g. 72h)."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
