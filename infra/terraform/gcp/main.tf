locals {
  bucket_name = coalesce(var.bucket_name, "${var.project_id}-${var.name}")
  backup_url  = "gs://${local.bucket_name}/${var.backup_object}"
  labels      = merge({ "app" = "controller-backup", "deployment" = var.name }, var.labels)

  # Object names as IAM conditions see them.
  object_resource  = "projects/_/buckets/${local.bucket_name}/objects/${var.backup_object}"
  markers_resource = "projects/_/buckets/${local.bucket_name}/objects/${var.backup_object}.restores/"
  # the record of the last successful backup, stored or unchanged (no new version when unchanged)
  record_resource = "projects/_/buckets/${local.bucket_name}/objects/${var.backup_object}.last-backup.json"

  functions = {
    backup        = "${var.name}-backup"
    backup_event  = "${var.name}-backup-event"
    restore       = "${var.name}-restore"
    restore_event = "${var.name}-restore-event"
  }

  common_env = merge(
    {
      # explicit in both modes: the core's own default is native
      CONTROLLER_BACKUP_MODE = var.backup_mode
      CONTROLLER_URL         = var.controller_url
      CONTROLLER_USERNAME    = var.controller_username
      CONTROLLER_PASSWORD    = "gcp-sm:${google_secret_manager_secret.controller_password.id}/versions/latest"
      CONTROLLER_VERIFY_TLS  = tostring(var.controller_verify_tls)
      BACKUP_URL             = local.backup_url
      BACKUP_MIN_SIZE_RATIO  = tostring(var.min_size_ratio)
      LOG_EXECUTION_ID       = "true"
    },
    var.controller_ca_bundle == null ? {} : { CONTROLLER_CA_BUNDLE = var.controller_ca_bundle },
    var.controller_tls_server_name == null ? {} : { CONTROLLER_TLS_SERVER_NAME = var.controller_tls_server_name },
    # BYOL: a reference to the customer id secret (either mode); only the restore identity may read it
    var.create_customer_id_secret ? {
      CONTROLLER_CUSTOMER_ID = "gcp-sm:${google_secret_manager_secret.controller_customer_id[0].id}/versions/latest"
    } : {},
    local.native_env,
    var.restore_max_backup_age == null ? {} : { RESTORE_MAX_BACKUP_AGE = var.restore_max_backup_age },
  )

  # The restore functions only: which instance counts as a replacement, how to reach it, and which
  # other targets a restore caller may name (none by default).
  restore_env = merge(
    {
      REPLACEMENT_URL         = var.replacement_url
      RESTORE_ALLOWED_TARGETS = join(",", var.restore_allowed_targets)
    },
    var.replacement_name_pattern == null ? {} : { REPLACEMENT_NAME_PATTERN = var.replacement_name_pattern },
    var.replacement_label == null ? {} : { REPLACEMENT_TAG = var.replacement_label },
  )

  # -- native mode (the default; with backup_mode = "export" none of the following reaches a
  # function or a binding) --
  native_enabled = var.backup_mode == "native"
  # The backup's wait for a controller that is not ready (a reboot, an upgrade): each backup
  # function's timeout (1800 s HTTP, 540 s Pub/Sub) less the wait for the controller's own file
  # (native) and 120 s to fetch and store it.
  backup_ready_timeout = {
    http  = 1800 - (local.native_enabled ? var.native_backup_wait_seconds : 0) - 120
    event = max(30, 540 - (local.native_enabled ? var.native_backup_wait_seconds : 0) - 120)
  }
  # The controller's own files, CloudN_<private ip>_save_cloudx_config.enc / ..._version.txt, as
  # IAM conditions see them: the only objects of its bucket the functions may touch.
  native_files_resource = "projects/_/buckets/${coalesce(var.native_bucket_name, "-")}/objects/CloudN_"
  native_env = local.native_enabled ? {
    CONTROLLER_PRIVATE_IP = coalesce(var.controller_private_ip, "-")
    NATIVE_CLOUD_TYPE     = "gcp"
    NATIVE_ACCOUNT_NAME   = coalesce(var.native_account_name, "-")
    NATIVE_BUCKET_URL     = "gs://${coalesce(var.native_bucket_name, "-")}"
    NATIVE_BACKUP_WAIT    = tostring(var.native_backup_wait_seconds)
    NATIVE_GCP_PROJECT_ID = coalesce(var.native_gcp_project_id, var.project_id)
    # a reference: every function checks it is set, only the restore identity may read it
    NATIVE_GCP_CREDENTIALS = "gcp-sm:${google_secret_manager_secret.native_gcp_credentials[0].id}/versions/latest"
  } : {}
  # A restore stops, resumably, before its function's timeout (RESTORE_TIME_LIMIT; the core's
  # 840 s default would outlast the 540 s of an event-driven function).
  native_restore_http_env  = local.native_enabled ? { RESTORE_TIME_LIMIT = "3480" } : {} # timeout 3600 s
  native_restore_event_env = local.native_enabled ? { RESTORE_TIME_LIMIT = "420" } : {}  # timeout 540 s

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
