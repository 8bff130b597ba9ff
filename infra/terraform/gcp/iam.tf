# One identity per job, each with only what it does, and one each for the scheduler, the Eventarc
# triggers and the build.
locals {
  service_accounts = {
    backup    = { account_id = "backup", display_name = "Controller backup function" }
    restore   = { account_id = "restore", display_name = "Controller restore function" }
    scheduler = { account_id = "sched", display_name = "Calls the backup function daily (OIDC)" }
    trigger   = { account_id = "trigger", display_name = "Eventarc triggers of the backup and restore functions" }
    build     = { account_id = "build", display_name = "Builds the functions' images" }
  }
}

resource "google_service_account" "this" {
  for_each = local.service_accounts

  project      = var.project_id
  account_id   = "${var.name}-${each.value.account_id}"
  display_name = each.value.display_name
}

# -- the backup bucket --------------------------------------------------------------------------

# Replacing an object needs create and delete (Cloud Storage checks storage.objects.delete for an
# overwrite); reading it back needs get. Delete also lets the holder remove an old generation,
# which IAM cannot tell apart: the bucket's soft delete policy keeps any deleted generation
# restorable for soft_delete_days, and no identity of ours may change the bucket's settings.
resource "google_project_iam_custom_role" "object_writer" {
  project     = var.project_id
  role_id     = "${replace(var.name, "-", "_")}_object_writer"
  title       = "Controller backup: write one object"
  description = "Create, replace and read the controller backup object (granted with a condition on its name)."
  # setRetention (with object_retention_days): a new generation carries its retention; never
  # storage.objects.overrideUnlockedRetention, which shortens or removes one
  permissions = concat(
    ["storage.objects.create", "storage.objects.delete", "storage.objects.get"],
    var.object_retention_days == null ? [] : ["storage.objects.setRetention"],
  )
}

resource "google_project_iam_custom_role" "object_reader" {
  project     = var.project_id
  role_id     = "${replace(var.name, "-", "_")}_object_reader"
  title       = "Controller backup: read and list versions"
  description = "Read the controller backup, list its versions, and see whether the bucket keeps them."
  permissions = ["storage.objects.get", "storage.objects.list", "storage.buckets.get"]
}

# Both identities read (and list) the backup bucket and each gs:// copy's bucket.
resource "google_storage_bucket_iam_member" "readers" {
  for_each = merge(
    { for job in ["backup", "restore"] : job => { bucket = google_storage_bucket.backups.name, job = job } },
    { for pair in setproduct(["backup", "restore"], distinct([for copy in local.gs_copies : copy.bucket])) :
    "${pair[0]}:${pair[1]}" => { bucket = pair[1], job = pair[0] } },
  )

  bucket = each.value.bucket
  role   = google_project_iam_custom_role.object_reader.id
  member = "serviceAccount:${google_service_account.this[each.value.job].email}"
}

