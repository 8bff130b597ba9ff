# The backup bucket: one object, every replaced version kept as a noncurrent generation.
# Object versioning and a bucket retention policy cannot be combined, so history is kept by
# versioning plus one lifecycle rule (and, optionally, Object Retention Lock), and the functions'
# IAM cannot touch the bucket's settings.
# Overwriting an object needs storage.objects.delete, which would also let the backup identity
# delete an old generation: soft delete keeps every deleted generation restorable for
# soft_delete_days, so no identity of ours can destroy the history.
resource "google_storage_bucket" "backups" {
  #checkov:skip=CKV_GCP_62:Usage-log buckets are a legacy feature; object reads and writes are recorded by Cloud Audit Logs (enable Data Access logs for storage.googleapis.com).
  project                     = var.project_id
  name                        = local.bucket_name
  location                    = coalesce(var.bucket_location, var.region)
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = local.labels

  versioning {
    enabled = true
  }

  # Locked retention (object_retention_days): Object Retention Lock, which keeps each retained
  # generation (live or noncurrent) until its retain-until time. A bucket retention policy cannot
  # serve: it excludes versioning and refuses to replace a live object younger than the period.
  enable_object_retention = var.object_retention_days != null

  soft_delete_policy {
    retention_duration_seconds = var.soft_delete_days * 86400
  }

  # One rule, both conditions (a rule's conditions must all hold): an older generation is deleted
  # only when it is BOTH more than noncurrent_version_days noncurrent AND beyond the newest
  # noncurrent_versions_to_keep, so a burst of backups cannot flush the history.
  lifecycle_rule {
    condition {
      with_state                 = "ARCHIVED"
      num_newer_versions         = var.noncurrent_versions_to_keep
      days_since_noncurrent_time = var.noncurrent_version_days
    }
    action {
      type = "Delete"
    }
  }

  dynamic "encryption" {
    for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
    content {
      default_kms_key_name = encryption.value
    }
  }

  # The backups live here: no plan may replace or delete this bucket (a changed name or location,
  # or object retention turned on where the provider can only create the bucket anew); such a
  # change stops at plan (README).
  lifecycle {
    prevent_destroy = true
  }

  depends_on = [google_kms_crypto_key_iam_member.storage_agent]
}

# The functions' source: a zip named by its own hash, so a code change is a new object and the
# functions redeploy; an unchanged zip changes nothing.
resource "google_storage_bucket" "source" {
  #checkov:skip=CKV_GCP_62:Holds only the functions' source zips, written by Terraform; Cloud Audit Logs record access.
  project                     = var.project_id
  name                        = "${local.bucket_name}-src"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true
  labels                      = local.labels

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      with_state         = "ARCHIVED"
      num_newer_versions = 3
    }
    action {
      type = "Delete"
    }
  }

  dynamic "encryption" {
    for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
    content {
      default_kms_key_name = encryption.value
    }
  }

  depends_on = [google_kms_crypto_key_iam_member.storage_agent]
}

resource "google_storage_bucket_object" "source" {
  bucket = google_storage_bucket.source.name
  name   = "functions/source-${filesha256(var.package_path)}.zip"
  source = var.package_path
}

# CMEK: Cloud Storage's service agent must be able to use the key.
data "google_storage_project_service_account" "agent" {
  project = var.project_id
}

resource "google_kms_crypto_key_iam_member" "storage_agent" {
  count = var.kms_key_name == null ? 0 : 1

  crypto_key_id = var.kms_key_name
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${data.google_storage_project_service_account.agent.email_address}"
}
