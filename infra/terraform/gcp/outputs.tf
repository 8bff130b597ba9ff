output "backup_url" {
  description = "BACKUP_URL of the one stored backup object."
  value       = local.backup_url
}

output "bucket_name" {
  description = "Name of the backup bucket."
  value       = google_storage_bucket.backups.name
}

output "backup_function_url" {
  description = "URL of the backup function (POST, with an identity token)."
  value       = google_cloudfunctions2_function.this["backup"].service_config[0].uri
}

output "restore_function_url" {
  description = "URL of the restore function (POST, with an identity token)."
  value       = google_cloudfunctions2_function.this["restore"].service_config[0].uri
}

output "function_ids" {
  description = "Id of each deployed function (projects/P/locations/R/functions/F): {backup, restore, backup_event, restore_event}."
  value       = { for key, function in google_cloudfunctions2_function.this : key => function.id }
}

output "function_identities" {
  description = "The identity each deployed function runs as, its service account's email: the backup functions share one, the restore functions another."
  value       = { for key, function in google_cloudfunctions2_function.this : key => function.service_config[0].service_account_email }
}

output "backup_topic" {
  description = "Pub/Sub topic whose messages trigger a backup (null when not created)."
  value       = var.create_backup_topic ? google_pubsub_topic.backup_requests[0].id : null
}

output "controller_password_secret" {
  description = "Secret Manager secret holding the controller password; add a version with `gcloud secrets versions add`."
  value       = google_secret_manager_secret.this["controller_password"].id
}

output "controller_customer_id_secret" {
  description = "Secret Manager secret for the BYOL customer id (null unless create_customer_id_secret); add a version with `gcloud secrets versions add`."
  value       = var.create_customer_id_secret ? google_secret_manager_secret.this["controller_customer_id"].id : null
}

output "native_gcp_credentials_secret" {
  description = "Native mode: Secret Manager secret for the access account's service-account key JSON (null in export mode); add a version with `gcloud secrets versions add`."
  value       = local.native_enabled ? google_secret_manager_secret.this["native_gcp_credentials"].id : null
}

output "service_accounts" {
  description = "Emails of the service accounts the module created: {backup, restore, scheduler, trigger, build}."
  value       = { for key, account in google_service_account.this : key => account.email }
}
