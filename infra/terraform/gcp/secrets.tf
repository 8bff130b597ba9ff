# The controller password. The functions read it through a gcp-sm: reference, once per cold start.
resource "google_secret_manager_secret" "controller_password" {
  project   = var.project_id
  secret_id = "${var.name}-controller-password"
  labels    = local.labels

  replication {
    auto {
      dynamic "customer_managed_encryption" {
        for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
        content {
          kms_key_name = customer_managed_encryption.value
        }
      }
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "controller_password" {
  count = var.controller_password == null ? 0 : 1

  secret      = google_secret_manager_secret.controller_password.id
  secret_data = var.controller_password
}

# Only the two job identities may read it.
resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each = {
    backup  = google_service_account.backup.email
    restore = google_service_account.restore.email
  }

  project   = var.project_id
  secret_id = google_secret_manager_secret.controller_password.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${each.value}"
}

# BYOL licence only (create_customer_id_secret): the controller's customer id, which a restore sends
# to a replacement before its set-up. Stored like the password; only the restore identity reads it.
resource "google_secret_manager_secret" "controller_customer_id" {
  count = var.create_customer_id_secret ? 1 : 0

  project   = var.project_id
  secret_id = "${var.name}-controller-customer-id"
  labels    = local.labels

  replication {
    auto {
      dynamic "customer_managed_encryption" {
        for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
        content {
          kms_key_name = customer_managed_encryption.value
        }
      }
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "controller_customer_id" {
  count = var.create_customer_id_secret && var.controller_customer_id != null ? 1 : 0

  secret      = google_secret_manager_secret.controller_customer_id[0].id
  secret_data = var.controller_customer_id
}

resource "google_secret_manager_secret_iam_member" "controller_customer_id_restore" {
  count = var.create_customer_id_secret ? 1 : 0

  project   = var.project_id
  secret_id = google_secret_manager_secret.controller_customer_id[0].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.restore.email}"
}
