# Issue 13's parts of the module: copies and their credentials, locked retention, the daily
# readiness check's record, and the alarms on a failed copy or check.

run "no_copies_and_no_lock_by_default" {
  command = plan

  assert {
    condition = alltrue([
      for fn in values(aws_lambda_function.this) :
      length(setintersection(keys(fn.environment[0].variables), ["BACKUP_COPY_URLS", "BACKUP_COPY_CREDENTIALS"])) == 0
    ])
    error_message = "no copy setting reaches a function unless copy_urls names one"
  }

  assert {
    condition = !anytrue([
      for job, doc in data.aws_iam_policy_document.function : anytrue([for s in doc.statement : strcontains(s.sid, "Cop")])
    ])
    error_message = "no role gets a grant for a copy or its credentials without copies"
  }

  assert {
    condition     = length(aws_s3_bucket_object_lock_configuration.backup) == 0
    error_message = "Object Lock is opt-in (object_lock_mode)"
  }

  # A failed copy and a failed check alarm at once; a day without a passing check alarms as a day
  # without a backup does (every hour without a BackupVerified data point breaches).
  assert {
    condition = { for key in ["copy_failed", "verify_failed", "no_recent_verify"] : key => [
      aws_cloudwatch_metric_alarm.this[key].alarm_name, aws_cloudwatch_metric_alarm.this[key].namespace,
      aws_cloudwatch_metric_alarm.this[key].metric_name, aws_cloudwatch_metric_alarm.this[key].dimensions,
      aws_cloudwatch_metric_alarm.this[key].comparison_operator, aws_cloudwatch_metric_alarm.this[key].threshold,
      aws_cloudwatch_metric_alarm.this[key].treat_missing_data,
      aws_cloudwatch_metric_alarm.this[key].period * aws_cloudwatch_metric_alarm.this[key].evaluation_periods,
      ] } == {
      copy_failed      = ["aviatrix-ctrl-backup-copy-failed", "ControllerBackup", "CopyFailed", tomap({ service = "aviatrix-ctrl-backup" }), "GreaterThanThreshold", 0, "notBreaching", 300]
      verify_failed    = ["aviatrix-ctrl-backup-verify-failed", "ControllerBackup", "VerifyFailed", tomap({ service = "aviatrix-ctrl-backup" }), "GreaterThanThreshold", 0, "notBreaching", 300]
      no_recent_verify = ["aviatrix-ctrl-backup-no-passed-verify", "ControllerBackup", "BackupVerified", tomap({ service = "aviatrix-ctrl-backup" }), "LessThanThreshold", 1, "breaching", 25 * 3600]
    }
    error_message = "CopyFailed >= 1 and VerifyFailed >= 1 alarm, and so do 25 hours without BackupVerified"
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.this["no_recent_verify"].datapoints_to_alarm == 25
      && aws_cloudwatch_metric_alarm.this["no_recent_verify"].ok_actions == toset(["arn:aws:sns:us-east-1:123456789012:alarms"])
      && output.verify_schedule_name == "aviatrix-ctrl-backup-daily-verify"
    )
    error_message = "every hour of the 25 must miss a passing check, and its recovery is notified too"
  }
}

