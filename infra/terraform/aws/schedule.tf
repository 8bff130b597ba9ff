# The dead-letter queue for everything asynchronous: the schedule, the event rule and both functions.
resource "aws_sqs_queue" "dlq" {
  name                      = "${var.name}-dead-letters"
  kms_master_key_id         = aws_kms_key.backup.arn
  message_retention_seconds = 1209600
  tags                      = var.tags
}

resource "aws_sqs_queue_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  policy    = data.aws_iam_policy_document.sender["dlq"].json
}

# The daily backup (midnight) and the daily readiness check (06:00), in var.schedule_timezone.
# EventBridge Scheduler (not an EventBridge rule: it has time zones) delivers our own JSON as the
# event, no EventBridge envelope, with its context attribute <aws.scheduler.scheduled-time> filled
# in; its default retry policy (185 attempts over 24 h) is replaced. Both invoke the backup
# function, which runs the check for {"action": "verify"}.
locals {
  schedules = {
    backup = {
      name        = "${var.name}-daily-backup"
      description = "Daily controller backup to ${local.backup_url}"
      expression  = var.schedule
      # exactly the scheduled-backup input the handler reads: {"action", "trigger", "scheduled_time"}
      input = { action = "backup", trigger = "schedule", scheduled_time = "<aws.scheduler.scheduled-time>" }
    }
    verify = {
      name        = "${var.name}-daily-verify"
      description = "Daily readiness check of ${local.backup_url} and its copies"
      expression  = var.verify_schedule
      input       = { action = "verify", trigger = "schedule" }
    }
  }
}

resource "aws_scheduler_schedule" "this" {
  for_each                     = local.schedules
  name                         = each.value.name
  description                  = each.value.description
  schedule_expression          = each.value.expression
  schedule_expression_timezone = var.schedule_timezone
  kms_key_arn                  = aws_kms_key.backup.arn
  state                        = "ENABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.this["backup"].arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode(each.value.input)

    retry_policy {
      maximum_retry_attempts       = var.schedule_max_retries
      maximum_event_age_in_seconds = var.schedule_max_event_age_seconds
    }

    dead_letter_config {
      arn = aws_sqs_queue.dlq.arn
    }
  }
}
