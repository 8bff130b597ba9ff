# What the module tells its caller, as planned.

run "defaults" {
  command = plan

  assert {
    condition = (
      output.backup_function_name == "aviatrix-ctrl-backup-backup"
      && output.restore_function_name == "aviatrix-ctrl-backup-restore"
      && output.backup_function_url == "https://backup.lambda-url.us-east-1.on.aws/"
      && output.restore_function_url == "https://restore.lambda-url.us-east-1.on.aws/"
      && output.function_ids == {
        backup  = "arn:aws:lambda:us-east-1:123456789012:function:aviatrix-ctrl-backup-backup"
        restore = "arn:aws:lambda:us-east-1:123456789012:function:aviatrix-ctrl-backup-restore"
      }
      && output.function_identities == {
        backup  = "arn:aws:iam::123456789012:role/backup-role"
        restore = "arn:aws:iam::123456789012:role/restore-role"
      }
    )
    error_message = "the functions' names, URLs, ARNs and identities"
  }

  assert {
    condition = (
      output.backup_url == "s3://acme-controller-backups/controller/backup.tar"
      && output.bucket_name == "acme-controller-backups"
      && output.controller_password_secret_arn == "arn:aws:secretsmanager:us-east-1:123456789012:secret:password"
      && output.controller_customer_id_secret_arn == null
      && output.kms_key_arn == "arn:aws:kms:us-east-1:123456789012:key/backup"
    )
    error_message = "the one stored object (BACKUP_URL), its bucket, the password secret (no customer id secret by default) and the key"
  }

  assert {
    condition = (
      output.alarm_topic_arn == "arn:aws:sns:us-east-1:123456789012:alarms"
      && output.dead_letter_queue_url == "https://sqs.example/dead-letters"
      && output.backup_invoke_policy_arn == "arn:aws:iam::123456789012:policy/invoke-backup"
      && output.restore_invoke_policy_arn == "arn:aws:iam::123456789012:policy/invoke-restore"
      && output.schedule_name == "aviatrix-ctrl-backup-daily-backup"
    )
    error_message = "the alarm topic, the dead-letter queue, the invoke policies and the schedule"
  }
}
