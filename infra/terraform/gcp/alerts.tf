# Failures are loud: any ERROR log line from the functions opens an incident, and so do a failed
# copy and a failed readiness check (their own lines, named for what failed), and a day without a
# successful backup or a passing readiness check (which also catches a scheduler that silently
# stopped). Each kind is one block over a map of definitions.

locals {
  # the Cloud Run services of the backup functions, which write backups and run the check
  backup_services = "resource.labels.service_name=(\"${local.functions.backup.name}\" OR \"${local.functions.backup_event.name}\")"

  # an incident for each matching log line
  log_alerts = {
    function_errors = {
      display_name = "${var.name}: controller backup/restore function error"
      condition    = "ERROR log from a backup or restore function"
      filter = join(" AND ", [
        "resource.type=\"cloud_run_revision\"",
        "resource.labels.service_name=(${join(" OR ", [for f in values(local.functions) : "\"${f.name}\""])})",
        "severity>=ERROR",
      ])
      documentation = "A controller backup or restore function logged an error. The log entry's `jsonPayload.result.code` says which kind (auth, not-ready, timeout, invalid-export, store, integrity, refused). The stored backup is never replaced by a failed run."
    }
    copy_failed = {
      display_name  = "${var.name}: a controller backup copy failed"
      condition     = "A backup copy failed"
      filter        = join(" AND ", ["resource.type=\"cloud_run_revision\"", local.backup_services, "jsonPayload.message=~\"^backup copy failed\""])
      documentation = "A backup was stored, but not in every destination: the log line names the copy and the reason. The copies that succeeded stay; the next backup writes the missed one."
    }
    verify_failed = {
      display_name  = "${var.name}: the controller backup's readiness check failed"
      condition     = "The readiness check failed for a destination"
      filter        = join(" AND ", ["resource.type=\"cloud_run_revision\"", local.backup_services, "jsonPayload.message=~\"^verify failed\""])
      documentation = "The daily readiness check failed for the backup or a copy: one log line per failed destination names it and the reason."
    }
  }

  # one count per success line (log-based metrics), and an incident when none came for 25 hours
  success_counts = {
    backup_success = join(" AND ", [
      "resource.type=\"cloud_run_revision\"",
      local.backup_services,
      "jsonPayload.result.job=\"backup\"",
      # an unchanged configuration is a successful backup that wrote no new version
      "jsonPayload.result.status=(\"ok\" OR \"unchanged\")",
    ])
    verify_passed = join(" AND ", ["resource.type=\"cloud_run_revision\"", local.backup_services, "jsonPayload.message=~\"^verify passed\""])
  }
  missing_alerts = {
    no_recent_backup = {
      metric        = "backup_success"
      display_name  = "${var.name}: no successful controller backup in 25 h"
      condition     = "No successful backup in 25 h"
      documentation = "No controller backup succeeded in the last 25 hours. Check the backup function's logs and the Cloud Scheduler job `${google_cloud_scheduler_job.this["daily_backup"].name}`. (Right after the first deployment this stays open until the first backup succeeds.)"
    }
    no_recent_verify = {
      metric        = "verify_passed"
      display_name  = "${var.name}: no passing readiness check of the controller backup in 25 h"
      condition     = "No passing readiness check in 25 h"
      documentation = "No readiness check of the controller backup passed in the last 25 hours: it failed (see its alert) or never ran (the Cloud Scheduler job `${var.name}-daily-verify`, which needs create_backup_topic)."
    }
  }
}

resource "google_monitoring_alert_policy" "on_log" {
  for_each = local.log_alerts

  project               = var.project_id
  display_name          = each.value.display_name
  combiner              = "OR"
  notification_channels = var.notification_channels
  user_labels           = local.labels

  conditions {
    display_name = each.value.condition
    condition_matched_log {
      filter = each.value.filter
      label_extractors = {
        "code" = "EXTRACT(jsonPayload.result.code)"
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
    notification_rate_limit {
      period = "300s"
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = each.value.documentation
  }

  depends_on = [google_project_service.apis]
}

resource "google_logging_metric" "success" {
  for_each = local.success_counts

  project = var.project_id
  name    = "${var.name}-${replace(each.key, "_", "-")}"
  filter  = each.value

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }

  depends_on = [google_project_service.apis]
}

# Metric-absence conditions stop at 23.5 h, so the 25 h window is a PromQL absent_over_time.
resource "google_monitoring_alert_policy" "on_absence" {
  for_each = local.missing_alerts

  project               = var.project_id
  display_name          = each.value.display_name
  combiner              = "OR"
  notification_channels = var.notification_channels
  user_labels           = local.labels

  conditions {
    display_name = each.value.condition
    condition_prometheus_query_language {
      query               = "absent_over_time(logging_googleapis_com:user_${replace(google_logging_metric.success[each.value.metric].name, "-", "_")}[25h])"
      duration            = "0s"
      evaluation_interval = "600s"
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = each.value.documentation
  }
}