run "copies_in_three_clouds_and_a_compliance_lock" {
  command = plan

  variables {
    copy_urls = [
      "s3://acme-dr-backups/controller/backup.tar",
      "s3://acme-other-account/controller/backup.tar",
      "gs://acme-gcs-dr/controller/backup.tar",
      "https://acmedr.blob.core.windows.net/backups/controller/backup.tar",
    ]
    copy_credentials = {
      "s3://acme-other-account/controller/backup.tar"                      = "aws-sm:arn:aws:secretsmanager:us-east-1:123456789012:secret:other-account-role-AbCdEf"
      "gs://acme-gcs-dr/controller/backup.tar"                             = "aws-sm:controller-backup/gcs-key#json"
      "https://acmedr.blob.core.windows.net/backups/controller/backup.tar" = "aws-ssm:/controller-backup/azure-sp"
    }
    object_lock_mode = "COMPLIANCE"
    object_lock_days = 45
  }

  assert {
    condition = alltrue([
      for fn in values(aws_lambda_function.this) :
      fn.environment[0].variables.BACKUP_COPY_URLS == join(",", var.copy_urls)
      && tomap(jsondecode(fn.environment[0].variables.BACKUP_COPY_CREDENTIALS)) == var.copy_credentials
    ])
    error_message = "both functions get every copy, in order, and the reference to each one's credentials"
  }

  # Only the s3:// copy without credentials is written with the role itself: the same object
  # permissions as on the primary, its two records beside it, and a listing of its bucket.
  assert {
    condition = jsonencode([for s in data.aws_iam_policy_document.function["backup"].statement : [s.sid, s.actions, s.resources] if strcontains(s.sid, "Cop")]) == jsonencode([
      ["ReadAndReplaceTheCopies", ["s3:AbortMultipartUpload", "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"], ["arn:aws:s3:::acme-dr-backups/controller/backup.tar"]],
      ["RecordTheCopiesLastSuccessAndCheck", ["s3:GetObject", "s3:PutObject"], [
        "arn:aws:s3:::acme-dr-backups/controller/backup.tar${var.record_suffix}",
        "arn:aws:s3:::acme-dr-backups/controller/backup.tar${var.verify_suffix}",
      ]],
      ["TellMissingFromDeniedInTheCopyBuckets", ["s3:GetBucketVersioning", "s3:ListBucket", "s3:ListBucketVersions"], ["arn:aws:s3:::acme-dr-backups"]],
      ["ReadCopyCredentials", ["secretsmanager:GetSecretValue"], [
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:controller-backup/gcs-key-??????",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:other-account-role-AbCdEf",
      ]],
      ["ReadCopyCredentialParameters", ["ssm:GetParameter"], ["arn:aws:ssm:us-east-1:123456789012:parameter/controller-backup/azure-sp"]],
    ])
    error_message = "the backup's copy grants: ${jsonencode([for s in data.aws_iam_policy_document.function["backup"].statement : s if strcontains(s.sid, "Cop")])}"
  }

  assert {
    condition = jsonencode([for s in data.aws_iam_policy_document.function["restore"].statement : [s.sid, s.actions, s.resources] if strcontains(s.sid, "Cop")]) == jsonencode([
      ["ReadTheCopies", ["s3:GetObject", "s3:GetObjectVersion"], ["arn:aws:s3:::acme-dr-backups/controller/backup.tar"]],
      ["ReadTheCopiesLastSuccessRecords", ["s3:GetObject"], ["arn:aws:s3:::acme-dr-backups/controller/backup.tar${var.record_suffix}"]],
      ["KeepRestoreMarkersBesideTheCopies", ["s3:GetObject", "s3:PutObject"], ["arn:aws:s3:::acme-dr-backups/controller/backup.tar${var.marker_infix}*"]],
      ["TellMissingFromDeniedInTheCopyBuckets", ["s3:ListBucket", "s3:ListBucketVersions"], ["arn:aws:s3:::acme-dr-backups"]],
      ["ReadCopyCredentials", ["secretsmanager:GetSecretValue"], [
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:controller-backup/gcs-key-??????",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:other-account-role-AbCdEf",
      ]],
      ["ReadCopyCredentialParameters", ["ssm:GetParameter"], ["arn:aws:ssm:us-east-1:123456789012:parameter/controller-backup/azure-sp"]],
    ])
    error_message = "the restore reads the copies it may fall back to, and their credentials, and writes only its markers beside them"
  }

  assert {
    condition = (
      aws_s3_bucket_object_lock_configuration.backup[0].bucket == "acme-controller-backups"
      && aws_s3_bucket_object_lock_configuration.backup[0].rule[0].default_retention[0].mode == "COMPLIANCE"
      && aws_s3_bucket_object_lock_configuration.backup[0].rule[0].default_retention[0].days == 45
      && aws_s3_bucket.backup.bucket == "acme-controller-backups"
    )
    error_message = "every new version of the backup is locked for object_lock_days in object_lock_mode, on the same bucket"
  }

  # With the lock on and copies granted, no role may delete a version or lift, shorten or change a
  # lock (the bucket policy denies them that as well: storage.tftest.hcl).
  assert {
    condition = alltrue([
      for s in flatten([for doc in values(data.aws_iam_policy_document.function) : doc.statement]) :
      length(setintersection(s.actions, var.destructive_actions)) == 0
      && !anytrue([for a in s.actions : startswith(a, "s3:Delete") || strcontains(a, "Retention") || strcontains(a, "ObjectLock") || strcontains(a, "*")])
    ])
    error_message = "a function's role may delete a kept version or change its retention"
  }
}
