resource "aws_cloudwatch_log_group" "backup" {
  name              = "/aws/lambda/${local.backup_function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.backup.arn
  tags              = var.tags
}

resource "aws_cloudwatch_log_group" "restore" {
  name              = "/aws/lambda/${local.restore_function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.backup.arn
  tags              = var.tags
}

resource "aws_lambda_function" "backup" {
  #checkov:skip=CKV_AWS_272:the package is built from this repository by scripts/package_aws.py; code signing needs a signing profile the deployer owns
  #checkov:skip=CKV_AWS_117:VPC attachment is optional (subnet_ids): a controller with a public EIP needs none, a private one sets subnet_ids
  function_name                  = local.backup_function_name
  description                    = "Back up the controller's configuration to ${local.backup_url}"
  role                           = aws_iam_role.backup.arn
  runtime                        = "python3.12"
  architectures                  = ["x86_64"]
  handler                        = local.backup_handler
  filename                       = var.package_path
  source_code_hash               = filebase64sha256(var.package_path)
  timeout                        = var.backup_timeout_seconds
  memory_size                    = var.memory_size
  reserved_concurrent_executions = 1
  kms_key_arn                    = aws_kms_key.backup.arn

  ephemeral_storage {
    size = var.ephemeral_storage_mib
  }

  environment {
    variables = merge(local.common_environment, local.ca_environment, local.customer_id_environment, local.native_environment, local.max_age_environment, {
      # a backup waits out a rebooting controller this long, and still ends before the timeout
      CONTROLLER_READY_TIMEOUT = tostring(local.backup_ready_timeout)
    })
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.dlq.arn
  }

  tracing_config {
    mode = var.enable_tracing ? "Active" : "PassThrough"
  }

  dynamic "vpc_config" {
    for_each = length(var.subnet_ids) > 0 ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  # native mode's inputs (and a timeout that holds NATIVE_BACKUP_WAIT) are checked by validations
  # in variables.tf, so a plan fails before anything is created
  depends_on = [aws_cloudwatch_log_group.backup, aws_iam_role_policy.backup, aws_iam_role_policy.backup_native]
  tags       = var.tags
}

resource "aws_lambda_function" "restore" {
  #checkov:skip=CKV_AWS_272:the package is built from this repository by scripts/package_aws.py; code signing needs a signing profile the deployer owns
  #checkov:skip=CKV_AWS_117:VPC attachment is optional (subnet_ids): a controller with a public EIP needs none, a private one sets subnet_ids
  function_name = local.restore_function_name
  description   = "Restore the controller's configuration from ${local.backup_url} onto a replacement"
  role          = aws_iam_role.restore.arn
  runtime       = "python3.12"
  architectures = ["x86_64"]
  handler       = local.restore_handler
  filename      = var.package_path
  # the hash of the package: a rebuilt zip redeploys
  source_code_hash = filebase64sha256(var.package_path)
  timeout          = var.restore_timeout_seconds
  memory_size      = var.memory_size
  # one restore at a time: two events for one replacement must not push twice in parallel
  reserved_concurrent_executions = 1
  kms_key_arn                    = aws_kms_key.backup.arn

  ephemeral_storage {
    size = var.ephemeral_storage_mib
  }

  environment {
    variables = merge(local.common_environment, local.ca_environment, local.customer_id_environment, local.native_environment, local.max_age_environment, local.replacement_environment, {
      # the core's own deadline, a minute inside Lambda's, to fail cleanly and complete the lifecycle action
      RESTORE_TIME_LIMIT = tostring(var.restore_timeout_seconds - 60)
    })
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.dlq.arn
  }

  tracing_config {
    mode = var.enable_tracing ? "Active" : "PassThrough"
  }

  dynamic "vpc_config" {
    for_each = length(var.subnet_ids) > 0 ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  depends_on = [aws_cloudwatch_log_group.restore, aws_iam_role_policy.restore, aws_iam_role_policy.restore_native]
  tags       = var.tags
}

# The Scheduler and EventBridge invoke asynchronously: their retry policies cover delivery, and a
# function error is retried by Lambda itself, twice, then lands in the dead-letter queue (alarmed).
resource "aws_lambda_function_event_invoke_config" "backup" {
  function_name                = aws_lambda_function.backup.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600
}

resource "aws_lambda_function_event_invoke_config" "restore" {
  function_name                = aws_lambda_function.restore.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600
}

# Function URLs: POST /backup and POST /restore, signed with SigV4 (AWS_IAM): never NONE.
resource "aws_lambda_function_url" "backup" {
  function_name      = aws_lambda_function.backup.function_name
  authorization_type = "AWS_IAM"
}

resource "aws_lambda_function_url" "restore" {
  function_name      = aws_lambda_function.restore.function_name
  authorization_type = "AWS_IAM"
}

locals {
  function_names = {
    backup  = aws_lambda_function.backup.function_name
    restore = aws_lambda_function.restore.function_name
  }
}

# Who may call which function: backup_invokers the backup function only, restore_invokers
# the restore function only (a restore overwrites a controller; a backup caller must not get it).
# An AWS_IAM Function URL needs both permissions for a caller from another account:
# lambda:InvokeFunctionUrl and lambda:InvokeFunction.
resource "aws_lambda_permission" "backup_url" {
  for_each               = toset(var.backup_invokers)
  statement_id           = "backup-url-${substr(sha1(each.value), 0, 12)}"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.backup.function_name
  principal              = each.value
  function_url_auth_type = "AWS_IAM"
}

resource "aws_lambda_permission" "backup_invoke" {
  for_each      = toset(var.backup_invokers)
  statement_id  = "backup-invoke-${substr(sha1(each.value), 0, 12)}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.backup.function_name
  principal     = each.value
}

resource "aws_lambda_permission" "restore_url" {
  for_each               = toset(var.restore_invokers)
  statement_id           = "restore-url-${substr(sha1(each.value), 0, 12)}"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.restore.function_name
  principal              = each.value
  function_url_auth_type = "AWS_IAM"
}

resource "aws_lambda_permission" "restore_invoke" {
  for_each      = toset(var.restore_invokers)
  statement_id  = "restore-invoke-${substr(sha1(each.value), 0, 12)}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.restore.function_name
  principal     = each.value
}
