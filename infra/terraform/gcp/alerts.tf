# Failures are loud: any ERROR line from the functions opens an incident, and so does a day
# without a successful backup (which also catches a scheduler that silently stopped).

resource "google_monitoring_alert_policy" "function_errors" {
  project               = var.project_id
  display_name          = "${var.name}: controller backup/restore function error"
  combiner              = "OR"
  notification_channels = var.notification_channels
  user_labels           = local.labels

  conditions {
    display_name = "ERROR log from a backup or restore function"
    condition_matched_log {
      filter = join(" AND ", [
        "resource.type=\"cloud_run_revision\"",
        "resource.labels.service_name=(${join(" OR ", [for f in values(local.functions) : "\"${f}\""])})",
        "severity>=ERROR",
      ])
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
    content   = "A controller backup or restore function logged an error. The log entry's `jsonPayload.result.code` says which kind (auth, not-ready, timeout, invalid-export, store, integrity, refused). The stored backup is never replaced by a failed run."
  }

  depends_on = [google_project_service.apis]
}

# One count per successful backup, from the functions' structured result lines.
resource "google_logging_metric" "backup_success" {
  project = var.project_id
  name    = "${var.name}-backup-success"
  filter = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=(\"${local.functions.backup}\" OR \"${local.functions.backup_event}\")",
    "jsonPayload.result.job=\"backup\"",
    # an unchanged configuration is a successful backup that wrote no new version
    "jsonPayload.result.status=(\"ok\" OR \"unchanged\")",
  ])

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }

  depends_on = [google_project_service.apis]
}

# Metric-absence conditions stop at 23.5 h, so the 25 h window is a PromQL absent_over_time.
resource "google_monitoring_alert_policy" "no_recent_backup" {
  project               = var.project_id
  display_name          = "${var.name}: no successful controller backup in 25 h"
  combiner              = "OR"
  notification_channels = var.notification_channels
  user_labels           = local.labels

  conditions {
    display_name = "No successful backup in 25 h"
    condition_prometheus_query_language {
      query               = "absent_over_time(logging_googleapis_com:user_${replace(google_logging_metric.backup_success.name, "-", "_")}[25h])"
      duration            = "0s"
      evaluation_interval = "600s"
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "No controller backup succeeded in the last 25 hours. Check the backup function's logs and the Cloud Scheduler job `${google_cloud_scheduler_job.daily_backup.name}`. (Right after the first deployment this stays open until the first backup succeeds.)"
  }
}
