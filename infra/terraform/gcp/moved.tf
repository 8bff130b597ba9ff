# State addresses from before the four functions shared one block (for_each over
# local.functions): an existing deployment's functions, and the trigger identity's grants on the
# event-driven ones, move to their new addresses, none is destroyed and created again.
moved {
  from = google_cloudfunctions2_function.backup
  to   = google_cloudfunctions2_function.this["backup"]
}

moved {
  from = google_cloudfunctions2_function.restore
  to   = google_cloudfunctions2_function.this["restore"]
}

moved {
  from = google_cloudfunctions2_function.backup_event[0]
  to   = google_cloudfunctions2_function.this["backup_event"]
}

moved {
  from = google_cloudfunctions2_function.restore_event[0]
  to   = google_cloudfunctions2_function.this["restore_event"]
}

moved {
  from = google_cloud_run_service_iam_member.trigger_invokes_backup_event[0]
  to   = google_cloud_run_service_iam_member.trigger_invokes["backup_event"]
}

moved {
  from = google_cloud_run_service_iam_member.trigger_invokes_restore_event[0]
  to   = google_cloud_run_service_iam_member.trigger_invokes["restore_event"]
}

# From before the module's secrets, and who reads them, were one block each (secrets.tf).
moved {
  from = google_secret_manager_secret.controller_password
  to   = google_secret_manager_secret.this["controller_password"]
}

moved {
  from = google_secret_manager_secret.controller_customer_id[0]
  to   = google_secret_manager_secret.this["controller_customer_id"]
}

moved {
  from = google_secret_manager_secret.native_gcp_credentials[0]
  to   = google_secret_manager_secret.this["native_gcp_credentials"]
}

moved {
  from = google_secret_manager_secret_iam_member.accessor["backup"]
  to   = google_secret_manager_secret_iam_member.accessor["controller_password_backup"]
}

moved {
  from = google_secret_manager_secret_iam_member.accessor["restore"]
  to   = google_secret_manager_secret_iam_member.accessor["controller_password_restore"]
}

moved {
  from = google_secret_manager_secret_iam_member.controller_customer_id_restore[0]
  to   = google_secret_manager_secret_iam_member.accessor["controller_customer_id_restore"]
}

moved {
  from = google_secret_manager_secret_iam_member.native_gcp_credentials_restore[0]
  to   = google_secret_manager_secret_iam_member.accessor["native_gcp_credentials_restore"]
}

# From before the grants limited by a condition on object names were one block (iam.tf).
moved {
  from = google_storage_bucket_iam_member.backup_writer
  to   = google_storage_bucket_iam_member.scoped["backup_writer"]
}

moved {
  from = google_storage_bucket_iam_member.restore_markers
  to   = google_storage_bucket_iam_member.scoped["restore_markers"]
}

moved {
  from = google_storage_bucket_iam_member.native_backup_reader[0]
  to   = google_storage_bucket_iam_member.scoped["native_backup_reader"]
}

moved {
  from = google_storage_bucket_iam_member.native_restore_writer[0]
  to   = google_storage_bucket_iam_member.scoped["native_restore_writer"]
}

moved {
  from = google_storage_bucket_iam_member.native_restore_fresh_backup[0]
  to   = google_storage_bucket_iam_member.scoped["native_restore_fresh_backup"]
}

# From before the service accounts were one block (iam.tf).
moved {
  from = google_service_account.backup
  to   = google_service_account.this["backup"]
}

moved {
  from = google_service_account.restore
  to   = google_service_account.this["restore"]
}

moved {
  from = google_service_account.scheduler
  to   = google_service_account.this["scheduler"]
}

moved {
  from = google_service_account.trigger
  to   = google_service_account.this["trigger"]
}

moved {
  from = google_service_account.build
  to   = google_service_account.this["build"]
}

# From before the readiness check had a schedule beside the backup's (schedule.tf).
moved {
  from = google_cloud_scheduler_job.daily_backup
  to   = google_cloud_scheduler_job.this["daily_backup"]
}

# From before the alerts and log-based metrics were built from maps of definitions (alerts.tf).
moved {
  from = google_monitoring_alert_policy.function_errors
  to   = google_monitoring_alert_policy.on_log["function_errors"]
}

moved {
  from = google_monitoring_alert_policy.no_recent_backup
  to   = google_monitoring_alert_policy.on_absence["no_recent_backup"]
}

moved {
  from = google_logging_metric.backup_success
  to   = google_logging_metric.success["backup_success"]
}
