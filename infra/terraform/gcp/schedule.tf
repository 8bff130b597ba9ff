# The daily backup and the daily readiness check, in schedule_timezone, from one block. The backup:
# Cloud Scheduler POSTs to the backup function with an OIDC token whose audience is the function's
# URL; Cloud Run checks it against roles/run.invoker before the code runs. The check: it publishes
# {"action": "verify", "trigger": "schedule"} to the backup topic, whose backup_event function
# checks the backup and every copy; without the topic (create_backup_topic = false) there is no
# scheduled check (run `verify --all` instead).
locals {
  schedules = merge(
    {
      daily_backup = {
        name        = "${var.name}-daily-backup"
        description = "Back up the controller's configuration every day."
        schedule    = var.schedule
        # exactly the scheduled-backup input: Cloud Scheduler cannot template a scheduled_time
        body = { action = "backup", trigger = "schedule" }
      }
    },
    var.create_backup_topic ? {
      daily_verify = {
        name        = "${var.name}-daily-verify"
        description = "Check every day that the controller's backup and each copy can be restored."
        schedule    = var.verify_schedule
        body        = { action = "verify", trigger = "schedule" }
      }
    } : {},
  )
}

resource "google_cloud_scheduler_job" "this" {
  for_each = local.schedules

  project          = var.project_id
  region           = var.region
  name             = each.value.name
  description      = each.value.description
  schedule         = each.value.schedule
  time_zone        = var.schedule_timezone
  attempt_deadline = each.key == "daily_backup" ? "1800s" : null

  retry_config {
    retry_count          = 3
    min_backoff_duration = "60s"
    max_backoff_duration = "900s"
    max_doublings        = 3
    max_retry_duration   = "7200s"
  }

  dynamic "http_target" {
    for_each = each.key == "daily_backup" ? [google_cloudfunctions2_function.this["backup"].service_config[0].uri] : []
    content {
      http_method = "POST"
      uri         = http_target.value
      body        = base64encode(jsonencode(each.value.body))
      headers = {
        "Content-Type" = "application/json"
      }

      oidc_token {
        service_account_email = google_service_account.this["scheduler"].email
        audience              = http_target.value
      }
    }
  }

  dynamic "pubsub_target" {
    for_each = each.key == "daily_verify" ? google_pubsub_topic.backup_requests[*].id : []
    content {
      topic_name = pubsub_target.value
      data       = base64encode(jsonencode(each.value.body))
    }
  }

  depends_on = [google_project_service.apis, google_cloud_run_service_iam_member.scheduler_invokes_backup]
}
