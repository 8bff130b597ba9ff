# Least privilege: each role names only this bucket, this object (and its restore markers), this
# secret, this key, its own log group and the dead-letter queue. ec2:DescribeInstances is the one
# action with resource "*": EC2 supports no resource-level permission for it. Neither role may
# delete anything: no s3:DeleteObject(Version), and the bucket policy denies them that (and any
# change to versioning or the lifecycle rule) even if someone attaches a broader policy later.

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "backup" {
  name_prefix        = "${var.name}-backup-"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = var.tags
}

resource "aws_iam_role" "restore" {
  name_prefix        = "${var.name}-restore-"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "backup" {
  statement {
    sid = "ReadAndReplaceTheBackupObject"
    # GetObject: the ETag for the conditional write and the size check; AbortMultipartUpload:
    # a failed upload cleans up after itself.
    actions   = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:AbortMultipartUpload"]
    resources = [local.object_arn]
  }

  statement {
    sid = "RecordTheLastSuccess"
    # an unchanged configuration writes no new version: this record says the night succeeded
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = [local.record_arn]
  }

  statement {
    sid = "TellMissingFromDenied"
    # Without ListBucket S3 answers a missing object with 403; the first backup must see 404.
    # GetBucketVersioning: the preflight check reports whether old versions are kept.
    actions   = ["s3:ListBucket", "s3:ListBucketVersions", "s3:GetBucketVersioning"]
    resources = [aws_s3_bucket.backup.arn]
  }

  statement {
    sid       = "ReadControllerPassword"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.controller_password.arn]
  }

  statement {
    sid       = "UseTheBackupKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.backup.arn]
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.backup.arn}:*"]
  }

  statement {
    sid       = "DeadLetterFailedAsyncInvokes"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]
  }
}

