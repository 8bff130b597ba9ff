output "backup_function_name" {
  description = "Name of the backup function (aws lambda invoke --function-name ...)."
  value       = aws_lambda_function.this["backup"].function_name
}

output "restore_function_name" {
  description = "Name of the restore function."
  value       = aws_lambda_function.this["restore"].function_name
}

output "backup_function_url" {
  description = "Function URL of the backup function (POST /backup, SigV4-signed)."
  value       = aws_lambda_function_url.this["backup"].function_url
}

output "restore_function_url" {
  description = "Function URL of the restore function (POST /restore, SigV4-signed)."
  value       = aws_lambda_function_url.this["restore"].function_url
}

output "function_ids" {
  description = "ARN of each function: {backup = ..., restore = ...}."
  value       = { for job, function in aws_lambda_function.this : job => function.arn }
}

output "function_identities" {
  description = "The identity each function runs as, its IAM role's ARN: {backup = ..., restore = ...} (e.g. for a bucket policy in the controller's account)."
  value       = { for job, role in aws_iam_role.function : job => role.arn }
}

output "backup_url" {
  description = "The one stored object (BACKUP_URL)."
  value       = local.backup_url
}

output "bucket_name" {
  description = "The backup bucket."
  value       = aws_s3_bucket.backup.id
}

output "controller_password_secret_arn" {
  description = "Secret to put the controller password into (aws secretsmanager put-secret-value)."
  value       = aws_secretsmanager_secret.this["controller_password"].arn
}

output "controller_customer_id_secret_arn" {
  description = "Secret to put the BYOL customer id into (null unless create_customer_id_secret)."
  value       = var.create_customer_id_secret ? aws_secretsmanager_secret.this["controller_customer_id"].arn : null
}

output "kms_key_arn" {
  description = "The key encrypting the bucket, secret, logs, queue and topic."
  value       = aws_kms_key.backup.arn
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify."
  value       = aws_sns_topic.alarms.arn
}

output "dead_letter_queue_url" {
  description = "Dead-letter queue of failed scheduled backups and restore events."
  value       = aws_sqs_queue.dlq.id
}

output "backup_invoke_policy_arn" {
  description = "Managed policy that lets a role call the backup function and its URL (not the restore)."
  value       = aws_iam_policy.invoke["backup"].arn
}

output "restore_invoke_policy_arn" {
  description = "Managed policy that lets a role call the restore function and its URL."
  value       = aws_iam_policy.invoke["restore"].arn
}

output "schedule_name" {
  description = "The daily backup schedule."
  value       = aws_scheduler_schedule.this["backup"].name
}

output "verify_schedule_name" {
  description = "The daily readiness check's schedule."
  value       = aws_scheduler_schedule.this["verify"].name
}
