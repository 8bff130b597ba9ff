# The bucket holding the one backup object and its previous versions.
resource "aws_s3_bucket" "backup" {
  #checkov:skip=CKV_AWS_18:one object written by one function; S3 data events in CloudTrail audit access, and a log bucket would need its own logging bucket in turn
  #checkov:skip=CKV_AWS_144:cross-region replication is a deployment choice (a second region, its own key); versioning plus the lifecycle rule keep the history here
  #checkov:skip=CKV2_AWS_62:nothing consumes object events; the backup function reports each write in its own logs and metrics
  bucket        = var.bucket_name
  force_destroy = false
  tags          = var.tags
}

resource "aws_s3_bucket_versioning" "backup" {
  bucket = aws_s3_bucket.backup.id
  versioning_configuration {
    status = "Enabled"
  }
}

# Locked retention (object_lock_mode, off by default): every new version is kept, undeletable and
# unchangeable, for object_lock_days. S3 turns Object Lock on for a versioned bucket through this
# configuration, also on a bucket created before it (the bucket itself is never replaced), and
# never lets it be turned off again; versions written before it carry no retention.
resource "aws_s3_bucket_object_lock_configuration" "backup" {
  count      = var.object_lock_mode == null ? 0 : 1
  bucket     = aws_s3_bucket.backup.id
  depends_on = [aws_s3_bucket_versioning.backup]

  rule {
    default_retention {
      mode = var.object_lock_mode
      days = var.object_lock_days
    }
  }
}

resource "aws_s3_bucket_public_access_block" "backup" {
  bucket                  = aws_s3_bucket.backup.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "backup" {
  bucket = aws_s3_bucket.backup.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "backup" {
  bucket = aws_s3_bucket.backup.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.backup.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "backup" {
  bucket     = aws_s3_bucket.backup.id
  depends_on = [aws_s3_bucket_versioning.backup]

  # A previous version expires only when it is BOTH older than noncurrent_version_days AND beyond
  # the newest noncurrent_versions_to_keep: a burst of backups (a loop, a bad caller) cannot push
  # the last good ones out, and a quiet month does not shrink the history below the count.
  rule {
    id     = "keep-${var.noncurrent_versions_to_keep}-previous-backups-and-${var.noncurrent_version_days}-days"
    status = "Enabled"
    filter {}

    noncurrent_version_expiration {
      newer_noncurrent_versions = var.noncurrent_versions_to_keep
      noncurrent_days           = var.noncurrent_version_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_s3_bucket_policy" "backup" {
  bucket     = aws_s3_bucket.backup.id
  policy     = data.aws_iam_policy_document.bucket.json
  depends_on = [aws_s3_bucket_public_access_block.backup]
}

data "aws_iam_policy_document" "bucket" {
  # Nobody reaches the bucket over plain HTTP or TLS older than 1.2.
  dynamic "statement" {
    for_each = {
      DenyInsecureTransport = { test = "Bool", variable = "aws:SecureTransport", values = ["false"] }
      DenyOldTls            = { test = "NumericLessThan", variable = "s3:TlsVersion", values = ["1.2"] }
    }
    content {
      sid       = statement.key
      effect    = "Deny"
      actions   = ["s3:*"]
      resources = [aws_s3_bucket.backup.arn, "${aws_s3_bucket.backup.arn}/*"]
      principals {
        type        = "*"
        identifiers = ["*"]
      }
      condition {
        test     = statement.value.test
        variable = statement.value.variable
        values   = statement.value.values
      }
    }
  }

  # Defence in depth: whatever policy is attached to the functions' roles later, they can never
  # destroy the history (delete a version, put a delete marker over the backup) nor change what
  # protects it (versioning, the lifecycle rule, this policy, the Object Lock retention of a kept
  # version or the bucket's).
  statement {
    sid    = "DenyHistoryDestructionByTheFunctions"
    effect = "Deny"
    actions = [
      "s3:DeleteObject",
      "s3:DeleteObjectVersion",
      "s3:PutLifecycleConfiguration",
      "s3:PutBucketVersioning",
      "s3:PutBucketPolicy",
      "s3:DeleteBucketPolicy",
      "s3:BypassGovernanceRetention",
      "s3:PutObjectRetention",
      "s3:PutObjectLegalHold",
      "s3:PutBucketObjectLockConfiguration",
    ]
    resources = [aws_s3_bucket.backup.arn, "${aws_s3_bucket.backup.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:PrincipalArn"
      values   = values(aws_iam_role.function)[*].arn
    }
  }
}

# The controller password, and for a BYOL licence only (create_customer_id_secret) the
# controller's customer id, which a restore sends to a replacement before its set-up (a restore
# onto a BYOL controller fails without it). Both values are best set outside Terraform (aws
# secretsmanager put-secret-value) so they never land in the state; controller_password and
# controller_customer_id are a convenience.
locals {
  secrets = merge(
    {
      controller_password = {
        name_prefix = "${var.name}-controller-password-"
        description = "Password of the controller API user ${var.controller_username} (${var.name})"
      }
    },
    var.create_customer_id_secret ? {
      controller_customer_id = {
        name_prefix = "${var.name}-controller-customer-id-"
        description = "BYOL customer id of the controller (${var.name}), sent to a replacement before its set-up"
      }
    } : {},
  )
}

resource "aws_secretsmanager_secret" "this" {
  #checkov:skip=CKV2_AWS_57:the password lives in the controller, so rotating it is the controller's own password change (the operator's procedure, not a rotation Lambda); the customer id is the licence identifier from Aviatrix, which changes only with the licence
  for_each                = local.secrets
  name_prefix             = each.value.name_prefix
  description             = each.value.description
  kms_key_id              = aws_kms_key.backup.arn
  recovery_window_in_days = 7
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "controller_password" {
  count         = var.controller_password == null ? 0 : 1
  secret_id     = aws_secretsmanager_secret.this["controller_password"].id
  secret_string = var.controller_password
}

resource "aws_secretsmanager_secret_version" "controller_customer_id" {
  count         = var.create_customer_id_secret && var.controller_customer_id != null ? 1 : 0
  secret_id     = aws_secretsmanager_secret.this["controller_customer_id"].id
  secret_string = var.controller_customer_id
}