data "aws_iam_policy_document" "restore" {
  statement {
    sid       = "ReadTheBackupObject"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = [local.object_arn]
  }

  statement {
    sid = "ReadTheLastSuccessRecord"
    # an unchanged backup is as young as the last night that found it unchanged
    actions   = ["s3:GetObject"]
    resources = [local.record_arn]
  }

  statement {
    sid       = "KeepRestoreMarkers"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = [local.markers_arn]
  }

  statement {
    sid       = "TellMissingFromDenied"
    actions   = ["s3:ListBucket", "s3:ListBucketVersions"]
    resources = [aws_s3_bucket.backup.arn]
  }

  statement {
    sid       = "ReadControllerPassword"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.controller_password.arn]
  }

  statement {
    sid       = "UseTheBackupKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.backup.arn]
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.restore.arn}:*"]
  }

  statement {
    sid       = "DeadLetterFailedAsyncInvokes"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]
  }

  dynamic "statement" {
    # BYOL: a restore sends the customer id to a replacement before its set-up; the backup never needs it
    for_each = var.create_customer_id_secret ? [aws_secretsmanager_secret.controller_customer_id[0].arn] : []
    content {
      sid       = "ReadControllerCustomerId"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [statement.value]
    }
  }

  statement {
    sid = "FindTheReplacementController"
    # DescribeInstances supports no resource-level permissions.
    actions   = ["ec2:DescribeInstances"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = local.asg_arn == null ? [] : [local.asg_arn]
    content {
      sid       = "CompleteTheLaunchLifecycleAction"
      actions   = ["autoscaling:CompleteLifecycleAction"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "backup" {
  name   = "controller-backup"
  role   = aws_iam_role.backup.id
  policy = data.aws_iam_policy_document.backup.json
}

resource "aws_iam_role_policy" "restore" {
  name   = "controller-restore"
  role   = aws_iam_role.restore.id
  policy = data.aws_iam_policy_document.restore.json
}

resource "aws_iam_role_policy_attachment" "vpc_access" {
  for_each   = length(var.subnet_ids) > 0 ? { backup = aws_iam_role.backup.name, restore = aws_iam_role.restore.name } : {}
  role       = each.value
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_iam_role_policy_attachment" "xray" {
  for_each   = var.enable_tracing ? { backup = aws_iam_role.backup.name, restore = aws_iam_role.restore.name } : {}
  role       = each.value
  policy_arn = "arn:${local.partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"
}

# The Scheduler's role: invoke the backup function, dead-letter what it cannot deliver.
data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name_prefix        = "${var.name}-schedule-"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "InvokeBackup"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.backup.arn, "${aws_lambda_function.backup.arn}:*"]
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
data "aws_iam_policy_document" "invoke_backup" {
  statement {
    sid       = "CallTheBackupFunction"
    actions   = ["lambda:InvokeFunctionUrl", "lambda:InvokeFunction"]
    resources = [aws_lambda_function.backup.arn]
  }
}

data "aws_iam_policy_document" "invoke_restore" {
  statement {
    sid       = "CallTheRestoreFunction"
    actions   = ["lambda:InvokeFunctionUrl", "lambda:InvokeFunction"]
    resources = [aws_lambda_function.restore.arn]
  }
}

resource "aws_iam_policy" "invoke_backup" {
  name_prefix = "${var.name}-invoke-backup-"
  description = "Call the ${var.name} backup function (direct invoke and Function URL), not the restore"
  policy      = data.aws_iam_policy_document.invoke_backup.json
  tags        = var.tags
}

resource "aws_iam_policy" "invoke_restore" {
  name_prefix = "${var.name}-invoke-restore-"
  description = "Call the ${var.name} restore function (direct invoke and Function URL)"
  policy      = data.aws_iam_policy_document.invoke_restore.json
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

data "aws_iam_policy_document" "backup_native" {
  count = local.native_enabled ? 1 : 0

  statement {
    sid = "ReadTheControllersBackupFiles"
    # GetObjectVersion: a download is pinned to the version its HEAD saw.
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = [local.native_objects_arn]
  }

  statement {
    sid       = "TellMissingFromDeniedInTheControllersBucket"
    actions   = ["s3:ListBucket"]
    resources = [local.native_bucket_arn]
  }

  dynamic "statement" {
    for_each = var.native_bucket_kms_key_arn == null ? [] : [var.native_bucket_kms_key_arn]
    content {
      sid       = "DecryptTheControllersBackupFiles"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

data "aws_iam_policy_document" "restore_native" {
  count = local.native_enabled ? 1 : 0

  statement {
    sid = "ReadAndPutBackTheControllersBackupFile"
    # PutObject: the stored backup goes back as CloudN_<old ip>_save_cloudx_config.enc for
    # restore_cloudx_config; AbortMultipartUpload: a failed upload cleans up after itself.
    actions   = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:AbortMultipartUpload"]
    resources = [local.native_objects_arn]
  }

  statement {
    sid       = "TellMissingFromDeniedInTheControllersBucket"
    actions   = ["s3:ListBucket"]
    resources = [local.native_bucket_arn]
  }

  statement {
    sid = "StoreTheRestoredControllersFreshBackup"
    # A native restore ends with a backup of the restored controller, stored as the one object
    # through the backup's checks (conditional write): the proof that it can back itself up.
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = [local.object_arn]
  }

  dynamic "statement" {
    for_each = var.native_bucket_kms_key_arn == null ? [] : [var.native_bucket_kms_key_arn]
    content {
      sid       = "UseTheControllersBucketKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "backup_native" {
  count  = local.native_enabled ? 1 : 0
  name   = "controller-backup-native"
  role   = aws_iam_role.backup.id
  policy = data.aws_iam_policy_document.backup_native[0].json
}

resource "aws_iam_role_policy" "restore_native" {
  count  = local.native_enabled ? 1 : 0
  name   = "controller-restore-native"
  role   = aws_iam_role.restore.id
  policy = data.aws_iam_policy_document.restore_native[0].json
}
