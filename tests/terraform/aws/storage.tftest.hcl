# The backup bucket, what keeps its history, its policy, the key and the password secret.

run "defaults" {
  command = plan

  assert {
    condition     = aws_s3_bucket.backup.bucket == "acme-controller-backups" && !aws_s3_bucket.backup.force_destroy
    error_message = "the module's own bucket, never force-destroyed with its history"
  }

  assert {
    condition     = aws_s3_bucket_versioning.backup.versioning_configuration[0].status == "Enabled"
    error_message = "versioning keeps every previous backup"
  }

  assert {
    condition = [
      aws_s3_bucket_public_access_block.backup.block_public_acls,
      aws_s3_bucket_public_access_block.backup.block_public_policy,
      aws_s3_bucket_public_access_block.backup.ignore_public_acls,
      aws_s3_bucket_public_access_block.backup.restrict_public_buckets,
    ] == [true, true, true, true]
    error_message = "every public access flag must be on"
  }

  assert {
    condition     = aws_s3_bucket_ownership_controls.backup.rule[0].object_ownership == "BucketOwnerEnforced"
    error_message = "the bucket owner owns every object (no ACLs)"
  }

  assert {
    condition = jsonencode(one(aws_s3_bucket_server_side_encryption_configuration.backup.rule).apply_server_side_encryption_by_default) == jsonencode([{
      sse_algorithm     = "aws:kms"
      kms_master_key_id = "arn:aws:kms:us-east-1:123456789012:key/backup"
    }])
    error_message = "objects are encrypted with the module's key, got ${jsonencode(aws_s3_bucket_server_side_encryption_configuration.backup.rule)}"
  }

  # A version expires only when it is older than N days AND beyond the newest M: a burst of
  # backups cannot flush the history (S3 applies both conditions together).
  assert {
    condition = (
      aws_s3_bucket_lifecycle_configuration.backup.rule[0].status == "Enabled"
      && aws_s3_bucket_lifecycle_configuration.backup.rule[0].noncurrent_version_expiration[0].noncurrent_days == 90
      && aws_s3_bucket_lifecycle_configuration.backup.rule[0].noncurrent_version_expiration[0].newer_noncurrent_versions == 30
      && aws_s3_bucket_lifecycle_configuration.backup.rule[0].abort_incomplete_multipart_upload[0].days_after_initiation == 1
    )
    error_message = "old versions must be kept 90 days and 30 versions, together; incomplete uploads go after a day"
  }

  assert {
    condition = (
      length(aws_s3_bucket_lifecycle_configuration.backup.rule) == 1
      && length(aws_s3_bucket_lifecycle_configuration.backup.rule[0].expiration) == 0
      && length(aws_s3_bucket_lifecycle_configuration.backup.rule[0].transition) == 0
      && length(aws_s3_bucket_lifecycle_configuration.backup.rule[0].noncurrent_version_transition) == 0
    )
    error_message = "the lifecycle rule never touches the current backup: one rule, no expiration, no transition"
  }

  # The whole bucket policy: nobody reaches the bucket over plain HTTP or TLS older than 1.2, and
  # whatever is attached to the functions' roles later, the bucket refuses them what would destroy
  # the history or change what keeps it.
  assert {
    condition = jsonencode({
      for s in data.aws_iam_policy_document.bucket.statement : s.sid => [s.effect, s.actions, s.resources, s.principals, s.condition]
      }) == jsonencode({
      DenyInsecureTransport = [
        "Deny",
        ["s3:*"],
        ["arn:aws:s3:::acme-controller-backups", "arn:aws:s3:::acme-controller-backups/*"],
        [{ identifiers = ["*"], type = "*" }],
        [{ test = "Bool", values = ["false"], variable = "aws:SecureTransport" }],
      ]
      DenyOldTls = [
        "Deny",
        ["s3:*"],
        ["arn:aws:s3:::acme-controller-backups", "arn:aws:s3:::acme-controller-backups/*"],
        [{ identifiers = ["*"], type = "*" }],
        [{ test = "NumericLessThan", values = ["1.2"], variable = "s3:TlsVersion" }],
      ]
      DenyHistoryDestructionByTheFunctions = [
        "Deny",
        sort(var.destructive_actions),
        ["arn:aws:s3:::acme-controller-backups", "arn:aws:s3:::acme-controller-backups/*"],
        [{ identifiers = ["*"], type = "*" }],
        # both function roles
        [{ test = "ArnEquals", values = ["arn:aws:iam::123456789012:role/backup-role", "arn:aws:iam::123456789012:role/restore-role"], variable = "aws:PrincipalArn" }],
      ]
    })
    error_message = "the bucket policy must refuse plain HTTP and TLS before 1.2 to everyone, and deny both function roles every destructive action, got ${jsonencode(data.aws_iam_policy_document.bucket.statement)}"
  }

  # nor may they destroy the key every kept version is encrypted with
  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.kms.statement :
      s.effect == "Deny"
      && length(setsubtract(["kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy"], s.actions)) == 0
      && jsonencode(s.condition) == jsonencode([{
        test     = "ArnEquals"
        values   = ["arn:aws:iam::123456789012:role/backup-role", "arn:aws:iam::123456789012:role/restore-role"]
        variable = "aws:PrincipalArn"
      }])
      if s.sid == "DenyKeyDestructionByTheFunctions"
    ]) && length([for s in data.aws_iam_policy_document.kms.statement : s if s.sid == "DenyKeyDestructionByTheFunctions"]) == 1
    error_message = "the key policy must deny both function roles scheduling deletion, disabling and re-policing the key"
  }

  assert {
    condition     = aws_s3_bucket_policy.backup.bucket == "acme-controller-backups"
    error_message = "the bucket policy is the backup bucket's"
  }

  assert {
    condition = (
      aws_kms_key.backup.enable_key_rotation && aws_kms_key.backup.deletion_window_in_days == 30
      && aws_kms_alias.backup.name == "alias/aviatrix-ctrl-backup" && aws_kms_alias.backup.target_key_id == "backup"
    )
    error_message = "the module's own key rotates, waits 30 days before deletion, and has the deployment's alias"
  }

  assert {
    condition = (
      aws_secretsmanager_secret.this["controller_password"].kms_key_id == "arn:aws:kms:us-east-1:123456789012:key/backup"
      && aws_secretsmanager_secret.this["controller_password"].name_prefix == "aviatrix-ctrl-backup-controller-password-"
      && length(aws_secretsmanager_secret_version.controller_password) == 0
    )
    error_message = "the password secret is encrypted with the module's key; its value is put outside Terraform unless controller_password is set"
  }
}

run "a_shorter_history_and_a_password" {
  command = plan

  variables {
    noncurrent_version_days     = 7
    noncurrent_versions_to_keep = 5
    controller_password         = "initial-password"
  }

  assert {
    condition = (
      aws_secretsmanager_secret_version.controller_password[0].secret_id == "password"
      && issensitive(aws_secretsmanager_secret_version.controller_password[0].secret_string)
    )
    error_message = "controller_password becomes the secret's value, never shown"
  }

  assert {
    condition = (
      aws_s3_bucket_lifecycle_configuration.backup.rule[0].noncurrent_version_expiration[0].noncurrent_days == 7
      && aws_s3_bucket_lifecycle_configuration.backup.rule[0].noncurrent_version_expiration[0].newer_noncurrent_versions == 5
    )
    error_message = "the lifecycle rule keeps what noncurrent_version_days and noncurrent_versions_to_keep say; a week is allowed"
  }
}
