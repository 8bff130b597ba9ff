# Four Cloud Functions (2nd gen) from one source zip, one block: local.functions (main.tf) holds
# what differs between them, and each entry point is a function in main.py. Each function runs at
# most max_instance_count instances, one request each: by default one backup and one restore at a
# time (the store's generation preconditions would refuse a concurrent writer anyway, but two
# exports racing help nobody).

resource "google_cloudfunctions2_function" "this" {
  for_each = local.deployed_functions

  project     = var.project_id
  location    = var.region
  name        = each.value.name
  description = each.value.description
  labels      = local.labels

  build_config {
    runtime         = var.runtime
    entry_point     = each.value.entry_point
    service_account = google_service_account.this["build"].id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = "512Mi"
    timeout_seconds                  = each.value.timeout
    max_instance_count               = var.max_instance_count
    max_instance_request_concurrency = 1
    # the HTTP functions: http_ingress; the event-driven ones: Eventarc only, from inside
    ingress_settings               = each.value.event_trigger == null ? var.http_ingress : "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
    service_account_email          = each.value.service_account
    vpc_connector                  = var.vpc_connector
    vpc_connector_egress_settings  = var.vpc_connector == null ? null : "PRIVATE_RANGES_ONLY"
    environment_variables          = local.function_env[each.key]
  }

  dynamic "event_trigger" {
    for_each = each.value.event_trigger == null ? [] : [each.value.event_trigger]
    content {
      trigger_region        = event_trigger.value.region
      event_type            = event_trigger.value.event_type
      pubsub_topic          = event_trigger.value.pubsub_topic
      retry_policy          = "RETRY_POLICY_RETRY"
      service_account_email = google_service_account.this["trigger"].email

      dynamic "event_filters" {
        for_each = event_trigger.value.filters
        content {
          attribute = event_filters.key
          value     = event_filters.value
        }
      }
    }
  }

  kms_key_name = var.kms_key_name

  # native mode's inputs are checked by validations in variables.tf, so a plan fails before
  # anything is created
  depends_on = [google_project_service.apis, google_project_iam_member.build, google_storage_bucket_iam_member.build_reads_source]
}

# The topic whose messages trigger backup_event.
resource "google_pubsub_topic" "backup_requests" {
  count = var.create_backup_topic ? 1 : 0

  project                    = var.project_id
  name                       = "${var.name}-backup-requests"
  labels                     = local.labels
  kms_key_name               = var.kms_key_name
  message_retention_duration = "86400s"

  depends_on = [google_project_service.apis]
}
