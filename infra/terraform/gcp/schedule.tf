# The daily backup: Cloud Scheduler POSTs to the backup function with an OIDC token whose audience
# is the function's URL; Cloud Run checks it against roles/run.invoker before the code runs.
resource "google_cloud_scheduler_job" "daily_backup" {
  project          = var.project_id
  region           = var.region
  name             = "${var.name}-daily-backup"
  description      = "Back up the controller's configuration every day."
  schedule         = var.schedule
  time_zone        = var.schedule_timezone
  attempt_deadline = "1800s"

  retry_config {
    retry_count          = 3
    min_backoff_duration = "60s"
    max_backoff_duration = "900s"
    max_doublings        = 3
    max_retry_duration   = "7200s"
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.this["backup"].service_config[0].uri
    # exactly the scheduled-backup input: Cloud Scheduler cannot template a scheduled_time
    body = base64encode(jsonencode({ action = "backup", trigger = "schedule" }))
    headers = {
      "Content-Type" = "application/json"
    }

    oidc_token {
      service_account_email = google_service_account.this["scheduler"].email
      audience              = google_cloudfunctions2_function.this["backup"].service_config[0].uri
    }
  }

  depends_on = [google_project_service.apis, google_cloud_run_service_iam_member.scheduler_invokes_backup]
}
