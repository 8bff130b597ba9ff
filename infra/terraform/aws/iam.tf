# Least privilege: each role names only this bucket, this object (and its restore markers), this
# secret, this key, its own log group and the dead-letter queue. ec2:DescribeInstances is the one
# action with resource "*": EC2 supports no resource-level permission for it. Neither role may
# delete anything: no s3:DeleteObject(Version), and the bucket policy denies them that (and any
# change to versioning or the lifecycle rule) even if someone attaches a broader policy later.

# Who may assume each role: Lambda the functions' roles, the Scheduler its own, for this account only.
data "aws_iam_policy_document" "assume" {
  for_each = toset(["lambda", "scheduler"])

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["${each.key}.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# One role per function; each gets its own policy below.
resource "aws_iam_role" "function" {
  for_each           = local.functions
  name_prefix        = "${var.name}-${each.key}-"
  assume_role_policy = data.aws_iam_policy_document.assume["lambda"].json
  tags               = var.tags
}

# What each function's role may do: its own statements (below), then those both need.
locals {
  role_statements = {
    backup = [
      {
        sid = "ReadAndReplaceTheBackupObject"
        # GetObject: the ETag for the conditional write and the size check; AbortMultipartUpload:
        # a failed upload cleans up after itself.
        actions   = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:AbortMultipartUpload"]
        resources = [local.object_arn]
      },
      {
        sid = "RecordTheLastSuccessAndCheck"
        # an unchanged configuration writes no new version: this record says the night succeeded;
        # the readiness check (run by this function) records its last result beside it
        actions   = ["s3:GetObject", "s3:PutObject"]
        resources = [local.record_arn, local.verify_record_arn]
      },
      {
        sid = "TellMissingFromDenied"
        # Without ListBucket S3 answers a missing object with 403; the first backup must see 404.
        # GetBucketVersioning: the preflight check reports whether old versions are kept.
        actions   = ["s3:ListBucket", "s3:ListBucketVersions", "s3:GetBucketVersioning"]
        resources = [aws_s3_bucket.backup.arn]
      },
    ]
    restore = concat(
      [
        { sid = "ReadTheBackupObject", actions = ["s3:GetObject", "s3:GetObjectVersion"], resources = [local.object_arn] },
        # an unchanged backup is as young as the last night that found it unchanged
        { sid = "ReadTheLastSuccessRecord", actions = ["s3:GetObject"], resources = [local.record_arn] },
        { sid = "KeepRestoreMarkers", actions = ["s3:GetObject", "s3:PutObject"], resources = [local.markers_arn] },
        { sid = "TellMissingFromDenied", actions = ["s3:ListBucket", "s3:ListBucketVersions"], resources = [aws_s3_bucket.backup.arn] },
        # DescribeInstances supports no resource-level permissions.
        { sid = "FindTheReplacementController", actions = ["ec2:DescribeInstances"], resources = ["*"] },
      ],
      # BYOL: a restore sends the customer id to a replacement before its set-up; the backup never needs it
      var.create_customer_id_secret ? [{
        sid = "ReadControllerCustomerId", actions = ["secretsmanager:GetSecretValue"], resources = [aws_secretsmanager_secret.this["controller_customer_id"].arn]
      }] : [],
      local.asg_arn == null ? [] : [{
        sid = "CompleteTheLaunchLifecycleAction", actions = ["autoscaling:CompleteLifecycleAction"], resources = [local.asg_arn]
      }],
    )
  }
  shared_statements = { for job in keys(local.functions) : job => concat([
    { sid = "ReadControllerPassword", actions = ["secretsmanager:GetSecretValue"], resources = [aws_secretsmanager_secret.this["controller_password"].arn] },
    { sid = "UseTheBackupKey", actions = ["kms:Decrypt", "kms:GenerateDataKey"], resources = [aws_kms_key.backup.arn] },
    { sid = "WriteOwnLogs", actions = ["logs:CreateLogStream", "logs:PutLogEvents"], resources = ["${aws_cloudwatch_log_group.function[job].arn}:*"] },
    { sid = "DeadLetterFailedAsyncInvokes", actions = ["sqs:SendMessage"], resources = [aws_sqs_queue.dlq.arn] },
    ], local.copy_statements[job], length(local.copy_secret_arns) == 0 ? [] : [
    # the credentials a copy is written (backup) and read (restore) with, exactly those secrets
    { sid = "ReadCopyCredentials", actions = ["secretsmanager:GetSecretValue"], resources = local.copy_secret_arns },
    ], length(local.copy_parameter_arns) == 0 ? [] : [
    { sid = "ReadCopyCredentialParameters", actions = ["ssm:GetParameter"], resources = local.copy_parameter_arns },
  ]) }

  # An s3:// copy written with the function's own role: the same object permissions as on the
  # primary (the backup replaces it and writes its records; the restore falls back to it, and keeps
  # its markers beside it while the primary is out of reach).
  copy_statements = length(local.copy_object_arns) == 0 ? { backup = [], restore = [] } : {
    backup = [
      { sid = "ReadAndReplaceTheCopies", actions = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:AbortMultipartUpload"], resources = local.copy_object_arns },
      { sid = "RecordTheCopiesLastSuccessAndCheck", actions = ["s3:GetObject", "s3:PutObject"], resources = concat(local.copy_backup_record_arns, local.copy_verify_record_arns) },
      { sid = "TellMissingFromDeniedInTheCopyBuckets", actions = ["s3:ListBucket", "s3:ListBucketVersions", "s3:GetBucketVersioning"], resources = local.copy_bucket_arns },
    ]
    restore = [
      { sid = "ReadTheCopies", actions = ["s3:GetObject", "s3:GetObjectVersion"], resources = local.copy_object_arns },
      { sid = "ReadTheCopiesLastSuccessRecords", actions = ["s3:GetObject"], resources = local.copy_backup_record_arns },
      { sid = "KeepRestoreMarkersBesideTheCopies", actions = ["s3:GetObject", "s3:PutObject"], resources = local.copy_marker_arns },
      { sid = "TellMissingFromDeniedInTheCopyBuckets", actions = ["s3:ListBucket", "s3:ListBucketVersions"], resources = local.copy_bucket_arns },
    ]
  }
}

data "aws_iam_policy_document" "function" {
  for_each = local.functions

  dynamic "statement" {
    for_each = concat(local.role_statements[each.key], local.shared_statements[each.key])
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

resource "aws_iam_role_policy" "function" {
  for_each = local.functions
  name     = "controller-${each.key}"
  role     = aws_iam_role.function[each.key].id
  policy   = data.aws_iam_policy_document.function[each.key].json
}

resource "aws_iam_role_policy_attachment" "vpc_access" {
  for_each   = length(var.subnet_ids) > 0 ? aws_iam_role.function : {}
  role       = each.value.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_iam_role_policy_attachment" "xray" {
  for_each   = var.enable_tracing ? aws_iam_role.function : {}
  role       = each.value.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"
}

# The Scheduler's role: invoke the backup function, dead-letter what it cannot deliver.
resource "aws_iam_role" "scheduler" {
  name_prefix        = "${var.name}-schedule-"
  assume_role_policy = data.aws_iam_policy_document.assume["scheduler"].json
  tags               = var.tags
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "InvokeBackup"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.this["backup"].arn, "${aws_lambda_function.this["backup"].arn}:*"]
  }

  statement {
    sid       = "DeadLetter"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]
  }

  statement {
    sid       = "EncryptDeadLetters"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.backup.arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "invoke-backup"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

# For operators and automation in this account: one policy per function, so a role that may take
# backups does not also get to restore (AWS_IAM Function URLs need both actions).
data "aws_iam_policy_document" "invoke" {
  for_each = local.functions

  statement {
    sid       = "CallThe${title(each.key)}Function"
    actions   = ["lambda:InvokeFunctionUrl", "lambda:InvokeFunction"]
    resources = [aws_lambda_function.this[each.key].arn]
  }
}

resource "aws_iam_policy" "invoke" {
  for_each    = local.functions
  name_prefix = "${var.name}-invoke-${each.key}-"
  description = "Call the ${var.name} ${each.key} function (direct invoke and Function URL)${each.key == "backup" ? ", not the restore" : ""}"
  policy      = data.aws_iam_policy_document.invoke[each.key].json
  tags        = var.tags
}

# -- native mode: the controller's own bucket -----------------------------------------------------
# Only with backup_mode = "native". The controller writes CloudN_<ip>_save_cloudx_config.enc and
# CloudN_<ip>_save_cloudx_version.txt at the root of its bucket: the backup function reads them,
# the restore function reads them and writes the stored backup back under the old controller's
# name. Object actions name only CloudN_* keys. s3:ListBucket is on the bucket without an
# s3:prefix condition: S3 answers a missing key with 404 (the "no file yet" the backup waits on)
# only to a caller allowed to list the bucket, and that check is made for a HEAD or GET, which
# carries no prefix; without it the wait would see 403 "access denied". It reveals key names only.
# A controller bucket in another account also needs a bucket policy there granting these roles.

locals {
  native_statements = {
    backup = [
      # GetObjectVersion: a download is pinned to the version its HEAD saw.
      { sid = "ReadTheControllersBackupFiles", actions = ["s3:GetObject", "s3:GetObjectVersion"], resources = [local.native_objects_arn] },
      { sid = "TellMissingFromDeniedInTheControllersBucket", actions = ["s3:ListBucket"], resources = [local.native_bucket_arn] },
    ]
    restore = [
      {
        sid = "ReadAndPutBackTheControllersBackupFile"
        # PutObject: the stored backup goes back as CloudN_<old ip>_save_cloudx_config.enc for
        # restore_cloudx_config; AbortMultipartUpload: a failed upload cleans up after itself.
        actions   = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:AbortMultipartUpload"]
        resources = [local.native_objects_arn]
      },
      { sid = "TellMissingFromDeniedInTheControllersBucket", actions = ["s3:ListBucket"], resources = [local.native_bucket_arn] },
      {
        sid = "StoreTheRestoredControllersFreshBackup"
        # A native restore ends with a backup of the restored controller, stored as the one object
        # through the backup's checks (conditional write): the proof that it can back itself up.
        actions   = ["s3:PutObject", "s3:AbortMultipartUpload"]
        resources = [local.object_arn]
      },
    ]
  }
}

data "aws_iam_policy_document" "native" {
  for_each = local.native_enabled ? local.functions : {}

  dynamic "statement" {
    # the controller's key, where its bucket uses one: the backup decrypts, the restore also encrypts
    for_each = concat(local.native_statements[each.key], var.native_bucket_kms_key_arn == null ? [] : [{
      sid       = each.key == "backup" ? "DecryptTheControllersBackupFiles" : "UseTheControllersBucketKey"
      actions   = each.key == "backup" ? ["kms:Decrypt"] : ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [var.native_bucket_kms_key_arn]
    }])
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

resource "aws_iam_role_policy" "native" {
  for_each = local.native_enabled ? local.functions : {}
  name     = "controller-${each.key}-native"
  role     = aws_iam_role.function[each.key].id
  policy   = data.aws_iam_policy_document.native[each.key].json
}
