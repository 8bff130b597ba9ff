# Four Cloud Functions (2nd gen) from one source zip; each entry point is a function in main.py.
# Backups run one at a time (max one instance): the store's generation preconditions would refuse
# a concurrent writer anyway, but two exports racing help nobody.

resource "google_cloudfunctions2_function" "backup" {
  project     = var.project_id
  location    = var.region
  name        = local.functions.backup
  description = "Back up the controller's configuration (Cloud Scheduler and on demand)."
  labels      = local.labels

  build_config {
    runtime         = var.runtime
    entry_point     = "backup_http"
    service_account = google_service_account.build.id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = "512Mi"
    timeout_seconds                  = 1800
    max_instance_count               = 1
    max_instance_request_concurrency = 1
    ingress_settings                 = var.http_ingress
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.backup.email
    vpc_connector                    = var.vpc_connector
    vpc_connector_egress_settings    = var.vpc_connector == null ? null : "PRIVATE_RANGES_ONLY"
    environment_variables            = merge(local.common_env, { CONTROLLER_READY_TIMEOUT = tostring(local.backup_ready_timeout.http) })
  }

  kms_key_name = var.kms_key_name

  # native mode's inputs are checked by validations in variables.tf, so a plan fails before
  # anything is created
  depends_on = [google_project_service.apis, google_project_iam_member.build, google_storage_bucket_iam_member.build_reads_source]
}

resource "google_cloudfunctions2_function" "restore" {
  project     = var.project_id
  location    = var.region
  name        = local.functions.restore
  description = "Restore the stored backup into a controller, on demand."
  labels      = local.labels

  build_config {
    runtime         = var.runtime
    entry_point     = "restore_http"
    service_account = google_service_account.build.id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = "512Mi"
    timeout_seconds                  = 3600
    max_instance_count               = 1
    max_instance_request_concurrency = 1
    ingress_settings                 = var.http_ingress
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.restore.email
    vpc_connector                    = var.vpc_connector
    vpc_connector_egress_settings    = var.vpc_connector == null ? null : "PRIVATE_RANGES_ONLY"
    environment_variables            = merge(local.common_env, local.restore_env, { CONTROLLER_READY_TIMEOUT = "1800" }, local.native_restore_http_env)
  }

  kms_key_name = var.kms_key_name

  depends_on = [google_project_service.apis, google_project_iam_member.build, google_storage_bucket_iam_member.build_reads_source]
}

# A backup on every message published to the topic.
resource "google_pubsub_topic" "backup_requests" {
  count = var.create_backup_topic ? 1 : 0

  project                    = var.project_id
  name                       = "${var.name}-backup-requests"
  labels                     = local.labels
  kms_key_name               = var.kms_key_name
  message_retention_duration = "86400s"

  depends_on = [google_project_service.apis]
}

resource "google_cloudfunctions2_function" "backup_event" {
  count = var.create_backup_topic ? 1 : 0

  project     = var.project_id
  location    = var.region
  name        = local.functions.backup_event
  description = "Back up the controller's configuration when a message arrives on the backup topic."
  labels      = local.labels

  build_config {
    runtime         = var.runtime
    entry_point     = "backup_event"
    service_account = google_service_account.build.id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = "512Mi"
    timeout_seconds                  = 540
    max_instance_count               = 1
    max_instance_request_concurrency = 1
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.backup.email
    vpc_connector                    = var.vpc_connector
    vpc_connector_egress_settings    = var.vpc_connector == null ? null : "PRIVATE_RANGES_ONLY"
    environment_variables            = merge(local.common_env, { CONTROLLER_READY_TIMEOUT = tostring(local.backup_ready_timeout.event) })
  }

  event_trigger {
    trigger_region        = var.region
    event_type            = "google.cloud.pubsub.topic.v1.messagePublished"
    pubsub_topic          = google_pubsub_topic.backup_requests[0].id
    retry_policy          = "RETRY_POLICY_RETRY"
    service_account_email = google_service_account.trigger.email
  }

  kms_key_name = var.kms_key_name

  depends_on = [google_project_service.apis, google_project_iam_member.build, google_storage_bucket_iam_member.build_reads_source]
}

# Restore into a replacement controller: Compute Engine writes an Admin Activity audit log entry
# for every instance it creates (by hand, by a managed instance group, by Terraform); Eventarc
# delivers it, and the function acts only on finished inserts of instances that match
# replacement_name_pattern and/or carry replacement_label, once per instance id.
resource "google_cloudfunctions2_function" "restore_event" {
  count = var.restore_on_replacement ? 1 : 0

  project     = var.project_id
  location    = var.region
  name        = local.functions.restore_event
  description = "Restore the stored backup into a replacement controller instance."
  labels      = local.labels

  build_config {
    runtime         = var.runtime
    entry_point     = "restore_event"
    service_account = google_service_account.build.id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = "512Mi"
    timeout_seconds                  = 540
    max_instance_count               = 1
    max_instance_request_concurrency = 1
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.restore.email
    vpc_connector                    = var.vpc_connector
    vpc_connector_egress_settings    = var.vpc_connector == null ? null : "PRIVATE_RANGES_ONLY"
    environment_variables = merge(local.common_env, local.restore_env, {
      # event-driven functions stop at 540 s: wait for the replacement within that
      CONTROLLER_READY_TIMEOUT = "420"
    }, local.native_restore_event_env)
  }

  event_trigger {
    trigger_region        = "global"
    event_type            = "google.cloud.audit.log.v1.written"
    retry_policy          = "RETRY_POLICY_RETRY"
    service_account_email = google_service_account.trigger.email

    event_filters {
      attribute = "serviceName"
      value     = "compute.googleapis.com"
    }
    event_filters {
      attribute = "methodName"
      value     = "v1.compute.instances.insert"
    }
  }

  kms_key_name = var.kms_key_name

  depends_on = [google_project_service.apis, google_project_iam_member.build, google_storage_bucket_iam_member.build_reads_source]
}
