# A complete deployment: build the package first (python scripts/package_aws.py), then
#   terraform init && terraform apply -var controller_url=https://ctrl.example.com -var bucket_name=...
terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.70"
    }
  }
}

provider "aws" {
  region = var.region
}

variable "region" {
  description = "Region of the controller and its backups."
  type        = string
  default     = "us-east-1"
}

variable "controller_url" {
  description = "https:// address of the controller."
  type        = string
}

variable "bucket_name" {
  description = "Name of the backup bucket to create."
  type        = string
}

variable "alarm_email" {
  description = "Where alarms go (confirm the subscription e-mail)."
  type        = string
  default     = null
}

module "controller_backup" {
  source = "../.."

  name              = "aviatrix-ctrl-backup"
  lambda_package    = "${path.module}/../../../../../dist/aws/lambda.zip"
  controller_url    = var.controller_url
  bucket_name       = var.bucket_name
  schedule_timezone = "UTC"
  alarm_email       = var.alarm_email

  # Native mode, for a real Aviatrix controller (it writes its own backup into its own bucket;
  # see the module README). Uncomment and fill in:
  # backup_mode            = "native"
  # controller_private_ip  = "10.0.1.25"                   # CloudN_10.0.1.25_save_cloudx_config.enc
  # native_bucket_name     = "acme-controller-own-backups" # the controller's bucket, not bucket_name
  # native_account_name    = "backup-account"              # its access account for that bucket
  # backup_timeout_seconds = 600                           # native_backup_wait_seconds (300) + 120 or more
  # restore_max_backup_age = "3d"

  tags = {
    project = "controller-backup"
  }
}

output "backup_function_url" {
  description = "POST /backup here, signed with SigV4."
  value       = module.controller_backup.backup_function_url
}

output "restore_function_url" {
  description = "POST /restore here, signed with SigV4."
  value       = module.controller_backup.restore_function_url
}

output "controller_password_secret_arn" {
  description = "Put the controller password here."
  value       = module.controller_backup.controller_password_secret_arn
}

output "invoke_policy_arn" {
  description = "Attach to the roles allowed to call the functions."
  value       = module.controller_backup.invoke_policy_arn
}
