# A real deployment for an Aviatrix controller in Google Cloud (native mode, the module's default):
# the controller writes its own backup into its own bucket, and the functions reach the
# controller's private address on 443 through a Serverless VPC Access connector. Build the zip
# first (`make package-gcp`), fill in terraform.tfvars (see the module README), then
#   terraform init && terraform apply
# For a controller, proxy or emulator that serves export_config instead, set backup_mode = "export"
# on the module and drop the native_* inputs.
terraform {
  required_version = ">= 1.9"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0"
    }
  }
}

variable "project_id" {
  description = "Project of the controller, its bucket and this deployment."
  type        = string
}

variable "region" {
  description = "Region of the functions, the bucket and the connector."
  type        = string
  default     = "us-central1"
}

variable "controller_private_ip" {
  description = "The controller's private IPv4 address: the functions call it there, and its backup file is CloudN_<ip>_save_cloudx_config.enc."
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

variable "controller_bucket_name" {
  description = "The bucket (in project_id, with uniform bucket-level access) the controller writes its own backup into."
  type        = string
}

variable "controller_account_name" {
  description = "The controller's access account that writes controller_bucket_name; a replacement gets it under this name."
  type        = string
}

variable "controller_network" {
  description = "Name of the controller's VPC network."
  type        = string
}

variable "controller_network_tags" {
  description = "Network tags of the controller instance (and of its replacements): the firewall rule lets the connector in on 443 to these."
  type        = list(string)
}

variable "connector_cidr" {
  description = "An unused /28 of the controller's network for the Serverless VPC Access connector."
  type        = string
  default     = "10.8.0.0/28"
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

# The functions reach the controller's private address through a Serverless VPC Access connector
# in its network (traffic to private ranges only; Google APIs go direct).
resource "google_project_service" "vpcaccess" {
  project            = var.project_id
  service            = "vpcaccess.googleapis.com"
  disable_on_destroy = false
}

resource "google_vpc_access_connector" "controller" {
  project       = var.project_id
  region        = var.region
  name          = "ctrl-backup-connector"
  network       = var.controller_network
  ip_cidr_range = var.connector_cidr
  min_instances = 2
  max_instances = 3

  depends_on = [google_project_service.vpcaccess]
}

# The controller's side: 443 in from the connector's range, to the controller instance only.
resource "google_compute_firewall" "controller_from_functions" {
  project       = var.project_id
  name          = "ctrl-backup-functions-to-controller"
  description   = "controller-backup functions: the controller API over HTTPS"
  network       = var.controller_network
  direction     = "INGRESS"
  source_ranges = [google_vpc_access_connector.controller.ip_cidr_range]
  target_tags   = var.controller_network_tags

  allow {
    protocol = "tcp"
    ports    = ["443"]
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

module "controller_backup" {
  source = "../.."

  project_id               = var.project_id
  region                   = var.region
  name                     = "ctrl-backup"
  package_path             = "${path.root}/../../../../../dist/gcp/source.zip"
  replacement_name_pattern = "aviatrix-controller*"
  schedule_timezone        = "America/New_York"
  notification_channels    = [google_monitoring_notification_channel.oncall.id]
  backup_invokers          = ["group:netops@example.com"]
  restore_invokers         = ["group:netops-leads@example.com"]

  # the controller, reached over its private network with its own certificate pinned
  controller_url             = "https://${var.controller_private_ip}"
  controller_ca_bundle       = var.controller_ca_bundle
  controller_tls_server_name = var.controller_tls_server_name
  vpc_connector              = google_vpc_access_connector.controller.id

  # native mode (the module's default): the controller's own backup in its own bucket. Then add
  # the access account's key: gcloud secrets versions add ctrl-backup-native-gcp-credentials --data-file=key.json
  controller_private_ip = var.controller_private_ip # CloudN_<ip>_save_cloudx_config.enc
  native_bucket_name    = var.controller_bucket_name
  native_account_name   = var.controller_account_name

  # a BYOL licence: the customer id goes to a replacement before its set-up
  # create_customer_id_secret = true
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
