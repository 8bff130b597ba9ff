locals {
  bucket_name = coalesce(var.bucket_name, "${var.project_id}-${var.name}")
  backup_url  = "gs://${local.bucket_name}/${var.backup_object}"
  labels      = merge({ "app" = "controller-backup", "deployment" = var.name }, var.labels)

  # Object names as IAM conditions see them.
  object_resource  = "projects/_/buckets/${local.bucket_name}/objects/${var.backup_object}"
  markers_resource = "projects/_/buckets/${local.bucket_name}/objects/${var.backup_object}.restores/"

  functions = {
    backup        = "${var.name}-backup"
    backup_event  = "${var.name}-backup-event"
    restore       = "${var.name}-restore"
    restore_event = "${var.name}-restore-event"
  }

  common_env = merge(
    {
      CONTROLLER_URL        = var.controller_url
      CONTROLLER_USERNAME   = var.controller_username
      CONTROLLER_PASSWORD   = "gcp-sm:${google_secret_manager_secret.controller_password.id}/versions/latest"
      CONTROLLER_VERIFY_TLS = tostring(var.controller_verify_tls)
      BACKUP_URL            = local.backup_url
      BACKUP_MIN_SIZE_RATIO = tostring(var.min_size_ratio)
      LOG_EXECUTION_ID      = "true"
    },
    var.controller_ca_bundle == null ? {} : { CONTROLLER_CA_BUNDLE = var.controller_ca_bundle },
  )

  apis = [
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    "artifactregistry.googleapis.com",
    "eventarc.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ]
}

resource "google_project_service" "apis" {
  for_each = var.enable_apis ? toset(local.apis) : toset([])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
