# The backup and restore functions: one package, one block, for_each over local.functions (main.tf)
# for what differs between them. Each has its own role (iam.tf) and log group.
resource "aws_cloudwatch_log_group" "function" {
  for_each          = local.functions
  name              = "/aws/lambda/${var.name}-${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.backup.arn
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_272:the package is built from this repository by scripts/package.py; code signing needs a signing profile the deployer owns
  #checkov:skip=CKV_AWS_117:VPC attachment is optional (subnet_ids): a controller with a public EIP needs none, a private one sets subnet_ids
  for_each      = local.functions
  function_name = "${var.name}-${each.key}"
  description   = each.value.description
  role          = aws_iam_role.function[each.key].arn
  runtime       = "python3.12"
  architectures = ["x86_64"]
  handler       = each.value.handler
  filename      = var.package_path
  # the hash of the package: a rebuilt zip redeploys
  source_code_hash = filebase64sha256(var.package_path)
  timeout          = each.value.timeout
  memory_size      = var.memory_size
  # one backup and one restore at a time by default: two events for one replacement must not
  # push twice in parallel
  reserved_concurrent_executions = var.reserved_concurrent_executions
  kms_key_arn                    = aws_kms_key.backup.arn

  ephemeral_storage {
    size = var.ephemeral_storage_mib
  }

  environment {
    variables = merge(local.common_environment, local.ca_environment, local.customer_id_environment, local.native_environment, local.max_age_environment, local.copy_environment, each.value.environment)
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
  depends_on = [aws_cloudwatch_log_group.function, aws_iam_role_policy.function, aws_iam_role_policy.native]
  tags       = var.tags
}

# The Scheduler and EventBridge invoke asynchronously: their retry policies cover delivery, and a
# function error is retried by Lambda itself, twice, then lands in the dead-letter queue (alarmed).
resource "aws_lambda_function_event_invoke_config" "this" {
  for_each                     = aws_lambda_function.this
  function_name                = each.value.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600
}

# Function URLs: POST /backup and POST /restore, signed with SigV4 (AWS_IAM): never NONE.
resource "aws_lambda_function_url" "this" {
  for_each           = aws_lambda_function.this
  function_name      = each.value.function_name
  authorization_type = "AWS_IAM"
}

# Who may call which function: backup_invokers the backup function only, restore_invokers the
# restore function only (a restore overwrites a controller; a backup caller must not get it).
# An AWS_IAM Function URL needs both permissions for a caller from another account:
# lambda:InvokeFunctionUrl and lambda:InvokeFunction.
resource "aws_lambda_permission" "backup_url" {
  for_each               = toset(var.backup_invokers)
  statement_id           = "backup-url-${substr(sha1(each.value), 0, 12)}"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.this["backup"].function_name
  principal              = each.value
  function_url_auth_type = "AWS_IAM"
}

resource "aws_lambda_permission" "backup_invoke" {
  for_each      = toset(var.backup_invokers)
  statement_id  = "backup-invoke-${substr(sha1(each.value), 0, 12)}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["backup"].function_name
  principal     = each.value
}

resource "aws_lambda_permission" "restore_url" {
  for_each               = toset(var.restore_invokers)
  statement_id           = "restore-url-${substr(sha1(each.value), 0, 12)}"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.this["restore"].function_name
  principal              = each.value
  function_url_auth_type = "AWS_IAM"
}

resource "aws_lambda_permission" "restore_invoke" {
  for_each      = toset(var.restore_invokers)
  statement_id  = "restore-invoke-${substr(sha1(each.value), 0, 12)}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["restore"].function_name
  principal     = each.value
}
