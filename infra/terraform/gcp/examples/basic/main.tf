# A complete deployment: build the zip first (`python scripts/package_gcp.py`), then
#   terraform init && terraform apply -var project_id=my-project
terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0"
    }
  }
}

variable "project_id" {
  description = "Project to deploy into."
  type        = string
}

variable "region" {
  description = "Region of the functions and the bucket."
  type        = string
  default     = "us-central1"
}

provider "google" {
  project = var.project_id
  region  = var.region
}

resource "google_monitoring_notification_channel" "oncall" {
  display_name = "Network on-call"
  type         = "email"
  labels = {
    email_address = "netops-oncall@example.com"
  }
}

module "controller_backup" {
  source = "../.."

  project_id                       = var.project_id
  region                           = var.region
  name                             = "ctrl-backup"
  source_zip                       = "${path.root}/../../../../../dist/gcp/source.zip"
  controller_url                   = "https://10.0.0.10"
  controller_instance_name_pattern = "aviatrix-controller.*"
  time_zone                        = "America/New_York"
  vpc_connector                    = "projects/${var.project_id}/locations/${var.region}/connectors/mgmt-connector"
  notification_channels            = [google_monitoring_notification_channel.oncall.id]
  operator_members                 = ["group:netops@example.com"]

  # Native mode, for a real Aviatrix controller (it writes its own backup into its own bucket, in
  # this project, with uniform bucket-level access; see the module README). Uncomment and fill in,
  # then add the access account's key: gcloud secrets versions add ctrl-backup-native-gcp-credentials --data-file=key.json
  # backup_mode           = "native"
  # controller_private_ip = "10.0.0.10" # CloudN_10.0.0.10_save_cloudx_config.enc
  # native_bucket_name    = "acme-controller-own-backups"
  # native_account_name   = "backup-account"
}

output "backup_function_url" {
  description = "POST here (with an identity token) for an on-demand backup."
  value       = module.controller_backup.backup_function_url
}

output "restore_function_url" {
  description = "POST here (with an identity token) to restore."
  value       = module.controller_backup.restore_function_url
}

output "backup_url" {
  description = "Where the backup is stored."
  value       = module.controller_backup.backup_url
}