# Every grant limited by a condition on object names: the backup identity writes the backup object
# and the record of its last success, nothing else; the restore identity writes only its
# idempotency markers beside the backup. Native mode adds its grants on the controller's CloudN_*
# files (native.tf).
locals {
  scoped_grants = merge(
    {
      backup_writer = {
        bucket      = google_storage_bucket.backups.name
        role        = google_project_iam_custom_role.object_writer.id
        account     = google_service_account.this["backup"].email
        title       = "backup-object-only"
        description = "Only the one backup object, its last-success record and the readiness check's."
        expression  = join(" || ", [for name in [local.object_resource, local.record_resource, local.verify_record_resource] : "resource.name == \"${name}\""])
      }
      restore_markers = {
        bucket      = google_storage_bucket.backups.name
        role        = google_project_iam_custom_role.object_writer.id
        account     = google_service_account.this["restore"].email
        title       = "restore-markers-only"
        description = "Only the restore markers under <object>.restores/."
        expression  = "resource.name.startsWith(\"${local.markers_resource}\")"
      }
    },
    local.native_grants,
    # a gs:// copy written with the backup identity: the same as the primary, on its key
    { for copy in local.gs_copies : "copy:${copy.bucket}/${copy.key}" => {
      bucket      = copy.bucket
      role        = google_project_iam_custom_role.object_writer.id
      account     = google_service_account.this["backup"].email
      title       = "backup-copy-only"
      description = "Only this copy of the backup, its last-success record and the readiness check's."
      expression = join(" || ", [for suffix in ["", ".last-backup.json", ".last-verify.json"] :
      "resource.name == \"projects/_/buckets/${copy.bucket}/objects/${copy.key}${suffix}\""])
    } },
    # and the restore identity's markers beside it, kept there while the primary is out of reach
    { for copy in local.gs_copies : "copy-markers:${copy.bucket}/${copy.key}" => {
      bucket      = copy.bucket
      role        = google_project_iam_custom_role.object_writer.id
      account     = google_service_account.this["restore"].email
      title       = "restore-markers-beside-a-copy-only"
      description = "Only the restore markers under <copy>.restores/."
      expression  = "resource.name.startsWith(\"projects/_/buckets/${copy.bucket}/objects/${copy.key}.restores/\")"
    } },
  )
}

resource "google_storage_bucket_iam_member" "scoped" {
  for_each = local.scoped_grants

  bucket = each.value.bucket
  role   = each.value.role
  member = "serviceAccount:${each.value.account}"

  condition {
    title       = each.value.title
    description = each.value.description
    expression  = each.value.expression
  }
}

# Both restore functions describe a replacement through the Compute API, never trusting the caller
# or the event: instances.get for the audit-log event (by zone and name), instances.list for a
# restore_http call naming an instance_id (aggregatedList filtered by id). Reading only.
resource "google_project_iam_custom_role" "instance_reader" {
  project     = var.project_id
  role_id     = "${replace(var.name, "-", "_")}_instance_reader"
  title       = "Controller restore: describe an instance"
  description = "Read a replacement controller instance: its id, name, labels and addresses."
  permissions = ["compute.instances.get", "compute.instances.list"]
}

resource "google_project_iam_member" "restore_instance_reader" {
  project = var.project_id
  role    = google_project_iam_custom_role.instance_reader.id
  member  = "serviceAccount:${google_service_account.this["restore"].email}"
}

# -- triggers -----------------------------------------------------------------------------------

# Who may call which function (Cloud Run checks roles/run.invoker on each function's service): the
# scheduler's identity and backup_invokers the backup function only, restore_invokers the restore
# function only. A principal allowed to take backups does not get to restore.
resource "google_cloud_run_service_iam_member" "scheduler_invokes_backup" {
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.this["backup"].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.this["scheduler"].email}"
}

resource "google_cloud_run_service_iam_member" "backup_invokers" {
  for_each = toset(var.backup_invokers)

  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.this["backup"].name
  role     = "roles/run.invoker"
  member   = each.value
}

resource "google_cloud_run_service_iam_member" "restore_invokers" {
  for_each = toset(var.restore_invokers)

  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.this["restore"].name
  role     = "roles/run.invoker"
  member   = each.value
}

# Eventarc delivers as the trigger identity: it receives events and invokes the event functions.
resource "google_project_iam_member" "trigger_receiver" {
  project = var.project_id
  role    = "roles/eventarc.eventReceiver"
  member  = "serviceAccount:${google_service_account.this["trigger"].email}"
}

resource "google_cloud_run_service_iam_member" "trigger_invokes" {
  for_each = { for key, function in local.deployed_functions : key => function if function.event_trigger != null }

  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.this[each.key].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.this["trigger"].email}"
}

# -- building the functions -----------------------------------------------------------------------

resource "google_project_iam_member" "build" {
  for_each = toset(["roles/logging.logWriter", "roles/artifactregistry.writer"])

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.this["build"].email}"
}

resource "google_storage_bucket_iam_member" "build_reads_source" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.this["build"].email}"
}
