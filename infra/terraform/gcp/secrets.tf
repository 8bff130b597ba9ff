# The module's secrets, each read by the functions through a gcp-sm: reference (once per cold
# start): the controller password; with create_customer_id_secret (BYOL licence), the controller's
# customer id, which a restore sends to a replacement before its set-up; in native mode, the access
# account's service-account key JSON (NATIVE_GCP_CREDENTIALS), which only a restore resolves
# (setup_account_profile on a replacement). Their values are best added outside Terraform
# (`gcloud secrets versions add`) so they never land in the state.
locals {
  secrets = merge(
    { controller_password = "${var.name}-controller-password" },
    var.create_customer_id_secret ? { controller_customer_id = "${var.name}-controller-customer-id" } : {},
    local.native_enabled ? { native_gcp_credentials = "${var.name}-native-gcp-credentials" } : {},
  )
  # who reads which: both job identities the password, only the restore identity the others
  secret_readers = merge(
    {
      controller_password_backup  = { secret = "controller_password", account = google_service_account.this["backup"].email }
      controller_password_restore = { secret = "controller_password", account = google_service_account.this["restore"].email }
    },
    { for secret in ["controller_customer_id", "native_gcp_credentials"] : "${secret}_restore" => {
      secret  = secret
      account = google_service_account.this["restore"].email
    } if contains(keys(local.secrets), secret) },
  )
}

resource "google_secret_manager_secret" "this" {
  for_each = local.secrets

  project   = var.project_id
  secret_id = each.value
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

resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each = local.secret_readers

  project   = var.project_id
  secret_id = google_secret_manager_secret.this[each.value.secret].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${each.value.account}"
}

resource "google_secret_manager_secret_version" "controller_password" {
  count = var.controller_password == null ? 0 : 1

  secret      = google_secret_manager_secret.this["controller_password"].id
  secret_data = var.controller_password
}

resource "google_secret_manager_secret_version" "controller_customer_id" {
  count = var.create_customer_id_secret && var.controller_customer_id != null ? 1 : 0

  secret      = google_secret_manager_secret.this["controller_customer_id"].id
  secret_data = var.controller_customer_id
}

# The credentials of a copy (copy_credentials) in Secret Manager: the backup identity writes the
# copy with them, the restore identity falls back to it; each reads exactly those secrets.
resource "google_secret_manager_secret_iam_member" "copy_credentials" {
  for_each = { for pair in setproduct(["backup", "restore"], local.copy_secrets) :
  "${pair[0]}:${pair[1].project}/${pair[1].secret}" => { job = pair[0], project = pair[1].project, secret = pair[1].secret } }

  project   = each.value.project
  secret_id = each.value.secret
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.this[each.value.job].email}"
}
