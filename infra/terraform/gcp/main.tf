locals {
  bucket_name = coalesce(var.bucket_name, "${var.project_id}-${var.name}")
  backup_url  = "gs://${local.bucket_name}/${var.backup_object_name}"
  labels      = merge({ "app" = "controller-backup", "deployment" = var.name }, var.labels)

  # Object names as IAM conditions see them.
  object_resource  = "projects/_/buckets/${local.bucket_name}/objects/${var.backup_object_name}"
  markers_resource = "projects/_/buckets/${local.bucket_name}/objects/${var.backup_object_name}.restores/"
  # the record of the last successful backup, stored or unchanged (no new version when unchanged),
  # and the readiness check's last result
  record_resource        = "projects/_/buckets/${local.bucket_name}/objects/${var.backup_object_name}.last-backup.json"
  verify_record_resource = "projects/_/buckets/${local.bucket_name}/objects/${var.backup_object_name}.last-verify.json"

  # -- copies (BACKUP_COPY_URLS): a gs:// copy without a BACKUP_COPY_CREDENTIALS entry is written
  # with the functions' own identities (granted in iam.tf); the credentials an entry names are
  # readable by the backup and restore identities when they are in Secret Manager.
  gs_copies    = [for url in var.copy_urls : regex("^gs://(?P<bucket>[^/]+)/(?P<key>.+)$", url) if startswith(url, "gs://") && !contains(keys(var.copy_credentials), url)]
  copy_secrets = distinct([for ref in values(var.copy_credentials) : regex("^gcp-sm:projects/(?P<project>[^/]+)/secrets/(?P<secret>[^/]+)/", ref) if startswith(ref, "gcp-sm:")])

  # The four functions, and all that differs between them (functions.tf makes one of each from
  # this): the entry point in main.py, the identity it runs as, its timeout (HTTP functions may
  # run 3600 s, event-driven ones 540 s) and its event trigger (null: an HTTP function).
  functions = {
    backup = {
      name            = "${var.name}-backup"
      description     = "Back up the controller's configuration (Cloud Scheduler and on demand)."
      entry_point     = "backup_http"
      job             = "backup"
      service_account = google_service_account.this["backup"].email
      timeout         = 1800
      deploy          = true
      event_trigger   = null
    }
    restore = {
      name            = "${var.name}-restore"
      description     = "Restore the stored backup into a controller, on demand."
      entry_point     = "restore_http"
      job             = "restore"
      service_account = google_service_account.this["restore"].email
      timeout         = 3600
      deploy          = true
      event_trigger   = null
    }
    # a backup on every message published to the topic
    backup_event = {
      name            = "${var.name}-backup-event"
      description     = "Back up the controller's configuration when a message arrives on the backup topic."
      entry_point     = "backup_event"
      job             = "backup"
      service_account = google_service_account.this["backup"].email
      timeout         = 540
      deploy          = var.create_backup_topic
      event_trigger = {
        region       = var.region
        event_type   = "google.cloud.pubsub.topic.v1.messagePublished"
        pubsub_topic = one(google_pubsub_topic.backup_requests[*].id)
        filters      = {}
      }
    }
    # Restore into a replacement controller: Compute Engine writes an Admin Activity audit log
    # entry for every instance it creates (by hand, by a managed instance group, by Terraform);
    # Eventarc delivers it, and the function acts only on finished inserts of instances that match
    # replacement_name_pattern and/or carry replacement_label, once per instance id.
    restore_event = {
      name            = "${var.name}-restore-event"
      description     = "Restore the stored backup into a replacement controller instance."
      entry_point     = "restore_event"
      job             = "restore"
      service_account = google_service_account.this["restore"].email
      timeout         = 540
      deploy          = var.restore_on_replacement
      event_trigger = {
        region       = "global"
        event_type   = "google.cloud.audit.log.v1.written"
        pubsub_topic = null
        filters      = { serviceName = "compute.googleapis.com", methodName = "v1.compute.instances.insert" }
      }
    }
  }
  deployed_functions = { for key, function in local.functions : key => function if function.deploy }

  # What each function's timeout leaves for its waits, derived here and nowhere else. A backup
  # waits out a controller that is not ready (a reboot, an upgrade) for its timeout less the wait
  # for the controller's own file (native) and 120 s to fetch and store it. A restore waits up to
  # 30 minutes for a booting controller, and stops, resumably, two minutes before its function
  # does (RESTORE_TIME_LIMIT: the core's 840 s default would outlast an event-driven 540 s).
  native_backup_wait = local.native_enabled ? var.native_backup_wait_seconds : 0
  ready_timeouts = { for key, function in local.functions : key => (
    function.job == "backup" ? max(30, function.timeout - local.native_backup_wait - 120) : min(1800, function.timeout - 120)
  ) }
  restore_time_limits = { for key, function in local.functions : key => function.timeout - 120 if function.job == "restore" }

  # Each function's settings: the common ones, the restore's own, and its waits.
  function_env = { for key, function in local.functions : key => merge(
    local.common_env,
    function.job == "restore" ? local.restore_env : {},
    { CONTROLLER_READY_TIMEOUT = tostring(local.ready_timeouts[key]) },
    function.job == "restore" ? { RESTORE_TIME_LIMIT = tostring(local.restore_time_limits[key]) } : {},
  ) }

  common_env = merge(
    {
      # explicit in both modes: the core's own default is native
      CONTROLLER_BACKUP_MODE = var.backup_mode
      CONTROLLER_URL         = var.controller_url
      CONTROLLER_USERNAME    = var.controller_username
      CONTROLLER_PASSWORD    = "gcp-sm:${google_secret_manager_secret.this["controller_password"].id}/versions/latest"
      CONTROLLER_VERIFY_TLS  = tostring(var.controller_verify_tls)
      BACKUP_URL             = local.backup_url
      BACKUP_MIN_SIZE_RATIO  = tostring(var.backup_min_size_ratio)
      LOG_EXECUTION_ID       = "true"
    },
    var.controller_ca_bundle == null ? {} : { CONTROLLER_CA_BUNDLE = var.controller_ca_bundle },
    var.controller_tls_server_name == null ? {} : { CONTROLLER_TLS_SERVER_NAME = var.controller_tls_server_name },
    # BYOL: a reference to the customer id secret (either mode); only the restore identity may read it
    var.create_customer_id_secret ? {
      CONTROLLER_CUSTOMER_ID = "gcp-sm:${google_secret_manager_secret.this["controller_customer_id"].id}/versions/latest"
    } : {},
    local.native_env,
    var.restore_max_backup_age == null ? {} : { RESTORE_MAX_BACKUP_AGE = var.restore_max_backup_age },
    # further destinations: the backup writes each, a restore falls back to them
    length(var.copy_urls) == 0 ? {} : { BACKUP_COPY_URLS = join(",", var.copy_urls) },
    length(var.copy_credentials) == 0 ? {} : { BACKUP_COPY_CREDENTIALS = jsonencode(var.copy_credentials) },
    # Object Retention Lock: each new generation the functions write carries this retention
    var.object_retention_days == null ? {} : {
      BACKUP_RETENTION_DAYS = tostring(var.object_retention_days)
      BACKUP_RETENTION_MODE = var.object_retention_locked ? "Locked" : "Unlocked"
    },
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
    NATIVE_GCP_CREDENTIALS = "gcp-sm:${google_secret_manager_secret.this["native_gcp_credentials"].id}/versions/latest"
  } : {}

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
