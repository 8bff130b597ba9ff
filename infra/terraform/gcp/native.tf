# Native mode (backup_mode = "native"): a real Aviatrix controller writes its own backup,
# CloudN_<private ip>_save_cloudx_config.enc and ..._version.txt, into its own bucket. The backup
# identity reads those objects; the restore identity reads them and writes the stored backup back
# under the old controller's name for restore_cloudx_config. Nothing here exists in export mode.
#
# The grants are conditional bucket bindings limited to CloudN_* objects, not the predefined
# bucket-level roles: roles/storage.objectViewer would read (and list) every object in the
# controller's bucket, and roles/storage.objectCreator cannot replace the existing CloudN_ file a
# restore must overwrite (replacing an object needs storage.objects.delete too). Conditions need
# uniform bucket-level access on the controller's bucket, and project custom roles can be granted
# only within their project: the bucket must be in project_id. No storage.objects.list: listing is
# a bucket-level call a name condition cannot match, and the store reads objects by name only
# (with storage.objects.get a missing object answers 404, which the backup's wait relies on).

resource "google_project_iam_custom_role" "native_file_reader" {
  count = local.native_enabled ? 1 : 0

  project     = var.project_id
  role_id     = "${replace(var.name, "-", "_")}_native_reader"
  title       = "Controller backup: read the controller's own backup files"
  description = "Read the Aviatrix controller's CloudN_* backup files (granted with a condition on their names)."
  permissions = ["storage.objects.get"]
}

# The conditional grants (google_storage_bucket_iam_member.scoped, iam.tf) native mode adds: the
# backup identity reads CloudN_* files; the restore identity reads and replaces them (create +
# delete + get). A native restore ends with a backup of the restored controller, stored as the one
# object through the backup's checks (a generation-conditional write): the proof that it can back
# itself up. So in native mode the restore identity may replace the backup object too, and still
# nothing else.
locals {
  native_files = {
    title       = "controller-backup-files-only"
    description = "Only the controller's own CloudN_* backup files."
    expression  = "resource.name.startsWith(\"${local.native_files_resource}\")"
  }
  native_grants = local.native_enabled ? {
    native_backup_reader = merge(local.native_files, {
      bucket  = coalesce(var.native_bucket_name, "-")
      role    = google_project_iam_custom_role.native_file_reader[0].id
      account = google_service_account.this["backup"].email
    })
    native_restore_writer = merge(local.native_files, {
      bucket  = coalesce(var.native_bucket_name, "-")
      role    = google_project_iam_custom_role.object_writer.id
      account = google_service_account.this["restore"].email
    })
    native_restore_fresh_backup = {
      bucket      = google_storage_bucket.backups.name
      role        = google_project_iam_custom_role.object_writer.id
      account     = google_service_account.this["restore"].email
      title       = "backup-object-only"
      description = "Only the one backup object (the fresh backup after a native restore)."
      expression  = "resource.name == \"${local.object_resource}\""
    }
  } : {}
}

# The access account's key JSON (NATIVE_GCP_CREDENTIALS): its secret is in secrets.tf.
resource "google_secret_manager_secret_version" "native_gcp_credentials" {
  count = local.native_enabled && var.native_gcp_credentials != null ? 1 : 0

  secret      = google_secret_manager_secret.this["native_gcp_credentials"].id
  secret_data = var.native_gcp_credentials
}
